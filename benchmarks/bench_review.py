"""Load benchmark of the review app: p95 server time of 'next item' and 'save verdict' with 10
concurrent reviewers on loopback, on a generated 50,000-image workspace.

Run from the repository root: ``python -m benchmarks.bench_review [--clients 10] [--rounds 150]``.
The workspace (1000 classes, 50,000 evaluation images without pixels, 20,000 multi-labelled
images, a 15,000-row mistakes table and 20,000 earlier verdicts) is generated in a temporary
folder; the server runs as ``bagel review`` in its own process, so client and server do not share
an interpreter. Server time is the app's ``Server-Timing`` header (request in to response headers
out, including waiting for a worker thread); client latency is measured too and reported in the
note. Entries: ``review_p95_next`` and ``review_p95_save`` (ours = p95 ms, baseline = 30 ms target,
ratio = 30 / p95).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.results import record

TARGET_MS = 30.0
N_IMAGES, N_CLASSES, N_MISTAKES, N_MULTILABEL, N_SEEDED = 50_000, 1000, 15_000, 20_000, 20_000
CATEGORIES = ("fine-grained", "fine-grained-oov", "spurious", "non-prototypical")
SEVERITIES = ("major", "minor", "borderline")


def build_workspace(root: Path, seed: int = 0) -> str:
    from bagel.data.imageset import ImageSet
    from bagel.review.store import ReviewStore, reviewers, state, verdicts
    from bagel.workspace import Workspace

    rng = np.random.default_rng(seed)
    ws = Workspace(root)
    ds = root / "dataset"
    ds.mkdir(exist_ok=True)
    wnids = [f"n{10_000_000 + c:08d}" for c in range(N_CLASSES)]
    (ds / "class_info.json").write_text(json.dumps([{"cid": c, "wnid": w, "synset": [f"class {c}", f"thing {c}"], "gloss": f"gloss of class {c}"}
                                                    for c, w in enumerate(wnids)]))
    (ds / "dataset.json").write_text(json.dumps({"name": "bench", "class_info": "class_info.json", "is_a": None, "words": None,
                                                 "multilabel": "multilabel.json", "eval_split": "val"}))
    keys = np.array([f"ILSVRC2012_val_{i + 1:08d}.JPEG" for i in range(N_IMAGES)], dtype=object)
    labels = (np.arange(N_IMAGES) % N_CLASSES).astype(np.int32)
    ImageSet(keys, labels, np.array([""] * N_IMAGES, dtype=object), None, "val").save(ws)
    annots = {}
    for i in rng.choice(N_IMAGES, N_MULTILABEL, replace=False):
        annots[keys[i]] = {"correct": [wnids[labels[i]]], "wrong": [wnids[(labels[i] + 1) % N_CLASSES]], "unclear": []}
    (ds / "multilabel.json").write_text(json.dumps({"initial_annots": annots, "problematic_images": {}, "imagenet_m": []}))
    rows = np.sort(rng.choice(N_IMAGES, N_MISTAKES, replace=False))
    preds = (labels[rows] + rng.integers(1, N_CLASSES, len(rows))) % N_CLASSES
    top5 = [[int(p)] + [int(x) for x in rng.choice(N_CLASSES, 4, replace=False)] for p in preds]
    df = pd.DataFrame({"key": keys[rows].astype(str), "row": rows.astype(np.int64), "label": labels[rows].astype(np.int32),
                       "prediction": preds.astype(np.int32), "top5": top5,
                       "scores": [np.sort(rng.random(5).astype(np.float32))[::-1].tolist() for _ in rows],
                       "category": rng.choice(CATEGORIES, len(rows)), "severity": rng.choice(SEVERITIES, len(rows)),
                       "confidence": rng.random(len(rows)), "evidence": [json.dumps({"rule": "generated", "depth": int(d)}) for d in rng.integers(0, 9, len(rows))]})
    ws.path("mistakes", "bench.parquet")
    df.to_parquet(root / "mistakes" / "bench.parquet", index=False)
    # earlier work: three reviewers' verdicts on random mistakes, written in bulk
    store = ReviewStore.for_workspace(ws)
    now = time.time()
    with store.engine.begin() as c:
        for r, name in enumerate(("early1", "early2", "early3"), 1):
            c.execute(reviewers.insert().values(id=r, name=name, created=now))
        vrows, srows = [], []
        seen = set()
        for j in range(N_SEEDED):
            rid, i = 1 + j % 3, int(rng.integers(0, N_MISTAKES))
            if (rid, i) in seen:
                continue
            seen.add((rid, i))
            v = {"verdict": ("correct", "wrong", "unclear")[j % 3], "problematic": False, "severity": None, "category": None, "note": ""}
            vrows.append(dict(id=len(vrows) + 1, reviewer_id=rid, model="bench", key=str(df.key[i]), seq=1, idem=f"seed-{j}",
                              action="judge", undoes=None, prediction=int(preds[i]), created=now, **v))
            srows.append(dict(reviewer_id=rid, model="bench", key=str(df.key[i]), verdict_id=len(vrows), seq=1,
                              prediction=int(preds[i]), updated=now, **v))
        c.execute(verdicts.insert(), vrows)
        c.execute(state.insert(), srows)
    store.close()
    return "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_ms(resp) -> float:
    m = re.search(r"app;dur=([0-9.]+)", resp.headers.get("server-timing", ""))
    return float(m.group(1)) if m else float("nan")


def client_loop(base: str, name: str, model: str, rounds: int, out: dict, errors: list, barrier: threading.Barrier):
    import httpx

    try:
        with httpx.Client(base_url=base, timeout=30) as c:
            s = c.get("/api/session").json()
            csrf = c.post("/api/login", json={"name": name}, headers={"X-CSRF-Token": s["csrf"]}).json()["csrf"]
            # start each client at a different place, as reviewers filtering different classes would
            after = None
            barrier.wait()
            for i in range(rounds):
                t0 = time.perf_counter()
                r = c.get(f"/api/review/{model}/next", params={"after": after} if after else {})
                t1 = time.perf_counter()
                r.raise_for_status()
                item = r.json()
                out["next"].append((server_ms(r), (t1 - t0) * 1000))
                key = item["key"]
                if key is None:
                    break
                body = {"key": key, "verdict": ("wrong", "correct", "unclear")[i % 3], "severity": "minor", "category": "spurious",
                        "problematic": False, "note": "", "idem": f"{name}-{i}-{key}"}
                t0 = time.perf_counter()
                r = c.post(f"/api/review/{model}/verdict", json=body, headers={"X-CSRF-Token": csrf})
                t1 = time.perf_counter()
                r.raise_for_status()
                out["save"].append((server_ms(r), (t1 - t0) * 1000))
                after = key
    except Exception as e:  # reported by the main thread
        errors.append(f"{name}: {e!r}")


def vm_hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=150, help="next + save pairs per client")
    ap.add_argument("--warmup", type=int, default=5, help="first pairs per client left out of the statistics")
    ap.add_argument("--dry-run", action="store_true", help="print the figures without recording them in results.json")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bagel-bench-review-") as tmp:
        root = Path(tmp) / "ws"
        t = time.time()
        model = build_workspace(root)
        print(f"workspace generated in {time.time() - t:.1f} s: {N_IMAGES} images, {N_MISTAKES} mistakes, {N_SEEDED} seeded verdicts")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen([sys.executable, "-m", "bagel.cli", "review", "-w", str(root), "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ))
        try:
            import httpx

            deadline = time.time() + 60
            while True:
                try:
                    httpx.get(base + "/api/session", timeout=1)
                    break
                except httpx.TransportError:
                    if proc.poll() is not None or time.time() > deadline:
                        raise SystemExit(f"server did not start: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
                    time.sleep(0.1)
            results = [{"next": [], "save": []} for _ in range(args.clients)]
            errors: list[str] = []
            barrier = threading.Barrier(args.clients)
            threads = [threading.Thread(target=client_loop, args=(base, f"bench{i}", model, args.rounds, results[i], errors, barrier))
                       for i in range(args.clients)]
            t = time.time()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            wall = time.time() - t
            peak = vm_hwm_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if errors:
            print("\n".join(errors), file=sys.stderr)
            return 1
    for op in ("next", "save"):
        data = np.array([x for r in results for x in r[op][args.warmup:]])
        srv, cli = data[:, 0], data[:, 1]
        p95, p50, c95 = np.percentile(srv, 95), np.percentile(srv, 50), np.percentile(cli, 95)
        note = (f"{args.clients} clients x {args.rounds} next+save on loopback, {N_IMAGES} images, {N_MISTAKES} mistakes; "
                f"server p50 {p50:.2f} ms, client p95 {c95:.2f} ms; n={len(srv)}; peak RSS = server process")
        if not args.dry_run:
            record(f"review_p95_{op}", p95, TARGET_MS, "ms", TARGET_MS / p95, peak, note, client_p95_ms=round(float(c95), 3),
                   server_p50_ms=round(float(p50), 3), requests=int(len(srv)))
        print(f"{op:5s} server p95 {p95:7.2f} ms  p50 {p50:6.2f} ms  client p95 {c95:7.2f} ms  ratio {TARGET_MS / p95:.2f}")
    print(f"{sum(len(r['save']) for r in results)} verdicts in {wall:.1f} s; server peak RSS {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
