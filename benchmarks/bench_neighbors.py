"""Exact kNN benchmark: our blocked search vs FAISS flat, scikit-learn brute force and raw SGEMM.

Sizes: Q queries x N database x D dims, random float32 (speed does not depend on the values of an
exact search). The database is a memory-mapped .npy, as it is in a workspace. Entries:
  neighbors_vs_faiss_flat     ours vs faiss.IndexFlatIP (add + search) on all Q queries, cosine
  neighbors_vs_sklearn_brute  ours vs NearestNeighbors(algorithm='brute', metric='cosine', n_jobs=-1),
                              on the first Q_SK queries (sklearn is slow; both sides use the same subset)
  neighbors_vs_sgemm          our GFLOP/s (2 Q N D / time) over numpy float32 matmul GFLOP/s on
                              (4096 x D) @ (D x 16384) blocks, measured in the same run
Peak memory: our search re-run in fresh processes with databases of N/4, N/2 and N rows (fields
peak_rss_mb_by_db_rows of neighbors_vs_faiss_flat); it should not grow with N.

Run: ``.venv/bin/python -m benchmarks.bench_neighbors [Q N D]``
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.results import peak_rss_mb, record

Q, N, D, K = 10_000, 200_000, 512, 10
Q_SK = 2_000
BLOCK = 32_768


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def sgemm_gflops(d: int, repeats: int = 5) -> float:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4096, d), dtype=np.float32)
    b = rng.standard_normal((16384, d), dtype=np.float32)
    a @ b.T  # warm-up (thread pool start, page faults)
    best = min(timed(lambda: a @ b.T)[0] for _ in range(repeats))
    return 2 * 4096 * 16384 * d / best / 1e9


MEM_CHILD = """
import sys, json, numpy as np
from bagel.neighbors.knn import knn
path, q_rows, block = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
db = np.load(path, mmap_mode='r')
q = np.random.default_rng(1).standard_normal((q_rows, db.shape[1]), dtype=np.float32)
knn(q, db, 10, block_size=block)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork+exec
hwm = [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')][0]
print(json.dumps({"rows": int(db.shape[0]), "peak_rss_mb": hwm / 1024}))
"""


def main(argv: list[str]) -> int:
    q_n, n, d = (int(a) for a in argv[:3]) if len(argv) >= 3 else (Q, N, D)
    import faiss
    from sklearn.neighbors import NearestNeighbors

    from bagel.neighbors.knn import knn

    rng = np.random.default_rng(0)
    tmp = Path(tempfile.mkdtemp(prefix="bagel-bench-knn-"))
    db_path = tmp / "db.npy"
    db = np.lib.format.open_memmap(db_path, mode="w+", dtype=np.float32, shape=(n, d))
    for a in range(0, n, 50_000):
        block = rng.standard_normal((min(50_000, n - a), d), dtype=np.float32)
        db[a:a + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    db.flush()
    del db
    db = np.load(db_path, mmap_mode="r")
    q = rng.standard_normal((q_n, d), dtype=np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    flops = 2.0 * q_n * n * d

    float(np.asarray(db).sum())  # the file was just written: read it once so no run pays the writeback

    def faiss_flat():
        index = faiss.IndexFlatIP(d)
        index.add(np.asarray(db))
        return index.search(q, K)

    # This machine is shared (other jobs run beside us): alternate the two, keep the best of each.
    t_ours = t_faiss = float("inf")
    for _ in range(3):
        t, (dist, idx) = timed(lambda: knn(q, db, K, "cosine", block_size=BLOCK, normalized=True))
        t_ours = min(t_ours, t)
        t, (fs, fi) = timed(faiss_flat)
        t_faiss = min(t_faiss, t)
    gemm = max(sgemm_gflops(d), sgemm_gflops(d))
    ours_gflops = flops / t_ours / 1e9
    print(f"ours: {t_ours:.2f} s for {q_n} x {n} x {d} ({ours_gflops:.0f} GFLOP/s); numpy sgemm {gemm:.0f} GFLOP/s")
    agree = float((fi == idx).mean())
    print(f"faiss IndexFlatIP: {t_faiss:.2f} s; same neighbours {agree:.4f}")

    sk = NearestNeighbors(n_neighbors=K, algorithm="brute", metric="cosine", n_jobs=-1)
    t_sk, (sd, si) = timed(lambda: sk.fit(np.asarray(db)).kneighbors(q[:Q_SK]))
    t_ours_sk = min(timed(lambda: knn(q[:Q_SK], db, K, "cosine", block_size=BLOCK))[0] for _ in range(2))
    print(f"sklearn brute on {Q_SK} queries: {t_sk:.2f} s vs ours {t_ours_sk:.2f} s; same neighbours {(si == idx[:Q_SK]).mean():.4f}")

    mem = {}
    for rows in (n // 4, n // 2, n):
        part = tmp / f"db{rows}.npy"
        np.save(part, np.load(db_path, mmap_mode="r")[:rows])
        out = subprocess.run([sys.executable, "-c", MEM_CHILD, str(part), "2000", str(BLOCK)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        mem[str(rows)] = round(r["peak_rss_mb"], 1)
        part.unlink()
    print(f"peak RSS of our search (2000 queries, block {BLOCK}) by database rows: {mem}")
    shutil.rmtree(tmp, ignore_errors=True)

    size = f"{q_n} queries x {n} db x {d} dims, k={K}, cosine, database memory-mapped, block {BLOCK} rows"
    record("neighbors_vs_faiss_flat", t_ours, t_faiss, "seconds", t_faiss / t_ours, peak_rss_mb(),
           note=f"{size}; baseline faiss.IndexFlatIP add+search on the whole database in RAM; best of 3 alternating runs each (other jobs share this VM: single runs vary 2x); same neighbours {agree:.4f}",
           peak_rss_mb_by_db_rows=mem, db_bytes_mb=round(n * d * 4 / 2**20, 1))
    record("neighbors_vs_sklearn_brute", t_ours_sk, t_sk, "seconds", t_sk / t_ours_sk, peak_rss_mb(),
           note=f"first {Q_SK} queries (scaled down: sklearn alone would take minutes) x {n} db x {d} dims, k={K}; sklearn NearestNeighbors brute cosine n_jobs=-1")
    record("neighbors_vs_sgemm", ours_gflops, gemm, "GFLOP/s", ours_gflops / gemm, peak_rss_mb(),
           note=f"{size}; ours = 2QND / search time; baseline = numpy float32 matmul (4096x{d} @ {d}x16384), best of 5, same run")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
