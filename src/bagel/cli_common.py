"""Options every command shares, so they are spelled the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from bagel.workspace import Workspace, default_workspace_dir

WorkspaceOption = typer.Option(None, "-w", "--workspace", help="Workspace folder (default $BAGEL_WORKSPACE, else ./bagel-workspace).")


def open_workspace(path: Optional[Path], create: bool = True) -> Workspace:
    return Workspace(path if path is not None else default_workspace_dir(), create=create)


def open_workspace_and_dataset(path: Optional[Path], create: bool = False):
    """(workspace or None, dataset) for commands that also work without a workspace: the workspace's
    dataset when ``-w`` is given, else ImageNet from the data cache."""
    from bagel.data.dataset import Dataset

    ws = open_workspace(path, create=create) if path is not None else None
    return ws, (Dataset.for_workspace(ws) if ws is not None else Dataset.imagenet())
