"""`bagel report`: one HTML page summarising a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from bagel.cli_common import WorkspaceOption, open_workspace
from bagel.report.build import build_report


def report_cmd(out: Optional[Path] = typer.Option(None, "--out", help="HTML file to write (default WS/report.html)."),
               workspace: Optional[Path] = WorkspaceOption):
    """Write a self-contained HTML report of everything the workspace holds."""
    path = build_report(open_workspace(workspace, create=False), out)
    print(path)


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)
