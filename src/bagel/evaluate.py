"""Evaluate one or many models' predictions on a dataset: every metric, with and without the
collapsed mappings, per superclass, with bootstrap confidence intervals, and a leaderboard."""

from __future__ import annotations

import numpy as np

from bagel import metrics
from bagel.data.dataset import Dataset
from bagel.data.predictions import Predictions
from bagel.errors import BagelError

# Metric keys in the JSON output and the label source each needs.
METRIC_SOURCES = {"top1": "original", "top5": "original", "real": "real", "mla": "multilabel", "imagenet_m": "multilabel"}
RANK_ORDER = ("mla", "real", "top1")  # the leaderboard ranks by the most faithful metric available


def _pct(x: float | None) -> float | None:
    return None if x is None or np.isnan(x) else round(100.0 * x, 3)


def evaluate_predictions(pred: Predictions, dataset: Dataset, label_sources: list[str], n_resamples: int = 1000,
                         seed: int = 0, breakdown: bool = True) -> dict:
    """All metrics of one model as a flat JSON-ready dict (accuracies in percent, None where a label
    source is missing); ``ci`` holds [low, high] percent 95 % bootstrap intervals per metric."""
    C = len(dataset.vocabulary)
    labels = dataset.imageset.labels
    top1 = pred.top1
    rng = np.random.default_rng(seed)
    pairs = metrics.collapse_pairs(dataset.collapse)
    accept = metrics.accept_matrix(C, pairs)
    out: dict = {"name": pred.name, "n_images": int(len(labels))}
    ci: dict = {}
    known = labels >= 0

    for suffix, acc in (("", None), ("_collapsed", accept)):
        for k in (1, 5):
            if k == 5 and suffix:
                continue
            ok = metrics.topk_correct(pred.topk, labels, min(k, pred.topk.shape[1]), acc)[known]
            out[f"top{k}{suffix}"] = _pct(ok.mean()) if k <= pred.topk.shape[1] else None
            if out[f"top{k}{suffix}"] is not None and n_resamples:
                ci[f"top{k}{suffix}"] = [_pct(v) for v in metrics.bootstrap_mean_ci([ok.sum()], [ok.size], n_resamples, rng)]
    if "real" in label_sources and dataset.has_labels("real"):
        real = dataset.labels("real")
        for suffix, p in (("", None), ("_collapsed", pairs)):
            acc, n = metrics.real_accuracy(top1, real, p)
            out[f"real{suffix}"] = _pct(acc)
            ok = metrics.set_correct(top1, real, p, statuses=(metrics.CORRECT,))[real.annotated]
            if n_resamples:
                ci[f"real{suffix}"] = [_pct(v) for v in metrics.bootstrap_mean_ci([ok.sum()], [ok.size], n_resamples, rng)]
        out["real_n_images"] = n
    else:
        out["real"] = out["real_collapsed"] = None
    if "multilabel" in label_sources and dataset.has_labels("multilabel"):
        ml = dataset.labels("multilabel")
        for suffix, p in (("", None), ("_collapsed", pairs)):
            value, n_cls = metrics.mla(top1, ml, labels, C, p)
            out[f"mla{suffix}"] = _pct(value)
            hits, counts = metrics.mla_per_class(top1, ml, labels, C, p)
            if n_resamples:
                ci[f"mla{suffix}"] = [_pct(v) for v in metrics.bootstrap_mean_ci(hits, counts, n_resamples, rng, per_stratum_mean=True)]
            m, size = metrics.imagenet_m(top1, ml, p)
            out[f"imagenet_m{suffix}"] = m if size else None
            if size and n_resamples:
                lo, hi = metrics.bootstrap_mean_ci([m], [size], n_resamples, rng)
                ci[f"imagenet_m{suffix}"] = [round(lo * size), round(hi * size)]
        out["mla_n_classes"] = n_cls
        out["imagenet_m_size"] = size
    else:
        for key in ("mla", "mla_collapsed", "imagenet_m", "imagenet_m_collapsed"):
            out[key] = None
    out["ci95"] = ci
    if breakdown:
        out["superclasses"] = superclass_breakdown(pred, dataset, label_sources)
    return out


def superclass_breakdown(pred: Predictions, dataset: Dataset, label_sources: list[str]) -> dict:
    """Per named superclass group of the original label: images, top-1 and (when available) ReaL."""
    try:
        masks = dataset.hierarchy.group_masks()
    except BagelError:
        return {}
    labels = dataset.imageset.labels
    known = labels >= 0
    top1_ok = pred.top1 == labels
    real = dataset.labels("real") if "real" in label_sources and dataset.has_labels("real") else None
    real_ok = metrics.set_correct(pred.top1, real, statuses=(metrics.CORRECT,)) if real is not None else None
    out = {}
    for group, cmask in masks.items():
        img = known & cmask[np.maximum(labels, 0)]
        row = {"n_images": int(img.sum()), "top1": _pct(top1_ok[img].mean()) if img.any() else None}
        if real is not None:
            rm = img & real.annotated
            row["real"] = _pct(real_ok[rm].mean()) if rm.any() else None
        out[group] = row
    return out


def leaderboard(results: list[dict]) -> tuple[str, list[dict]]:
    """(metric ranked by, results sorted best first)."""
    for key in RANK_ORDER:
        if all(r.get(key) is not None for r in results):
            return key, sorted(results, key=lambda r: -r[key])
    return "top1", results


def missing_sources(dataset: Dataset, label_sources: list[str]) -> dict[str, str]:
    """Metric -> the command that makes it available, for label sources asked for but absent."""
    out = {}
    for metric, source in METRIC_SOURCES.items():
        if source in label_sources and not dataset.has_labels(source):
            out[metric] = f"bagel data fetch {source}" if dataset.name == "imagenet" else f"add {source} labels to the workspace dataset"
    return out
