"""Compare suggestions with an expert mistakes file, and check that the rules' thresholds generalise
(split-half: choose thresholds on one half of the experts' mistakes, score them on the other)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pandas as pd

from bagel.mistakes.agreement import agreement_report
from bagel.mistakes.evidence import Evidence
from bagel.mistakes.signals import compute_signals, hierarchy_tables
from bagel.mistakes.suggest import suggest
from bagel.mistakes.table import suggest_rows

# Values tried by `split_half` around each default (see `Rules` for what each threshold means).
SPLIT_HALF_GRID = {"near_ratio": (0.5, 0.55, 0.6, 0.65, 0.7), "confusable_rate": (0.02, 0.05, 0.1),
                   "label_seen": (0.125, 0.25, 0.375), "prediction_seen": (0.25, 0.5, 0.75)}


def compare_with_experts(experts: pd.DataFrame, evidence: Evidence) -> tuple[dict, pd.DataFrame]:
    """(report, suggestions): suggest for every image of an expert table (`table.read_published`; its
    ``prediction`` is the model's top-1, every row a mistake) and measure agreement (`agreement_report`)."""
    sug = suggest_rows(evidence, experts["row"].to_numpy(), experts["prediction"].to_numpy()[:, None])
    report = agreement_report(experts["category"].to_numpy(), sug["category"].to_numpy(),
                              experts["severity"].to_numpy(), sug["severity"].to_numpy())
    sug.insert(6, "expert_category", experts["category"].to_numpy())
    sug.insert(8, "expert_severity", experts["severity"].to_numpy())
    return report, sug


def _score(report: dict) -> float:
    # Kappa, not accuracy: accuracy rewards collapsing onto the majority category.
    return report["category_kappa"] + report["severity_kappa"]


def split_half(experts: pd.DataFrame, evidence: Evidence, n_splits: int = 20, seed: int = 0,
               grid: dict | None = None) -> dict:
    """Held-out agreement of thresholds chosen on half the mistakes: for each of ``n_splits`` random
    halvings, the grid point with the best category + severity kappa on one half is scored on the other
    (both ways). Returns mean and standard deviation of the held-out figures and how often each
    threshold value was chosen, next to the defaults' figures on the same held-out halves."""
    grid = grid or SPLIT_HALF_GRID
    rows = experts["row"].to_numpy()
    pred = experts["prediction"].to_numpy().astype(np.int64)
    labels = evidence.dataset.imageset.labels
    others_topk, others_correct, confusion = evidence.excluding("")
    sigs = {}
    for ratio in grid["near_ratio"]:
        tables = hierarchy_tables(evidence.dataset.hierarchy, ratio)
        sigs[ratio] = compute_signals(tables, rows, pred, labels[rows], evidence.lists.codes, evidence.cooc, confusion,
                                      others_topk, others_correct, labels, evidence.embeddings)
    names = list(grid)
    points = [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]
    # Suggestions of every grid point, computed once.
    out = []
    for p in points:
        cat, sev, _, _ = suggest(sigs[p["near_ratio"]], replace(evidence.rules, **p))
        out.append((cat, sev))
    default = {n: getattr(evidence.rules, n) for n in names}
    default_i = points.index(default) if default in points else None
    ec, es = experts["category"].to_numpy(), experts["severity"].to_numpy()
    rng = np.random.default_rng(seed)
    held, held_default, chosen = [], [], {n: {} for n in names}

    def report(i, idx):
        return agreement_report(ec[idx], out[i][0][idx], es[idx], out[i][1][idx])

    for _ in range(n_splits):
        perm = rng.permutation(len(rows))
        halves = (perm[: len(perm) // 2], perm[len(perm) // 2:])
        for fit, test in (halves, halves[::-1]):
            best = max(range(len(points)), key=lambda i: _score(report(i, fit)))
            held.append(report(best, test))
            for n in names:
                chosen[n][points[best][n]] = chosen[n].get(points[best][n], 0) + 1
            if default_i is not None:
                held_default.append(report(default_i, test))
    keys = ("category_accuracy", "category_kappa", "severity_accuracy", "severity_kappa")
    summary = lambda reps: {k: {"mean": float(np.mean([r[k] for r in reps])), "sd": float(np.std([r[k] for r in reps]))} for k in keys}
    return {"n_splits": n_splits, "halves": 2 * n_splits, "grid": {n: list(v) for n, v in grid.items()},
            "held_out_chosen": summary(held), "held_out_default": summary(held_default) if held_default else None,
            "chosen_values": {n: {str(k): v for k, v in sorted(c.items())} for n, c in chosen.items()}}


def compare_judgements_with_experts(experts: pd.DataFrame, judgements: list[dict]) -> tuple[dict, pd.DataFrame]:
    """(report, table): a reviewer's judgements (dicts with ``key``, ``verdict``, ``category``,
    ``severity``, as the review store returns them) against an expert table (`table.read_published`),
    measured like the suggestions (`agreement_report`) on the images both judged a mistake with a
    category and a severity. The report adds ``reviewed`` (expert images the reviewer judged at all)
    and ``judged_correct`` (of those, how many the reviewer called a correct prediction instead)."""
    mine = {j["key"]: j for j in judgements}
    rows = [(e, mine[e.key]) for e in experts.itertuples() if e.key in mine]
    both = [(e, j) for e, j in rows if j.get("verdict") == "wrong" and j.get("category") and j.get("severity")]
    report = agreement_report(np.array([e.category for e, _ in both], dtype=object), np.array([j["category"] for _, j in both], dtype=object),
                              np.array([e.severity for e, _ in both], dtype=object), np.array([j["severity"] for _, j in both], dtype=object))
    report.update({"reviewed": len(rows), "judged_correct": sum(j.get("verdict") == "correct" for _, j in rows)})
    table = pd.DataFrame({"key": [e.key for e, _ in rows], "expert_category": [e.category for e, _ in rows],
                          "expert_severity": [e.severity for e, _ in rows], "verdict": [j.get("verdict") for _, j in rows],
                          "category": [j.get("category") for _, j in rows], "severity": [j.get("severity") for _, j in rows]})
    return report, table
