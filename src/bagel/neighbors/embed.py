"""Embed the images of one split into a memory-mapped, resumable float32 matrix in the workspace.

Files (``<model>`` is the embedder name made file-safe):
  embeddings/<model>/<split>.npy         (N, D) float32, rows L2-normalised, in image-set order;
                                         rows of unreadable images are zero
  embeddings/<model>/<split>.ok.npy      (N,) bool, False where the image could not be read
  embeddings/<model>/<split>.done.npy    (n_shards,) bool, shards finished (a rerun skips them)
  embeddings/<model>/<split>.json        model, dim, n, shard_size, keys digest, complete, near_threshold
  embeddings/<model>/<split>.skipped.csv key, path, reason of every unreadable image
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from bagel.errors import BagelError
from bagel.neighbors.embedders import Embedder, Preprocess, l2_normalize
from bagel.neighbors.images import ImageReadError
from bagel.neighbors.parallel import chunks, default_workers, ordered_map

log = logging.getLogger("bagel.neighbors")

# Cosine distance under which two images count as near-duplicates, per embedder. The built-in
# value is measured (docs/neighbors.md): re-encodes, resizes, flips and colour jitter of a photo
# stay below 0.007, while the closest distinct photo tiles sit at 0.011 and above. Learned
# embeddings spread differently; 0.05 is a conservative start, to be checked on the histogram.
NEAR_THRESHOLD = {"dct": 0.008}
DEFAULT_NEAR_THRESHOLD = 0.05


def model_slug(name: str) -> str:
    """A model name usable in file names: 'timm/vit_base' -> 'timm-vit_base'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "model"


def keys_digest(keys) -> str:
    return hashlib.sha1("\n".join(map(str, keys)).encode()).hexdigest()


def _files(ws, split: str, model: str) -> dict[str, Path]:
    base = ("embeddings", model_slug(model))
    return {s: ws.path(*base, f"{split}{s}") for s in (".npy", ".ok.npy", ".done.npy", ".json", ".skipped.csv")}


def _decode_chunk(job: tuple[Preprocess, list[str]]) -> tuple[np.ndarray | None, list[str]]:
    """Worker: decode a list of files; returns (stacked arrays of the readable ones, reasons
    aligned with the input: '' where read)."""
    preprocess, paths = job
    arrays, reasons = [], []
    for p in paths:
        try:
            arrays.append(preprocess(p))
            reasons.append("")
        except ImageReadError as e:
            reasons.append(str(e))
    return (np.stack(arrays) if arrays else None), reasons


def embed_split(ws, imageset, embedder: Embedder, *, batch_size: int = 64, shard_size: int = 8192,
                workers: int | None = None, progress: bool = True) -> dict:
    """Embed every image of ``imageset`` with ``embedder`` into the workspace (see module docstring).

    Work is cut into shards of ``shard_size`` images; each finished shard is flushed and marked
    done, so an interrupted run resumes where it stopped. Decoding runs in ``workers`` processes
    (default: all cores) in chunks of ``batch_size``; the model runs here, one batch at a time.
    Returns {'model', 'path', 'n', 'dim', 'skipped', 'shards_done', 'shards_skipped'}.
    """
    n = len(imageset)
    if n == 0:
        raise BagelError(f"image set {imageset.split}: expected images, found none")
    if imageset.root is None:
        raise BagelError(f"image set {imageset.split}: no pixels on disk (the image set has no root folder); import vectors instead")
    model = model_slug(embedder.name)
    files = _files(ws, imageset.split, model)
    digest = keys_digest(imageset.keys)
    dim = embedder.dim
    meta = {"model": embedder.name, "split": imageset.split, "n": n, "dim": dim, "shard_size": shard_size, "keys_sha1": digest,
            "near_threshold": NEAR_THRESHOLD.get(embedder.name, DEFAULT_NEAR_THRESHOLD), "complete": False}
    shards = chunks(n, shard_size)
    old = json.loads(files[".json"].read_text()) if files[".json"].exists() else None
    resume = old is not None and all(old.get(k) == meta[k] for k in ("n", "dim", "shard_size", "keys_sha1")) and files[".npy"].exists()
    if resume:
        emb = np.load(files[".npy"], mmap_mode="r+")
        ok = np.load(files[".ok.npy"], mmap_mode="r+")
        done = np.load(files[".done.npy"])
        reasons = _read_skipped(files[".skipped.csv"])
    else:
        emb = np.lib.format.open_memmap(files[".npy"], mode="w+", dtype=np.float32, shape=(n, dim))
        ok = np.lib.format.open_memmap(files[".ok.npy"], mode="w+", dtype=bool, shape=(n,))
        done = np.zeros(len(shards), dtype=bool)
        reasons = {}
    files[".json"].write_text(json.dumps(meta, indent=1))
    workers = default_workers() if workers is None else workers
    todo = [s for s, d in zip(range(len(shards)), done) if not d]
    if sum(shards[s][1] - shards[s][0] for s in todo) < 4 * batch_size:
        workers = 1  # starting processes costs more than it saves
    from tqdm import tqdm

    bar = tqdm(total=n, initial=n - sum(shards[s][1] - shards[s][0] for s in todo), desc=f"embed {imageset.split} ({embedder.name})",
               unit="img", disable=not progress, leave=False)
    paths = [str(imageset.abs_path(i)) if imageset.paths[i] else "" for i in range(n)]

    def jobs():
        for s in todo:
            a, b = shards[s]
            for c0, c1 in chunks(b - a, batch_size):
                yield embedder.preprocess, paths[a + c0:a + c1]

    results = ordered_map(_decode_chunk, jobs(), workers)
    for s in todo:
        a, b = shards[s]
        for c0, c1 in chunks(b - a, batch_size):
            arrays, why = next(results)
            rows = np.arange(a + c0, a + c1)
            good = np.array([r == "" for r in why])
            emb[rows] = 0.0
            if arrays is not None:
                emb[rows[good]] = embedder.embed(arrays)
            ok[rows] = good
            for r, w in zip(rows[~good], np.array(why, dtype=object)[~good]):
                reasons[str(imageset.keys[r])] = (paths[r], w)
                log.warning("skipped %s: %s", paths[r], w)
            bar.update(len(rows))
        emb.flush()
        ok.flush()
        done[s] = True
        np.save(files[".done.npy"], done)
        _write_skipped(files[".skipped.csv"], reasons)
    bar.close()
    np.save(files[".done.npy"], done)
    _write_skipped(files[".skipped.csv"], reasons)
    meta["complete"] = True
    files[".json"].write_text(json.dumps(meta, indent=1))
    del emb, ok
    return {"model": embedder.name, "path": str(files[".npy"]), "n": n, "dim": dim, "skipped": len(reasons),
            "shards_done": len(todo), "shards_skipped": len(shards) - len(todo)}


def _read_skipped(path: Path) -> dict:
    if not path.exists() or path.stat().st_size == 0:
        return {}
    df = pd.read_csv(path, keep_default_na=False)
    return {k: (p, r) for k, p, r in zip(df.key, df.path, df.reason)}


def _write_skipped(path: Path, reasons: dict) -> None:
    pd.DataFrame([(k, p, r) for k, (p, r) in reasons.items()], columns=["key", "path", "reason"]).to_csv(path, index=False)


def import_vectors(ws, imageset, vectors_path, keys_path, name: str = "vectors") -> dict:
    """Store vectors computed elsewhere as the ``name`` embeddings of ``imageset``.

    vectors_path: .npy of shape (M, D), any float dtype; keys_path: text file with M image keys,
    one per line (or a .csv/.parquet with a 'key' column), row i naming vector i. Keys not in the
    image set are ignored; images without a vector get ok=False. Vectors are L2-normalised.
    """
    from bagel.data.imageset import read_table

    vectors_path, keys_path = Path(vectors_path), Path(keys_path)
    if not vectors_path.exists():
        raise BagelError(f"{vectors_path}: no such file")
    try:
        vec = np.load(vectors_path, mmap_mode="r", allow_pickle=False)
    except Exception as e:
        raise BagelError(f"{vectors_path}: expected a .npy array, found unreadable data ({type(e).__name__})") from None
    if vec.ndim != 2 or not np.issubdtype(vec.dtype, np.number):
        raise BagelError(f"{vectors_path}: expected a 2-D numeric array (images x dims), found shape {vec.shape} dtype {vec.dtype}")
    if keys_path.suffix.lower() in {".csv", ".parquet", ".pq", ".tsv"}:
        keys = read_table(keys_path)
        if "key" not in keys.columns:
            raise BagelError(f"{keys_path}: expected a 'key' column, found columns {list(keys.columns)}")
        keys = keys["key"].astype(str).tolist()
    elif keys_path.exists():
        keys = [k for k in keys_path.read_text().splitlines() if k.strip()]
    else:
        raise BagelError(f"{keys_path}: no such file")
    if len(keys) != len(vec):
        raise BagelError(f"{keys_path}: expected {len(vec)} keys (one per row of {vectors_path.name}), found {len(keys)}")
    idx = imageset.index
    src = np.array([i for i, k in enumerate(keys) if k in idx], dtype=np.int64)
    dst = np.array([idx[keys[i]] for i in src], dtype=np.int64)
    if len(src) == 0:
        raise BagelError(f"{keys_path}: expected keys of the {imageset.split} image set, found none of them (first: {keys[0]!r})")
    n, dim = len(imageset), vec.shape[1]
    files = _files(ws, imageset.split, model_slug(name))
    emb = np.lib.format.open_memmap(files[".npy"], mode="w+", dtype=np.float32, shape=(n, dim))
    ok = np.lib.format.open_memmap(files[".ok.npy"], mode="w+", dtype=bool, shape=(n,))
    emb[:] = 0.0
    ok[:] = False
    for a, b in chunks(len(src), 65536):
        emb[dst[a:b]] = l2_normalize(np.asarray(vec[src[a:b]], dtype=np.float32))
        ok[dst[a:b]] = True
    emb.flush()
    ok.flush()
    np.save(files[".done.npy"], np.ones(1, bool))
    missing = {str(imageset.keys[i]): ("", "no vector given") for i in np.flatnonzero(~np.asarray(ok))}
    _write_skipped(files[".skipped.csv"], missing)
    meta = {"model": name, "split": imageset.split, "n": n, "dim": dim, "shard_size": n, "keys_sha1": keys_digest(imageset.keys),
            "near_threshold": DEFAULT_NEAR_THRESHOLD, "complete": True, "imported_from": str(vectors_path)}
    files[".json"].write_text(json.dumps(meta, indent=1))
    return {"model": name, "path": str(files[".npy"]), "n": n, "dim": dim, "skipped": len(missing), "ignored_keys": len(keys) - len(src)}


def load_embeddings(ws, imageset, model: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """(embeddings (N, D) float32 read-only memmap, ok (N,) bool, meta) of ``imageset`` under
    ``model``; an error when missing, incomplete or made for a different list of images."""
    files = _files(ws, imageset.split, model_slug(model))
    if not files[".json"].exists():
        have = sorted(p.name for p in (ws.root / "embeddings").iterdir()) if (ws.root / "embeddings").exists() else []
        raise BagelError(f"workspace {ws.root}: no {model!r} embeddings of split {imageset.split!r} (have models: {', '.join(have) or 'none'}); run `bagel embed {imageset.split} --model {model}` first")
    meta = json.loads(files[".json"].read_text())
    if not meta.get("complete"):
        raise BagelError(f"{files['.npy']}: embedding of split {imageset.split!r} is incomplete; rerun `bagel embed` to finish it")
    if meta["keys_sha1"] != keys_digest(imageset.keys):
        raise BagelError(f"{files['.npy']}: made for another list of {imageset.split} images ({meta['n']} then, {len(imageset)} now); rerun `bagel embed`")
    return np.load(files[".npy"], mmap_mode="r"), np.load(files[".ok.npy"]), meta
