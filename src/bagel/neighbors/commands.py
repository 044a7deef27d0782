"""CLI commands of the training-data stage: embed, neighbors, duplicates (registered by bagel.cli).
Argument parsing only; the work is in bagel.neighbors.{embed,lookup,duplicates}."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Optional

import typer

from bagel.cli_common import WorkspaceOption, open_workspace
from bagel.errors import BagelError


def _console():
    from rich.console import Console

    return Console(stderr=True)


def register(app: typer.Typer) -> None:
    @app.command("embed")
    def embed_cmd(
        split: str = typer.Argument(..., help="Image set to embed (e.g. val, train)."),
        model: str = typer.Option("dct", "--model", "-m", help="dct (built in), torchscript, timm/<arch>, torchvision/<arch>, open_clip/<arch>, or vectors."),
        checkpoint: Optional[str] = typer.Option(None, "--checkpoint", help="Weights file (torchscript/timm/torchvision) or open_clip pretrained tag/path."),
        pretrained: bool = typer.Option(False, "--pretrained", help="timm only: let timm fetch its own pretrained weights."),
        vectors: Optional[Path] = typer.Option(None, "--vectors", help="With --model vectors: .npy (M, D) of vectors computed elsewhere."),
        keys: Optional[Path] = typer.Option(None, "--keys", help="With --model vectors: image keys of the rows, one per line (or a table with 'key')."),
        name: Optional[str] = typer.Option(None, "--name", help="With --model vectors: the name to store them under (default 'vectors')."),
        device: str = typer.Option("cpu", "--device", help="torch device, e.g. cuda."),
        batch_size: int = typer.Option(64, "--batch-size", min=1),
        shard_size: int = typer.Option(8192, "--shard-size", min=1, help="Images per resumable shard."),
        workers: Optional[int] = typer.Option(None, "--workers", min=0, help="Decoding processes (default: all cores; 0/1: in process)."),
        workspace: Optional[Path] = WorkspaceOption,
    ):
        """Embed the images of a split (L2-normalised float32, memory-mapped, resumable)."""
        from bagel.data.imageset import ImageSet
        from bagel.neighbors.embed import embed_split, import_vectors
        from bagel.neighbors.embedders import create_embedder

        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        ws = open_workspace(workspace)
        started = time.time()
        imageset = ImageSet.load(ws, split)
        if model == "vectors":
            if vectors is None or keys is None:
                raise BagelError("--model vectors: expected --vectors FILE.npy and --keys FILE, found " + ("neither" if vectors is None and keys is None else "only one"))
            res = import_vectors(ws, imageset, vectors, keys, name or "vectors")
        else:
            opts = {"pretrained": True} if pretrained else {}
            res = embed_split(ws, imageset, create_embedder(model, checkpoint, device, **opts), batch_size=batch_size, shard_size=shard_size, workers=workers)
        ws.record_run("embed", {"split": split, "model": model, "checkpoint": checkpoint}, res, started=started)
        _console().print(f"embedded {res['n']} {split} images with {res['model']} ({res['dim']} dims) -> {res['path']}; skipped {res['skipped']} unreadable")

    @app.command("neighbors")
    def neighbors_cmd(
        queries: str = typer.Option("val", "--queries", "-q", help="Query split."),
        database: str = typer.Option("train", "--db", help="Database split."),
        model: str = typer.Option("dct", "--model", "-m", help="Embedding name (as given to `bagel embed`)."),
        k: int = typer.Option(10, "-k", "--k", min=1, help="Neighbours per query."),
        metric: str = typer.Option("cosine", "--metric", help="cosine or l2."),
        keys: Optional[Path] = typer.Option(None, "--keys", help="Only these query keys (e.g. the mistakes), one per line."),
        block_size: int = typer.Option(131072, "--block-size", min=1, help="Database rows searched at a time (bounds memory)."),
        workspace: Optional[Path] = WorkspaceOption,
    ):
        """Exact top-k training neighbours of validation images (FAISS flat, blocked)."""
        from bagel.neighbors.lookup import compute_neighbors, read_key_list

        ws = open_workspace(workspace)
        started = time.time()
        key_list = read_key_list(keys) if keys is not None else None
        embed_name = _embedding_name(model)
        res = compute_neighbors(ws, queries, database, embed_name, k=k, metric=metric, query_keys=key_list, block_size=block_size)
        ws.record_run("neighbors", {"queries": queries, "db": database, "model": model, "k": k, "metric": metric, "keys": str(keys) if keys else None}, res, started=started)
        _console().print(f"{res['queries']} queries x {res['database']} {database} images, k={res['k']} ({metric}) -> {res['path']}")

    @app.command("duplicates")
    def duplicates_cmd(
        val: str = typer.Option("val", "--val", help="Validation split."),
        train: str = typer.Option("train", "--train", help="Training split."),
        model: str = typer.Option("dct", "--model", "-m", help="Embedding whose stored neighbours give near-duplicate candidates; 'none' for hashing only."),
        threshold: Optional[float] = typer.Option(None, "--threshold", help="Near-duplicate cosine distance (default: the embedder's)."),
        phash_bits: int = typer.Option(8, "--phash-bits", min=0, max=64, help="Neighbours beyond --verify-k this pHash-close are verified too (pHash alone is not evidence)."),
        verify: bool = typer.Option(True, "--verify/--no-verify", help="Geometrically verify the neighbours (finds crops); off: embedding distance only."),
        verify_threshold: Optional[float] = typer.Option(None, "--verify-threshold", help="Band-pass correlation of a verified pair (default 0.965, measured)."),
        verify_k: Optional[int] = typer.Option(None, "--verify-k", min=1, help="Verify only the first N stored neighbours of each validation image (default: all)."),
        drop: str = typer.Option("exact", "--drop", help="Training images to list for de-duplicated retraining: exact, resized or near."),
        workers: Optional[int] = typer.Option(None, "--workers", min=0),
        workspace: Optional[Path] = WorkspaceOption,
    ):
        """Exact and near duplicates, clusters, the validation leak report and a drop list."""
        from bagel.neighbors.duplicates import find_duplicates

        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        ws = open_workspace(workspace)
        started = time.time()
        m = None if model == "none" else _embedding_name(model)
        vopts = {"verify": verify, "verify_k": verify_k} | ({"verify_threshold": verify_threshold} if verify_threshold is not None else {})
        res = find_duplicates(ws, val, train, m, near_threshold=threshold, phash_bits=phash_bits, drop=drop, workers=workers, **vopts)
        ws.record_run("duplicates", {"val": val, "train": train, "model": model, "threshold": threshold, "phash_bits": phash_bits, "drop": drop, **vopts}, res, started=started)
        _print_leaks(res, val, train)


def _embedding_name(model: str) -> str:
    """`bagel embed --model timm/x` stores under the embedder's name (timm-x); accept either."""
    if "/" in model:
        family, _, arch = model.partition("/")
        return f"{family}-{arch}"
    return model


def _print_leaks(res: dict, val: str, train: str) -> None:
    from rich.table import Table

    t = Table(title=f"{val} images with duplicates in {train}")
    for col in ("kind", f"{val} images", "several copies", f"{train} copies", "different label"):
        t.add_column(col)
    for level, c in res["leaks"].items():
        t.add_row(level if level == "exact" else f"<= {level}", str(c["val_images"]), str(c["val_images_with_several_copies"]), str(c["train_copies"]),
                  f"{c['pairs_with_different_label']}/{c['pairs']}")
    con = _console()
    con.print(t)
    con.print(f"{res['clusters']} clusters; {res['train_drop']} {train} keys to drop ({res['drop']}) -> duplicates/train_drop.txt")
