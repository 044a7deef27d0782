"""The mistakes stage as library calls: suggest for one or every model of a dataset, write the
tables, confusions and heatmap, and the demo/workspace stage `run_stage`."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from bagel.data.dataset import Dataset
from bagel.data.predictions import Predictions, load_predictions
from bagel.data import sources
from bagel.errors import BagelError
from bagel.mistakes import confusions
from bagel.mistakes.evidence import Evidence, build_evidence
from bagel.mistakes.suggest import Rules
from bagel.mistakes.table import TABLE_DIR, save_mistakes, suggest_mistakes

SHIPPED_ORDER = "imagenetv2-val"


def default_label_sources(dataset: Dataset) -> list[str]:
    """Every available label source, most detailed first (each image takes the first that annotates it)."""
    return [s for s in ("multilabel", "real") if dataset.has_labels(s)] + ["original"]


def shipped_predictions(dataset: Dataset) -> list[Predictions]:
    """Every prediction file in the data cache's ``imagenet/predictions/`` (row order ``imagenetv2-val``);
    empty for other datasets or when none are cached."""
    if dataset.name != "imagenet":
        return []
    folder = sources.data_dir() / "imagenet" / "predictions"
    return [load_predictions(p, dataset.imageset, dataset.vocabulary, SHIPPED_ORDER) for p in sorted(folder.glob("*.npy"))]


def evidence_embeddings(ws, imageset) -> np.ndarray | None:
    """Embeddings of the evaluation split when the neighbors stage has written complete ones for
    exactly these images (the first model by name), as float32 with rows of unreadable images set to
    NaN; None otherwise (embeddings are optional evidence)."""
    from bagel.neighbors.embed import load_embeddings

    folder = ws.root / "embeddings" if ws is not None else None
    if folder is None or not folder.exists():
        return None
    for model_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        try:
            emb, ok, _ = load_embeddings(ws, imageset, model_dir.name)
        except BagelError:  # missing, incomplete or made for other images: not evidence
            continue
        x = np.array(emb, dtype=np.float32)
        x[~ok] = np.nan
        return x
    return None


def write_confusions(tables: dict[str, pd.DataFrame], dataset: Dataset, folder: Path, stem: str = "class_confusion") -> dict:
    """Confusion pairs over all given mistake tables: ``<stem>_wnids.json``, ``<stem>_synsets.json`` and
    ``<stem>_heatmap.png`` (within each superclass group, when the dataset has a hierarchy)."""
    labels = np.concatenate([t["label"].to_numpy() for t in tables.values()]) if tables else np.zeros(0, np.int64)
    preds = np.concatenate([t["prediction"].to_numpy() for t in tables.values()]) if tables else np.zeros(0, np.int64)
    pairs = confusions.confusion_pairs(labels, preds, dataset.vocabulary)
    out = {"pairs": len(pairs), "confusions": int(sum(n for _, _, n in pairs)),
           "wnids": str(confusions.write_published(pairs, dataset.vocabulary, folder / f"{stem}_wnids.json")),
           "synsets": str(confusions.write_published(pairs, dataset.vocabulary, folder / f"{stem}_synsets.json", names=True))}
    masks = dataset.hierarchy.group_masks()
    out["heatmap"] = str(confusions.plot_heatmaps(pairs, dataset.vocabulary, masks, folder / f"{stem}_heatmap.png"))
    return out


def summarize(df: pd.DataFrame) -> dict:
    """Counts per category and severity, and the mean confidence, of one mistake table."""
    return {"mistakes": int(len(df)), "categories": {k: int(v) for k, v in df["category"].value_counts().sort_index().items()},
            "severities": {k: int(v) for k, v in df["severity"].value_counts().sort_index().items()},
            "mean_confidence": round(float(df["confidence"].mean()), 3) if len(df) else None}


def suggest_all(models: list[Predictions], evidence: Evidence, progress: bool = False) -> dict[str, pd.DataFrame]:
    """Mistake tables of every model (each with the other models as evidence)."""
    out = {}
    for i, p in enumerate(models):
        out[p.name] = suggest_mistakes(p, evidence)
        if progress:
            print(f"mistakes: {p.name}: {len(out[p.name])} mistakes ({i + 1}/{len(models)})", flush=True)
    return out


def run_stage(ws, progress: bool = True, rules: Rules = Rules()) -> dict:
    """The workspace stage: for every saved prediction set of the workspace's dataset, suggest a
    category and severity for each mistake (the other saved models and, when present, the neighbors
    stage's embeddings as evidence); write ``WS/mistakes/<model>.parquet`` / ``.json``, the confusion
    files and heatmap; record the run; return a summary."""
    started = time.time()
    dataset = Dataset.for_workspace(ws)
    label_sources = default_label_sources(dataset)
    names = Predictions.saved_names(ws)
    models = [Predictions.load_saved(ws, n) for n in names]
    embeddings = evidence_embeddings(ws, dataset.imageset)
    evidence = build_evidence(dataset, label_sources, models, rules, embeddings)
    tables = suggest_all(models, evidence, progress)
    for name, df in tables.items():
        save_mistakes(ws, name, df)
    conf = write_confusions(tables, dataset, ws.root / TABLE_DIR) if tables else {}
    summary = {"dataset": dataset.name, "labels": label_sources, "embeddings": embeddings is not None,
               "near_depth": evidence.tables.near_depth, "rules": rules.to_dict(),
               "models": {n: summarize(df) for n, df in tables.items()}, "confusions": conf}
    ws.record_run("mistakes", {"labels": label_sources, "models": names}, summary, started)
    return summary
