"""CLI commands of this stage (registered on the main app by bagel.cli).

``bagel review`` (= ``bagel review serve``) serves the review app; ``export``, ``import``,
``import-labels``, ``add-reviewer`` and ``reviewers`` work on the workspace's reviews directly.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer

from bagel.cli_common import WorkspaceOption, open_workspace
from bagel.errors import BagelError

HostOption = typer.Option("127.0.0.1", "--host", help="Address to listen on; any non-loopback address requires reviewer tokens.")
PortOption = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on.")

review_app = typer.Typer(help="Review a model's mistakes in the browser (no command: serve the app, as `serve`); "
                              "export and import reviews.", no_args_is_help=False)


def _ws(ctx: typer.Context, workspace: Optional[Path], create: bool = False):
    return open_workspace(workspace if workspace is not None else (ctx.obj or {}).get("workspace"), create=create)


def serve(ws, host: str, port: int) -> None:
    """Run the app with uvicorn until interrupted."""
    import uvicorn

    from bagel.review.app import create_app
    from bagel.review.security import is_loopback
    from bagel.review.store import ReviewStore

    store = ReviewStore.for_workspace(ws)
    if not is_loopback(host) and not store.has_tokens():
        raise BagelError(f"refusing to listen on {host}: a non-loopback address needs reviewer tokens and none is configured; "
                         f"create one with `bagel review add-reviewer NAME -w {ws.root}`")
    app = create_app(ws, host=host, store=store)
    typer.echo(f"bagel review: http://{host if ':' not in host else '[' + host + ']'}:{port}/  (workspace {ws.root}; Ctrl+C stops)")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@review_app.callback(invoke_without_command=True)
def review_main(ctx: typer.Context, workspace: Optional[Path] = WorkspaceOption, host: str = HostOption, port: int = PortOption):
    """Serve the review app (same as `bagel review serve`)."""
    ctx.obj = {"workspace": workspace}
    if ctx.invoked_subcommand is None:
        serve(_ws(ctx, workspace), host, port)


@review_app.command("serve")
def serve_cmd(ctx: typer.Context, workspace: Optional[Path] = WorkspaceOption, host: str = HostOption, port: int = PortOption):
    """Serve the review app on HOST:PORT (default 127.0.0.1:8000)."""
    serve(_ws(ctx, workspace), host, port)


def _model(ws, store, model: Optional[str]) -> str:
    from bagel.review.queue import check_model, model_names

    if model:
        return check_model(model)
    names = sorted(set(model_names(ws)) | set(store.models()))
    if len(names) == 1:
        return names[0]
    raise BagelError(f"--model: expected one of {', '.join(names) or '(no reviewed or mistaken models yet)'}")


@review_app.command("export")
def export_cmd(ctx: typer.Context,
               mistakes: Optional[Path] = typer.Option(None, "--mistakes", help="Write the published mistakes schema here (items judged wrong)."),
               multilabel: Optional[Path] = typer.Option(None, "--multilabel", help="Write the multi-label file with accepted corrections here."),
               model: Optional[str] = typer.Option(None, "--model", help="Model whose reviews to export (default: the only one)."),
               reviewer: Optional[str] = typer.Option(None, "--reviewer", help="One reviewer's judgements."),
               consensus: bool = typer.Option(False, "--consensus", help="The reviewers' consensus (the default)."),
               workspace: Optional[Path] = WorkspaceOption):
    """Export reviews: mistakes -> published mistakes JSON; correct 'mistakes' -> updated multi-label JSON."""
    from bagel.review.export import export
    from bagel.review.store import ReviewStore

    if reviewer and consensus:
        raise BagelError("give --reviewer NAME or --consensus, not both")
    started = time.time()
    ws = _ws(ctx, workspace)
    store = ReviewStore.for_workspace(ws)
    m = _model(ws, store, model)
    out = export(ws, store, m, reviewer, mistakes, multilabel)
    ws.record_run("review export", {"model": m, "reviewer": reviewer, "mistakes": mistakes, "multilabel": multilabel}, out, started)
    typer.echo(json.dumps(out, indent=1))


@review_app.command("import")
def import_cmd(ctx: typer.Context, expert: Path = typer.Argument(..., help="A published mistakes file (e.g. vit3b_mistakes.json)."),
               model: Optional[str] = typer.Option(None, "--model", help="Model the file reviews (default: the only one)."),
               reviewer: str = typer.Option("imported", "--reviewer", help="Reviewer name the verdicts are stored under."),
               workspace: Optional[Path] = WorkspaceOption):
    """Import a published mistakes file as one reviewer's verdicts (default reviewer 'imported')."""
    from bagel.review.export import import_mistakes
    from bagel.review.store import ReviewStore

    started = time.time()
    ws = _ws(ctx, workspace)
    store = ReviewStore.for_workspace(ws)
    m = _model(ws, store, model)
    out = import_mistakes(ws, store, m, expert, reviewer)
    ws.record_run("review import", {"model": m, "file": expert, "reviewer": reviewer}, out, started)
    typer.echo(json.dumps(out, indent=1))


@review_app.command("import-labels")
def import_labels_cmd(ctx: typer.Context, labels: Path = typer.Argument(..., help="A published multi-label file."),
                      workspace: Optional[Path] = WorkspaceOption):
    """Make a published multi-label file the workspace dataset's multi-label set."""
    from bagel.review.export import import_multilabel

    started = time.time()
    ws = _ws(ctx, workspace)
    out = import_multilabel(ws, labels)
    ws.record_run("review import-labels", {"file": labels}, out, started)
    typer.echo(json.dumps(out, indent=1))


@review_app.command("add-reviewer")
def add_reviewer_cmd(ctx: typer.Context, name: str = typer.Argument(..., help="Reviewer name."),
                     token: bool = typer.Option(True, "--token/--no-token", help="Give the reviewer a new login token (printed once)."),
                     workspace: Optional[Path] = WorkspaceOption):
    """Create a reviewer (or give an existing one a new token, ending their sessions)."""
    from bagel.review.store import ReviewStore

    ws = _ws(ctx, workspace, create=True)
    t = ReviewStore.for_workspace(ws).add_reviewer(name, with_token=token)
    typer.echo(f"reviewer {name}" + (f": token {t}  (shown once; needed when the server listens on a network address)" if t else ""))


@review_app.command("reviewers")
def reviewers_cmd(ctx: typer.Context, workspace: Optional[Path] = WorkspaceOption):
    """List reviewers and whether each has a token."""
    from bagel.review.store import ReviewStore

    for r in ReviewStore.for_workspace(_ws(ctx, workspace)).reviewers():
        typer.echo(f"{r['name']}\t{'token' if r['has_token'] else 'no token'}")


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")
