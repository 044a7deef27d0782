"""The demo world is deterministic and has the structure the later stages rely on."""

import hashlib
import json

import numpy as np

from bagel.data.dataset import Dataset
from bagel.data.imageset import ImageSet
from bagel.data.predictions import Predictions
from bagel.demo import build_world
from bagel.evaluate import evaluate_predictions
from bagel.workspace import Workspace


def _digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix != ".sqlite" and "sqlite" not in p.name and p.parent.name != "imagesets":
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_world_is_deterministic_and_structured(tmp_path):
    a, b = Workspace(tmp_path / "a"), Workspace(tmp_path / "b")
    sa, sb = build_world(a), build_world(b)
    assert sa["val_images"] == sb["val_images"] == 360
    assert _digest(a.root / "dataset") == _digest(b.root / "dataset")
    assert _digest(a.root / "images") == _digest(b.root / "images")

    ds = Dataset.for_workspace(a)
    assert ds.name == "bagel-demo" and len(ds.vocabulary) == 24
    assert ds.hierarchy.oov_under("x00110") == ["x00119"]
    ml = ds.labels("multilabel")
    assert ml.problematic.sum() == sa["problematic"] > 0 and ml.imagenet_m.sum() == 10
    assert (np.diff(ml.indptr)[ml.annotated] >= 1).all()

    train = ImageSet.load(a, "train")
    leaks = json.loads((a.root / "dataset" / "injected_duplicates.json").read_text())
    assert len(leaks) == 30 and {l["kind"] for l in leaks} == {"exact", "exact-png", "crop", "resize", "reencode"}
    for leak in leaks:
        assert leak["train_key"] in train.index
        if leak["kind"] == "exact":
            val_bytes = (ds.imageset.root / leak["val_key"]).read_bytes()
            assert train.abs_path(train.index[leak["train_key"]]).read_bytes() == val_bytes
            assert leak["train_label"] != leak["val_label"]  # as in ImageNet: leaks carry another label

    # Simulated models: ordered by skill, mistakes mostly within a superclass.
    results = {n: evaluate_predictions(Predictions.load_saved(a, n), ds, ["original", "real", "multilabel"], 0) for n in Predictions.saved_names(a)}
    assert results["demo-small"]["top1"] < results["demo-base"]["top1"] < results["demo-large"]["top1"]
    assert all(r["mla"] > r["top1"] for r in results.values())  # multi-labels forgive correct "mistakes"
    pred = Predictions.load_saved(a, "demo-base")
    wrong = pred.top1 != ds.imageset.labels
    dist = ds.hierarchy.pair_tables[0][ds.imageset.labels[wrong], pred.top1[wrong]]
    assert (dist <= 2).mean() > 0.5


def test_bagel_demo_runs_every_stage(tmp_path, run_cli):
    """`bagel demo` end to end: every stage's outputs, every injected leak found, no false exact pair."""
    import pandas as pd

    root = tmp_path / "demo"
    code, out, err = run_cli("demo", "-w", root)
    assert code == 0, err
    assert "demo finished" in out and str(root.resolve()) in out and "bagel review -w" in out
    ws = Workspace(root)
    for name in ("demo-small", "demo-base", "demo-large"):
        table = pd.read_parquet(root / "mistakes" / f"{name}.parquet")
        assert len(table) > 0 and set(table["category"]) <= {"fine-grained", "fine-grained-oov", "spurious", "non-prototypical"}
    assert (root / "mistakes" / "class_confusion_wnids.json").exists()
    assert (root / "report.html").exists() and "Training-data leaks" in (root / "report.html").read_text()
    assert [r["command"] for r in ws.runs()][:1] == ["evaluate"]
    assert ws.runs("mistakes")[-1]["results"]["embeddings"] is True  # the neighbors stage's embeddings were evidence

    injected = json.loads((root / "dataset" / "injected_duplicates.json").read_text())
    leaks = pd.read_parquet(root / "duplicates" / "leaks.parquet")
    found = set(zip(leaks["val_key"], leaks["train_key"]))
    missed = [(i["kind"], i["val_key"]) for i in injected if (i["val_key"], i["train_key"]) not in found]
    assert missed == []
    truth = {(i["val_key"], i["train_key"]) for i in injected}
    exact_truth = {(i["val_key"], i["train_key"]) for i in injected if i["kind"].startswith("exact")}
    exact_found = set(zip(*leaks[leaks["kind"] == "exact"][["val_key", "train_key"]].T.values))
    assert exact_found <= exact_truth  # no false exact duplicates
    assert found <= truth  # and no false near-duplicates either
    # the paper's G.1 check: training labels of exact copies judged against the multi-labels
    summary = json.loads((root / "duplicates" / "summary.json").read_text())["leaks"]["exact"]
    exact = leaks[leaks["kind"] == "exact"]
    ml = Dataset.for_workspace(ws).labels("multilabel")
    rows = Dataset.for_workspace(ws).imageset.positions(exact["val_key"].tolist())
    by_hand = sum(c in ml.row(r)["correct"] + ml.row(r)["unclear"] for r, c in zip(rows, exact["train_label"]))
    assert summary["pairs_with_multilabels"] == 12 and summary["train_label_correct_under_multilabels"] == by_hand > 0
