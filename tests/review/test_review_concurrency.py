"""Nothing lost or mixed up: many reviewers at once, and a server killed with SIGKILL mid-stream."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict

import httpx
import pytest

from bagel.mistakes.taxonomy import VERDICTS
from bagel.review.store import ReviewStore
from review_world import N_VAL, login, val_key, write_mistakes

BULK = "bulk"


def check_history(store, sent: dict[str, list[dict]]):
    """Every verdict sent (acknowledged) is stored once, under its reviewer, numbered without
    gaps per (reviewer, key), and the current judgement is the last one sent."""
    rows = store.history(BULK)
    assert len(rows) == sum(len(v) for v in sent.values())
    by_idem = {r["idem"]: r for r in rows}
    assert len(by_idem) == len(rows)
    last = {}
    for reviewer, items in sent.items():
        for v in items:
            r = by_idem[v["idem"]]
            assert (r["reviewer"], r["key"], r["verdict"], r["note"]) == (reviewer, v["key"], v["verdict"], v["note"])
            last[(reviewer, v["key"])] = v
    seqs = defaultdict(list)
    for r in rows:
        seqs[(r["reviewer"], r["key"])].append(r["seq"])
    for k, s in seqs.items():
        assert sorted(s) == list(range(1, len(s) + 1)), k
    current = {(r["reviewer"], r["key"]): r for r in store.current(BULK)}
    assert set(current) == set(last)
    for k, v in last.items():
        assert (current[k]["verdict"], current[k]["note"]) == (v["verdict"], v["note"])


def reviewer_stream(name: str, n: int):
    for i in range(n):
        key = val_key((i * 7 + len(name)) % N_VAL)
        yield {"key": key, "verdict": VERDICTS[(i + len(name)) % 3], "note": f"{name}:{i}", "idem": f"{name}-{i:06d}-idem"}


def test_eight_reviewers_post_2000_verdicts_at_once(ws):
    from bagel.review.app import create_app
    from review_world import ServerThread

    write_mistakes(ws, BULK, N_VAL)
    names = [f"rev{i}" for i in range(8)]
    sent = {n: [] for n in names}
    errors = []

    def run(name, base):
        try:
            with httpx.Client(base_url=base, timeout=30) as c:
                csrf = login(c, name)
                for i, v in enumerate(reviewer_stream(name, 250)):
                    r = c.post(f"/api/review/{BULK}/verdict", json=v, headers={"X-CSRF-Token": csrf})
                    r.raise_for_status()
                    assert not r.json()["duplicate"]
                    if i % 25 == 0:  # a client retrying a request whose reply it did not see
                        again = c.post(f"/api/review/{BULK}/verdict", json=v, headers={"X-CSRF-Token": csrf}).json()
                        assert again["duplicate"] and again["id"] == r.json()["id"]
                    sent[name].append(v)
        except Exception as e:  # reported below with the reviewer's name
            errors.append(f"{name}: {e!r}")

    with ServerThread(create_app(ws)) as s:
        threads = [threading.Thread(target=run, args=(n, s.url)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert sum(len(v) for v in sent.values()) == 2000
    check_history(ReviewStore.for_workspace(ws), sent)


def _start_server(ws, port: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    p = subprocess.Popen([sys.executable, "-m", "bagel.cli", "review", "-w", str(ws.root), "--port", str(port)],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while time.time() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"server exited: {p.stderr.read().decode()[-2000:]}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/session", timeout=1)
            return p
        except httpx.TransportError:
            time.sleep(0.05)
    p.kill()
    raise RuntimeError("server did not start")


@pytest.mark.slow
def test_sigkill_mid_stream_loses_and_duplicates_nothing(ws):
    from review_world import free_port

    write_mistakes(ws, BULK, N_VAL)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start_server(ws, port)
    names = ["ann", "ben", "cid", "dee"]
    per_reviewer = 120
    acked = {n: [] for n in names}
    retried = []
    errors = []
    lock = threading.Lock()

    def run(name):
        try:
            with httpx.Client(base_url=base, timeout=5) as c:
                csrf = login(c, name)
                for v in reviewer_stream(name, per_reviewer):
                    tries = 0
                    while True:  # retry the same request (same idempotency key) until acknowledged
                        try:
                            r = c.post(f"/api/review/{BULK}/verdict", json=v, headers={"X-CSRF-Token": csrf})
                            r.raise_for_status()
                            break
                        except httpx.TransportError:
                            tries += 1
                            if tries > 400:
                                raise
                            time.sleep(0.05)
                    if tries:
                        with lock:
                            retried.append((name, v["idem"], r.json()["duplicate"]))
                    acked[name].append(v)
        except Exception as e:
            errors.append(f"{name}: {e!r}")

    threads = [threading.Thread(target=run, args=(n,)) for n in names]
    for t in threads:
        t.start()
    while sum(len(v) for v in acked.values()) < 150 and not errors:
        time.sleep(0.005)
    server.send_signal(signal.SIGKILL)
    server.wait()
    killed_at = sum(len(v) for v in acked.values())
    server = _start_server(ws, port)
    try:
        for t in threads:
            t.join(120)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    assert errors == []
    assert killed_at < len(names) * per_reviewer  # the kill did land mid-stream
    assert retried, "no request was in flight when the server died"
    check_history(ReviewStore.for_workspace(ws), acked)
