"""Confusion pairs: exact order on the tiny vocabulary, the published formats, and a round trip of a
shipped model's pairs."""

import json

import numpy as np
import pytest

from bagel.data.vocabulary import Vocabulary
from bagel.errors import BagelError
from bagel.mistakes.confusions import confusion_pairs, pair_matrix, plot_heatmaps, read_published, to_published, write_published

from mistakes_world import BEAGLE, CUP, HUSKY, MUG, SEDAN


def test_pairs_are_unordered_counted_and_sorted(vocab):
    labels = np.array([HUSKY, BEAGLE, MUG, CUP, SEDAN, SEDAN, -1])
    preds = np.array([BEAGLE, HUSKY, CUP, MUG, MUG, SEDAN, CUP])
    pairs = confusion_pairs(labels, preds, vocab)
    # (beagle, husky) x2 and (mug, cup) x2 tie: wnid order breaks it; same-class and unknown labels are skipped.
    assert pairs == [(BEAGLE, HUSKY, 2), (MUG, CUP, 2), (SEDAN, MUG, 1)]
    assert to_published(pairs, vocab) == [["c0beagle", "c1husky", 2], ["c4mug", "c5cup", 2], ["c2sedan", "c4mug", 1]]
    assert to_published(pairs, vocab, names=True)[0] == ["beagle", "husky", 2]
    assert pair_matrix(pairs, 6)[HUSKY, BEAGLE] == 2


def test_pairs_order_by_class_id_not_index():
    v = Vocabulary(["n2", "n1"], [["two"], ["one"]])
    assert confusion_pairs(np.array([0]), np.array([1]), v) == [(1, 0, 1)]


def test_read_published_errors(tmp_path, vocab):
    p = tmp_path / "c.json"
    p.write_text(json.dumps([["c0beagle", "n999", 1]]))
    with pytest.raises(BagelError, match="unknown class 'n999'"):
        read_published(p, vocab)
    p.write_text(json.dumps([["c0beagle", "c1husky", 0]]))
    with pytest.raises(BagelError, match="positive count"):
        read_published(p, vocab)


def test_shipped_model_round_trips_through_the_published_format(tmp_path, shared_data):
    from bagel.data.dataset import Dataset
    from bagel.mistakes.evidence import build_evidence
    from bagel.mistakes.pipeline import shipped_predictions
    from bagel.mistakes.table import suggest_mistakes

    ds = Dataset.imagenet()
    model = next(p for p in shipped_predictions(ds) if p.name == "resnet18")
    df = suggest_mistakes(model, build_evidence(ds, ["real", "original"], []), with_evidence=False)
    pairs = confusion_pairs(df["label"].to_numpy(), df["prediction"].to_numpy(), ds.vocabulary)
    # ReaL finds some original labels wrong: a top-1 equal to the original label is no confusion.
    assert sum(n for *_, n in pairs) == int((df["label"] != df["prediction"]).sum()) and all(ds.vocabulary.ids[a] < ds.vocabulary.ids[b] for a, b, _ in pairs)
    assert [n for *_, n in pairs] == sorted((n for *_, n in pairs), reverse=True)
    path = write_published(pairs, ds.vocabulary, tmp_path / "class_confusion_wnids.json")
    assert read_published(path, ds.vocabulary) == pairs
    # The published sample reads back too, and has the same shape.
    sample = read_published(shared_data / "mistakes" / "class_confusion_wnids.json", ds.vocabulary)
    assert len(sample) == 481 and sum(n for *_, n in sample) == 545
    names = json.loads(write_published(pairs, ds.vocabulary, tmp_path / "s.json", names=True).read_text())
    assert names[0][:2] == [ds.vocabulary.name(pairs[0][0]), ds.vocabulary.name(pairs[0][1])]
    png = plot_heatmaps(pairs, ds.vocabulary, ds.hierarchy.group_masks(), tmp_path / "h.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
