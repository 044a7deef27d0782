"""Exact signal values on the tiny hierarchy and label sets."""

import numpy as np

from bagel.data.labelset import CORRECT, UNCLEAR, WRONG, LabelSet
from bagel.mistakes.signals import (confusion_rates, cooccurrence_rates, entries_of, evidence_labels, hierarchy_tables,
                                    near_depth, oov_near_class)

from mistakes_world import BEAGLE, CUP, HUSKY, MUG, PICKUP, SEDAN


def test_near_depth_scales_with_the_hierarchy():
    assert near_depth(np.array([11] * 5), 0.6) == 7  # ImageNet: median class depth 11
    assert near_depth(np.array([3, 3, 3]), 0.6) == 2  # the tiny/demo hierarchy: siblings
    assert near_depth(np.array([1]), 0.1) == 1  # never the root


def test_hierarchy_tables(hierarchy):
    t = hierarchy_tables(hierarchy, 0.6)
    assert t.near_depth == 2
    assert t.lca_depth[BEAGLE, HUSKY] == 2 and t.lca_size[BEAGLE, HUSKY] == 2 and t.distance[BEAGLE, HUSKY] == 2
    assert t.lca_depth[SEDAN, MUG] == 1 and t.lca_size[SEDAN, MUG] == 4 and t.distance[SEDAN, MUG] == 4
    assert t.lca_depth[BEAGLE, MUG] == 0 and t.distance[BEAGLE, MUG] == 6
    assert t.near(np.array([BEAGLE, SEDAN]), np.array([HUSKY, MUG])).tolist() == [True, False]
    # Only the dog family leaves an out-of-vocabulary synset (dingo) beside its classes.
    assert oov_near_class(hierarchy, np.arange(6)).tolist() == [True, True, False, False, False, False]


def test_cooccurrence_rates_count_pairs_within_lists():
    ls = LabelSet.from_rows("r", 4, 6, {0: [(SEDAN, CORRECT), (MUG, CORRECT)], 1: [(SEDAN, CORRECT)],
                                        2: [(MUG, CORRECT), (CUP, UNCLEAR)], 3: [(BEAGLE, CORRECT), (HUSKY, WRONG)]})
    r = cooccurrence_rates(ls)
    assert r[SEDAN, MUG] == 0.5 and r[MUG, SEDAN] == 0.5 and r[MUG, CUP] == 0.5 and r[CUP, MUG] == 1.0
    assert r[SEDAN, SEDAN] == 1.0 and r[BEAGLE, HUSKY] == 0.0  # wrong labels do not co-occur
    assert r[PICKUP].sum() == 0


def test_confusion_rates_pool_models():
    labels = np.array([SEDAN, SEDAN, MUG, -1])
    m1 = np.array([PICKUP, SEDAN, CUP, BEAGLE])
    m2 = np.array([PICKUP, PICKUP, MUG, BEAGLE])
    r = confusion_rates(labels, [m1, m2], 6)
    assert r[SEDAN, PICKUP] == 0.75 and r[SEDAN, SEDAN] == 0.25 and r[MUG, CUP] == 0.5
    assert r[:, BEAGLE].sum() == 0  # unknown labels are not counted


def test_evidence_labels_drop_the_prediction_and_fall_back_to_the_original():
    ls = LabelSet.from_rows("r", 3, 6, {0: [(SEDAN, CORRECT), (PICKUP, CORRECT)], 1: [(MUG, CORRECT)]})
    codes = ls.codes()
    assert [x.tolist() for x in entries_of(codes, np.array([1, 0, 2]), 6)] == [[0, 1, 1], [MUG, SEDAN, PICKUP]]
    owner, cls, accepted = evidence_labels(codes, np.array([0, 1, 2]), np.array([PICKUP, CUP, BEAGLE]), np.array([SEDAN, MUG, HUSKY]), 6)
    # image 0 lists the prediction (accepted, borderline); image 2 has no list: its original label stands in.
    assert owner.tolist() == [0, 1, 2] and cls.tolist() == [SEDAN, MUG, HUSKY]
    assert accepted.tolist() == [True, False, False]
