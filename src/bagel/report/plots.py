"""Plots of the report (matplotlib, Agg), returned as PNG bytes to embed in one HTML file."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bagel.mistakes.taxonomy import CATEGORIES, CATEGORY_TITLES  # noqa: E402

METRICS = [("top1", "Top-1"), ("real", "ReaL"), ("mla", "MLA")]
CATEGORY_COLOURS = {"fine-grained": "#4C72B0", "fine-grained-oov": "#64B5CD", "spurious": "#DD8452", "non-prototypical": "#8172B3"}


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def leaderboard_plot(models: list[dict]) -> bytes:
    """Grouped bars: per model Top-1, ReaL and MLA (those available) with bootstrap 95 % intervals."""
    metrics = [(k, t) for k, t in METRICS if any(m.get(k) is not None for m in models)]
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(models) + 2), 3.4))
    width = 0.8 / max(1, len(metrics))
    x = np.arange(len(models))
    for j, (key, title) in enumerate(metrics):
        vals = np.array([m.get(key) or np.nan for m in models], dtype=float)
        ci = [m.get("ci95", {}).get(key) for m in models]
        err = np.array([[v - c[0], c[1] - v] if c else [0, 0] for v, c in zip(vals, ci)]).T
        ax.bar(x + (j - (len(metrics) - 1) / 2) * width, vals, width, yerr=err, capsize=2, label=title)
    ax.set_xticks(x, [m["name"] for m in models], rotation=20, ha="right")
    finite = [m.get(k) for m in models for k, _ in metrics if m.get(k) is not None]
    ax.set_ylim(max(0, min(finite) - 10) if finite else 0, 100)
    ax.set_ylabel("accuracy (%)")
    ax.legend(ncol=len(metrics), fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def categories_plot(counts: dict[str, dict[tuple[str, str], int]]) -> bytes:
    """Per model, stacked bars of mistakes by category; the hatched part of each is major."""
    models = list(counts)
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(models) + 2.5), 3.4))
    bottom = np.zeros(len(models))
    for cat in CATEGORIES:
        for sev, hatch in (("major", "///"), ("minor", None)):
            vals = np.array([counts[m].get((cat, sev), 0) for m in models], dtype=float)
            ax.bar(models, vals, bottom=bottom, color=CATEGORY_COLOURS[cat], hatch=hatch, edgecolor="white",
                   label=CATEGORY_TITLES[cat] if sev == "minor" else None)
            bottom += vals
    ax.set_ylabel("mistakes")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1), title="hatched = major", title_fontsize=8)
    ax.tick_params(axis="x", rotation=20)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)
