"""Export and import in the published schemas, through the CLI, and `bagel evaluate` on the result."""

import json

import pytest

from bagel.cli import main as bagel_main
from bagel.data.dataset import Dataset
from bagel.mistakes.taxonomy import Judgement
from bagel.review.demo_stage import prepare_demo
from bagel.review.export import published_mistakes, updated_multilabel
from bagel.review.store import ReviewStore
from review_world import CLASSES, MODEL, val_key


@pytest.fixture
def reviewed(ws):
    s = ReviewStore.for_workspace(ws)
    for name in ("alice", "bob"):
        s.add_reviewer(name)
    # image 0 (bagel predicted as dough): both say the prediction is a valid label
    s.record("alice", MODEL, val_key(0), Judgement("correct"))
    s.record("bob", MODEL, val_key(0), Judgement("correct", problematic=True))
    # image 1: a real mistake, both agree
    s.record("alice", MODEL, val_key(1), Judgement("wrong", severity="major", category="spurious"))
    s.record("bob", MODEL, val_key(1), Judgement("wrong", severity="minor", category="spurious", problematic=True))
    # image 2: they disagree; open, so the consensus leaves it out
    s.record("alice", MODEL, val_key(2), Judgement("correct"))
    s.record("bob", MODEL, val_key(2), Judgement("wrong", severity="minor", category="fine-grained"))
    return s


def run_cli(args, capsys):
    rc = bagel_main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


def evaluate(ws, labels, capsys):
    rc, out, err = run_cli(["evaluate", str(ws.root / "preds" / f"{MODEL}.csv"), "-w", str(ws.root), "--labels", labels,
                            "--json", "--bootstrap", "0"], capsys)
    assert rc == 0, err
    return json.loads(out)["models"][0]


def test_export_consensus_and_evaluate_shows_the_change(ws, reviewed, tmp_path, capsys):
    m_out, ml_out = tmp_path / "out" / "mistakes.json", tmp_path / "out" / "multilabel.json"
    rc, out, err = run_cli(["review", "export", "-w", str(ws.root), "--consensus", "--mistakes", str(m_out), "--multilabel", str(ml_out)], capsys)
    assert rc == 0, err
    summary = json.loads(out)
    assert summary["mistakes"]["entries"] == 1 and summary["multilabel"]["labels_added"] == 1
    mistakes = json.loads(m_out.read_text())
    assert mistakes == {val_key(1): {"top_prediction": 2, "failure category": "Spurious Correlation", "failure severity": "Major"}}
    ml = json.loads(ml_out.read_text())
    assert sorted(ml["initial_annots"][val_key(0)]["correct"]) == sorted([CLASSES[0][0], CLASSES[1][0]])
    assert ml["initial_annots"][val_key(2)]["correct"] == [CLASSES[2][0]]  # open disagreement: unchanged
    assert set(ml["problematic_images"]) == {val_key(3)}  # bob alone flagged: no majority
    assert ml["imagenet_m"] == [val_key(0), val_key(1)]
    before, after = evaluate(ws, "multilabel", capsys), evaluate(ws, str(ml_out), capsys)
    assert after["imagenet_m"] == before["imagenet_m"] + 1  # image 0's prediction is now correct
    assert after["mla"] > before["mla"] and after["top1"] == before["top1"]


def test_export_one_reviewer_and_errors(ws, reviewed, tmp_path, capsys):
    m = published_mistakes(ws, reviewed, MODEL, "bob")
    assert set(m) == {val_key(1), val_key(2)}
    assert m[val_key(2)] == {"top_prediction": 3, "failure category": "Fine-grained error", "failure severity": "Minor"}
    ml, summary = updated_multilabel(ws, reviewed, MODEL, "bob")
    assert summary["labels_added"] == 1 and summary["problematic_added"] == 2
    assert {val_key(0), val_key(1), val_key(3)} == set(ml["problematic_images"])
    rc, _, err = run_cli(["review", "export", "-w", str(ws.root), "--reviewer", "zed", "--mistakes", str(tmp_path / "m.json")], capsys)
    assert rc == 2 and "unknown reviewer 'zed'" in err
    rc, _, err = run_cli(["review", "export", "-w", str(ws.root)], capsys)
    assert rc == 2 and "nothing to export" in err


def test_import_published_mistakes_as_the_imported_reviewer(ws, reviewed, tmp_path, capsys):
    expert = {val_key(1): {"top_prediction": 2, "failure category": "Spurious Correlation", "failure severity": "Major"},
              val_key(2): {"top_prediction": 3, "failure category": "Fine-grained with Multilabel Options", "failure severity": "Borderline"},
              val_key(4): {"top_prediction": 5, "failure category": "Fine-grained error with OOV", "failure severity": "Minor"},
              val_key(20): {"top_prediction": 1, "failure category": "Non-prototypical", "failure severity": "Minor"}}
    path = tmp_path / "expert.json"
    path.write_text(json.dumps(expert))
    rc, out, err = run_cli(["review", "import", "-w", str(ws.root), "--model", MODEL, str(path)], capsys)
    assert rc == 0, err
    assert json.loads(out) == {"entries": 4, "imported": 4, "already_there": 0, "not_in_mistakes": 1, "other_prediction": 0, "reviewer": "imported"}
    rc, out, _ = run_cli(["review", "import", "-w", str(ws.root), "--model", MODEL, str(path)], capsys)
    assert json.loads(out)["already_there"] == 4
    cur = {r["key"]: r for r in reviewed.current(MODEL, reviewer="imported")}
    assert (cur[val_key(2)]["category"], cur[val_key(2)]["severity"]) == ("fine-grained", "borderline")
    assert cur[val_key(4)]["category"] == "fine-grained-oov"
    # round trip: exporting the imported reviewer gives the file back, spelled the canonical way
    back = published_mistakes(ws, reviewed, MODEL, "imported")
    assert back[val_key(2)] == {"top_prediction": 3, "failure category": "Fine-grained error", "failure severity": "Borderline"}
    assert back[val_key(1)] == expert[val_key(1)] and back[val_key(20)] == expert[val_key(20)]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({val_key(1): {"top_prediction": 2, "failure category": "Cosmic rays", "failure severity": "Major"}}))
    rc, _, err = run_cli(["review", "import", "-w", str(ws.root), "--model", MODEL, str(bad)], capsys)
    assert rc == 2 and "unknown mistake category 'Cosmic rays'" in err


def test_import_a_multilabel_file_as_the_label_set(ws, tmp_path, capsys):
    data = json.loads((ws.root / "dataset" / "multilabel.json").read_text())
    data["initial_annots"][val_key(5)]["unclear"] = [CLASSES[0][0]]
    data["initial_annots"][val_key(25)] = {"correct": [CLASSES[1][0]], "wrong": [], "unclear": []}
    path = tmp_path / "human.json"
    path.write_text(json.dumps(data))
    rc, out, err = run_cli(["review", "import-labels", "-w", str(ws.root), str(path)], capsys)
    assert rc == 0, err
    assert json.loads(out)["images"] == 25
    ls = Dataset.for_workspace(ws).labels("multilabel")
    assert ls.row(5)["unclear"] == [0] and ls.annotated[25]
    data["initial_annots"]["ILSVRC2012_val_99999999.JPEG"] = {"correct": [CLASSES[0][0]]}
    path.write_text(json.dumps(data))
    rc, _, err = run_cli(["review", "import-labels", "-w", str(ws.root), str(path)], capsys)
    assert rc == 2 and "is not in the val image set" in err


def test_prepare_demo(ws):
    out = prepare_demo(ws)
    assert out["command"] == f"bagel review -w {ws.root}"
    assert out["reviewers"] == ["alice", "bob"] and out["models"] == [MODEL] and len(out["guides"]) == 5
    s = ReviewStore.for_workspace(ws)
    assert {r["name"] for r in s.reviewers()} == {"alice", "bob"}
    g = s.guide(out["guides"][0])
    assert g["version"] == 1 and g["author"] == "alice"
    assert prepare_demo(ws)["guides"] == []  # a second call keeps what is there
