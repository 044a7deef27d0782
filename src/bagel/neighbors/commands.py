"""CLI commands of this stage (registered on the main app by bagel.cli)."""

import typer


def register(app: typer.Typer) -> None:
    pass
