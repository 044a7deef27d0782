"""What a reviewer sees of one mistake, assembled from the workspace (mistakes table, dataset,
multi-labels, neighbours) and the store; and what the class browser shows of one class.

`ReviewContext` holds the per-server caches (tables, dataset, label set, image sets) so requests
do no file reading in the usual case.
"""

from __future__ import annotations

import threading
from functools import cached_property

from bagel.data.dataset import Dataset
from bagel.data.imageset import ImageSet
from bagel.errors import BagelError
from bagel.mistakes.taxonomy import CATEGORY_TITLES
from bagel.review import neighbors_view
from bagel.review.images import ImageServer
from bagel.review.queue import Filters, Tables, position
from bagel.review.store import ReviewStore


class ReviewContext:
    """Everything the app reads, for one workspace."""

    def __init__(self, ws, store: ReviewStore | None = None):
        self.ws = ws
        self.store = store or ReviewStore.for_workspace(ws)
        self.tables = Tables(ws)
        self.images = ImageServer(ws)
        self._lock = threading.Lock()
        self._labels: tuple | None = None  # (dataset.json mtime, label set or None)

    @cached_property
    def dataset(self) -> Dataset:
        return Dataset.for_workspace(self.ws)

    @property
    def vocabulary(self):
        return self.dataset.vocabulary

    @property
    def labelset(self):
        """The multi-label set when the dataset has one, else None (the page then shows the
        original label only); reread when the dataset's description or its multi-label file
        changes (`bagel review import-labels` while the server runs)."""
        meta = self.ws.root / "dataset" / "dataset.json"
        meta_t = meta.stat().st_mtime if meta.exists() else None
        if self._labels is not None and self._labels[0][0] != meta_t:
            self.__dict__.pop("dataset", None)  # dataset.json changed: reread it too
        path = self.dataset.files.get("multilabel")
        stamp = (meta_t, path.stat().st_mtime if path is not None and path.exists() else None)
        if self._labels is not None and self._labels[0] == stamp:
            return self._labels[1]
        with self._lock:
            if self._labels is not None:
                self.__dict__.pop("dataset", None)  # its label-set cache holds the old file
            ls = self.dataset.labels("multilabel") if stamp[1] is not None else None
            self._labels = (stamp, ls)
        return ls

    def class_ref(self, c: int) -> dict:
        v = self.vocabulary
        if c is None or not (0 <= int(c) < len(v)):
            return {"cid": int(c) if c is not None else -1, "id": "?", "name": "unknown"}
        return {"cid": int(c), "id": v.ids[c], "name": v.name(c), "gloss": v.glosses[c]}

    def class_index(self, class_id: str) -> int:
        """A class by id, else by a name that matches exactly one class."""
        v = self.vocabulary
        try:
            return v.index_of(class_id, source="class")
        except BagelError:
            pass
        hits = v.find(class_id)
        exact = [c for c in hits if class_id.strip().lower() in (n.lower() for n in v.names[c])]
        if len(hits) == 1 or len(exact) == 1:
            return (exact or hits)[0]
        raise BagelError(f"class {class_id!r}: " + (f"matches {len(hits)} classes; give its id" if hits else "no class has this id or name"))

    def filters(self, cls: str | None = None, category: str | None = None, severity: str | None = None,
                status: str | None = None, reviewer: str | None = None) -> Filters:
        return Filters(self.class_index(cls) if cls else None, category or None, severity or None, status or "unreviewed",
                       reviewer or None)

    def item(self, model: str, key: str, me: str, f: Filters, with_neighbors: bool = True) -> dict:
        """One mistake as the review page shows it (also the JSON of the API)."""
        t = self.tables.get(model)
        i = t.index.get(key)
        if i is None:
            raise BagelError(f"image {key!r} is not among the mistakes of {model}")
        row = int(t.rows[i])
        scores = t.scores[i]
        top5 = [dict(self.class_ref(c), score=(scores[j] if scores is not None and j < len(scores) else None))
                for j, c in enumerate(t.top5[i])]
        ml, problematic = None, False
        ls = self.labelset
        if ls is not None and 0 <= row < len(ls):
            if ls.annotated[row]:
                ml = {k: [self.class_ref(c) for c in v] for k, v in ls.row(row).items()}
            problematic = bool(ls.problematic[row])
        judged = {r["reviewer"]: r for r in self.store.current(model, [key])}
        mine = judged.pop(me, None)
        pos, n = position(t, f, key)
        cat = t.category[i]
        return {
            "model": model, "key": key, "row": row, "position": pos, "queue_size": n,
            "label": self.class_ref(int(t.labels[i])), "prediction": self.class_ref(int(t.predictions[i])), "top5": top5,
            "multilabel": ml, "problematic_original": problematic,
            "suggested": {"category": cat, "category_title": CATEGORY_TITLES.get(cat, cat), "severity": t.severity[i],
                          "confidence": float(t.confidence[i]), "evidence": t.evidence_of(i)},
            "neighbors": [dict(n, label_ref=self.class_ref(n["label"]) if n["label"] >= 0 else None)
                          for n in neighbors_view.neighbors_for(self.ws, key, query_split=self.dataset.imageset.split)] if with_neighbors else [],
            "duplicates": self._duplicates(key),
            "mine": _public(mine), "others": [dict(_public(r), reviewer=name) for name, r in sorted(judged.items())],
            "progress": {"reviewed": self.store.progress(me, model), "total": len(t)},
        }

    def _duplicates(self, key: str) -> dict | None:
        c = neighbors_view.cluster_of(self.ws, key, self.dataset.imageset.split)
        if c is None:
            return None
        others = [dict(m, label_ref=self.class_ref(int(m["label"])) if m.get("label") is not None and int(m["label"]) >= 0 else None)
                  for m in c["members"] if not (m.get("key") == key and m.get("split") == self.dataset.imageset.split)]
        return {"cluster": c.get("cluster"), "kind": c.get("kind"), "size": c.get("size"), "others": others[:20]}

    # ---- class browser ------------------------------------------------------------------------
    def splits(self) -> list[str]:
        return ImageSet.splits(self.ws)

    def class_images(self, class_id: str, split: str, n: int = 50, offset: int = 0) -> dict:
        """Up to ``n`` images of class ``class_id`` in ``split`` from ``offset``: keys, whether each
        is problematic (per the multi-label file, for the evaluation split), and how many there are."""
        c = self.class_index(class_id)
        if split not in self.splits():
            raise BagelError(f"split {split!r}: expected one of {', '.join(self.splits()) or 'none'}")
        s = self.images.imageset(split)
        rows = [int(r) for r in (s.labels == c).nonzero()[0]]
        chosen = rows[offset:offset + n]
        flagged = set()
        ls = self.labelset
        if ls is not None and split == self.dataset.imageset.split and len(ls) == len(s):
            flagged = {r for r in chosen if ls.problematic[r]}
        return {"class": self.class_ref(c), "split": split, "total": len(rows), "offset": offset,
                "images": [{"key": str(s.keys[r]), "problematic": r in flagged, "has_pixels": bool(s.paths[r])} for r in chosen]}


def _public(r: dict | None) -> dict | None:
    if r is None:
        return None
    return {k: r[k] for k in ("verdict", "problematic", "severity", "category", "note", "seq", "updated")}
