"""`Evidence`: everything besides the model itself that mistake suggestions read: the hierarchy
tables, the images' label lists (one or several label sources), co-occurrence statistics learned from
those lists, and other models' predictions. Built once per dataset and reused for every model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bagel import metrics
from bagel.data.dataset import Dataset
from bagel.data.labelset import CORRECT, UNCLEAR, LabelSet, codes_contain
from bagel.data.predictions import Predictions
from bagel.errors import BagelError
from bagel.mistakes.signals import HierarchyTables, confusion_rates, cooccurrence_rates, hierarchy_tables
from bagel.mistakes.suggest import Rules


@dataclass
class LabelLists:
    """Per image the accepted classes of the first label source that annotates it.

    codes: sorted int64 ``row * C + class`` (correct and unclear entries, no collapsed pairs): the
        evidence labels. accept_codes: the same plus the collapsed partners: what counts as correct.
    annotated: (N,) bool, some source annotates the image; problematic: (N,) bool, a source flags it.
    sources: names of the label sets, in priority order.
    """

    codes: np.ndarray
    accept_codes: np.ndarray
    annotated: np.ndarray
    problematic: np.ndarray
    n_classes: int
    sources: list[str]

    def accepts(self, rows: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """(len(rows),) bool: ``classes[i]`` is accepted for image ``rows[i]`` (collapsed mappings included)."""
        return codes_contain(self.accept_codes, rows, classes, self.n_classes)


def merge_label_sets(labelsets: list[LabelSet], pairs: np.ndarray) -> LabelLists:
    """Combine label sets in priority order: each image takes the lists of the first set that
    annotates it (e.g. ReaL, then the original label for the images ReaL leaves out)."""
    if not labelsets:
        raise BagelError("no label source given")
    C = labelsets[0].n_classes
    N = len(labelsets[0])
    taken = np.zeros(N, dtype=bool)
    codes, accept, problematic = [], [], np.zeros(N, dtype=bool)
    for ls in labelsets:
        if len(ls) != N or ls.n_classes != C:
            raise BagelError(f"label source {ls.name}: {len(ls)} images x {ls.n_classes} classes, expected {N} x {C}")
        use = ls.annotated & ~taken
        for out, p in ((codes, None), (accept, pairs)):
            c = ls.codes((CORRECT, UNCLEAR), p)
            out.append(c[use[c // C]])
        problematic |= ls.problematic & use
        taken |= use
    return LabelLists(np.sort(np.concatenate(codes)), np.sort(np.concatenate(accept)), taken, problematic, C,
                      [ls.name for ls in labelsets])


@dataclass
class Evidence:
    """What the signals read for one dataset. ``others``: other models' predictions (aligned to the
    image set); ``others_correct``: per other model whether its top-1 is accepted; ``cooc`` / ``confusion``:
    (C, C) rates (see `signals`); ``embeddings``: optional (N, d)."""

    dataset: Dataset
    rules: Rules
    tables: HierarchyTables
    lists: LabelLists
    cooc: np.ndarray
    others: list[Predictions]
    others_correct: list[np.ndarray]
    confusion: np.ndarray | None
    embeddings: np.ndarray | None = None

    def excluding(self, name: str) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray | None]:
        """(others' top-k, others' correctness, confusion rates) without the model called ``name``:
        a model is never evidence about its own mistakes."""
        keep = [i for i, p in enumerate(self.others) if p.name != name]
        if len(keep) == len(self.others):
            return [p.topk for p in self.others], self.others_correct, self.confusion
        topk = [self.others[i].topk for i in keep]
        conf = confusion_rates(self.dataset.imageset.labels, [t[:, 0] for t in topk], len(self.dataset.vocabulary)) if topk else None
        return topk, [self.others_correct[i] for i in keep], conf


def build_evidence(dataset: Dataset, label_sources: list[str], others: list[Predictions], rules: Rules = Rules(),
                   embeddings: np.ndarray | None = None) -> Evidence:
    """Evidence for ``dataset`` from label sources (names or paths, in priority order), other models'
    predictions and optional (N, d) image embeddings. Co-occurrence rates come from the label sources
    that list several classes per image (all of them pooled), e.g. ReaL's 50k lists."""
    pairs = metrics.collapse_pairs(dataset.collapse)
    labelsets = [dataset.labels(s) for s in label_sources]
    lists = merge_label_sets(labelsets, pairs)
    C = len(dataset.vocabulary)
    cooc = np.zeros((C, C), dtype=np.float32)
    multi = [ls for ls in labelsets if (np.diff(ls.indptr) > 1).any()]
    if multi:
        cooc = np.max(np.stack([cooccurrence_rates(ls) for ls in multi]), axis=0) if len(multi) > 1 else cooccurrence_rates(multi[0])
    N = len(dataset.imageset)
    for p in others:
        if p.topk.shape[0] != N:
            raise BagelError(f"predictions {p.name}: {p.topk.shape[0]} rows, the {dataset.imageset.split} image set has {N} images")
    if embeddings is not None and len(embeddings) != N:
        raise BagelError(f"embeddings: {len(embeddings)} rows, the {dataset.imageset.split} image set has {N} images")
    correct = [lists.accepts(np.arange(N), p.top1) for p in others]
    confusion = confusion_rates(dataset.imageset.labels, [p.top1 for p in others], C) if others else None
    return Evidence(dataset, rules, hierarchy_tables(dataset.hierarchy, rules.near_ratio), lists, cooc, list(others),
                    correct, confusion, embeddings)
