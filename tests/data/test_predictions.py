import numpy as np
import pandas as pd
import pytest

from bagel.data.imageset import ImageSet
from bagel.data.predictions import load_predictions
from bagel.data.vocabulary import Vocabulary
from bagel.errors import BagelError

VOCAB = Vocabulary([f"c{i}" for i in range(6)], [[f"class {i}"] for i in range(6)])
KEYS = ["b.jpg", "a.jpg", "c.jpg"]
ISET = ImageSet(np.array(sorted(KEYS), dtype=object), np.array([0, 1, 2]), np.array([""] * 3, dtype=object))


def _keys_file(tmp_path, keys=KEYS):
    p = tmp_path / "order.txt"
    p.write_text("\n".join(keys) + "\n")
    return p


def test_logits_are_ranked_and_aligned_by_key(tmp_path):
    logits = np.full((3, 6), -5.0, dtype=np.float32)
    logits[0, [4, 2]] = [3.0, 1.0]  # b.jpg
    logits[1, [1, 0]] = [2.0, 1.5]  # a.jpg
    logits[2, 5] = 9.0  # c.jpg
    np.save(tmp_path / "m.npy", logits)
    p = load_predictions(tmp_path / "m.npy", ISET, VOCAB, str(_keys_file(tmp_path)))
    assert p.name == "m" and p.topk.shape == (3, 5)
    assert p.topk[:, 0].tolist() == [1, 4, 5]  # rows now in image-set order a, b, c
    assert p.topk[1, 1] == 2
    assert np.allclose(p.scores.sum(1) <= 1.0 + 1e-6, True) and p.scores[2, 0] > 0.99


def test_topk_indices_npz_with_keys_and_csv(tmp_path):
    np.savez(tmp_path / "m.npz", topk=np.array([[1, 2], [0, 3], [5, 4]]), keys=np.array(KEYS))
    p = load_predictions(tmp_path / "m.npz", ISET, VOCAB)
    assert p.top1.tolist() == [0, 1, 5] and p.scores is None
    pd.DataFrame({"key": KEYS, "pred_1": ["c1", "c0", "c5"], "pred_2": ["c2", "c3", "c4"]}).to_csv(tmp_path / "m.csv", index=False)
    assert load_predictions(tmp_path / "m.csv", ISET, VOCAB).top1.tolist() == [0, 1, 5]
    pd.DataFrame({"key": KEYS, "top1": [1, 0, 5], "score_1": [0.9, 0.8, 0.7]}).to_parquet(tmp_path / "m.parquet")
    q = load_predictions(tmp_path / "m.parquet", ISET, VOCAB)
    assert q.top1.tolist() == [0, 1, 5] and q.scores[:, 0].tolist() == pytest.approx([0.8, 0.9, 0.7])


@pytest.mark.parametrize("array, order, message", [
    (np.zeros((3, 6, 2), np.float32), None, r"expected a 2-D array"),
    (np.zeros((3, 7), np.float32), None, r"logits have 7 columns, the vocabulary has 6 classes"),
    (np.array([[0, 1], [2, 6], [1, 1]]), None, r"class index 6 out of range 0..5"),
    (np.array([[0], [-1], [1]]), None, r"class index -1 out of range"),
    (np.array([[np.nan] * 6] * 3, np.float32), None, r"non-finite logits \(NaN or inf\) in row 0"),
    (np.zeros((2, 6), np.float32), None, r"2 rows, but the order lists 3 image keys"),
    (np.zeros((3, 6), np.float32), ["a.jpg", "a.jpg", "c.jpg"], r"image key 'a.jpg' appears 2 times"),
    (np.zeros((3, 6), np.float32), ["a.jpg", "x.jpg", "c.jpg"], r"image key 'x.jpg' is not in the val image set"),
    (np.array(["a", "b", "c"]), None, r"expected integer class indices or float logits"),
])
def test_bad_arrays(tmp_path, array, order, message):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(BagelError, match=message) as e:
        load_predictions(tmp_path / "bad.npy", ISET, VOCAB, str(_keys_file(tmp_path, order or KEYS)))
    assert str(tmp_path / "bad.npy") in str(e.value) and "\n" not in str(e.value)


def test_missing_keys_unknown_order_and_corrupt(tmp_path):
    np.save(tmp_path / "two.npy", np.zeros((2, 6), np.float32))
    with pytest.raises(BagelError, match=r"predictions for 2 images, the val image set has 3 \(missing e.g. 'c.jpg'\)"):
        load_predictions(tmp_path / "two.npy", ISET, VOCAB, str(_keys_file(tmp_path, ["a.jpg", "b.jpg"])))
    with pytest.raises(BagelError, match="unknown order 'sideways'"):
        load_predictions(tmp_path / "two.npy", ISET, VOCAB, "sideways")
    with pytest.raises(BagelError, match="give --order"):
        load_predictions(tmp_path / "two.npy", ISET, VOCAB)
    np.save(tmp_path / "ok.npy", np.zeros((300, 6), np.float32))
    data = (tmp_path / "ok.npy").read_bytes()
    (tmp_path / "trunc.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(BagelError, match="trunc.npy: cannot read array file"):
        load_predictions(tmp_path / "trunc.npy", ISET, VOCAB, "filename")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(BagelError, match="junk.npz: cannot read array file"):
        load_predictions(tmp_path / "junk.npz", ISET, VOCAB, "filename")
    with pytest.raises(BagelError, match="no such file"):
        load_predictions(tmp_path / "nope.npy", ISET, VOCAB, "filename")
