"""Per-mistake signals that the suggestion rules read: hierarchy closeness, label statistics
(co-occurrence in multi-label lists, other models' confusion rates) and several-model evidence.

Everything here is general: computed from the hierarchy, the label set and prediction arrays, never
from per-image or per-class lists. All functions are vectorized over mistakes (no Python loop over
them); the (C, C) tables are built once per dataset.

Conventions: N images, C classes, M mistakes, m other models. A mistake's *evidence labels* are the
classes its image is known to show other than the prediction (`evidence_labels`), stored flat as
``(owner, cls)`` entries, ``owner`` being the mistake index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from bagel.data.hierarchy import Hierarchy
from bagel.data.labelset import CORRECT, UNCLEAR, LabelSet


# ---- hierarchy tables --------------------------------------------------------------------------
@dataclass
class HierarchyTables:
    """(C, C) tables over class pairs: ``distance`` (int16 path length, -1 unrelated), ``lca``
    (int32 index into ``nodes``), ``lca_depth`` (int16, -1 unrelated) and ``lca_size`` (int32 number
    of classes under the LCA); ``near_depth``: the depth an LCA must reach for its two classes to count
    as a fine-grained pair (see `near_depth`)."""

    hierarchy: Hierarchy
    distance: np.ndarray
    lca: np.ndarray
    lca_depth: np.ndarray
    lca_size: np.ndarray
    nodes: list[str]
    near_depth: int

    def near(self, a, b) -> np.ndarray:
        """Bool: classes ``a`` and ``b`` (broadcast) share an ancestor at depth >= ``near_depth``."""
        return self.lca_depth[a, b] >= self.near_depth


def near_depth(class_depths: np.ndarray, ratio: float) -> int:
    """The LCA depth from which two classes form a fine-grained pair: ``ceil(ratio * median class depth)``,
    at least 1 (so the root never makes a pair near).

    Why depth, not distance: WordNet's top levels are abstract ontology (entity, physical entity,
    object, whole, artifact, instrumentality, device, organism, animal) shared by unrelated classes,
    and the depth of those levels scales with how deep the classes sit; a fraction of the median class
    depth carries over to small hierarchies (the demo's classes sit at depth 3: siblings are near)."""
    med = float(np.median(class_depths)) if len(class_depths) else 1.0
    return max(1, int(math.ceil(ratio * med - 1e-9)))


def hierarchy_tables(hierarchy: Hierarchy, ratio: float) -> HierarchyTables:
    """Build the (C, C) tables of `HierarchyTables` from a hierarchy's ``pair_tables``."""
    dist, lca = hierarchy.pair_tables
    nodes = hierarchy.lca_nodes
    node_depth = np.array([hierarchy.depth(n) for n in nodes] + [-1], dtype=np.int16)
    sizes = hierarchy.subtree_class_counts
    node_size = np.array([sizes.get(n, 0) for n in nodes] + [0], dtype=np.int32)
    # lca == -1 (no common ancestor) indexes the trailing sentinel.
    return HierarchyTables(hierarchy, dist, lca, node_depth[lca], node_size[lca], nodes,
                           near_depth(hierarchy.class_depths, ratio))


@lru_cache(maxsize=65536)
def _oov_count(hierarchy: Hierarchy, node: str) -> int:
    return len(hierarchy.oov_under(node))


def oov_counts(tables: HierarchyTables, lca_index: np.ndarray, near: np.ndarray) -> np.ndarray:
    """(M,) int: out-of-vocabulary synsets under each mistake's LCA, -1 where the pair is not near
    (under a top-level LCA the count says nothing about what the object might be). One hierarchy walk
    per distinct LCA, cached."""
    out = np.full(len(lca_index), -1, dtype=np.int64)
    ok = near & (lca_index >= 0)
    for k in np.unique(lca_index[ok]):
        out[ok & (lca_index == k)] = _oov_count(tables.hierarchy, tables.nodes[k])
    return out


@lru_cache(maxsize=65536)
def _has_oov_sibling(hierarchy: Hierarchy, synset: str) -> bool:
    """Whether some parent of ``synset`` has an out-of-vocabulary synset below it (early exit)."""
    for p in hierarchy.parents.get(synset, ()):
        stack = [p]
        seen = set()
        while stack:
            for c in hierarchy.children.get(stack.pop(), ()):
                if c in seen:
                    continue
                if not hierarchy.is_class(c):
                    return True
                seen.add(c)
                stack.append(c)
    return False


def oov_near_class(hierarchy: Hierarchy, classes: np.ndarray) -> np.ndarray:
    """(len(classes),) bool: the vocabulary does not cover the neighbourhood of each class (a parent of
    it has out-of-vocabulary synsets below), so an object that looks like it may be outside the
    vocabulary. One walk per distinct class, cached."""
    classes = np.asarray(classes)
    out = np.zeros(len(classes), dtype=bool)
    for c in np.unique(classes):
        out[classes == c] = _has_oov_sibling(hierarchy, hierarchy.vocabulary.ids[int(c)])
    return out


# ---- label statistics ---------------------------------------------------------------------------
def ragged_offsets(lengths: np.ndarray) -> np.ndarray:
    """(sum(lengths),) int64: 0..lengths[0]-1, 0..lengths[1]-1, ...: the position of each element
    inside its group, for expanding ragged groups without a Python loop."""
    lengths = np.asarray(lengths, dtype=np.int64)
    return np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)

def cooccurrence_rates(labelset: LabelSet, statuses=(CORRECT, UNCLEAR)) -> np.ndarray:
    """(C, C) float32: ``rate[a, b]`` = share of the images listing class ``a`` that also list ``b``
    (diagonal 1 where ``a`` occurs, rows of absent classes 0). Learned from the label set's lists,
    e.g. ReaL's 50k lists; a single-label set gives the identity on occurring classes.

    All pairs within a row come from one repeat/offset expansion (sum of squared row lengths entries),
    counted with one bincount."""
    C = labelset.n_classes
    keep = np.isin(labelset.status, np.asarray(statuses, dtype=np.int8))
    rows = np.repeat(np.arange(len(labelset), dtype=np.int64), np.diff(labelset.indptr))[keep]
    cls = labelset.classes[keep].astype(np.int64)
    if not len(cls):
        return np.zeros((C, C), dtype=np.float32)
    starts = np.searchsorted(rows, rows, side="left")
    lengths = np.searchsorted(rows, rows, side="right") - starts
    a = np.repeat(np.arange(len(cls)), lengths)
    b = np.repeat(starts, lengths) + ragged_offsets(lengths)
    counts = np.bincount(cls[a] * C + cls[b], minlength=C * C).reshape(C, C).astype(np.float64)
    n = np.diag(counts).copy()
    rates = counts / np.maximum(n, 1)[:, None]
    return rates.astype(np.float32)


def confusion_rates(labels: np.ndarray, top1s: list[np.ndarray], n_classes: int) -> np.ndarray:
    """(C, C) float32: ``rate[a, b]`` = share of (image labelled ``a``, model) pairs where the model's
    top-1 is ``b``, over the given models (zeros without models). A class pair that several models
    confuse often is one the images make hard to tell apart."""
    C = n_classes
    known = labels >= 0
    counts = np.zeros(C * C, dtype=np.int64)
    for t in top1s:
        counts += np.bincount(labels[known].astype(np.int64) * C + t[known], minlength=C * C)
    per_class = np.bincount(labels[known], minlength=C).astype(np.float64) * max(len(top1s), 1)
    return (counts.reshape(C, C) / np.maximum(per_class, 1)[:, None]).astype(np.float32)


# ---- evidence labels ----------------------------------------------------------------------------
def entries_of(codes: np.ndarray, rows: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(owner, cls): the classes of sorted ``row * C + class`` codes for each of ``rows`` (owner =
    position in ``rows``), gathered with two binary searches and one ragged expansion."""
    rows = np.asarray(rows, dtype=np.int64)
    lo = np.searchsorted(codes, rows * n_classes)
    hi = np.searchsorted(codes, (rows + 1) * n_classes)
    lengths = hi - lo
    owner = np.repeat(np.arange(len(rows)), lengths)
    idx = np.repeat(lo, lengths) + ragged_offsets(lengths)
    return owner, (codes[idx] - rows[owner] * n_classes).astype(np.int64)


def evidence_labels(codes: np.ndarray, rows: np.ndarray, prediction: np.ndarray, original: np.ndarray,
                    n_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(owner, cls, accepted): each mistake's evidence labels = its image's listed classes (``codes``,
    from `LabelSet.codes`) minus the prediction, or the original label where that leaves nothing;
    ``accepted`` (M,) bool says whether the list already held the prediction (the label source
    accepts it: a borderline call)."""
    owner, cls = entries_of(codes, rows, n_classes)
    is_pred = cls == prediction[owner]
    accepted = np.zeros(len(rows), dtype=bool)
    accepted[owner[is_pred]] = True
    owner, cls = owner[~is_pred], cls[~is_pred]
    empty = np.bincount(owner, minlength=len(rows)) == 0
    fill = np.flatnonzero(empty & (original >= 0))
    owner = np.concatenate([owner, fill])
    cls = np.concatenate([cls, original[fill].astype(np.int64)])
    order = np.argsort(owner, kind="stable")
    return owner[order], cls[order], accepted


def group_max(owner: np.ndarray, values: np.ndarray, n: int, fill=0) -> np.ndarray:
    """(n,) maximum of ``values`` per owner (``fill`` where an owner has none)."""
    out = np.full(n, fill, dtype=np.result_type(values, type(fill)))
    np.maximum.at(out, owner, values)
    return out


# ---- the signals of every mistake ---------------------------------------------------------------
@dataclass
class MistakeSignals:
    """Signals of M mistakes (arrays of length M unless said otherwise).

    closest:      evidence label closest to the prediction in the hierarchy (-1 if none).
    distance, lca, lca_depth, lca_size: of (closest, prediction); lca indexes ``tables.nodes``.
    near:         the pair shares an ancestor at depth >= near_depth.
    oov_under_lca: OOV synsets under the LCA (-1 where not near).
    oov_near_prediction: the prediction's parents have OOV synsets below.
    accepted:     the image's label list already holds the prediction.
    cooccurrence: max over evidence labels t of share of images listing t that also list the prediction.
    confusion:    max over evidence labels t of other models' rate of predicting the prediction on t's images.
    n_models:     number of other models (m).
    models_wrong, models_same, prediction_seen, label_seen: fractions of the other models whose top-1
                  is wrong / equals the prediction / whose top-k holds the prediction / whose top-1 is
                  near some evidence label (NaN when m = 0).
    class_accuracy: other models' accuracy on images of the original label (NaN when m = 0).
    atypicality:  class_accuracy - image accuracy (high: the class is easy but this image is not).
    centroid_z:   embedding distance to the original label's centroid, in robust z-scores (NaN without embeddings).
    """

    closest: np.ndarray
    distance: np.ndarray
    lca: np.ndarray
    lca_depth: np.ndarray
    lca_size: np.ndarray
    near: np.ndarray
    oov_under_lca: np.ndarray
    oov_near_prediction: np.ndarray
    accepted: np.ndarray
    cooccurrence: np.ndarray
    confusion: np.ndarray
    n_models: int
    models_wrong: np.ndarray
    models_same: np.ndarray
    prediction_seen: np.ndarray
    label_seen: np.ndarray
    class_accuracy: np.ndarray
    atypicality: np.ndarray
    centroid_z: np.ndarray
    evidence: tuple = field(default=(), repr=False)  # (owner, cls) of the evidence labels

    def __len__(self) -> int:
        return len(self.closest)


def closest_labels(tables: HierarchyTables, owner: np.ndarray, cls: np.ndarray, prediction: np.ndarray, n: int) -> np.ndarray:
    """(n,) int64: per mistake the evidence label closest to its prediction (shortest path; ties go to
    the deeper LCA, then the smaller class index); -1 for a mistake without evidence labels."""
    out = np.full(n, -1, dtype=np.int64)
    if not len(owner):
        return out
    d = tables.distance[cls, prediction[owner]].astype(np.int64)
    d = np.where(d < 0, np.iinfo(np.int16).max, d)  # unrelated pairs come last
    depth = tables.lca_depth[cls, prediction[owner]].astype(np.int64)
    order = np.lexsort((cls, -depth, d, owner))
    first = np.ones(len(order), dtype=bool)
    first[1:] = owner[order][1:] != owner[order][:-1]
    out[owner[order][first]] = cls[order][first]
    return out


def model_signals(rows: np.ndarray, prediction: np.ndarray, owner: np.ndarray, cls: np.ndarray,
                  others_topk: list[np.ndarray], others_correct: list[np.ndarray], labels: np.ndarray,
                  tables: HierarchyTables, n_classes: int) -> dict[str, np.ndarray]:
    """Several-model signals (fractions of the other models, NaN without any).

    others_topk: per other model (N, k) int ranked predictions; others_correct: per other model (N,)
    bool whether its top-1 is accepted for the image; labels: (N,) original labels."""
    M, m = len(rows), len(others_topk)
    nan = np.full(M, np.nan)
    if m == 0:
        return {k: nan.copy() for k in ("models_wrong", "models_same", "prediction_seen", "label_seen", "class_accuracy", "atypicality")}
    wrong = same = seen = label_seen = np.zeros(M)
    class_acc = np.zeros(M)
    known = labels >= 0
    lab = np.maximum(labels[rows], 0)
    for topk, ok in zip(others_topk, others_correct):
        top1 = topk[rows, 0]
        wrong = wrong + ~ok[rows]
        same = same + (top1 == prediction)
        seen = seen + (topk[rows] == prediction[:, None]).any(1)
        # Near any evidence label: does this model see the labelled object (or a sibling of it)?
        hit = tables.near(cls, top1[owner]) | (cls == top1[owner])
        label_seen = label_seen + (np.bincount(owner[hit], minlength=M) > 0)
        acc = np.bincount(labels[known], weights=ok[known], minlength=n_classes) / np.maximum(np.bincount(labels[known], minlength=n_classes), 1)
        class_acc = class_acc + acc[lab]
    out = {"models_wrong": wrong / m, "models_same": same / m, "prediction_seen": seen / m,
           "label_seen": label_seen / m, "class_accuracy": class_acc / m}
    out["atypicality"] = out["class_accuracy"] - (1 - out["models_wrong"])
    return out


def centroid_zscores(embeddings: np.ndarray, labels: np.ndarray, rows: np.ndarray, n_classes: int) -> np.ndarray:
    """(M,) robust z-score of each mistake image's cosine distance to its original label's centroid,
    relative to that class's images (median / 1.4826 MAD per class). NaN for unknown labels."""
    X = np.asarray(embeddings, dtype=np.float32)
    X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    known = (labels >= 0) & np.isfinite(X).all(1)  # unreadable images (NaN rows) say nothing
    cent = np.zeros((n_classes, X.shape[1]), dtype=np.float64)
    np.add.at(cent, labels[known], X[known])
    cent /= np.maximum(np.linalg.norm(cent, axis=1, keepdims=True), 1e-12)
    d = np.full(len(X), np.nan)
    d[known] = 1 - (X[known] * cent[labels[known]]).sum(1)
    z = np.full(len(rows), np.nan)
    order = np.argsort(labels[known], kind="stable")
    lab_sorted, d_sorted = labels[known][order], d[known][order]
    bounds = np.searchsorted(lab_sorted, np.arange(n_classes + 1))
    med = np.full(n_classes, np.nan)
    mad = np.full(n_classes, np.nan)
    for c in np.unique(labels[rows][known[rows]]):  # one median per class that has a mistake
        v = d_sorted[bounds[c]:bounds[c + 1]]
        med[c] = np.median(v)
        mad[c] = 1.4826 * np.median(np.abs(v - med[c]))
    lab = np.where(known[rows], labels[rows], -1)
    ok = lab >= 0
    z[ok] = (d[rows][ok] - med[lab[ok]]) / np.maximum(mad[lab[ok]], 1e-6)
    return z


def compute_signals(tables: HierarchyTables, rows: np.ndarray, prediction: np.ndarray, original: np.ndarray,
                    codes: np.ndarray, cooc: np.ndarray | None, confusion: np.ndarray | None,
                    others_topk: list[np.ndarray], others_correct: list[np.ndarray], labels: np.ndarray,
                    embeddings: np.ndarray | None = None) -> MistakeSignals:
    """All signals of M mistakes.

    rows: (M,) image rows; prediction: (M,) top-1; original: (M,) original labels; codes: sorted
    ``row * C + class`` codes of the label lists (`LabelSet.codes`, no collapsed pairs); cooc, confusion:
    (C, C) rates or None; others_*: see `model_signals`; labels: (N,) original labels of all images;
    embeddings: optional (N, d) image embeddings."""
    C = tables.distance.shape[0]
    rows = np.asarray(rows, dtype=np.int64)
    prediction = np.asarray(prediction, dtype=np.int64)
    original = np.asarray(original, dtype=np.int64)
    M = len(rows)
    owner, cls, accepted = evidence_labels(codes, rows, prediction, original, C)
    closest = closest_labels(tables, owner, cls, prediction, M)
    has = closest >= 0
    c0 = np.maximum(closest, 0)
    distance = np.where(has, tables.distance[c0, prediction], -1)
    lca = np.where(has, tables.lca[c0, prediction], -1)
    lca_depth = np.where(has, tables.lca_depth[c0, prediction], -1)
    lca_size = np.where(has, tables.lca_size[c0, prediction], 0)
    near = has & (lca_depth >= tables.near_depth)
    pe = prediction[owner]
    co = group_max(owner, cooc[cls, pe].astype(np.float64), M, 0.0) if cooc is not None else np.zeros(M)
    cf = group_max(owner, confusion[cls, pe].astype(np.float64), M, 0.0) if confusion is not None else np.zeros(M)
    ms = model_signals(rows, prediction, owner, cls, others_topk, others_correct, labels, tables, C)
    cz = centroid_zscores(embeddings, labels, rows, C) if embeddings is not None else np.full(M, np.nan)
    return MistakeSignals(closest, distance, lca, lca_depth, lca_size, near, oov_counts(tables, lca, near),
                          oov_near_class(tables.hierarchy, prediction), accepted, co, cf, len(others_topk),
                          ms["models_wrong"], ms["models_same"], ms["prediction_seen"], ms["label_seen"],
                          ms["class_accuracy"], ms["atypicality"], cz, (owner, cls))
