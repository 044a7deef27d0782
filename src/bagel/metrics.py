"""Metrics beyond top-1: top-k, ReaL, multi-label accuracy (MLA), ImageNet-M, the paper's collapsed
class mappings, per-superclass breakdowns and bootstrap confidence intervals.

Pure functions over numpy arrays; no per-image Python loops.
"""

from __future__ import annotations

import numpy as np

from bagel.data.labelset import CORRECT, UNCLEAR, LabelSet

# The paper's collapsed mappings (supplementary C): for an image labelled with the left class, a
# prediction of the right class also counts as correct. Bidirectional pairs appear both ways.
COLLAPSED_MAPPINGS: tuple[tuple[int, int], ...] = (
    (250, 248), (249, 248),                 # siberian husky, malamute -> eskimo dog
    (836, 837), (837, 836),                 # sunglass <-> sunglasses
    (385, 101), (386, 101),                 # indian, african elephant -> tusker
    (504, 968),                             # coffee mug -> cup
    (638, 639), (639, 638),                 # maillot <-> maillot, tank suit
    (657, 744), (744, 657),                 # missile <-> projectile
    (620, 681), (681, 620),                 # notebook <-> laptop
    (664, 782), (782, 664),                 # monitor <-> screen
    (482, 848),                             # cassette player -> tape player
    *((a, b) for a in (356, 357, 358, 359) for b in (356, 357, 358, 359) if a != b),  # weasel family
    (435, 876),                             # bathtub -> tub
)


def collapse_pairs(enabled: bool = True) -> np.ndarray:
    """(P, 2) int64 array of (label, also-accepted prediction) pairs; empty when not enabled."""
    return np.array(COLLAPSED_MAPPINGS, dtype=np.int64) if enabled else np.zeros((0, 2), dtype=np.int64)


def accept_matrix(n_classes: int, pairs: np.ndarray) -> np.ndarray:
    """(C, C) bool: accept[label, prediction] is True on the diagonal and for collapsed pairs."""
    m = np.eye(n_classes, dtype=bool)
    if len(pairs):
        m[pairs[:, 0], pairs[:, 1]] = True
    return m


def topk_correct(topk: np.ndarray, labels: np.ndarray, k: int, accept: np.ndarray | None = None) -> np.ndarray:
    """(N,) bool: whether the label is among the first ``k`` predictions.

    topk: (N, >=k) int ranked predictions; labels: (N,) int (-1 = unknown, never correct);
    accept: optional (C, C) bool from `accept_matrix` (collapsed mappings).
    """
    preds = topk[:, :k]
    lab = labels[:, None]
    if accept is None:
        hit = preds == lab
    else:
        hit = accept[np.maximum(lab, 0), preds] & (lab >= 0)
    return hit.any(axis=1)


def set_correct(top1: np.ndarray, labelset: LabelSet, pairs: np.ndarray | None = None,
                statuses=(CORRECT, UNCLEAR)) -> np.ndarray:
    """(N,) bool: top-1 is an accepted label of its image (False for unannotated images)."""
    codes = labelset.codes(statuses, pairs)
    return labelset.contains(np.arange(len(labelset)), top1, codes) & labelset.annotated


def real_accuracy(top1: np.ndarray, real: LabelSet, pairs: np.ndarray | None = None) -> tuple[float, int]:
    """(accuracy in [0, 1], number of images counted): mean over images with a non-empty ReaL list."""
    mask = real.annotated
    ok = set_correct(top1, real, pairs, statuses=(CORRECT,))
    n = int(mask.sum())
    return (float(ok[mask].mean()) if n else float("nan")), n


def mla_per_class(top1: np.ndarray, ml: LabelSet, labels: np.ndarray, n_classes: int,
                  pairs: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(hits, counts): (C,) per original class, correct top-1 predictions (correct ∪ unclear) and
    the number of annotated, non-problematic images."""
    mask = ml.annotated & ~ml.problematic & (labels >= 0)
    ok = set_correct(top1, ml, pairs)
    counts = np.bincount(labels[mask], minlength=n_classes)
    hits = np.bincount(labels[mask], weights=ok[mask], minlength=n_classes)
    return hits, counts


def mla(top1: np.ndarray, ml: LabelSet, labels: np.ndarray, n_classes: int, pairs: np.ndarray | None = None) -> tuple[float, int]:
    """(MLA in [0, 1], number of classes averaged): the mean over classes of per-class accuracy on
    non-problematic annotated images; a class without such images is left out of the mean."""
    hits, counts = mla_per_class(top1, ml, labels, n_classes, pairs)
    have = counts > 0
    return (float((hits[have] / counts[have]).mean()) if have.any() else float("nan")), int(have.sum())


def imagenet_m(top1: np.ndarray, ml: LabelSet, pairs: np.ndarray | None = None) -> tuple[int, int]:
    """(correct, size): ImageNet-M images whose top-1 is in correct ∪ unclear, out of its size (68)."""
    ok = set_correct(top1, ml, pairs)
    return int(ok[ml.imagenet_m].sum()), int(ml.imagenet_m.sum())


# ---- bootstrap --------------------------------------------------------------------------------
def bootstrap_mean_ci(hits: np.ndarray, counts: np.ndarray, n_resamples: int, rng: np.random.Generator,
                      per_stratum_mean: bool = False, level: float = 0.95) -> tuple[float, float]:
    """Percentile CI of a mean of 0/1 outcomes under resampling with replacement, in closed form.

    Resampling n outcomes of which h are 1 draws Binomial(n, h/n) ones, so each resample costs one
    binomial draw instead of n index draws (the same distribution, without the (B, N) index array).
    hits, counts: (S,) per stratum (one stratum = plain bootstrap). per_stratum_mean: the statistic
    is the mean over strata of per-stratum means (MLA, with classes as strata); else the pooled mean.
    """
    hits = np.asarray(hits, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.int64)
    keep = counts > 0
    hits, counts = hits[keep], counts[keep]
    if not len(counts):
        return float("nan"), float("nan")
    draws = rng.binomial(counts[None, :], (hits / counts)[None, :], size=(n_resamples, len(counts)))
    stat = (draws / counts).mean(1) if per_stratum_mean else draws.sum(1) / counts.sum()
    a = (1 - level) / 2
    lo, hi = np.quantile(stat, [a, 1 - a])
    return float(lo), float(hi)
