"""The HTML report of a real (demo) workspace: sections appear as stages run, text is escaped."""

import base64
import re

from bagel.data.dataset import Dataset
from bagel.data.predictions import Predictions
from bagel.demo import build_world
from bagel.evaluate import evaluate_predictions
from bagel.mistakes.pipeline import run_stage
from bagel.neighbors.pipeline import run_stage as neighbors_stage
from bagel.report.build import build_report
from bagel.workspace import Workspace


def test_report_sections_follow_the_stages(tmp_path, run_cli):
    ws = Workspace(tmp_path / "ws")
    build_world(ws)
    html = build_report(ws).read_text()
    assert "Nothing to report yet" in html

    ds = Dataset.for_workspace(ws)
    models = [evaluate_predictions(Predictions.load_saved(ws, n), ds, ["original", "real", "multilabel"], 100) for n in Predictions.saved_names(ws)]
    models[0]["name"] = "<script>alert(1)</script>"
    ws.record_run("evaluate", {}, {"models": models})
    run_stage(ws, progress=False)
    neighbors_stage(ws, progress=False)
    code, out, err = run_cli("report", "-w", ws.root, "--out", tmp_path / "r.html")
    assert code == 0, err
    html = (tmp_path / "r.html").read_text()
    assert "Leaderboard" in html and "The remaining mistakes" in html and "Most confused class pairs" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    pngs = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert "Training-data leaks" in html and "exact copies with another label" in html
    assert len(pngs) >= 4 and all(base64.b64decode(p)[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert "Reviews" not in html  # nobody has reviewed yet

    from bagel.mistakes.table import load_mistakes
    from bagel.mistakes.taxonomy import Judgement
    from bagel.review.store import ReviewStore

    keys = load_mistakes(ws, "demo-base")["key"].tolist()[:3]
    store = ReviewStore.for_workspace(ws)
    store.add_reviewer("alice")
    store.add_reviewer("bob")
    for who, verdicts in (("alice", ["correct", "wrong", "wrong"]), ("bob", ["correct", "wrong", "unclear"])):
        for key, v in zip(keys, verdicts):
            store.record(who, "demo-base", key, Judgement(v, problematic=(who == "bob" and v == "unclear")), idem=f"{who}-{key}")
    store.close()
    html = build_report(ws).read_text()
    assert "<td class=\"l\">alice (demo-base)</td><td>3</td><td>1</td><td>2</td><td>0</td><td>0</td>" in html
    assert "<td class=\"l\">bob (demo-base)</td><td>3</td><td>1</td><td>1</td><td>1</td><td>1</td>" in html
    assert "3 mistakes judged by two or more people" in html

    # leaderboard rows are ranked by MLA, the most faithful metric available
    names = re.findall(r'<td class="l">(demo-[a-z]+|&lt;script&gt;alert\(1\)&lt;/script&gt;)</td><td>\d', html)
    assert len(names) >= 3


def test_report_of_a_missing_workspace_is_an_error(tmp_path, run_cli):
    code, _, err = run_cli("report", "-w", tmp_path / "nope")
    assert code == 2 and "no such folder" in err
