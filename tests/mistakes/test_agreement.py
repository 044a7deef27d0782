"""Agreement functions on tiny exact labelings."""

import numpy as np
import pytest

from bagel.errors import BagelError
from bagel.mistakes.agreement import accuracy, agreement_report, cohen_kappa, confusion_matrix, per_category

V = ("a", "b")


def test_kappa_by_hand():
    ref = ["a", "a", "a", "b", "b", "a"]
    oth = ["a", "a", "b", "b", "a", "a"]
    # po = 4/6; marginals ref (4 a, 2 b), other (4 a, 2 b): pe = (16 + 4) / 36
    po, pe = 4 / 6, 20 / 36
    assert cohen_kappa(ref, oth, V) == pytest.approx((po - pe) / (1 - pe))
    assert confusion_matrix(ref, oth, V).tolist() == [[3, 1], [1, 1]]
    assert accuracy(ref, oth) == pytest.approx(4 / 6)


def test_kappa_edge_cases():
    assert cohen_kappa(["a", "a"], ["a", "a"], V) == 0.0  # chance agreement is already 1
    assert cohen_kappa(["a", "b"], ["a", "b"], V) == 1.0
    assert np.isnan(cohen_kappa([], [], V))
    assert cohen_kappa(["a", "a", "b", "b"], ["a", "a", "a", "a"], V) == 0.0  # majority baseline


def test_per_category_precision_recall():
    pc = per_category(["a", "a", "b"], ["a", "b", "b"], V)
    assert pc["a"] == {"precision": 1.0, "recall": 0.5, "support": 2, "predicted": 1}
    assert pc["b"] == {"precision": 0.5, "recall": 1.0, "support": 1, "predicted": 2}
    assert per_category(["a"], ["a"], V)["b"] == {"precision": None, "recall": None, "support": 0, "predicted": 0}


def test_report_counts_borderline_as_minor():
    rep = agreement_report(["fine-grained", "spurious", "fine-grained"], ["fine-grained", "fine-grained", "fine-grained"],
                           ["borderline", "major", "minor"], ["minor", "major", "borderline"])
    assert rep["n"] == 3 and rep["category_accuracy"] == pytest.approx(2 / 3) and rep["category_kappa"] == 0.0
    assert rep["severity_accuracy"] == 1.0 and rep["severity_kappa"] == 1.0
    assert rep["severity_confusion"] == [[1, 0], [0, 2]]
    assert rep["baseline"] == {"category": "fine-grained", "category_accuracy": pytest.approx(2 / 3), "severity": "minor",
                               "severity_accuracy": pytest.approx(2 / 3)}


def test_bad_input():
    with pytest.raises(BagelError, match="equal length"):
        accuracy(["a"], ["a", "b"])
    with pytest.raises(BagelError, match="'c' is not one of a, b"):
        confusion_matrix(["a"], ["c"], V)
