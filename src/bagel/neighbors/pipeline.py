"""The whole training-data stage in one call: embed -> neighbours -> duplicates and leaks."""

from __future__ import annotations

import time

from bagel.data.imageset import ImageSet
from bagel.neighbors.duplicates import find_duplicates
from bagel.neighbors.embed import embed_split
from bagel.neighbors.embedders import create_embedder
from bagel.neighbors.lookup import compute_neighbors


def run_stage(ws, progress: bool = True, *, val_split: str = "val", train_split: str = "train", model: str = "dct",
              k: int = 10, workers: int | None = None) -> dict:
    """Embed both splits with ``model`` (default: the built-in, torch-free embedder), store the
    ``k`` nearest ``train_split`` images of every ``val_split`` image, then find exact and near
    duplicates and the leak report. Everything lands in the workspace (see the modules' docs);
    the return value is the duplicates summary plus the files and seconds of each step."""
    started = time.time()
    embedder = create_embedder(model)
    steps = {}
    for split in (val_split, train_split):
        t = time.perf_counter()
        steps[f"embed_{split}"] = embed_split(ws, ImageSet.load(ws, split), embedder, workers=workers, progress=progress)
        steps[f"embed_{split}"]["seconds"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    steps["neighbors"] = compute_neighbors(ws, val_split, train_split, embedder.name, k=k, progress=progress)
    steps["neighbors"]["seconds"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    summary = find_duplicates(ws, val_split, train_split, embedder.name, workers=workers, progress=progress)
    steps["duplicates_seconds"] = round(time.perf_counter() - t, 3)
    summary["steps"] = steps
    summary["files"] = {"embeddings": f"embeddings/{embedder.name}/", "neighbors": steps["neighbors"]["path"], "duplicates": "duplicates/"}
    ws.record_run("neighbors.run_stage", {"val": val_split, "train": train_split, "model": model, "k": k}, summary, started=started)
    return summary
