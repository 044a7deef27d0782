import numpy as np
import pytest

from bagel.errors import BagelError
from bagel.neighbors.knn import knn


def brute(q, x, k, metric):
    if metric == "cosine":
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        d = 1 - q.astype(np.float64) @ x.T.astype(np.float64)
    else:
        d = np.sqrt(((q[:, None, :].astype(np.float64) - x[None].astype(np.float64)) ** 2).sum(-1))
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, order, 1), order


@pytest.mark.parametrize("metric", ["cosine", "l2"])
@pytest.mark.parametrize("backend", ["faiss", "numpy"])
def test_knn_matches_brute_force_numpy(metric, backend):
    rng = np.random.default_rng(1)
    q = rng.standard_normal((57, 24)).astype(np.float32)
    x = rng.standard_normal((1000, 24)).astype(np.float32)
    d, i = knn(q, x, 7, metric, block_size=128, backend=backend)  # 8 blocks: exercises the merge
    bd, bi = brute(q, x, 7, metric)
    assert d.shape == (57, 7) and i.dtype == np.int64 and d.dtype == np.float32
    assert (i == bi).mean() > 0.995  # random continuous data: ties only from float rounding
    np.testing.assert_allclose(d, bd, atol=1e-4)
    assert (np.diff(d, axis=1) >= 0).all()


def test_knn_on_memmap_equals_in_memory(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    q = x[:5] + 0.01
    d1, i1 = knn(q, mm, 3, block_size=64)
    d2, i2 = knn(q, x, 3, block_size=1000)
    assert (i1 == i2).all() and np.allclose(d1, d2)
    assert (i1[:, 0] == np.arange(5)).all()


def test_knn_tiny_exact_example_and_self_exclusion():
    x = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0]], np.float32)
    d, i = knn(x, x, 2, "l2", self_rows=np.arange(4))
    # row 2 is equally far from rows 0 and 3 (sqrt 2): the tie goes to the lower row
    assert i.tolist() == [[1, 2], [0, 2], [1, 0], [2, 1]]
    np.testing.assert_allclose(d[0, 0], np.hypot(0.1, 0.1), rtol=1e-5)


def test_knn_k_larger_than_database_pads():
    x = np.eye(3, dtype=np.float32)
    d, i = knn(x[:1], x, 5, block_size=2)
    assert i[0, :3].tolist() == [0, 1, 2] and i[0, 3:].tolist() == [-1, -1]
    assert np.isinf(d[0, 3:]).all()


def test_knn_rejects_bad_input():
    with pytest.raises(BagelError, match="metric"):
        knn(np.ones((2, 3), np.float32), np.ones((4, 3), np.float32), 1, "hamming")
    with pytest.raises(BagelError, match="equal D"):
        knn(np.ones((2, 3), np.float32), np.ones((4, 5), np.float32), 1)


def test_normalized_database_skips_nothing_that_matters():
    """With rows already L2-normalised, `normalized=True` gives the same neighbours as normalising again."""
    from bagel.neighbors.knn import knn as search

    rng = np.random.default_rng(5)
    x = rng.standard_normal((300, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = rng.standard_normal((20, 16)).astype(np.float32)
    d1, i1 = search(q, x, 5, block_size=64)
    d2, i2 = search(q, x, 5, block_size=64, normalized=True)
    assert (i1 == i2).all() and np.allclose(d1, d2, atol=1e-6)
