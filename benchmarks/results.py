"""Shared writer of benchmarks/results.json and the readable table benchmarks/RESULTS.md.

One entry per benchmark name (fixed names, so figures compare over time): ``name``, ``ours``,
``baseline``, ``unit``, ``ratio`` (baseline cost / our cost: above 1 means we are faster),
``peak_rss_mb``, ``date``, ``machine`` and an optional ``note``. Writing an entry replaces the
previous entry of that name and regenerates the table.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import platform
import resource
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
TABLE = HERE / "RESULTS.md"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"


def record(name: str, ours: float, baseline: float, unit: str, ratio: float, peak_mb: float, note: str = "", **extra) -> dict:
    entry = {"name": name, "ours": round(float(ours), 6), "baseline": round(float(baseline), 6), "unit": unit,
             "ratio": round(float(ratio), 4), "peak_rss_mb": round(float(peak_mb), 1),
             "date": datetime.date.today().isoformat(), "machine": machine()}
    if note:
        entry["note"] = note
    entry.update(extra)
    # Benchmarks may run concurrently: read-modify-write under an exclusive lock.
    with open(HERE / ".results.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        entries = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
        entries = [e for e in entries if e["name"] != name] + [entry]
        entries.sort(key=lambda e: e["name"])
        RESULTS.write_text(json.dumps(entries, indent=2) + "\n")
        write_table(entries)
    return entry


def write_table(entries: list[dict]) -> None:
    lines = ["# Benchmark results", "",
             "Generated from [results.json](results.json) by `benchmarks/results.py`; ratio = baseline cost / our cost (above 1: we are faster).", "",
             "| benchmark | ours | baseline | unit | ratio | peak RSS (MB) | date | machine | note |", "|---|---|---|---|---|---|---|---|---|"]
    for e in entries:
        lines.append(f"| {e['name']} | {e['ours']:g} | {e['baseline']:g} | {e['unit']} | {e['ratio']:g} | {e['peak_rss_mb']:g} | {e['date']} | {e['machine']} | {e.get('note', '')} |")
    TABLE.write_text("\n".join(lines) + "\n")
