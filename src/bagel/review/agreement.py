"""Consensus of several reviewers and how much they agree (Cohen's and Fleiss' kappa).

Inputs are plain lists of current judgements (`ReviewStore.current` rows: reviewer, key, verdict,
problematic, severity, category); nothing here touches the database.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from itertools import combinations

from bagel.mistakes.agreement import cohen_kappa as _cohen
from bagel.mistakes.taxonomy import CATEGORIES, SEVERITIES, VERDICTS


def by_key(rows: list[dict]) -> dict[str, dict[str, dict]]:
    """key -> reviewer -> judgement row."""
    out: dict[str, dict[str, dict]] = defaultdict(dict)
    for r in rows:
        out[r["key"]][r["reviewer"]] = r
    return out


def _majority(values: list, order: tuple) -> object | None:
    """The value more than half of ``values`` hold, else None (ties stay open)."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    (top, n), *rest = sorted(Counter(values).items(), key=lambda kv: (-kv[1], order.index(kv[0]) if kv[0] in order else 99))
    return top if n * 2 > len(values) else None


def _plurality(values: list, order: tuple) -> object | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return sorted(Counter(values).items(), key=lambda kv: (-kv[1], order.index(kv[0]) if kv[0] in order else 99))[0][0]


def consensus(rows: list[dict], resolved: dict[str, dict] | None = None) -> dict[str, dict]:
    """Per key: ``verdict`` (a resolution's, else the strict-majority verdict, else None),
    ``status`` ('resolved', 'unanimous', 'majority' or 'open': no majority, to resolve),
    ``votes`` {reviewer: verdict}, and the severity, category (most frequent among reviewers who
    gave the consensus verdict) and problematic flag (majority) that go with it."""
    resolved = resolved or {}
    out = {}
    for key, judged in by_key(rows).items():
        votes = {name: r["verdict"] for name, r in sorted(judged.items())}
        verdict = _majority(list(votes.values()), VERDICTS)
        agree = [r for r in judged.values() if r["verdict"] == verdict]
        item = {"key": key, "votes": votes, "verdict": verdict,
                "status": "open" if verdict is None else ("unanimous" if len(set(votes.values())) == 1 else "majority"),
                "severity": _plurality([r["severity"] for r in agree], SEVERITIES),
                "category": _plurality([r["category"] for r in agree], CATEGORIES),
                "problematic": sum(bool(r["problematic"]) for r in judged.values()) * 2 > len(judged),
                "prediction": next((r["prediction"] for r in judged.values() if r.get("prediction") is not None), None)}
        res = resolved.get(key)
        if res is not None:
            item.update(status="resolved", verdict=res["verdict"], severity=res["severity"], category=res["category"],
                        problematic=bool(res["problematic"]), resolver=res.get("resolver"))
        out[key] = item
    for key, res in resolved.items():  # resolved without any vote (e.g. all votes undone)
        if key not in out:
            out[key] = {"key": key, "votes": {}, "status": "resolved", "verdict": res["verdict"], "severity": res["severity"],
                        "category": res["category"], "problematic": bool(res["problematic"]), "prediction": res.get("prediction"),
                        "resolver": res.get("resolver")}
    return out


def cohen_kappa(a: list, b: list) -> float | None:
    """Cohen's kappa of two reviewers' verdicts on the same items: the mistakes stage's definition
    (`bagel.mistakes.agreement.cohen_kappa`: 0 when chance agreement is already 1), None for no items."""
    if not a:
        return None
    k = _cohen(a, b, VERDICTS)
    return None if math.isnan(k) else k


def fleiss_kappa(items: list[list]) -> float | None:
    """Fleiss' kappa over items each rated by two or more raters (the number may vary per item:
    per-item agreement is averaged, chance agreement uses the pooled label frequencies)."""
    items = [r for r in items if len(r) >= 2]
    if not items:
        return None
    p_items, pooled, total = [], Counter(), 0
    for ratings in items:
        c = Counter(ratings)
        m = len(ratings)
        p_items.append((sum(v * v for v in c.values()) - m) / (m * (m - 1)))
        pooled.update(c)
        total += m
    pbar = sum(p_items) / len(p_items)
    pe = sum((v / total) ** 2 for v in pooled.values())
    return None if pe >= 1 else (pbar - pe) / (1 - pe)


def agreement(rows: list[dict], groups: dict[str, str] | None = None, exclude: tuple[str, ...] = ()) -> dict:
    """Inter-rater agreement on verdicts.

    groups: key -> group name (e.g. the suggested category); agreement is also given per group.
    exclude: reviewers left out (e.g. 'imported' when comparing people only).
    Returns {'overall': stats, 'by_group': {group: stats}}, stats = {items (rated by >= 2),
    fleiss, pairs: [{a, b, items, cohen}]}.
    """
    judged = {k: {n: r["verdict"] for n, r in v.items() if n not in exclude} for k, v in by_key(rows).items()}

    def stats(keys) -> dict:
        multi = [judged[k] for k in keys if len(judged[k]) >= 2]
        names = sorted({n for v in multi for n in v})
        pairs = []
        for a, b in combinations(names, 2):
            both = [v for v in multi if a in v and b in v]
            if both:
                pairs.append({"a": a, "b": b, "items": len(both), "cohen": cohen_kappa([v[a] for v in both], [v[b] for v in both])})
        return {"items": len(multi), "fleiss": fleiss_kappa([list(v.values()) for v in multi]), "pairs": pairs}

    out = {"overall": stats(list(judged)), "by_group": {}}
    if groups:
        grouped: dict[str, list[str]] = defaultdict(list)
        for k in judged:
            grouped[groups.get(k) or "(none)"].append(k)
        out["by_group"] = {g: stats(ks) for g, ks in sorted(grouped.items())}
    return out
