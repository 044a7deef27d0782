"""MLA, ImageNet-M, ReaL and the collapsed mappings on a hand-made fixture in the published schema.

Fixture (class indices are ImageNet's so the collapsed mappings apply):
  img  label  annotation (correct / unclear / wrong)   problematic  IN-M   top-1
  1    250    [250] / - / -                             no           yes    248  (eskimo dog: collapsed-correct)
  2    250    [250] / [249] / -                         no           no     249  (unclear counts as correct)
  3    1      [1] / - / -                               yes          no     5    (left out: problematic)
  4    2      [2] / - / -                               yes          no     2    (class 2 has only this image)
  5    1      [1, 7] / - / -                            no           yes    7    (second object)
  6    1      [1] / - / [3]                             no           yes    3    (wrong)
  7    3      not annotated                             no           no     3
By hand: MLA = mean(class 250: 1/2, class 1: 1/2) = 0.5 over 2 classes (class 2 leaves the mean);
with collapsed mappings class 250 is 2/2, so MLA = 0.75. ImageNet-M: 1/3 (img 5), collapsed 2/3.
"""

import json

import numpy as np
import pytest

from bagel import metrics
from bagel.data.dataset import Dataset
from bagel.data.imageset import ImageSet
from bagel.data.predictions import Predictions
from bagel.workspace import Workspace

LABELS = [250, 250, 1, 2, 1, 1, 3]
TOP1 = [248, 249, 5, 2, 7, 3, 3]
KEYS = [f"ILSVRC2012_val_{i:08d}.JPEG" for i in range(1, 8)]


@pytest.fixture
def fixture_ws(tmp_path, shared_data):
    ws = Workspace(tmp_path / "ws")
    info = json.loads((shared_data / "imagenet/class_info.json").read_text())
    wn = [c["wnid"] for c in sorted(info, key=lambda c: c["cid"])]
    ws.path("dataset", "class_info.json").write_text(json.dumps(info))
    annots = {KEYS[0]: {"correct": [wn[250]]}, KEYS[1]: {"correct": [wn[250]], "unclear": [wn[249]]},
              KEYS[2]: {"correct": [wn[1]]}, KEYS[3]: {"correct": [wn[2]]}, KEYS[4]: {"correct": [wn[1], wn[7]]},
              KEYS[5]: {"correct": [wn[1]], "wrong": [wn[3]]},
              "imagenetv2-matched-frequency/0/7d7a.jpeg": {"correct": [wn[0]]}}
    ml = {"initial_annots": annots, "problematic_images": {KEYS[2]: 1, KEYS[3]: 1}, "imagenet_m": [KEYS[0], KEYS[4], KEYS[5]]}
    ws.path("dataset", "multilabel.json").write_text(json.dumps(ml))
    ws.path("dataset", "dataset.json").write_text(json.dumps({"name": "fixture", "class_info": "class_info.json", "multilabel": "multilabel.json", "collapse": True}))
    ImageSet(np.array(KEYS, dtype=object), np.array(LABELS), np.array([""] * 7, dtype=object)).save(ws)
    topk = np.array([[t, 0, 0, 0, 0] for t in TOP1], dtype=np.int32)
    Predictions("fixture-model", topk).save(ws)
    return ws


def test_hand_computed_mla_and_imagenet_m(fixture_ws):
    ds = Dataset.for_workspace(fixture_ws)
    ml = ds.labels("multilabel")
    top1, labels = np.array(TOP1), np.array(LABELS)
    assert metrics.mla(top1, ml, labels, 1000) == (0.5, 2)
    assert metrics.mla(top1, ml, labels, 1000, metrics.collapse_pairs()) == (0.75, 2)
    assert metrics.imagenet_m(top1, ml) == (1, 3)
    assert metrics.imagenet_m(top1, ml, metrics.collapse_pairs()) == (2, 3)


def test_evaluate_json_fields(fixture_ws, run_cli):
    code, out, err = run_cli("evaluate", "-w", fixture_ws.root, "--labels", "original", "--labels", "multilabel", "--json")
    assert code == 0, err
    m = json.loads(out)["models"][0]
    assert m["name"] == "fixture-model"
    assert m["top1"] == pytest.approx(100 * 2 / 7, abs=1e-3)  # images 4 and 7
    assert m["mla"] == 50.0 and m["mla_collapsed"] == 75.0 and m["mla_n_classes"] == 2
    assert m["imagenet_m"] == 1 and m["imagenet_m_collapsed"] == 2 and m["imagenet_m_size"] == 3
    assert m["real"] is None
    assert m["top1_collapsed"] == pytest.approx(100 * 3 / 7, abs=1e-3)  # plus image 1
    lo, hi = m["ci95"]["top1"]
    assert lo <= m["top1"] <= hi


def test_collapsed_mappings_are_directional():
    accept = metrics.accept_matrix(1000, metrics.collapse_pairs())
    assert accept[250, 248] and not accept[248, 250]  # husky labelled, eskimo dog predicted: correct
    assert accept[836, 837] and accept[837, 836]
    assert accept[435, 876] and not accept[876, 435]
    assert all(accept[a, b] for a in (356, 357, 358, 359) for b in (356, 357, 358, 359))
    assert metrics.collapse_pairs().shape == (17 + 12, 2)  # 17 listed pairs (both ways counted) + the weasel family
    topk = np.array([[248, 1], [250, 1], [876, 3]])
    assert metrics.topk_correct(topk, np.array([250, 248, 435]), 1, accept).tolist() == [True, False, True]
    assert metrics.topk_correct(topk, np.array([250, 248, 435]), 1).tolist() == [False, False, False]
    assert metrics.topk_correct(topk, np.array([1, -1, 3]), 2).tolist() == [True, False, True]


def test_bootstrap_matches_index_resampling():
    rng = np.random.default_rng(1)
    ok = rng.random(2000) < 0.7
    lo, hi = metrics.bootstrap_mean_ci([ok.sum()], [ok.size], 4000, np.random.default_rng(2))
    idx = np.random.default_rng(3).integers(0, ok.size, (4000, ok.size))
    ref = np.quantile(ok[idx].mean(1), [0.025, 0.975])
    assert lo == pytest.approx(ref[0], abs=0.004) and hi == pytest.approx(ref[1], abs=0.004)
