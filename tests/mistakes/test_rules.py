"""Every suggestion rule, the severity logic, label-source priority and the collapsed mappings, on
the tiny hand-built world of conftest.py (4 other models, top-3 each)."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from bagel.data.labelset import CORRECT, LabelSet
from bagel.data.predictions import Predictions
from bagel.mistakes.evidence import build_evidence, merge_label_sets
from bagel.mistakes.suggest import Rules
from bagel.mistakes.table import find_mistakes, suggest_mistakes, suggest_rows

from mistakes_world import BEAGLE, CUP, HUSKY, MUG, PICKUP, SEDAN, tiny_dataset

# image: (original label, listed labels, the model's top-1, other models' top-3)
WORLD = [
    (BEAGLE, [BEAGLE], HUSKY, [BEAGLE, HUSKY, SEDAN]),   # 0 near in the hierarchy
    (SEDAN, [SEDAN], MUG, [SEDAN, PICKUP, CUP]),         # 1 far, but sedan lists co-occur with mug
    (SEDAN, [SEDAN], CUP, [SEDAN, PICKUP, BEAGLE]),      # 2 far; others see the sedan, not a cup
    (PICKUP, [PICKUP], HUSKY, [BEAGLE, HUSKY, MUG]),     # 3 far; others see husky-like things, not the pickup
    (PICKUP, [PICKUP], MUG, [CUP, MUG, BEAGLE]),         # 4 as 3, but the vocabulary covers mugs' family
    (SEDAN, [SEDAN], CUP, [PICKUP, CUP, MUG]),           # 5 far; others see both objects
    (MUG, [MUG, CUP], CUP, [MUG, CUP, SEDAN]),           # 6 the label list already holds the prediction
    (SEDAN, [SEDAN, MUG], SEDAN, [SEDAN, MUG, CUP]),     # 7 correct (a sedan next to a mug)
]
EXPECTED = [("fine-grained", "minor", "near in the hierarchy"),
            ("fine-grained", "minor", "confusable in label statistics"),
            ("spurious", "major", "far; other models do not see the prediction"),
            ("fine-grained-oov", "major", "far; other models see the prediction, not the label"),
            ("fine-grained", "major", "far; other models see the prediction, the vocabulary covers its neighbourhood"),
            ("fine-grained", "major", "far; other models see both objects"),
            ("fine-grained", "borderline", "near in the hierarchy")]


def world(vocab, hierarchy, n_models=4):
    ds = tiny_dataset(vocab, hierarchy, [w[0] for w in WORLD])
    ds._labelsets["real"] = LabelSet.from_rows("real", len(WORLD), 6, {i: [(c, CORRECT) for c in w[1]] for i, w in enumerate(WORLD)})
    topk = np.array([w[3] for w in WORLD], dtype=np.int32)
    others = [Predictions(f"other{j}", topk.copy()) for j in range(n_models)]
    model = Predictions("model", np.array([[w[2], w[0]] for w in WORLD], dtype=np.int32))
    return ds, model, others


def test_each_rule_and_severity(vocab, hierarchy):
    ds, model, others = world(vocab, hierarchy)
    ev = build_evidence(ds, ["real"], others)
    assert ev.tables.near_depth == 2
    assert ev.cooc[SEDAN, MUG] == 0.25 and ev.cooc[SEDAN, CUP] == 0
    # The compare flow: every listed image is a mistake, even one whose list holds the prediction.
    rows = np.arange(7)
    df = suggest_rows(ev, rows, np.array([w[2] for w in WORLD[:7]])[:, None])
    assert list(zip(df["category"], df["severity"], df["reason"])) == EXPECTED
    ev0 = json.loads(df["evidence"][3])
    assert ev0["lca"] == "entity" and ev0["models"] == 4 and ev0["prediction_in_topk"] == 4 and ev0["label_seen"] == 0
    assert ev0["oov_near_prediction"] is True
    near = json.loads(df["evidence"][0])
    assert near["lca"] == "dog" and near["distance"] == 2 and near["oov_under_lca"] == 1  # dingo
    assert ((df["confidence"] >= 0.5) & (df["confidence"] <= 1)).all()
    assert df["confidence"][0] > df["confidence"][4]  # all signals agree on 0; on 4 they pull apart


def test_find_mistakes_uses_the_label_lists(vocab, hierarchy):
    ds, model, others = world(vocab, hierarchy)
    ev = build_evidence(ds, ["real"], others)
    # image 6 lists the prediction and image 7 is right: neither is a mistake.
    assert find_mistakes(model.top1, ev).tolist() == [0, 1, 2, 3, 4, 5]
    df = suggest_mistakes(model, ev)
    assert df["key"].tolist() == [f"img{i}" for i in range(6)] and df["top5"][0].tolist() == [HUSKY, BEAGLE]


def test_without_other_models_only_hierarchy_and_label_statistics_decide(vocab, hierarchy):
    ds, model, _ = world(vocab, hierarchy)
    ev = build_evidence(ds, ["real"], [])
    df = suggest_mistakes(model, ev)
    assert df["category"].tolist() == ["fine-grained"] * 6
    assert df["severity"].tolist() == ["minor", "minor", "major", "major", "major", "major"]
    assert "models" not in json.loads(df["evidence"][2])


def test_a_model_is_not_evidence_about_itself(vocab, hierarchy):
    ds, model, others = world(vocab, hierarchy)
    me = Predictions("model", model.topk)
    a = suggest_mistakes(model, build_evidence(ds, ["real"], others))
    b = suggest_mistakes(model, build_evidence(ds, ["real"], others + [me]))
    assert a.drop(columns=["evidence"]).equals(b.drop(columns=["evidence"]))


def test_non_prototypical_from_embeddings(vocab, hierarchy):
    ds, model, others = world(vocab, hierarchy)
    emb = np.array([[0, 1], [1, 0.02], [0, 1], [0, 1], [0, 1], [1, 0.1], [1, 0], [1, -0.1]], dtype=np.float32)
    df = suggest_mistakes(model, build_evidence(ds, ["real"], others, embeddings=emb))
    # image 2 (a sedan far from the sedans' centroid) becomes non-prototypical; image 1 is explained by co-occurrence.
    assert df["category"][2] == "non-prototypical" and df["reason"][2] == "far from its class centroid"
    assert df["category"][1] == "fine-grained"
    assert json.loads(df["evidence"][2])["centroid_z"] > 3


def test_non_prototypical_from_several_models(vocab, hierarchy):
    ds, model, others = world(vocab, hierarchy)
    # 36 more pickups that every other model gets right: image 4 (a pickup all of them miss) is atypical.
    labels = [w[0] for w in WORLD] + [PICKUP] * 36
    ds2 = tiny_dataset(vocab, hierarchy, labels)
    rows = {i: [(c, CORRECT) for c in w[1]] for i, w in enumerate(WORLD)} | {8 + j: [(PICKUP, CORRECT)] for j in range(36)}
    ds2._labelsets["real"] = LabelSet.from_rows("real", len(labels), 6, rows)
    topk = np.concatenate([others[0].topk, np.tile([[PICKUP, SEDAN, MUG]], (36, 1))]).astype(np.int32)
    pred = np.concatenate([model.topk, np.tile([[PICKUP, SEDAN]], (36, 1))]).astype(np.int32)
    df = suggest_mistakes(Predictions("model", pred), build_evidence(ds2, ["real"], [Predictions(f"o{j}", topk) for j in range(4)]))
    cats = dict(zip(df["row"], df["category"]))
    assert cats[3] == "non-prototypical" and cats[4] == "non-prototypical"  # pickups: class accuracy 36/38 >= 0.9
    assert cats[2] == "spurious"  # sedans: class accuracy 3/4 < 0.9


def test_label_source_priority_and_collapsed_mappings():
    first = LabelSet.from_rows("ml", 3, 4, {0: [(0, CORRECT)]})
    second = LabelSet.from_rows("real", 3, 4, {0: [(2, CORRECT)], 1: [(1, CORRECT)], 2: [(3, CORRECT)]})
    lists = merge_label_sets([first, second], np.array([[0, 1], [3, 2]]))
    assert lists.annotated.tolist() == [True, True, True] and lists.sources == ["ml", "real"]
    assert lists.codes.tolist() == [0, 4 + 1, 8 + 3]  # image 0 from the first source only
    # Collapsed pairs accept the partner of a label, one way only: (0 -> 1) and (3 -> 2).
    assert lists.accepts(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 0, 2, 3])).tolist() == [True, True, False, True, True]
    ev = SimpleNamespace(lists=lists)
    assert find_mistakes(np.array([1, 0, 2]), ev).tolist() == [1]


def test_rules_are_data():
    r = Rules()
    assert r.to_dict() == {"near_ratio": 0.6, "confusable_rate": 0.1, "label_seen": 0.25, "prediction_seen": 0.5,
                           "atypical_z": 3.0, "atypical_class_accuracy": 0.9}
    with pytest.raises(Exception):
        r.near_ratio = 0.5  # frozen: one set of thresholds per run
