"""Class confusions: unordered (original label, top-1) pairs counted over one or many models'
mistakes, in the published formats (``[[wnid_a, wnid_b, n], ...]`` with wnid_a < wnid_b, and the same
with first synset names), plus a heatmap of the confusions within each superclass."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bagel.data.vocabulary import Vocabulary, load_json
from bagel.errors import BagelError


def confusion_pairs(labels: np.ndarray, predictions: np.ndarray, vocabulary: Vocabulary) -> list[tuple[int, int, int]]:
    """``[(a, b, n), ...]`` class-index pairs, one unordered pair per mistake (label, prediction), with
    ``ids[a] < ids[b]``, sorted by count descending, then by the two class ids. Mistakes whose label
    equals the prediction or is unknown (-1) are skipped."""
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    ok = (labels >= 0) & (labels != predictions)
    labels, predictions = labels[ok], predictions[ok]
    C = len(vocabulary)
    # Rank of each class id in sorted order, so "a < b" compares ids even if indices are not sorted by id.
    rank = np.empty(C, dtype=np.int64)
    rank[np.argsort(np.array(vocabulary.ids, dtype=object))] = np.arange(C)
    swap = rank[labels] > rank[predictions]
    a = np.where(swap, predictions, labels)
    b = np.where(swap, labels, predictions)
    codes, counts = np.unique(a * C + b, return_counts=True)
    a, b = codes // C, codes % C
    order = np.lexsort((rank[b], rank[a], -counts))
    return [(int(a[i]), int(b[i]), int(counts[i])) for i in order]


def to_published(pairs: list[tuple[int, int, int]], vocabulary: Vocabulary, names: bool = False) -> list[list]:
    """The published format: ``[[wnid_a, wnid_b, n], ...]`` or, with ``names``, first synset names."""
    label = vocabulary.name if names else (lambda c: vocabulary.ids[c])
    return [[label(a), label(b), n] for a, b, n in pairs]


def write_published(pairs, vocabulary: Vocabulary, path, names: bool = False) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_published(pairs, vocabulary, names), indent=2) + "\n")
    return path


def read_published(path, vocabulary: Vocabulary) -> list[tuple[int, int, int]]:
    """Pairs from a published wnid file (``[[wnid_a, wnid_b, n], ...]``); unknown wnids, a count that is
    not a positive integer or a malformed entry are errors. Order is kept."""
    path = Path(path)
    data = load_json(path)
    if not isinstance(data, list):
        raise BagelError(f"{path}: expected a JSON list of [wnid_a, wnid_b, count] triples")
    out = []
    for i, e in enumerate(data):
        if not (isinstance(e, list) and len(e) == 3 and isinstance(e[2], int) and e[2] > 0):
            raise BagelError(f"{path}: entry {i} should be [wnid_a, wnid_b, positive count], found {e!r:.80}")
        out.append((vocabulary.index_of(e[0], source=f"{path} entry {i}"), vocabulary.index_of(e[1], source=f"{path} entry {i}"), e[2]))
    return out


def pair_matrix(pairs, n_classes: int) -> np.ndarray:
    """(C, C) symmetric int64 counts of the pairs."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    for a, b, n in pairs:
        m[a, b] += n
        m[b, a] += n
    return m


def plot_heatmaps(pairs, vocabulary: Vocabulary, group_masks: dict[str, np.ndarray], path, top: int = 20) -> Path:
    """A PNG with one heatmap per superclass group: confusions between classes both inside the group,
    over the ``top`` classes of the group involved in most of them. Groups without confusions are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = pair_matrix(pairs, len(vocabulary))
    panels = []
    for g, mask in group_masks.items():
        sub = m * mask[:, None] * mask[None, :]
        involved = sub.sum(1)
        if involved.sum() == 0:
            continue
        cls = np.argsort(-involved, kind="stable")[: min(top, int((involved > 0).sum()))]
        cls = np.sort(cls)
        panels.append((g, cls, sub[np.ix_(cls, cls)]))
    n = max(len(panels), 1)
    fig, axes = plt.subplots(1, n, figsize=(6 * n, 5.5), squeeze=False)
    for ax, (g, cls, block) in zip(axes[0], panels):
        im = ax.imshow(block, cmap="viridis")
        names = [vocabulary.name(c)[:18] for c in cls]
        ax.set_xticks(range(len(cls)), names, rotation=90, fontsize=7)
        ax.set_yticks(range(len(cls)), names, fontsize=7)
        ax.set_title(f"{g}: {int(block.sum()) // 2} confusions")
        fig.colorbar(im, ax=ax, fraction=0.046)
    if not panels:
        axes[0][0].set_axis_off()
        axes[0][0].set_title("no confusions within a superclass")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
