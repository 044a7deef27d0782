"""`bagel data list|fetch`: the public label sources and the local data cache."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn
from rich.table import Table

from bagel.cli_common import WorkspaceOption, open_workspace
from bagel.data import sources
from bagel.data.attach import attach_folder, attach_imagenet

data_app = typer.Typer(no_args_is_help=True, help="Public label sources and the local data cache.")


@data_app.command("list")
def list_cmd():
    """Show every known source and whether it is in the cache (and verified)."""
    table = Table(title=f"data cache: {sources.data_dir()}")
    for c in ("source", "path", "status", "description"):
        table.add_column(c)
    for row in sources.status():
        st = "[green]verified[/green]" if row["verified"] else ("[yellow]present, unpinned[/yellow]" if row["present"] and not row["pinned"]
              else "[red]checksum differs[/red]" if row["present"] else "[dim]missing[/dim]")
        table.add_row(row["name"], row["path"], st, row["description"])
    Console().print(table)
    missing = [r["name"] for r in sources.status() if not r["present"]]
    if missing:
        Console().print(f"fetch the missing ones with `bagel data fetch {' '.join(missing)}`")


@data_app.command("fetch")
def fetch_cmd(
    names: List[str] = typer.Argument(None, help="Sources to fetch (default: all but the per-model prediction files)."),
    force: bool = typer.Option(False, "--force", help="Download again even when a verified copy is cached."),
    from_file: Optional[Path] = typer.Option(None, "--from-file", help="Take this local file as the (single) source instead of downloading."),
):
    """Download sources into the data cache, verifying their sha256 (or schema where none is published)."""
    names = list(names or sources.DEFAULT_SOURCES)
    for n in names:
        sources.get(n)
    console = Console(stderr=True)
    if from_file is not None:
        if len(names) != 1:
            raise typer.BadParameter("--from-file takes exactly one source name")
        console.print(f"{names[0]}: {sources.copy_into_cache(names[0], from_file)}")
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=console, transient=True,
                  disable=not console.is_terminal) as bar:
        tasks = {}

        def progress(name, done, total):
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total or None)
            bar.update(tasks[name], completed=done, total=total or None)

        for n in names:
            path = sources.fetch(n, force=force, progress=progress)
            console.print(f"[green]ok[/green] {n}: {path}")




dataset_app = typer.Typer(no_args_is_help=True, help="Attach a dataset's images on disk to a workspace.")


@dataset_app.command("imagenet")
def dataset_imagenet_cmd(
    val: Optional[Path] = typer.Option(None, "--val", help="ImageNet validation images (flat ILSVRC2012_val_*.JPEG, or in wnid folders)."),
    train: Optional[Path] = typer.Option(None, "--train", help="ImageNet training images (train/<wnid>/*.JPEG)."),
    workspace: Optional[Path] = WorkspaceOption,
):
    """Use ImageNet (labels from the data cache) with its images on disk."""
    out = attach_imagenet(open_workspace(workspace), val, train)
    Console().print(", ".join(f"{k}: {v}" for k, v in out.items()))


@dataset_app.command("folder")
def dataset_folder_cmd(
    val: Path = typer.Option(..., "--val", help="Validation images in ImageFolder layout (val/<class>/<image>)."),
    train: Optional[Path] = typer.Option(None, "--train", help="Training images in ImageFolder layout."),
    classes: Optional[Path] = typer.Option(None, "--classes", help="JSON list of class names (or {id, names, gloss}) in class-index order."),
    name: str = typer.Option("custom", "--name"),
    workspace: Optional[Path] = WorkspaceOption,
):
    """Use any ImageFolder dataset: classes from --classes or the class folders."""
    out = attach_folder(open_workspace(workspace), val, train, classes, name)
    Console().print(", ".join(f"{k}: {v}" for k, v in out.items()))


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
    app.add_typer(dataset_app, name="dataset")
