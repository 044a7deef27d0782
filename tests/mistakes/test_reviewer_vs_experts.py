"""`bagel mistakes compare --reviewer`: a person's judgements from the review store against experts."""

import json

from bagel.demo import build_world
from bagel.mistakes.pipeline import run_stage
from bagel.mistakes.table import load_mistakes
from bagel.mistakes.taxonomy import Judgement
from bagel.review.store import ReviewStore
from bagel.workspace import Workspace


def test_reviewer_agreement_with_experts(tmp_path, run_cli):
    ws = Workspace(tmp_path / "ws")
    build_world(ws)
    run_stage(ws, progress=False)
    table = load_mistakes(ws, "demo-base").head(5)
    keys, preds = table["key"].tolist(), table["prediction"].tolist()
    experts = {k: {"top_prediction": int(p), "failure category": c, "failure severity": s}
               for k, p, c, s in zip(keys, preds, ["Fine-grained error", "Fine-grained error", "Spurious Correlation",
                                                   "Non-prototypical", "Fine-grained error with OOV"],
                                     ["Major", "Minor", "Borderline", "Major", "Minor"])}
    (tmp_path / "experts.json").write_text(json.dumps(experts))
    store = ReviewStore.for_workspace(ws)
    store.add_reviewer("alice")
    # alice: agrees on images 0 and 2 (borderline == minor), disagrees in category on 1, calls 3 correct, skips 4
    mine = [Judgement("wrong", False, "major", "fine-grained"), Judgement("wrong", False, "minor", "spurious"),
            Judgement("wrong", False, "minor", "spurious"), Judgement("correct")]
    for i, j in enumerate(mine):
        store.record("alice", "demo-base", keys[i], j, prediction=preds[i], idem=f"a{i}")
    store.close()
    code, out, err = run_cli("mistakes", "compare", tmp_path / "experts.json", "-w", ws.root, "--reviewer", "alice",
                             "--model", "demo-base", "--json")
    assert code == 0, err
    rep = json.loads(out)
    assert rep["n"] == 3 and rep["reviewed"] == 4 and rep["judged_correct"] == 1
    assert abs(rep["category_accuracy"] - 2 / 3) < 1e-9 and rep["severity_accuracy"] == 1.0
    code, _, err = run_cli("mistakes", "compare", tmp_path / "experts.json", "--reviewer", "alice")
    assert code == 2 and "give -w WS and --model" in err
