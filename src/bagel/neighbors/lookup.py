"""Nearest training neighbours of validation images, computed once and stored for lookup.

Files, in ``neighbors/<query split>-<db split>-<model>/``:
  indices.npy     (Q, K) int64, rows of the database image set, nearest first (-1: none)
  distances.npy   (Q, K) float32, ascending (cosine: 1 - cos similarity; l2: Euclidean)
  query_rows.npy  (Q,) int64, rows of the query image set that were searched (all, or a key list)
  meta.json       query/db split, model, metric, k, Q, N, keys digests of both image sets
All arrays are plain .npy, so readers memory-map them (`load_neighbors`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bagel.data.imageset import ImageSet
from bagel.errors import BagelError
from bagel.neighbors.embed import keys_digest, load_embeddings, model_slug
from bagel.neighbors.knn import knn


def neighbors_dir(ws, query_split: str, db_split: str, model: str) -> Path:
    return ws.root / "neighbors" / f"{query_split}-{db_split}-{model_slug(model)}"


def read_key_list(path) -> list[str]:
    """Image keys, one per line (blank lines and '#' comments ignored), or a table's 'key' column."""
    from bagel.data.imageset import read_table

    path = Path(path)
    if path.suffix.lower() in {".csv", ".tsv", ".parquet", ".pq"}:
        df = read_table(path)
        if "key" not in df.columns:
            raise BagelError(f"{path}: expected a 'key' column, found columns {list(df.columns)}")
        return df["key"].astype(str).tolist()
    if not path.exists():
        raise BagelError(f"{path}: no such file")
    keys = [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    if not keys:
        raise BagelError(f"{path}: expected image keys, one per line, found none")
    return keys


def compute_neighbors(ws, query_split: str = "val", db_split: str = "train", model: str = "dct", k: int = 10, metric: str = "cosine",
                      query_keys: list[str] | None = None, block_size: int = 131072, backend: str = "faiss", progress: bool = True) -> dict:
    """Search the ``k`` nearest ``db_split`` images of each ``query_split`` image (or of
    ``query_keys`` only, e.g. a model's mistakes) in ``model``'s embedding space and store them.

    Unreadable images (ok=False in the embeddings) are neither queried nor returned. When both
    splits are the same, each image's match with itself is left out.
    Returns {'path', 'queries', 'database', 'k', 'metric', 'model'}.
    """
    qset, dbset = ImageSet.load(ws, query_split), ImageSet.load(ws, db_split)
    q_emb, q_ok, _ = load_embeddings(ws, qset, model)
    x_emb, x_ok, _ = load_embeddings(ws, dbset, model)
    rows = np.flatnonzero(q_ok) if query_keys is None else qset.positions(query_keys, source="query key list")
    rows = rows[q_ok[rows]]
    same = query_split == db_split
    if not x_ok.all():
        # keep the memmap when every row is usable: copying 1.28M x D would defeat the blocking
        db_rows = np.flatnonzero(x_ok)
        database = np.asarray(x_emb[db_rows])
    else:
        db_rows, database = None, x_emb
    kk = min(k, len(database) - (1 if same else 0))
    if kk < 1:
        raise BagelError(f"split {db_split!r}: expected at least {2 if same else 1} readable images to search, found {len(database)}")
    queries = np.asarray(q_emb[rows])
    self_rows = None
    if same:  # a split against itself: leave out each image's match with itself
        self_rows = rows if db_rows is None else np.searchsorted(db_rows, rows)
    # Embedding files hold L2-normalised rows (unreadable images, zero rows, are filtered out above).
    d, i = knn(queries, database, kk, metric, block_size=block_size, backend=backend, progress=progress, self_rows=self_rows,
               normalized=True)
    if db_rows is not None:
        i = np.where(i >= 0, db_rows[np.maximum(i, 0)], -1)
    out = neighbors_dir(ws, query_split, db_split, model)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "indices.npy", i)
    np.save(out / "distances.npy", d.astype(np.float32))
    np.save(out / "query_rows.npy", rows.astype(np.int64))
    meta = {"query_split": query_split, "db_split": db_split, "model": model, "metric": metric, "k": int(kk), "queries": int(len(rows)),
            "database": int(len(database)), "query_keys_sha1": keys_digest(qset.keys), "db_keys_sha1": keys_digest(dbset.keys)}
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    return {"path": str(out), "queries": int(len(rows)), "database": int(len(database)), "k": int(kk), "metric": metric, "model": model}


@dataclass
class Neighbors:
    """Stored neighbours: ``indices`` / ``distances`` (Q, K) memmaps, ``query_rows`` (Q,), the two image sets."""

    indices: np.ndarray
    distances: np.ndarray
    query_rows: np.ndarray
    queries: ImageSet
    database: ImageSet
    meta: dict

    def of(self, key: str) -> pd.DataFrame:
        """The K neighbours of query image ``key``: columns rank, key, label, distance, path."""
        q = self.queries.positions([key], source="neighbor lookup")[0]
        hit = np.flatnonzero(self.query_rows == q)
        if len(hit) == 0:
            raise BagelError(f"image {key!r}: not among the {len(self.query_rows)} searched {self.queries.split} images")
        idx = np.asarray(self.indices[hit[0]])
        dist = np.asarray(self.distances[hit[0]])
        keep = idx >= 0
        idx, dist = idx[keep], dist[keep]
        db = self.database
        return pd.DataFrame({"rank": np.arange(1, len(idx) + 1), "key": db.keys[idx].astype(str), "label": db.labels[idx],
                             "distance": dist.astype(np.float32), "path": [str(db.root / p) if db.root and p else "" for p in db.paths[idx]]})


def load_neighbors(ws, query_split: str = "val", db_split: str = "train", model: str | None = None) -> Neighbors:
    """Open stored neighbours (memory-mapped). ``model`` None picks the only one there is."""
    if model is None:
        found = sorted((ws.root / "neighbors").glob(f"{query_split}-{db_split}-*/meta.json")) if (ws.root / "neighbors").exists() else []
        if len(found) != 1:
            raise BagelError(f"workspace {ws.root}: expected one neighbours result for {query_split} vs {db_split}, found {len(found)}"
                             + ("; run `bagel neighbors` first" if not found else "; name the model"))
        d = found[0].parent
    else:
        d = neighbors_dir(ws, query_split, db_split, model)
    if not (d / "meta.json").exists():
        raise BagelError(f"workspace {ws.root}: no neighbours of {query_split} in {db_split} for model {model!r}; run `bagel neighbors` first")
    meta = json.loads((d / "meta.json").read_text())
    qset, dbset = ImageSet.load(ws, meta["query_split"]), ImageSet.load(ws, meta["db_split"])
    if meta["query_keys_sha1"] != keys_digest(qset.keys) or meta["db_keys_sha1"] != keys_digest(dbset.keys):
        raise BagelError(f"{d}: computed for other image sets than the workspace now holds; rerun `bagel neighbors`")
    return Neighbors(np.load(d / "indices.npy", mmap_mode="r"), np.load(d / "distances.npy", mmap_mode="r"), np.load(d / "query_rows.npy"), qset, dbset, meta)


def neighbors_of(ws, key: str, query_split: str = "val", db_split: str = "train", model: str | None = None) -> pd.DataFrame:
    """The stored K nearest ``db_split`` images of ``key``: DataFrame with columns rank (1..K),
    key, label (int, -1 unknown), distance (float32), path (absolute, '' when unknown)."""
    return load_neighbors(ws, query_split, db_split, model).of(key)
