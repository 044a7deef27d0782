"""`build_report`: one self-contained HTML page (plots embedded) summarising a workspace: the
leaderboard, each model's mistakes by category and severity, the most confused class pairs, the
training-data leaks and the review progress; each section appears when its stage has run."""

from __future__ import annotations

import base64
import datetime
import json
from collections import Counter
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from bagel import __version__
from bagel.data.dataset import Dataset
from bagel.evaluate import leaderboard
from bagel.mistakes.taxonomy import CATEGORIES, CATEGORY_TITLES, reported_severity
from bagel.report import plots


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def evaluation_section(ws) -> dict | None:
    runs = ws.runs("evaluate")
    if not runs:
        return None
    models = runs[-1]["results"]["models"]
    ranked_by, ranked = leaderboard(models)
    return {"ranked_by": ranked_by, "models": ranked, "plot": _data_uri(plots.leaderboard_plot(ranked))}


def mistakes_section(ws, dataset: Dataset) -> dict | None:
    from bagel.mistakes.table import load_mistakes, mistake_models

    names = mistake_models(ws)
    if not names:
        return None
    counts, rows = {}, []
    for name in names:
        table = load_mistakes(ws, name)
        c = Counter(zip(table["category"], (reported_severity(s) for s in table["severity"])))
        counts[name] = c
        rows.append({"model": name, "n": len(table), **{cat: sum(v for (k, _), v in c.items() if k == cat) for cat in CATEGORIES},
                     "major": sum(v for (_, s), v in c.items() if s == "major")})
    confusions = None
    wnids = ws.root / "mistakes" / "class_confusion_wnids.json"
    if wnids.exists():
        vocab = dataset.vocabulary
        pairs = json.loads(wnids.read_text())[:15]
        confusions = [{"a": vocab.name(vocab.index_of(a)), "b": vocab.name(vocab.index_of(b)), "n": n} for a, b, n in pairs]
    heatmap = ws.root / "mistakes" / "class_confusion_heatmap.png"
    return {"rows": rows, "plot": _data_uri(plots.categories_plot(counts)), "confusions": confusions,
            "heatmap": _data_uri(heatmap.read_bytes()) if heatmap.exists() else None,
            "titles": CATEGORY_TITLES, "categories": CATEGORIES}


def build_report(ws, out: Path | None = None) -> Path:
    """Write the report to ``out`` (default ``WS/report.html``) and return its path."""
    dataset = Dataset.for_workspace(ws)
    env = Environment(loader=PackageLoader("bagel.report", "templates"), autoescape=select_autoescape(["html"]))
    context = {"dataset": dataset.name, "workspace": str(ws.root.resolve()), "version": __version__,
               "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
               "evaluation": evaluation_section(ws), "mistakes": mistakes_section(ws, dataset),
               "leaks": leaks_section(ws, dataset), "reviews": reviews_section(ws)}
    out = Path(out) if out else ws.path("report.html")
    out.write_text(env.get_template("report.html").render(**context))
    return out


def leaks_section(ws, dataset: Dataset) -> dict | None:
    """From the duplicates stage's ``duplicates/summary.json`` and ``leaks_by_class_pair.csv``."""
    import pandas as pd

    summary_path = ws.root / "duplicates" / "summary.json"
    if not summary_path.exists():
        return None
    summary = json.loads(summary_path.read_text())
    leaks = summary.get("leaks", {})
    exact, near = leaks.get("exact", {}), leaks.get("near", {})
    cards = [{"value": exact.get("val_images", 0), "label": "validation images with an exact training copy"},
             {"value": exact.get("train_copies", 0), "label": "exact training copies"},
             {"value": exact.get("pairs_with_different_label", 0), "label": "exact copies with another label"},
             {"value": f"{exact.get('train_label_correct_under_multilabels', 0)} / {exact.get('pairs_with_multilabels', 0)}",
              "label": "exact copies whose label the multi-labels accept"},
             {"value": near.get("val_images", 0), "label": "validation images with an exact or near duplicate"},
             {"value": summary.get("train_drop", 0), "label": f"training images to drop ({summary.get('drop', 'exact')})"}]
    pairs = []
    by_pair = ws.root / "duplicates" / "leaks_by_class_pair.csv"
    if by_pair.exists():
        table = pd.read_csv(by_pair)
        table = table[table["val_label"] != table["train_label"]].groupby(["val_label", "train_label"], as_index=False)["val_images"].sum()
        vocab = dataset.vocabulary
        for r in table.sort_values("val_images", ascending=False).head(12).itertuples():
            pairs.append({"a": vocab.name(int(r.val_label)), "b": vocab.name(int(r.train_label)), "n": int(r.val_images)})
    plot = ws.root / "duplicates" / "nn_distance_hist.png"
    note = (f"{summary.get('val_images')} validation and {summary.get('train_images')} training images; near-duplicates by "
            f"{summary.get('thresholds', {}).get('model')} embedding distance and perceptual hash. The list of training keys to "
            f"drop for a de-duplicated retraining is duplicates/train_drop.txt.")
    return {"cards": cards, "pairs": pairs, "plot": _data_uri(plot.read_bytes()) if plot.exists() else None, "note": note}


def reviews_section(ws) -> dict | None:
    """Per model and reviewer: verdicts so far; inter-rater agreement (Fleiss' kappa) among people."""
    from bagel.review.agreement import agreement
    from bagel.review.store import ReviewStore

    store = ReviewStore.for_workspace(ws)
    try:
        rows, notes = [], []
        for model in store.models():
            current = store.current(model)
            by_reviewer: dict[str, Counter] = {}
            for r in current:
                c = by_reviewer.setdefault(r["reviewer"], Counter())
                c[r["verdict"]] += 1
                c["problematic"] += bool(r["problematic"])
            for reviewer, c in sorted(by_reviewer.items()):
                rows.append({"reviewer": f"{reviewer} ({model})", "n": sum(c[v] for v in ("correct", "wrong", "unclear")),
                             "correct": c["correct"], "wrong": c["wrong"], "unclear": c["unclear"], "problematic": c["problematic"]})
            people = agreement(current, exclude=("imported",))["overall"]
            if people["items"]:
                kappa = people["fleiss"]
                notes.append(f"{model}: {people['items']} mistakes judged by two or more people, Fleiss' kappa "
                             f"{'n/a' if kappa is None else f'{kappa:.2f}'}")
    finally:
        store.close()
    if not rows:
        return None
    note = "; ".join(notes) or "No mistake has been judged by two people yet: agreement appears once it has."
    return {"rows": rows, "note": note + ". A 'correct' verdict adds the prediction to the image's multi-labels on export."}


def run_stage(ws, progress: bool = True) -> dict:
    """The demo/workspace stage: write ``WS/report.html``."""
    return {"report": str(build_report(ws).resolve())}
