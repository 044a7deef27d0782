"""`bagel demo`: build the demo world and run every stage on it (the README's main job)."""

from __future__ import annotations

import importlib
import inspect
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
# Later stages, in order: (title, module, function(ws, progress) -> summary dict, one-line summary).
# Embeddings come before the mistakes so that non-prototypical images can be told by their distance
# to the class centroid.


def _leaks_line(out: dict) -> str:
    exact, near = out["leaks"]["exact"], out["leaks"]["near"]
    return (f"{exact['val_images']} val images have an exact copy in train ({exact['pairs_with_different_label']} under another label, "
            f"{exact.get('train_label_correct_under_multilabels', 0)} of {exact.get('pairs_with_multilabels', 0)} of those labels correct under the multi-labels), "
            f"{near['val_images']} an exact or near duplicate (resized, re-encoded, cropped); "
            f"{out['train_drop']} train images to drop for a de-duplicated retraining")


def _mistakes_line(out: dict) -> str:
    return "; ".join(f"{m}: {v['mistakes']} mistakes (" + ", ".join(f"{c} {n}" for c, n in v["categories"].items()) + ")"
                     for m, v in out["models"].items())


STAGES = [
    ("embeddings, neighbours, duplicates, leaks", "bagel.neighbors.pipeline", "run_stage", _leaks_line),
    ("suggest mistake categories, confusions", "bagel.mistakes.pipeline", "run_stage", _mistakes_line),
    ("prepare the review app", "bagel.review.demo_stage", "prepare_demo", lambda out: f"open it with: {out['command']}"),
    ("write the report", "bagel.report.build", "run_stage", lambda out: f"report: {out['report']}"),
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
    for n, (title, module, func, line) in enumerate(STAGES, 3):
        t = time.time()
        stage = getattr(importlib.import_module(module), func)
        out = stage(ws, progress=console.is_terminal) if "progress" in inspect.signature(stage).parameters else stage(ws)
        summary[module.split(".")[1]] = out
        console.print(f"[green]{n}.[/green] {title} ({time.time() - t:.1f} s)")
        console.print(f"   {line(out)}", highlight=False)
    console.print(f"\ndemo finished in {time.time() - t0:.1f} s; everything is in [bold]{ws.root.resolve()}[/bold]")
    console.print(f"open the review app:  bagel review -w {root}   (then http://127.0.0.1:8000)")
    return summary


def demo_cmd(workspace: Optional[Path] = typer.Option(None, "-w", "--workspace", help=f"Demo workspace (default ./{DEMO_DIR}).")):
    """Build the deterministic offline demo world and run every stage on it."""
    run_demo(workspace or Path(DEMO_DIR), Console())


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
