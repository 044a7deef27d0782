"""The one place the review app knows about the neighbours stage: K nearest training images of an
evaluation image and duplicate clusters, as plain dicts, or [] when that stage has not run.

Wired to `bagel.neighbors.lookup.load_neighbors` (memory-mapped ``neighbors/<val>-<train>-<model>/``)
and `bagel.neighbors.duplicates.read_gallery` (the clusters that stage writes for this app). Everything about that stage's files and functions stays here, so a change there is a
change here only; any failure to read them shows as "not computed", never as a broken page.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from bagel.errors import BagelError

_lock = threading.Lock()
_cache: dict = {}


def _stamp(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _neighbors(ws, query_split: str, db_split: str):
    """The stored neighbours of ``query_split`` in ``db_split`` (the most recently computed model
    when there are several), cached until their meta.json changes; None when absent."""
    d = ws.root / "neighbors"
    metas = sorted(d.glob(f"{query_split}-{db_split}-*/meta.json"), key=lambda p: _stamp(p) or 0) if d.exists() else []
    if not metas:
        return None
    meta = metas[-1]
    ck = ("nn", str(ws.root), query_split, db_split)
    hit = _cache.get(ck)
    if hit is not None and hit[0] == (meta, _stamp(meta)):
        return hit[1]
    with _lock:
        try:
            from bagel.neighbors.lookup import load_neighbors

            model = json.loads(meta.read_text())["model"]
            nn = load_neighbors(ws, query_split, db_split, model)
        except (BagelError, ImportError, OSError, ValueError, KeyError):
            nn = None  # stale (other image sets), half-written, or the stage is being rebuilt
        _cache[ck] = ((meta, _stamp(meta)), nn)
    return nn


def neighbors_for(ws, key: str, k: int = 10, query_split: str = "val", db_split: str = "train") -> list[dict]:
    """The ``k`` nearest ``db_split`` images of evaluation image ``key``: [{key, label, distance,
    split}] nearest first; [] when neighbours were not computed (or not for this image)."""
    nn = _neighbors(ws, query_split, db_split)
    if nn is None:
        return []
    try:
        df = nn.of(key)
    except (BagelError, IndexError, ValueError):
        return []
    return [{"key": str(r.key), "label": int(r.label), "distance": float(r.distance), "split": db_split}
            for r in df.head(k).itertuples(index=False)]


def duplicate_clusters(ws) -> list[dict]:
    """Duplicate / near-duplicate clusters from ``duplicates/clusters.json``: [{cluster, kind, size,
    n_val, n_train, n_labels, score, members: [{key, split, label, kind, score}]}]; [] when not
    computed."""
    path = ws.root / "duplicates" / "clusters.json"
    stamp = _stamp(path)
    if stamp is None:
        return []
    ck = ("dup", str(ws.root))
    hit = _cache.get(ck)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    try:
        from bagel.neighbors.duplicates import read_gallery

        clusters = read_gallery(ws)
        for c in clusters:  # absolute paths stay server-side: images are served by (split, key) only
            c["members"] = [{k: v for k, v in m.items() if k != "path"} for m in c["members"]]
    except (BagelError, ImportError, KeyError, TypeError):
        clusters = []
    by_key = {}
    for c in clusters:
        for m in c["members"]:
            by_key[(m.get("split"), str(m.get("key")))] = c
    with _lock:
        _cache[ck] = (stamp, clusters)
        _cache[("dupkey", str(ws.root))] = (stamp, by_key)
    return clusters


def cluster_of(ws, key: str, split: str = "val") -> dict | None:
    """The duplicate cluster image ``key`` of ``split`` belongs to, or None."""
    duplicate_clusters(ws)
    hit = _cache.get(("dupkey", str(ws.root)))
    return hit[1].get((split, key)) if hit else None
