"""Agreement between two labelings of the same mistakes (suggestions vs experts, a reviewer vs
experts): accuracy, Cohen's kappa, per-category precision/recall and confusion matrices.

Plain functions over two equal-length arrays of taxonomy strings, so the review app can reuse them.
Severity is compared as reported in the paper: borderline counts as minor.
"""

from __future__ import annotations

import numpy as np

from bagel.errors import BagelError
from bagel.mistakes.taxonomy import CATEGORIES, reported_severity

REPORTED_SEVERITIES = ("major", "minor")


def _pair(reference, other) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(reference, dtype=object), np.asarray(other, dtype=object)
    if a.shape != b.shape or a.ndim != 1:
        raise BagelError(f"agreement: expected two 1-D labelings of equal length, found {a.shape} and {b.shape}")
    return a, b


def confusion_matrix(reference, other, values) -> np.ndarray:
    """(V, V) int64: ``[i, j]`` = items that ``reference`` labels ``values[i]`` and ``other`` ``values[j]``.
    A label outside ``values`` is an error."""
    a, b = _pair(reference, other)
    index = {v: i for i, v in enumerate(values)}
    try:
        ia = np.array([index[x] for x in a], dtype=np.int64)
        ib = np.array([index[x] for x in b], dtype=np.int64)
    except KeyError as e:
        raise BagelError(f"agreement: label {e.args[0]!r} is not one of {', '.join(values)}") from None
    V = len(values)
    return np.bincount(ia * V + ib, minlength=V * V).reshape(V, V)


def accuracy(reference, other) -> float:
    """Share of items both label the same (NaN for none)."""
    a, b = _pair(reference, other)
    return float((a == b).mean()) if len(a) else float("nan")


def cohen_kappa(reference, other, values) -> float:
    """Cohen's kappa: (observed - chance agreement) / (1 - chance), chance from the two marginals.
    0 when chance agreement is already 1 (both constant and equal), NaN for no items."""
    m = confusion_matrix(reference, other, values).astype(np.float64)
    n = m.sum()
    if n == 0:
        return float("nan")
    po = np.trace(m) / n
    pe = float((m.sum(1) * m.sum(0)).sum()) / n**2
    return 0.0 if pe >= 1 else float((po - pe) / (1 - pe))


def per_category(reference, other, values) -> dict:
    """Per value: ``precision``, ``recall`` (None when undefined), ``support`` (reference count) and
    ``predicted`` (other's count)."""
    m = confusion_matrix(reference, other, values)
    out = {}
    for i, v in enumerate(values):
        tp, pred, sup = int(m[i, i]), int(m[:, i].sum()), int(m[i].sum())
        out[v] = {"precision": tp / pred if pred else None, "recall": tp / sup if sup else None, "support": sup, "predicted": pred}
    return out


def agreement_report(ref_category, other_category, ref_severity, other_severity) -> dict:
    """Everything `bagel mistakes compare` reports, JSON-ready: ``n``, ``category_accuracy`` (0..1),
    ``category_kappa``, ``severity_accuracy``, ``severity_kappa`` (borderline as minor), ``per_category``,
    ``category_confusion`` / ``severity_confusion`` (rows: reference, columns: other, in ``*_values``
    order) and the majority baselines (always the reference's most common value)."""
    rc, oc = _pair(ref_category, other_category)
    rs = np.array([reported_severity(s) for s in ref_severity], dtype=object)
    os_ = np.array([reported_severity(s) for s in other_severity], dtype=object)
    _pair(rc, rs)
    _pair(rs, os_)
    majority = lambda a: max(set(a.tolist()), key=a.tolist().count) if len(a) else None
    mc, ms = majority(rc), majority(rs)
    return {
        "n": int(len(rc)),
        "category_accuracy": accuracy(rc, oc), "category_kappa": cohen_kappa(rc, oc, CATEGORIES),
        "severity_accuracy": accuracy(rs, os_), "severity_kappa": cohen_kappa(rs, os_, REPORTED_SEVERITIES),
        "per_category": per_category(rc, oc, CATEGORIES),
        "category_values": list(CATEGORIES), "category_confusion": confusion_matrix(rc, oc, CATEGORIES).tolist(),
        "severity_values": list(REPORTED_SEVERITIES), "severity_confusion": confusion_matrix(rs, os_, REPORTED_SEVERITIES).tolist(),
        "baseline": {"category": mc, "category_accuracy": accuracy(rc, np.full(len(rc), mc, dtype=object)) if mc else None,
                     "severity": ms, "severity_accuracy": accuracy(rs, np.full(len(rs), ms, dtype=object)) if ms else None},
    }
