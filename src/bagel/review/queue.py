"""The review queue: a model's mistakes table held in memory (reloaded when its file changes) and
the walk from one item to the next that matches the reviewer's filters.

Static filters (class, suggested category, severity) select rows of the table once per filter set
(numpy masks, cached); dynamic filters (status, reviewer) depend on the store and are checked on
small chunks of candidates, so finding the next item costs one indexed query in the usual case
instead of reading every judgement of the model.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bagel.errors import BagelError
from bagel.mistakes.table import mistake_models, table_path
from bagel.mistakes.taxonomy import CATEGORIES, SEVERITIES

REQUIRED = ("key", "row", "label", "prediction", "top5", "category", "severity", "confidence", "evidence")
STATUSES = ("unreviewed", "reviewed", "disputed", "all")


# The mistakes stage owns where its tables live: reviewable models are the models it has tables for.
model_names = mistake_models


def check_model(name: str) -> str:
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith(".") or len(name) > 200:
        raise BagelError(f"model name {name!r}: expected a plain name (a file stem under mistakes/)")
    return name


@dataclass
class MistakeTable:
    """One model's mistakes (the mistakes stage's Parquet contract), as column arrays.

    keys (M,) object; rows, labels, predictions (M,) int; top5 list of int lists; scores list of
    float lists or None; category, severity (M,) object; confidence (M,) float; evidence (M,) str (JSON).
    """

    model: str
    keys: np.ndarray
    rows: np.ndarray
    labels: np.ndarray
    predictions: np.ndarray
    top5: list
    scores: list
    category: np.ndarray
    severity: np.ndarray
    confidence: np.ndarray
    evidence: np.ndarray
    mtime: float = 0.0
    index: dict = field(default_factory=dict)
    _queues: dict = field(default_factory=dict)

    def __post_init__(self):
        self.index = {k: i for i, k in enumerate(self.keys)}

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def load(cls, path: Path, model: str) -> "MistakeTable":
        if not path.exists():
            raise BagelError(f"{path}: no mistakes table for model {model!r} (run the mistakes stage first)")
        try:
            df = pd.read_parquet(path)
        except Exception as e:  # pyarrow raises many types for corrupt files
            raise BagelError(f"{path}: cannot read the mistakes table ({type(e).__name__})") from None
        missing = [c for c in REQUIRED if c not in df.columns]
        if missing:
            raise BagelError(f"{path}: expected columns {', '.join(REQUIRED)}; missing {', '.join(missing)}")
        scores = df["scores"].tolist() if "scores" in df.columns else [None] * len(df)
        return cls(model, df["key"].astype(str).to_numpy(object), df["row"].to_numpy(np.int64), df["label"].to_numpy(np.int64),
                   df["prediction"].to_numpy(np.int64), [list(map(int, t)) for t in df["top5"]],
                   [None if s is None else [round(float(x), 6) for x in s] for s in scores],
                   df["category"].astype(object).to_numpy(object), df["severity"].astype(object).to_numpy(object),
                   df["confidence"].to_numpy(np.float64), df["evidence"].astype(object).to_numpy(object), path.stat().st_mtime)

    def evidence_of(self, i: int) -> dict:
        e = self.evidence[i]
        if e is None:
            return {}
        try:
            v = json.loads(e) if isinstance(e, str) else e
        except json.JSONDecodeError:
            return {"text": str(e)}
        return v if isinstance(v, dict) else {"value": v}

    def queue(self, cls: int | None = None, category: str | None = None, severity: str | None = None) -> np.ndarray:
        """Positions (ascending) of the mistakes whose original label or prediction is ``cls`` and
        whose suggested category / severity match."""
        k = (cls, category, severity)
        q = self._queues.get(k)
        if q is None:
            m = np.ones(len(self), dtype=bool)
            if cls is not None:
                m &= (self.labels == cls) | (self.predictions == cls)
            if category:
                m &= self.category == category
            if severity:
                m &= self.severity == severity
            q = np.flatnonzero(m)
            if len(self._queues) > 256:
                self._queues.clear()
            self._queues[k] = q
        return q


class Tables:
    """Mistake tables by model, loaded once and reloaded when the file's mtime changes."""

    def __init__(self, ws):
        self.ws = ws
        self._lock = threading.Lock()
        self._tables: dict[str, MistakeTable] = {}

    def get(self, model: str) -> MistakeTable:
        check_model(model)
        path = table_path(self.ws, model)
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            raise BagelError(f"no mistakes table for model {model!r} in {self.ws.root} (have: {', '.join(model_names(self.ws)) or 'none'})") from None
        t = self._tables.get(model)
        if t is None or t.mtime != mtime:
            with self._lock:
                t = self._tables.get(model)
                if t is None or t.mtime != mtime:
                    t = MistakeTable.load(path, model)
                    self._tables[model] = t
        return t


@dataclass
class Filters:
    """What a reviewer asked to see. cls: class index or None; status: one of STATUSES, judged
    from ``me``'s point of view; reviewer: only items this reviewer has judged."""

    cls: int | None = None
    category: str | None = None
    severity: str | None = None
    status: str = "unreviewed"
    reviewer: str | None = None

    def __post_init__(self):
        if self.category and self.category not in CATEGORIES:
            raise BagelError(f"category filter {self.category!r}: expected one of {', '.join(CATEGORIES)}")
        if self.severity and self.severity not in SEVERITIES:
            raise BagelError(f"severity filter {self.severity!r}: expected one of {', '.join(SEVERITIES)}")
        if self.status not in STATUSES:
            raise BagelError(f"status filter {self.status!r}: expected one of {', '.join(STATUSES)}")

    def query(self, vocabulary) -> dict:
        """As URL query parameters (class by id), leaving out defaults."""
        q = {}
        if self.cls is not None:
            q["cls"] = vocabulary.ids[self.cls]
        for k in ("category", "severity", "reviewer"):
            if getattr(self, k):
                q[k] = getattr(self, k)
        if self.status != "unreviewed":
            q["status"] = self.status
        return q


def _matches(judged: dict[str, dict[str, str]], key: str, f: Filters, me: str, check_status: bool) -> bool:
    by = judged.get(key, {})
    if f.reviewer and f.reviewer not in by:
        return False
    if not check_status or f.status == "all":
        return True
    if f.status == "unreviewed":
        return me not in by
    if f.status == "reviewed":
        return me in by
    return len(set(by.values())) > 1  # disputed: reviewers gave different verdicts


def step(store, table: MistakeTable, f: Filters, me: str, after: str | None, direction: int = 1) -> tuple[str | None, int, int]:
    """The next (direction 1) or previous (-1) item after ``after`` (None: from the start / end)
    in ``table``'s queue under ``f``. Going back ignores the status filter so the reviewer can
    return to what they just judged. Returns (key or None, its position in the queue, queue size)."""
    q = table.queue(f.cls, f.category, f.severity)
    n = len(q)
    if after is not None and after in table.index:
        p = int(np.searchsorted(q, table.index[after]))
        if direction > 0:
            start = p + 1 if p < n and q[p] == table.index[after] else p
        else:
            start = p - 1
    else:
        start = 0 if direction > 0 else n - 1
    needs_store = f.reviewer is not None or (direction > 0 and f.status != "all")
    chunk = 32
    i = start
    while 0 <= i < n:
        j = min(n, i + chunk) if direction > 0 else max(-1, i - chunk)
        pos = q[i:j] if direction > 0 else q[j + 1:i + 1][::-1]
        keys = [table.keys[p] for p in pos]
        judged: dict[str, dict[str, str]] = {}
        if needs_store:
            for r in store.current(table.model, keys):
                judged.setdefault(r["key"], {})[r["reviewer"]] = r["verdict"]
        for off, k in enumerate(keys):
            if _matches(judged, k, f, me, direction > 0):
                return k, (i + off if direction > 0 else i - off), n
        i = j
        chunk = min(chunk * 4, 4096)
    return None, -1, n


def position(table: MistakeTable, f: Filters, key: str) -> tuple[int, int]:
    """(position of ``key`` in the static queue or -1, queue size)."""
    q = table.queue(f.cls, f.category, f.severity)
    p = table.index.get(key)
    if p is None:
        return -1, len(q)
    i = int(np.searchsorted(q, p))
    return (i if i < len(q) and q[i] == p else -1), len(q)
