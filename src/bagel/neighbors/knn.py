"""Exact k-nearest-neighbour search, blocked over the database so memory stays bounded.

The database is read ``block_size`` rows at a time (a memory-mapped file is re-mapped per block,
so pages already searched leave the resident set); each block is searched for all queries with
FAISS's exact brute-force kernel (BLAS GEMM + heap selection on all cores) and the running top-k is
merged. Memory is queries + one block + (Q, 2k) results, whatever the database size. The numpy
backend (GEMM + argpartition) gives the same answer without FAISS and is the reference in tests.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from bagel.errors import BagelError
from bagel.neighbors.embedders import l2_normalize

METRICS = ("cosine", "l2")


def knn(queries: np.ndarray, database: np.ndarray, k: int = 10, metric: str = "cosine", *, block_size: int = 131072,
        backend: str = "faiss", threads: int | None = None, self_rows: np.ndarray | None = None, progress: bool = False,
        normalized: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` neighbours of each query row in ``database``.

    queries:  (Q, D) float array.
    database: (N, D) float array or ``np.memmap`` (read block by block).
    metric:   'cosine' (rows are L2-normalised here; distance = 1 - cosine similarity) or 'l2'
              (Euclidean distance).
    self_rows: (Q,) int, when queries are database rows: the row of each query, whose match with
              itself is dropped (-1: none).
    normalized: the database rows are already L2-normalised (bagel's embedding files are), so the
              per-block normalisation for 'cosine' is skipped: one pass less over the database.
    Returns (distances (Q, k) float32 ascending, indices (Q, k) int64 rows of ``database``);
    when N < k the missing columns hold distance +inf and index -1. Ties are broken by lower index.
    """
    if metric not in METRICS:
        raise BagelError(f"metric {metric!r}: expected one of {', '.join(METRICS)}")
    q = np.ascontiguousarray(queries, dtype=np.float32)
    if q.ndim != 2 or database.ndim != 2 or q.shape[1] != database.shape[1]:
        raise BagelError(f"knn: expected queries (Q, D) and database (N, D) of equal D, found {q.shape} and {database.shape}")
    if k < 1:
        raise BagelError(f"knn: expected k >= 1, found {k}")
    if metric == "cosine":
        q = l2_normalize(q)
    kk = k + 1 if self_rows is not None else k
    if threads and backend == "faiss":
        import faiss

        faiss.omp_set_num_threads(int(threads))
    best_d = np.full((len(q), kk), np.inf, dtype=np.float32)
    best_i = np.full((len(q), kk), -1, dtype=np.int64)
    from tqdm import tqdm

    n = database.shape[0]
    bar = tqdm(total=n, desc="knn", unit="row", disable=not progress, leave=False)
    for start, block in _blocks(database, block_size):
        if metric == "cosine" and not normalized:
            block = l2_normalize(block)
        d, i = (_search_faiss if backend == "faiss" else _search_numpy)(q, block, min(kk, len(block)), metric)
        best_d, best_i = _merge(best_d, best_i, d, np.where(i >= 0, i + start, -1), kk)
        bar.update(len(block))
    bar.close()
    if self_rows is not None:
        best_d, best_i = _drop_self(best_d, best_i, np.asarray(self_rows), k)
    if metric == "l2":
        best_d = np.sqrt(np.maximum(best_d, 0, out=best_d), out=best_d)
    return best_d, best_i


def _blocks(database: np.ndarray, block_size: int) -> Iterator[tuple[int, np.ndarray]]:
    """(start row, contiguous float32 copy of rows [start, start + block_size))."""
    n = database.shape[0]
    mm = isinstance(database, np.memmap) and getattr(database, "filename", None)
    for start in range(0, n, block_size):
        stop = min(start + block_size, n)
        if mm:
            # A fresh mapping per block, dropped after the copy: the kernel may then evict the
            # pages, so resident memory is one block, not the whole file.
            row_bytes = database.dtype.itemsize * database.shape[1]
            part = np.memmap(database.filename, dtype=database.dtype, mode="r", offset=database.offset + start * row_bytes, shape=(stop - start, database.shape[1]))
            block = np.array(part, dtype=np.float32)
            del part
        else:
            block = np.ascontiguousarray(database[start:stop], dtype=np.float32)
        yield start, block


def _search_faiss(q: np.ndarray, x: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    import faiss

    if metric == "cosine":
        sim, idx = faiss.knn(q, x, k, metric=faiss.METRIC_INNER_PRODUCT)
        return (1.0 - sim).astype(np.float32), idx.astype(np.int64)
    d2, idx = faiss.knn(q, x, k, metric=faiss.METRIC_L2)  # squared distances
    return d2.astype(np.float32), idx.astype(np.int64)


def _search_numpy(q: np.ndarray, x: np.ndarray, k: int, metric: str, q_block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    out_d = np.empty((len(q), k), np.float32)
    out_i = np.empty((len(q), k), np.int64)
    x_sq = (x * x).sum(1) if metric == "l2" else None
    for a in range(0, len(q), q_block):
        s = q[a:a + q_block] @ x.T
        d = 1.0 - s if metric == "cosine" else np.maximum((q[a:a + q_block] ** 2).sum(1, keepdims=True) - 2 * s + x_sq, 0)
        part = np.argpartition(d, k - 1, axis=1)[:, :k] if k < d.shape[1] else np.broadcast_to(np.arange(d.shape[1]), d.shape).copy()
        out_d[a:a + q_block] = np.take_along_axis(d, part, 1)
        out_i[a:a + q_block] = part
    return out_d, out_i


def _merge(d1, i1, d2, i2, k):
    """Top-k (ascending distance, then index) of the union of two candidate lists per row."""
    d = np.concatenate([d1, d2], axis=1)
    i = np.concatenate([i1, i2], axis=1)
    # lexsort on (index, distance): stable, exact tie-break by lower row; -1 (empty) sorts last via inf.
    order = np.lexsort((np.where(i < 0, np.iinfo(np.int64).max, i), d), axis=1)[:, :k]
    return np.take_along_axis(d, order, 1), np.take_along_axis(i, order, 1)


def _drop_self(d, i, self_rows, k):
    is_self = (i == self_rows[:, None]) & (self_rows[:, None] >= 0)
    # where a row's own index is absent (ties pushed it out), drop the last column instead
    drop = np.where(is_self.any(1), is_self.argmax(1), i.shape[1] - 1)
    keep = np.ones_like(is_self)
    keep[np.arange(len(i)), drop] = False
    return d[keep].reshape(len(i), k), i[keep].reshape(len(i), k)
