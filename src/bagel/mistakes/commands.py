"""`bagel mistakes suggest|compare` and `bagel confusions` (registered on the main app by bagel.cli)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import List, Optional

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from bagel.cli_common import WorkspaceOption, open_workspace_and_dataset
from bagel.data.dataset import LABEL_SOURCES, Dataset
from bagel.data.predictions import Predictions, load_predictions
from bagel.errors import BagelError
from bagel.mistakes import confusions as conf_mod
from bagel.mistakes.compare import compare_judgements_with_experts, compare_with_experts, split_half
from bagel.mistakes.evidence import build_evidence
from bagel.mistakes.pipeline import default_label_sources, evidence_embeddings, shipped_predictions, summarize, write_confusions
from bagel.mistakes.table import (load_mistakes, mistake_models, read_published, save_mistakes, suggest_mistakes,
                                  write_published, write_table)
from bagel.mistakes.taxonomy import CATEGORIES, CATEGORY_TITLES

mistakes_app = typer.Typer(no_args_is_help=True, add_completion=False, help="Suggest and compare mistake categories and severities.")

LabelsOption = typer.Option(None, "--labels", help="Label source (repeatable, first that annotates an image wins): original, real, multilabel or a label file. Default: every available one.")
PredictionsOption = typer.Option(None, "--predictions", help="Other models' prediction files as evidence (repeatable). Default: the workspace's saved predictions, or for ImageNet the data cache's shipped ones.")
OrderOption = typer.Option(None, "--order", help="Row order of array prediction files: 'filename', 'imagenetv2-val' or a key-list file.")


def _label_sources(labels: Optional[List[str]], dataset: Dataset) -> list[str]:
    if not labels:
        return default_label_sources(dataset)
    for s in labels:
        if s not in LABEL_SOURCES and not Path(s).exists():
            raise BagelError(f"--labels {s}: expected one of {', '.join(LABEL_SOURCES)} or a label file, found neither")
    return list(labels)


def _evidence_models(paths: Optional[List[Path]], dataset: Dataset, order: Optional[str], ws) -> list[Predictions]:
    if paths:
        # The shipped files need their own row order; others follow --order.
        return [load_predictions(p, dataset.imageset, dataset.vocabulary, order or ("imagenetv2-val" if dataset.name == "imagenet" and p.suffix == ".npy" else None)) for p in paths]
    if ws is not None and Predictions.saved_names(ws):
        return [Predictions.load_saved(ws, n) for n in Predictions.saved_names(ws)]
    return shipped_predictions(dataset)


def _load_model(pred: str, dataset: Dataset, order: Optional[str], ws) -> Predictions:
    p = Path(pred)
    if p.exists():
        return load_predictions(p, dataset.imageset, dataset.vocabulary, order)
    if ws is not None and pred in Predictions.saved_names(ws):
        return Predictions.load_saved(ws, pred)
    raise BagelError(f"{pred}: no such predictions file" + (f" nor a saved model of workspace {ws.root}" if ws is not None else ""))


def _counts_table(df: pd.DataFrame, title: str) -> Table:
    t = Table(title=title, header_style="bold")
    t.add_column("category")
    sev = ["major", "minor", "borderline"]
    for s in sev + ["all"]:
        t.add_column(s, justify="right")
    for c in CATEGORIES:
        sub = df[df["category"] == c]
        t.add_row(CATEGORY_TITLES[c], *[str(int((sub["severity"] == s).sum())) for s in sev], str(len(sub)))
    t.add_row("all", *[str(int((df["severity"] == s).sum())) for s in sev], str(len(df)))
    return t


def suggest_cmd(
    pred: str = typer.Argument(..., help="Predictions file (.npy/.npz/.csv/.parquet), or a saved model name with -w."),
    order: Optional[str] = OrderOption,
    labels: List[str] = LabelsOption,
    predictions: List[Path] = PredictionsOption,
    no_models: bool = typer.Option(False, "--no-models", help="Use no other models as evidence."),
    out: Optional[Path] = typer.Option(None, "--out", help="Mistake table (.parquet or .csv); default mistakes-<model>.parquet (WS/mistakes/<model>.parquet with -w)."),
    published: Optional[Path] = typer.Option(None, "--published", help="Mistakes in the published JSON schema; default mistakes-<model>.json (WS/mistakes/<model>.json with -w)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
    workspace: Optional[Path] = WorkspaceOption,
):
    """Suggest a category and severity, with a confidence and the evidence, for every mistake of a model."""
    started = time.time()
    ws, dataset = open_workspace_and_dataset(workspace)
    model = _load_model(pred, dataset, order, ws)
    others = [] if no_models else [p for p in _evidence_models(predictions, dataset, order, ws) if p.name != model.name]
    sources = _label_sources(labels, dataset)
    embeddings = evidence_embeddings(ws, dataset.imageset)
    evidence = build_evidence(dataset, sources, others, embeddings=embeddings)
    df = suggest_mistakes(model, evidence)
    if ws is not None and out is None and published is None:
        paths = [str(p) for p in save_mistakes(ws, model.name, df)]
    else:
        paths = [str(write_table(df, out or Path(f"mistakes-{model.name}.parquet"))),
                 str(write_published(df, published or Path(f"mistakes-{model.name}.json")))]
    summary = {"model": model.name, "labels": sources, "evidence_models": [p.name for p in others], **summarize(df), "files": paths}
    if ws is not None:
        ws.record_run("mistakes suggest", {"predictions": pred, "labels": sources, "evidence": summary["evidence_models"]}, summary, started)
    if as_json:
        print(json.dumps(summary))
        return
    console = Console()
    console.print(_counts_table(df, f"bagel mistakes suggest: {model.name}, {len(df)} mistakes (labels: {', '.join(sources)}; {len(others)} other models as evidence)"))
    console.print(f"[dim]wrote {', '.join(paths)}[/dim]")


def _fmt(v) -> str:
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}"


def render_report(rep: dict, console: Console, title: str) -> None:
    console.print(f"[bold]{title}[/bold]: n = {rep['n']}")
    b = rep["baseline"]
    console.print(f"category: accuracy {_fmt(rep['category_accuracy'])}, Cohen's kappa {_fmt(rep['category_kappa'])}"
                  f"   [dim](majority baseline '{b['category']}': {_fmt(b['category_accuracy'])}, kappa 0)[/dim]")
    console.print(f"severity (borderline as minor): accuracy {_fmt(rep['severity_accuracy'])}, Cohen's kappa {_fmt(rep['severity_kappa'])}"
                  f"   [dim](majority baseline '{b['severity']}': {_fmt(b['severity_accuracy'])}, kappa 0)[/dim]")
    t = Table(title="per category (rows: experts, columns: suggested)", header_style="bold")
    t.add_column("expert \\ suggested")
    for c in rep["category_values"]:
        t.add_column(CATEGORY_TITLES[c], justify="right")
    t.add_column("precision", justify="right")
    t.add_column("recall", justify="right")
    for c, row in zip(rep["category_values"], rep["category_confusion"]):
        pc = rep["per_category"][c]
        t.add_row(CATEGORY_TITLES[c], *[str(v) for v in row], _fmt(pc["precision"]), _fmt(pc["recall"]))
    console.print(t)
    s = Table(title="severity (rows: experts, columns: suggested)", header_style="bold")
    s.add_column("expert \\ suggested")
    for v in rep["severity_values"]:
        s.add_column(v, justify="right")
    for v, row in zip(rep["severity_values"], rep["severity_confusion"]):
        s.add_row(v, *[str(x) for x in row])
    console.print(s)


def compare_cmd(
    experts: Path = typer.Argument(..., help="Expert mistakes file in the published schema (e.g. vit3b_mistakes.json)."),
    labels: List[str] = LabelsOption,
    predictions: List[Path] = PredictionsOption,
    order: Optional[str] = OrderOption,
    split: int = typer.Option(0, "--split-half", min=0, help="Also run this many random split-half checks of the thresholds."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the per-image suggestions next to the experts' labels (.parquet or .csv)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    reviewer: Optional[str] = typer.Option(None, "--reviewer", help="Compare this reviewer's judgements (review app, needs -w and --model) instead of bagel's suggestions."),
    model: Optional[str] = typer.Option(None, "--model", help="With --reviewer: the model whose mistakes were reviewed."),
    workspace: Optional[Path] = WorkspaceOption,
):
    """Agreement of bagel's suggestions (or a reviewer's judgements) with an expert mistakes file: accuracy, kappa, per-category precision/recall."""
    if reviewer is not None and (workspace is None or not model):
        raise BagelError("--reviewer compares judgements stored in a workspace: give -w WS and --model NAME as well")
    ws, dataset = open_workspace_and_dataset(workspace)
    table = read_published(experts, dataset.imageset, len(dataset.vocabulary))
    if reviewer is not None:
        _compare_reviewer(table, experts, reviewer, model, ws, out, as_json)
        return
    sources = _label_sources(labels, dataset)
    others = _evidence_models(predictions, dataset, order, ws)
    evidence = build_evidence(dataset, sources, others)
    rep, sug = compare_with_experts(table, evidence)
    rep.update({"experts": str(experts), "labels": sources, "evidence_models": [p.name for p in others],
                "near_depth": evidence.tables.near_depth, "rules": evidence.rules.to_dict()})
    if split:
        rep["split_half"] = split_half(table, evidence, n_splits=split)
    console = _emit_report(rep, sug, out, as_json,
                           f"bagel mistakes compare: {experts.name} ({len(others)} other models as evidence; labels {', '.join(sources)})")
    if console and split:
        sh = rep["split_half"]
        for which, key in (("thresholds chosen on the other half", "held_out_chosen"), ("default thresholds", "held_out_default")):
            r = sh[key]
            if r:
                console.print(f"split-half ({sh['halves']} held-out halves, {which}): category {r['category_accuracy']['mean']:.3f} ± {r['category_accuracy']['sd']:.3f}"
                              f" (kappa {r['category_kappa']['mean']:.3f}), severity {r['severity_accuracy']['mean']:.3f} ± {r['severity_accuracy']['sd']:.3f}"
                              f" (kappa {r['severity_kappa']['mean']:.3f})")
        console.print(f"[dim]chosen values: {json.dumps(sh['chosen_values'])}[/dim]")


def _compare_reviewer(table, experts: Path, reviewer: str, model: Optional[str], ws, out: Optional[Path], as_json: bool) -> None:
    from bagel.review.store import ReviewStore

    store = ReviewStore.for_workspace(ws)
    try:
        judgements = store.current(model, reviewer=reviewer)
    finally:
        store.close()
    rep, mine = compare_judgements_with_experts(table, judgements)
    rep.update({"experts": str(experts), "reviewer": reviewer, "model": model})
    _emit_report(rep, mine, out, as_json, f"{reviewer} vs {experts.name} ({model}): {rep['reviewed']} of the experts' images reviewed, "
                                          f"{rep['judged_correct']} judged a correct prediction")


def _emit_report(rep: dict, table, out: Optional[Path], as_json: bool, title: str) -> Optional[Console]:
    """Write the per-image table when asked, then the report as JSON or as tables; returns the
    console it printed to (None for JSON)."""
    if out:
        write_table(table, out)
    if as_json:
        print(json.dumps(rep))
        return None
    console = Console()
    render_report(rep, console, title)
    return console


def _mistake_inputs(files: list[Path], dataset: Dataset, ws) -> dict[str, pd.DataFrame]:
    """Mistake tables (label, prediction) from files: suggest tables (.parquet/.csv) or published
    mistakes JSON; with none, every table of the workspace."""
    out = {}
    for f in files:
        if f.suffix.lower() == ".json":
            t = read_published(f, dataset.imageset, len(dataset.vocabulary))
            t["label"] = dataset.imageset.labels[t["row"].to_numpy()]
        else:
            from bagel.data.imageset import read_table

            t = read_table(f)
            missing = {"label", "prediction"} - set(t.columns)
            if missing:
                raise BagelError(f"{f}: expected a mistake table with columns label and prediction, missing {', '.join(sorted(missing))}")
        out[f.stem if f.stem not in out else str(f)] = t
    if not files:
        if ws is None or not mistake_models(ws):
            raise BagelError("no mistakes given: pass mistake tables or mistakes JSON files, or a workspace (-w) where `bagel mistakes suggest` ran")
        out = {m: load_mistakes(ws, m) for m in mistake_models(ws)}
    return out


def confusions_cmd(
    files: List[Path] = typer.Argument(None, help="Mistake tables (.parquet/.csv from `mistakes suggest`) or mistakes JSON files; none: the workspace's."),
    top: int = typer.Option(20, "--top", min=0, help="Rows of the terminal table."),
    out_dir: Optional[Path] = typer.Option(None, "--out-dir", help="Folder for class_confusion_{wnids,synsets}.json and the heatmap (default: WS/mistakes with -w, else .)."),
    as_json: bool = typer.Option(False, "--json", help="Print the pairs ([[wnid_a, wnid_b, n], ...]) on stdout."),
    workspace: Optional[Path] = WorkspaceOption,
):
    """Class pairs confused in one or many models' mistakes (label vs top-1), in the published formats, with a heatmap."""
    ws, dataset = open_workspace_and_dataset(workspace)
    tables = _mistake_inputs(list(files or []), dataset, ws)
    C = len(dataset.vocabulary)
    for name, t in tables.items():
        bad = (t["prediction"] < 0) | (t["prediction"] >= C) | (t["label"] >= C)
        if bad.any():
            raise BagelError(f"{name}: class index outside 0..{C - 1} (the mistakes are for another vocabulary)")
    folder = out_dir or (ws.root / "mistakes" if ws is not None else Path("."))
    info = write_confusions(tables, dataset, folder)
    pairs = conf_mod.read_published(info["wnids"], dataset.vocabulary)
    if as_json:
        print(json.dumps(conf_mod.to_published(pairs, dataset.vocabulary)))
        return
    console = Console()
    t = Table(title=f"bagel confusions: {info['confusions']} mistakes of {len(tables)} model(s), {info['pairs']} class pairs", header_style="bold")
    for c, j in (("#", "right"), ("class a", "left"), ("class b", "left"), ("n", "right"), ("common ancestor", "left")):
        t.add_column(c, justify=j)
    h = dataset.hierarchy
    for i, (a, b, n) in enumerate(pairs[:top], 1):
        lca = h.lca(a, b)
        t.add_row(str(i), f"{dataset.vocabulary.name(a)} [dim]{dataset.vocabulary.ids[a]}[/dim]", f"{dataset.vocabulary.name(b)} [dim]{dataset.vocabulary.ids[b]}[/dim]", str(n), h.name(lca) if lca else "-")
    console.print(t)
    console.print(f"[dim]wrote {info['wnids']}, {info['synsets']}, {info['heatmap']}[/dim]")


def register(app: typer.Typer) -> None:
    mistakes_app.command("suggest")(suggest_cmd)
    mistakes_app.command("compare")(compare_cmd)
    app.add_typer(mistakes_app, name="mistakes")
    app.command("confusions")(confusions_cmd)
