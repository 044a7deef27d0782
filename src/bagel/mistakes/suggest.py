"""Suggest a category and severity for each mistake from its signals (`signals.py`).

The rules, in the order they apply (thresholds in `Rules`, each justified there):

1. fine-grained: the prediction and an evidence label are near in the hierarchy (their LCA is deep),
   or label statistics already treat the pair as confusable: the image's own list holds the
   prediction, the two classes co-occur in other images' lists, or other models often confuse them.
2. Otherwise the pair is far apart and unexplained; what other models see on the image decides:
   - they see the labelled object (some top-1 near an evidence label) and the prediction too
     (it is in their top-k): both objects are there, a fine-grained call between two of them;
   - they see the prediction but not the labelled object: the object looks like the prediction
     but is neither it nor the label: fine-grained with an out-of-vocabulary object (when the
     vocabulary leaves the prediction's neighbourhood uncovered);
   - they do not see the prediction: it came from context, a spurious correlation.
3. non-prototypical: the image is far from its class centroid in embedding space (with embeddings),
   or every other model gets the image wrong while getting its class right (without embeddings);
   it overrides 1-2 only where the pair is not explained by label statistics.
Severity: major when the pair is far apart and unexplained (step 2), minor otherwise, borderline when
the label source itself lists the prediction for the image.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from bagel.mistakes.signals import MistakeSignals


@dataclass(frozen=True)
class Rules:
    """The few thresholds of the rules (configuration as data; `split_half` re-chooses them on one half
    of an expert file and scores them on the other).

    near_ratio: an LCA at depth >= ceil(near_ratio * median class depth) makes a pair near. WordNet's
        first ~6 levels (entity ... instrumentality, organism, animal) are ontology, not kinds of
        things; 0.6 of ImageNet's median class depth (11) puts the cut at depth 7, just below them,
        and at the parent level in a 3-level hierarchy.
    confusable_rate: co-occurrence or other-model confusion rate from which a pair counts as
        confusable: 1 image in 10 of the label's class, two orders above chance (1/C). Pairs that
        merely share a scene now and then (a few % of images) stay unexplained; the split-half check
        chose 0.1 over 0.02 and 0.05 in every half of vit3b_mistakes.json.
    label_seen: share of other models whose top-1 must be near an evidence label for the labelled
        object to count as visible (a quarter: a few independent models, not one outlier).
    prediction_seen: the prediction counts as visible when MORE than this share of other models hold
        it in their top-k (0.5: a strict majority vote of independent models).
    atypical_z: robust z-score of the centroid distance above which an image is atypical (3 MADs,
        the usual outlier cut).
    atypical_class_accuracy: without embeddings, the other models' class accuracy above which an image
        they all get wrong counts as atypical.
    """

    near_ratio: float = 0.6
    confusable_rate: float = 0.1
    label_seen: float = 0.25
    prediction_seen: float = 0.5
    atypical_z: float = 3.0
    atypical_class_accuracy: float = 0.9

    def to_dict(self) -> dict:
        return asdict(self)




def suggest(sig: MistakeSignals, rules: Rules = Rules()) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(category, severity, confidence, reason) for M mistakes.

    category, severity: (M,) str taxonomy values; confidence: (M,) float64 in [0.5, 1], the share of
    the applicable signals that agree with the suggestion (a strength of evidence, not a calibrated
    probability); reason: (M,) str naming the rule that decided."""
    M = len(sig)
    has_models = sig.n_models > 0
    confusable = sig.accepted | (sig.cooccurrence >= rules.confusable_rate) | (sig.confusion >= rules.confusable_rate)
    explained = sig.near | confusable
    lab_seen = (sig.label_seen >= rules.label_seen) if has_models else np.ones(M, bool)
    pred_seen = (sig.prediction_seen > rules.prediction_seen) if has_models else np.ones(M, bool)

    cat = np.full(M, "fine-grained", dtype=object)
    reason = np.where(sig.near, "near in the hierarchy", "confusable in label statistics").astype(object)
    far = ~explained
    oov = far & pred_seen & ~lab_seen & sig.oov_near_prediction
    spurious = far & ~pred_seen
    cat[oov] = "fine-grained-oov"
    cat[spurious] = "spurious"
    reason[far & pred_seen & lab_seen] = "far; other models see both objects"
    reason[far & pred_seen & ~lab_seen] = "far; other models see the prediction, the vocabulary covers its neighbourhood"
    reason[oov] = "far; other models see the prediction, not the label"
    reason[spurious] = "far; other models do not see the prediction"
    if np.isfinite(sig.centroid_z).any():
        atypical = np.nan_to_num(sig.centroid_z, nan=-np.inf) >= rules.atypical_z
        why = "far from its class centroid"
    elif has_models:
        atypical = (sig.models_wrong >= 1.0) & (sig.class_accuracy >= rules.atypical_class_accuracy)
        why = "all other models wrong on an easy class"
    else:
        atypical = np.zeros(M, bool)
        why = ""
    atypical &= ~confusable
    cat[atypical] = "non-prototypical"
    reason[atypical] = why

    severity = np.where(far, "major", "minor").astype(object)
    severity[sig.accepted] = "borderline"

    # Confidence: how many of the independent signals point the same way.
    votes = np.zeros(M)
    total = np.zeros(M)
    fg = cat == "fine-grained"
    for agree in (sig.near, confusable, lab_seen & pred_seen):
        votes += np.where(fg, agree, ~agree)
        total += 1
    if has_models:
        votes += np.where(cat == "spurious", sig.models_same == 0, 0) + np.where(cat == "fine-grained-oov", sig.models_wrong >= 0.5, 0)
        total += (cat == "spurious") | (cat == "fine-grained-oov")
    confidence = 0.5 + 0.5 * votes / np.maximum(total, 1)
    return cat.astype(str), severity.astype(str), confidence, reason.astype(str)


def evidence_json(sig: MistakeSignals, reason: np.ndarray, vocabulary, tables) -> list[str]:
    """Per mistake a JSON object of human-readable signal values (the table's ``evidence`` column)."""
    nodes = tables.nodes
    owner, cls = sig.evidence
    names = [vocabulary.name(c) for c in range(len(vocabulary))]
    labels_of: list[list[str]] = [[] for _ in range(len(sig))]
    for o, c in zip(owner.tolist(), cls.tolist()):
        labels_of[o].append(names[c])
    h = tables.hierarchy
    has_models = sig.n_models > 0
    r2 = lambda x: None if not np.isfinite(x) else x
    co, cf = np.round(sig.cooccurrence, 3).tolist(), np.round(sig.confusion, 3).tolist()
    ca, at = np.round(sig.class_accuracy, 3).tolist(), np.round(sig.atypicality, 3).tolist()
    cz = np.round(sig.centroid_z, 3).tolist()
    m = sig.n_models
    counts = {k: np.rint(getattr(sig, k) * m).astype(np.int64).tolist() if has_models else None
              for k in ("models_wrong", "models_same", "prediction_seen", "label_seen")}
    out = []
    for i in range(len(sig)):
        e = {"rule": str(reason[i]), "labels": labels_of[i],
             "closest_label": names[sig.closest[i]] if sig.closest[i] >= 0 else None,
             "lca": h.name(nodes[sig.lca[i]]) if sig.lca[i] >= 0 else None,
             "lca_depth": int(sig.lca_depth[i]), "lca_classes": int(sig.lca_size[i]), "distance": int(sig.distance[i]),
             "near": bool(sig.near[i]), "listed": bool(sig.accepted[i]),
             "cooccurrence": co[i], "confusion": cf[i]}
        if sig.oov_under_lca[i] >= 0:
            e["oov_under_lca"] = int(sig.oov_under_lca[i])
        e["oov_near_prediction"] = bool(sig.oov_near_prediction[i])
        if has_models:
            e.update({"models": m, "models_wrong": counts["models_wrong"][i], "models_same": counts["models_same"][i],
                      "prediction_in_topk": counts["prediction_seen"][i], "label_seen": counts["label_seen"][i],
                      "class_accuracy": r2(ca[i]), "atypicality": r2(at[i])})
        if np.isfinite(cz[i]):
            e["centroid_z"] = cz[i]
        out.append(json.dumps(e))
    return out
