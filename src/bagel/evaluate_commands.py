"""`bagel evaluate`: metrics beyond top-1 for one or many prediction files."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import List, Optional

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from bagel.cli_common import WorkspaceOption, open_workspace_and_dataset
from bagel.data.dataset import LABEL_SOURCES, Dataset
from bagel.data.predictions import Predictions, load_predictions
from bagel.errors import BagelError
from bagel.evaluate import evaluate_predictions, leaderboard, missing_sources

COLUMNS = [("top1", "Top-1"), ("top5", "Top-5"), ("real", "ReaL"), ("mla", "MLA"), ("imagenet_m", "ImageNet-M")]
COLLAPSED = [("top1_collapsed", "Top-1"), ("real_collapsed", "ReaL"), ("mla_collapsed", "MLA"), ("imagenet_m_collapsed", "ImageNet-M")]


def load_all(paths: list[Path], dataset: Dataset, order: Optional[str], ws) -> list[Predictions]:
    """Prediction files, or (with none given) every prediction set saved in the workspace."""
    if paths:
        names = [p.stem for p in paths]
        if len(set(names)) != len(names):
            raise BagelError(f"two prediction files share the model name {max(names, key=names.count)!r} (names come from file stems)")
        return [load_predictions(p, dataset.imageset, dataset.vocabulary, order) for p in paths]
    if ws is not None and Predictions.saved_names(ws):
        return [Predictions.load_saved(ws, n) for n in Predictions.saved_names(ws)]
    raise BagelError("no predictions given: pass prediction files, or a workspace (-w) that holds some")


def _cell(r: dict, key: str, with_ci: bool) -> str:
    v = r.get(key)
    if v is None:
        return "[dim]n/a[/dim]"
    if key.startswith("imagenet_m"):
        return f"{v}/{r.get('imagenet_m_size', 68)}"
    lohi = r["ci95"].get(key)
    return f"{v:.3f}" + (f" [dim]±{(lohi[1] - lohi[0]) / 2:.2f}[/dim]" if lohi and with_ci else "")


def _table(title: str, results: list[dict], columns, with_ci: bool) -> Table:
    table = Table(title=title, header_style="bold")
    table.add_column("#", justify="right")
    table.add_column("model")
    for _, name in columns:
        table.add_column(name, justify="right")
    for rank, r in enumerate(results, 1):
        table.add_row(str(rank), r["name"], *(_cell(r, key, with_ci) for key, _ in columns))
    return table


def render(results: list[dict], ranked_by: str, missing: dict[str, str], collapse: bool, console: Console) -> None:
    with_ci = len(results) <= 3
    console.print(_table(f"bagel evaluate: {len(results)} model(s), ranked by {ranked_by}", results, COLUMNS, with_ci))
    if collapse:
        console.print(_table("with the paper's collapsed class mappings", results, COLLAPSED, with_ci))
    console.print("[dim]accuracies in %" + ("; ± = half width of the bootstrap 95 % interval" if with_ci else "") + "[/dim]")
    for metric, command in missing.items():
        console.print(f"[yellow]{metric}[/yellow] unavailable: run `{command}`")
    if len(results) == 1 and results[0].get("superclasses"):
        sub = Table(title="per superclass (by original label)")
        for c in ("superclass", "images", "Top-1", "ReaL"):
            sub.add_column(c, justify="right" if c != "superclass" else "left")
        for g, row in results[0]["superclasses"].items():
            fmt = lambda v: "n/a" if v is None else f"{v:.3f}"
            sub.add_row(g, str(row["n_images"]), fmt(row["top1"]), fmt(row.get("real")))
        console.print(sub)


def evaluate_cmd(
    predictions: List[Path] = typer.Argument(None, help="Prediction files (.npy/.npz/.csv/.parquet); none: the workspace's saved predictions."),
    order: Optional[str] = typer.Option(None, "--order", help="Row order of array files: 'filename', 'imagenetv2-val' or a key-list file."),
    labels: List[str] = typer.Option(None, "--labels", help="Label source (repeatable): original, real, multilabel, or a label file. Default: all."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    csv: Optional[Path] = typer.Option(None, "--csv", help="Also write the leaderboard as CSV to this file."),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=0, help="Bootstrap resamples for 95 % intervals (0: none)."),
    seed: int = typer.Option(0, "--seed"),
    workspace: Optional[Path] = WorkspaceOption,
):
    """Top-1, Top-5, ReaL, multi-label accuracy (MLA) and ImageNet-M, each also with the collapsed mappings."""
    started = time.time()
    ws, dataset = open_workspace_and_dataset(workspace, create=True)
    sources = list(labels) if labels else list(LABEL_SOURCES)
    for s in sources:
        if s not in LABEL_SOURCES and not Path(s).exists():
            raise BagelError(f"--labels {s}: expected one of {', '.join(LABEL_SOURCES)} or a label file, found neither")
    preds = load_all(list(predictions or []), dataset, order, ws)
    resolved = [s if s in LABEL_SOURCES else dataset.use_label_file(s) for s in sources]
    results = [evaluate_predictions(p, dataset, resolved, bootstrap, seed) for p in preds]
    ranked_by, ranked = leaderboard(results)
    missing = missing_sources(dataset, resolved)
    if csv:
        pd.DataFrame([{k: r.get(k) for k in ["name"] + [c for c, _ in COLUMNS + COLLAPSED]} for r in ranked]).to_csv(csv, index=False)
    if ws is not None:
        ws.record_run("evaluate", {"predictions": [str(p) for p in predictions or []], "order": order, "labels": resolved,
                                   "bootstrap": bootstrap, "seed": seed}, {"models": results}, started)
    if as_json:
        print(json.dumps({"dataset": dataset.name, "ranked_by": ranked_by, "unavailable": missing, "models": ranked}))
    else:
        render(ranked, ranked_by, missing, dataset.collapse, Console())


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate_cmd)
