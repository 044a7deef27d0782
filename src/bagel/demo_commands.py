"""`bagel demo`: build the demo world and run every stage on it (the README's main job)."""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bagel.data.dataset import Dataset
from bagel.data.predictions import Predictions
from bagel.evaluate import evaluate_predictions, leaderboard
from bagel.evaluate_commands import render
from bagel.workspace import Workspace

DEMO_DIR = "bagel-demo"
# Later stages, in order: (title, module, function(ws) -> summary dict).
STAGES = [
    ("suggest mistake categories, confusions", "bagel.mistakes.pipeline", "run_stage"),
    ("embeddings, neighbours, duplicates, leaks", "bagel.neighbors.pipeline", "run_stage"),
    ("prepare the review app", "bagel.review.demo_stage", "prepare_demo"),
    ("write the report", "bagel.report.build", "run_stage"),
]


def run_demo(root: Path, console: Console) -> dict:
    from bagel.demo import build_world

    t0 = time.time()
    ws = Workspace(root)
    summary: dict = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        tasks: dict = {}

        def progress(name, done, total):
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done, total=total)

        summary["world"] = build_world(ws, progress)
    console.print(f"[green]1.[/green] demo world: {summary['world']['classes']} classes, {summary['world']['train_images']} train and "
                  f"{summary['world']['val_images']} val images, {summary['world']['injected_leaks']} injected train/val leaks")
    dataset = Dataset.for_workspace(ws)
    results = [evaluate_predictions(Predictions.load_saved(ws, n), dataset, ["original", "real", "multilabel"]) for n in Predictions.saved_names(ws)]
    ranked_by, ranked = leaderboard(results)
    ws.record_run("evaluate", {"demo": True}, {"models": results})
    console.print("[green]2.[/green] evaluate")
    render(ranked, ranked_by, {}, dataset.collapse, console)
    for n, (title, module, func) in enumerate(STAGES, 3):
        t = time.time()
        out = getattr(importlib.import_module(module), func)(ws)
        summary[module.split(".")[1]] = out
        console.print(f"[green]{n}.[/green] {title} ({time.time() - t:.1f} s)")
        for k, v in (out or {}).items():
            if isinstance(v, (int, float, str)):
                console.print(f"   {k}: {v}")
    console.print(f"\ndemo finished in {time.time() - t0:.1f} s; everything is in [bold]{ws.root.resolve()}[/bold]")
    console.print(f"open the review app:  bagel review -w {root}   (then http://127.0.0.1:8000)")
    return summary


def demo_cmd(workspace: Optional[Path] = typer.Option(None, "-w", "--workspace", help=f"Demo workspace (default ./{DEMO_DIR}).")):
    """Build the deterministic offline demo world and run every stage on it."""
    run_demo(workspace or Path(DEMO_DIR), Console())


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
