import json

import numpy as np
import pytest

from bagel.data.imageset import ImageSet
from bagel.data.labelset import CORRECT, UNCLEAR, WRONG, LabelSet, multilabel_labels, original_labels, real_labels
from bagel.data.vocabulary import Vocabulary
from bagel.errors import BagelError
from bagel.workspace import Workspace


def _vocab(n=5):
    return Vocabulary([f"c{i}" for i in range(n)], [[f"class {i}"] for i in range(n)])


def _imageset(n=4):
    keys = [f"ILSVRC2012_val_{i + 1:08d}.JPEG" for i in range(n)]
    return ImageSet(np.array(keys, dtype=object), np.arange(n) % 5, np.array([""] * n, dtype=object))


def test_csr_rows_and_membership():
    ls = LabelSet.from_rows("t", 3, 5, {0: [(2, CORRECT), (1, UNCLEAR)], 2: [(4, WRONG), (0, CORRECT)]})
    assert ls.indptr.tolist() == [0, 2, 2, 4]
    assert ls.row(0) == {"correct": [2], "unclear": [1], "wrong": []}
    assert ls.annotated.tolist() == [True, False, True]
    codes = ls.codes((CORRECT, UNCLEAR))
    assert ls.contains(np.array([0, 0, 2, 2, 1]), np.array([1, 3, 4, 0, 0]), codes).tolist() == [True, False, False, True, False]
    only_correct = ls.codes((CORRECT,))
    assert ls.contains(np.array([0]), np.array([1]), only_correct).tolist() == [False]
    # collapsed pair 2 -> 3 makes 3 acceptable where 2 is
    assert ls.contains(np.array([0]), np.array([3]), ls.codes((CORRECT,), np.array([[2, 3]]))).tolist() == [True]


def test_with_correct_adds_prediction_and_persists(tmp_path):
    ls = LabelSet.from_rows("t", 2, 5, {0: [(1, CORRECT), (3, WRONG)]})
    grown = ls.with_correct([(0, 3), (1, 4)], name="grown")
    assert grown.row(0)["correct"] == [1, 3] and grown.row(0)["wrong"] == []
    assert grown.row(1)["correct"] == [4] and grown.annotated.all()
    ws = Workspace(tmp_path / "ws")
    grown.save(ws)
    back = LabelSet.load(ws, "grown")
    assert back.row(0) == grown.row(0) and back.annotated.tolist() == [True, True]


def test_original_and_real(tmp_path):
    iset = _imageset(3)
    assert original_labels(iset, 5).row(1) == {"correct": [1], "unclear": [], "wrong": []}
    p = tmp_path / "real.json"
    p.write_text(json.dumps([[0, 3], [], [2]]))
    real = real_labels(p, iset, 5)
    assert real.annotated.tolist() == [True, False, True] and real.row(0)["correct"] == [0, 3]
    p.write_text(json.dumps([[0], [9], [1]]))
    with pytest.raises(BagelError, match="outside 0..4"):
        real_labels(p, iset, 5)
    p.write_text(json.dumps([[0]]))
    with pytest.raises(BagelError, match="ReaL lists 1 images"):
        real_labels(p, iset, 5)


def test_multilabel_schema(tmp_path):
    iset = _imageset(4)
    k = iset.keys
    data = {"initial_annots": {k[0]: {"correct": ["c0", "c2"], "unclear": ["c1"], "wrong": ["c4"]},
                               k[2]: {"correct": ["c2"]}, "imagenetv2_other.jpeg": {"correct": ["c3"]}},
            "problematic_images": {k[2]: "label wrong"}, "imagenet_m": [k[0]]}
    p = tmp_path / "ml.json"
    p.write_text(json.dumps(data))
    ml = multilabel_labels(p, iset, _vocab())
    assert ml.row(0) == {"correct": [0, 2], "unclear": [1], "wrong": [4]}
    assert ml.annotated.tolist() == [True, False, True, False]
    assert ml.problematic.tolist() == [False, False, True, False]
    assert ml.imagenet_m.tolist() == [True, False, False, False]
    round_trip = ml.to_multilabel_json(iset, _vocab())
    assert round_trip["initial_annots"][k[0]] == {"correct": ["c0", "c2"], "unclear": ["c1"], "wrong": ["c4"]}
    data["initial_annots"][k[0]]["correct"] = ["n99999999"]
    p.write_text(json.dumps(data))
    with pytest.raises(BagelError, match="unknown class 'n99999999'"):
        multilabel_labels(p, iset, _vocab())
    p.write_text(json.dumps({"something": 1}))
    with pytest.raises(BagelError, match="initial_annots"):
        multilabel_labels(p, iset, _vocab())
    p.write_text('{"initial_annots": {')
    with pytest.raises(BagelError, match="truncated or corrupt"):
        multilabel_labels(p, iset, _vocab())


def test_imageset_from_folder_and_table(tmp_path):
    from PIL import Image

    for w in ("c1", "c0"):
        (tmp_path / "train" / w).mkdir(parents=True)
        for j in range(2):
            Image.new("RGB", (4, 4), (j, 0, 0)).save(tmp_path / "train" / w / f"{w}_{j}.JPEG")
    (tmp_path / "train" / "c0" / "notes.txt").write_text("not an image")
    iset = ImageSet.from_image_folder(tmp_path / "train", _vocab())
    assert iset.keys.tolist() == ["c0/c0_0.JPEG", "c0/c0_1.JPEG", "c1/c1_0.JPEG", "c1/c1_1.JPEG"]
    assert iset.labels.tolist() == [0, 0, 1, 1] and iset.abs_path(2).exists()
    ws = Workspace(tmp_path / "ws")
    iset.save(ws)
    back = ImageSet.load(ws, "train")
    assert back.keys.tolist() == iset.keys.tolist() and back.abs_path(0) == iset.abs_path(0).resolve()
    (tmp_path / "list.csv").write_text("key,label\na.jpg,c3\nb.jpg,c1\n")
    t = ImageSet.from_table(tmp_path / "list.csv", _vocab())
    assert t.labels.tolist() == [3, 1]
    (tmp_path / "dup.csv").write_text("key,label\na.jpg,1\na.jpg,2\n")
    with pytest.raises(BagelError, match="duplicated image key 'a.jpg'"):
        ImageSet.from_table(tmp_path / "dup.csv")
