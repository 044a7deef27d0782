"""`Predictions`: one model's ranked class indices (and scores when given), aligned to an `ImageSet`.

Accepted files:
- ``.npy``: (N, C) float logits/probabilities, (N, k) int ranked top-k indices, or (N,) int top-1;
- ``.npz``: arrays ``logits`` or ``topk`` (optionally ``scores``, ``keys``);
- ``.csv`` / ``.parquet``: a ``key`` column plus ranked class columns (indices or class ids) and
  optional ``score_*`` columns.
Rows of array files are matched to images by an order: a key-list file (one key per line, or a
JSON list), or a named order (`ORDERS`).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bagel.data.imageset import ImageSet, read_table
from bagel.data.vocabulary import Vocabulary, load_json
from bagel.errors import BagelError

TOPK_KEPT = 5


@dataclass
class Predictions:
    """name: model name (file stem). topk: (N, k) int32 ranked class indices, row i = image i of the
    image set. scores: (N, k) float32 probabilities of those classes, or None when only ranks are known."""

    name: str
    topk: np.ndarray
    scores: np.ndarray | None = None

    @property
    def top1(self) -> np.ndarray:
        return self.topk[:, 0]

    def save(self, ws) -> Path:
        out = ws.path("predictions", f"{self.name}.npz")
        arrays = {"topk": self.topk}
        if self.scores is not None:
            arrays["scores"] = self.scores
        np.savez(out, **arrays)
        return out

    @classmethod
    def load_saved(cls, ws, name: str) -> "Predictions":
        p = ws.root / "predictions" / f"{name}.npz"
        if not p.exists():
            raise BagelError(f"workspace {ws.root}: no predictions named {name!r}")
        z = np.load(p)
        return cls(name, z["topk"], z["scores"] if "scores" in z else None)

    @staticmethod
    def saved_names(ws) -> list[str]:
        d = ws.root / "predictions"
        return sorted(p.stem for p in d.glob("*.npz")) if d.exists() else []


# ---- image orders -----------------------------------------------------------------------------
def _order_filename(imageset: ImageSet) -> list[str]:
    return sorted(imageset.keys.tolist())


def _order_imagenetv2_val(imageset: ImageSet) -> list[str]:
    from bagel.data import sources

    data = load_json(sources.require("val-labels"))
    return [p[0] for p in data["image_filenames"]]


ORDERS = {"filename": _order_filename, "imagenetv2-val": _order_imagenetv2_val}


def resolve_order(order: str | None, imageset: ImageSet) -> list[str] | None:
    """Keys in row order, from a named order or a key-list file; None when not given."""
    if order is None:
        return None
    if order in ORDERS:
        return ORDERS[order](imageset)
    p = Path(order)
    if not p.exists():
        raise BagelError(f"unknown order {order!r}: expected one of {', '.join(ORDERS)} or a key-list file")
    if p.suffix == ".json":
        keys = load_json(p)
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise BagelError(f"{p}: expected a JSON list of image keys")
        return keys
    return [line.strip() for line in p.read_text().splitlines() if line.strip()]


# ---- loading ----------------------------------------------------------------------------------
def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        if path.suffix == ".npy":
            return {"data": np.load(path, allow_pickle=False)}
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise BagelError(f"{path}: cannot read array file ({str(e).splitlines()[0] if str(e) else type(e).__name__}); it may be truncated or corrupt") from None


def _rank(path: Path, data: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(topk, scores) from logits (N, C) or indices (N, k) / (N,)."""
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[0] == 0:
        raise BagelError(f"{path}: expected a 2-D array (N, C) of logits or (N, k) of class indices, found shape {data.shape}")
    if np.issubdtype(data.dtype, np.floating):
        if data.shape[1] != n_classes:
            raise BagelError(f"{path}: logits have {data.shape[1]} columns, the vocabulary has {n_classes} classes")
        if not np.isfinite(data).all():
            bad = int(np.argwhere(~np.isfinite(data))[0, 0])
            raise BagelError(f"{path}: non-finite logits (NaN or inf) in row {bad}")
        k = min(TOPK_KEPT, n_classes)
        part = np.argpartition(-data, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(data, part, 1)
        order = np.argsort(-vals, axis=1, kind="stable")
        topk = np.take_along_axis(part, order, 1).astype(np.int32)
        # Scores as probabilities: softmax unless the rows already are distributions.
        rowsum = data.sum(1)
        if (data >= 0).all() and np.allclose(rowsum, 1, atol=1e-3):
            probs_k = np.take_along_axis(data, topk, 1)
        else:
            m = data.max(1, keepdims=True)
            lse = m[:, 0] + np.log(np.exp(data - m).sum(1))
            probs_k = np.exp(np.take_along_axis(data, topk, 1) - lse[:, None])
        return topk, probs_k.astype(np.float32)
    if not np.issubdtype(data.dtype, np.integer):
        raise BagelError(f"{path}: expected integer class indices or float logits, found dtype {data.dtype}")
    if data.min() < 0 or data.max() >= n_classes:
        bad = data[(data < 0) | (data >= n_classes)][0]
        raise BagelError(f"{path}: class index {int(bad)} out of range 0..{n_classes - 1}")
    return data.astype(np.int32), None


def _align(path: Path, topk: np.ndarray, scores, keys: list[str] | None, imageset: ImageSet):
    n = topk.shape[0]
    if keys is None:
        raise BagelError(f"{path}: rows carry no image keys; give --order (a key-list file or one of {', '.join(ORDERS)})")
    if len(keys) != n:
        raise BagelError(f"{path}: {n} rows, but the order lists {len(keys)} image keys")
    uniq, counts = np.unique(np.asarray(keys, dtype=object).astype(str), return_counts=True)
    if (counts > 1).any():
        raise BagelError(f"{path}: image key {str(uniq[counts > 1][0])!r} appears {counts[counts > 1][0]} times")
    pos = imageset.positions(keys, source=str(path))
    if n != len(imageset):
        missing = np.setdiff1d(imageset.keys.astype(str), uniq)
        raise BagelError(f"{path}: predictions for {n} images, the {imageset.split} image set has {len(imageset)} (missing e.g. {str(missing[0])!r})")
    out = np.empty_like(topk)
    out[pos] = topk
    out_scores = None
    if scores is not None:
        out_scores = np.empty_like(scores)
        out_scores[pos] = scores
    return out, out_scores


def load_predictions(path, imageset: ImageSet, vocabulary: Vocabulary, order: str | None = None, name: str | None = None) -> Predictions:
    """Read a predictions file and align its rows to ``imageset`` (see module docstring)."""
    path = Path(path)
    name = name or path.stem
    if not path.exists():
        raise BagelError(f"{path}: no such file")
    C = len(vocabulary)
    suffix = path.suffix.lower()
    if suffix in {".npy", ".npz"}:
        arrays = _read_arrays(path)
        if "data" in arrays:
            data, scores, keys = arrays["data"], None, None
        elif "logits" in arrays or "topk" in arrays:
            data = arrays.get("logits", arrays.get("topk"))
            scores = arrays.get("scores")
            keys = arrays["keys"].astype(str).tolist() if "keys" in arrays else None
        else:
            raise BagelError(f"{path}: expected an array named 'logits' or 'topk', found {', '.join(arrays) or 'none'}")
        topk, derived = _rank(path, data, C)
        if scores is not None:
            scores = np.asarray(scores, dtype=np.float32)
            if scores.shape != topk.shape:
                raise BagelError(f"{path}: 'scores' has shape {scores.shape}, 'topk' has {topk.shape}")
        scores = derived if scores is None else scores
        if keys is None:
            keys = resolve_order(order, imageset)
    elif suffix in {".csv", ".tsv", ".parquet", ".pq"}:
        df = read_table(path)
        if "key" not in df.columns:
            raise BagelError(f"{path}: expected a 'key' column, found columns {list(df.columns)}")
        score_cols = [c for c in df.columns if str(c).startswith("score")]
        class_cols = [c for c in df.columns if c != "key" and c not in score_cols]
        if not class_cols:
            raise BagelError(f"{path}: expected ranked class columns after 'key', found none")
        block = df[class_cols]
        if all(np.issubdtype(block[c].dtype, np.integer) for c in class_cols):
            data = block.to_numpy(np.int64)
        elif all(block[c].dtype == object for c in class_cols):
            data = np.stack([vocabulary.indices(block[c].astype(str).tolist(), source=str(path)) for c in class_cols], 1)
        else:
            raise BagelError(f"{path}: class columns must hold class indices or class ids, found {dict(block.dtypes.astype(str))}")
        topk, _ = _rank(path, data, C)
        scores = df[score_cols].to_numpy(np.float32) if score_cols else None
        if scores is not None and (scores.shape != topk.shape or not np.isfinite(scores).all()):
            raise BagelError(f"{path}: score columns must match the class columns and be finite")
        keys = df["key"].astype(str).tolist()
    else:
        raise BagelError(f"{path}: expected .npy, .npz, .csv or .parquet predictions, found {suffix!r}")
    topk, scores = _align(path, topk, scores, keys, imageset)
    return Predictions(name, topk, scores)
