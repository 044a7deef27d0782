"""The commands end to end: the agreement on the shared expert file, the workspace contract, and
one-line errors for bad input (exit 2)."""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

EXPERTS = "mistakes/vit3b_mistakes.json"


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    from bagel.demo import build_world
    from bagel.workspace import Workspace

    ws = Workspace(tmp_path_factory.mktemp("demo"))
    build_world(ws)
    return ws


def test_compare_meets_the_targets_on_vit3b(run_cli, shared_data):
    code, out, err = run_cli("mistakes", "compare", shared_data / EXPERTS, "--labels", "real", "--json")
    assert code == 0, err
    rep = json.loads(out)
    assert rep["n"] == 378 and len(rep["evidence_models"]) == 8
    assert rep["baseline"]["category_accuracy"] == pytest.approx(242 / 378)
    assert rep["category_accuracy"] >= 0.68 and rep["category_kappa"] >= 0.28
    assert rep["severity_accuracy"] >= 0.66 and rep["severity_kappa"] >= 0.22
    assert set(rep["per_category"]) == {"fine-grained", "fine-grained-oov", "spurious", "non-prototypical"}
    assert sum(map(sum, rep["category_confusion"])) == 378


def test_suggest_writes_the_published_schema_and_table(run_cli, shared_data, tmp_path):
    code, out, err = run_cli("mistakes", "suggest", shared_data / "imagenet/predictions/alexnet.npy", "--order", "imagenetv2-val",
                             "--labels", "real", "--labels", "original", "--out", tmp_path / "t.csv", "--published", tmp_path / "p.json", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["evidence_models"] and "alexnet" not in summary["evidence_models"]
    pub = json.loads((tmp_path / "p.json").read_text())
    assert len(pub) == summary["mistakes"] == len(pd.read_csv(tmp_path / "t.csv"))
    first = next(iter(pub.values()))
    assert set(first) == {"top_prediction", "failure category", "failure severity"}
    # The published file reads back through the expert reader (strings map to the taxonomy).
    code, out, err = run_cli("mistakes", "compare", tmp_path / "p.json", "--labels", "real", "--labels", "original",
                             "--predictions", shared_data / "imagenet/predictions/resnet18.npy", "--json")
    assert code == 0, err and json.loads(out)["n"] == len(pub)


def test_workspace_contract(run_cli, demo_ws):
    from bagel.mistakes.table import load_mistakes, mistake_models

    code, out, err = run_cli("mistakes", "suggest", "demo-base", "-w", demo_ws.root)
    assert code == 0, err
    assert mistake_models(demo_ws) == ["demo-base"]
    schema = pq.read_schema(demo_ws.root / "mistakes" / "demo-base.parquet")
    t = {n: schema.field(n).type for n in schema.names}
    assert t["key"] == pa.string() and t["row"] == pa.int64() and t["label"] == pa.int32() and t["prediction"] == pa.int32()
    assert pa.types.is_list(t["top5"]) and t["top5"].value_type == pa.int32()
    assert pa.types.is_list(t["scores"]) and t["scores"].value_type == pa.float32()
    assert t["category"] == t["severity"] == t["evidence"] == pa.string() and t["confidence"] == pa.float64()
    df = load_mistakes(demo_ws, "demo-base")
    assert df["category"].isin(["fine-grained", "fine-grained-oov", "spurious", "non-prototypical"]).all()
    assert df["severity"].isin(["major", "minor", "borderline"]).all()
    assert all(isinstance(json.loads(e), dict) for e in df["evidence"])
    assert (df["top5"].map(len) == 5).all() and df["scores"].map(len).eq(5).all()
    pub = json.loads((demo_ws.root / "mistakes" / "demo-base.json").read_text())
    assert list(pub) == df["key"].tolist()


def test_run_stage_on_the_demo(demo_ws):
    from bagel.mistakes.pipeline import run_stage
    from bagel.mistakes.table import load_mistakes, mistake_models

    summary = run_stage(demo_ws, progress=False)
    assert mistake_models(demo_ws) == ["demo-base", "demo-large", "demo-small"]
    assert summary["near_depth"] == 2 and summary["labels"] == ["multilabel", "real", "original"]
    for name, s in summary["models"].items():
        assert s["mistakes"] == len(load_mistakes(demo_ws, name)) > 0
    pairs = json.loads((demo_ws.root / "mistakes" / "class_confusion_wnids.json").read_text())
    assert sum(n for *_, n in pairs) <= sum(s["mistakes"] for s in summary["models"].values())
    assert (demo_ws.root / "mistakes" / "class_confusion_heatmap.png").stat().st_size > 0
    code_runs = [r["command"] for r in demo_ws.runs()]
    assert "mistakes" in code_runs


def test_confusions_command(run_cli, demo_ws, tmp_path):
    from bagel.mistakes.pipeline import run_stage

    run_stage(demo_ws, progress=False)
    code, out, err = run_cli("confusions", "-w", demo_ws.root, "--json", "--out-dir", tmp_path)
    assert code == 0, err
    pairs = json.loads(out)
    assert pairs == json.loads((tmp_path / "class_confusion_wnids.json").read_text())
    assert all(a < b for a, b, _ in pairs) and (tmp_path / "class_confusion_heatmap.png").exists()
    code, out, err = run_cli("confusions", "-w", demo_ws.root, "--top", "3", "--out-dir", tmp_path)
    assert code == 0 and "class pairs" in out


def _expert_file(tmp_path, entry):
    p = tmp_path / "experts.json"
    p.write_text(json.dumps({"ILSVRC2012_val_00000001.JPEG": {"top_prediction": 1, "failure category": "Fine-grained error", "failure severity": "Minor"}, **entry}))
    return p


@pytest.mark.parametrize("entry, message", [
    ({"ILSVRC2012_val_00000002.JPEG": {"top_prediction": 3, "failure category": "Blurry", "failure severity": "Major"}}, "unknown mistake category 'Blurry'"),
    ({"ILSVRC2012_val_00000002.JPEG": {"top_prediction": 3, "failure category": "Spurious Correlation", "failure severity": "Huge"}}, "unknown severity 'Huge'"),
    ({"cat.jpg": {"top_prediction": 3, "failure category": "Spurious Correlation", "failure severity": "Major"}}, "image key 'cat.jpg' is not in the val image set"),
    ({"ILSVRC2012_val_00000002.JPEG": {"top_prediction": 1000, "failure category": "Non-prototypical", "failure severity": "Major"}}, "top_prediction 1000 is not a class index"),
])
def test_bad_expert_files(run_cli, tmp_path, entry, message):
    code, out, err = run_cli("mistakes", "compare", _expert_file(tmp_path, entry), "--labels", "real")
    assert code == 2 and err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


def test_predictions_for_another_image_set(run_cli, tmp_path, demo_ws):
    p = tmp_path / "other.npy"
    np.save(p, np.zeros((100, 5), dtype=np.int64))
    code, out, err = run_cli("mistakes", "suggest", p, "--order", "imagenetv2-val")
    assert code == 2 and "100 rows, but the order lists 50000 image keys" in err and len(err.strip().splitlines()) == 1
    # A demo model's mistakes given to ImageNet's confusions: keys of another image set.
    from bagel.mistakes.pipeline import run_stage

    run_stage(demo_ws, progress=False)
    code, out, err = run_cli("confusions", demo_ws.root / "mistakes" / "demo-base.json")
    assert code == 2 and "is not in the val image set" in err


def test_unknown_label_source_and_missing_model(run_cli, tmp_path, shared_data):
    code, _, err = run_cli("mistakes", "compare", shared_data / EXPERTS, "--labels", "bogus")
    assert code == 2 and "--labels bogus" in err
    code, _, err = run_cli("mistakes", "suggest", tmp_path / "nope.npy")
    assert code == 2 and "no such predictions file" in err
