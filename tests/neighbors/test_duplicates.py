import json

import numpy as np
import pandas as pd
import pytest

from bagel.neighbors.duplicates import connected_components, find_duplicates
from bagel.neighbors.lookup import neighbors_of
from bagel.neighbors.pipeline import run_stage


def test_union_find_tiny():
    comp = connected_components(6, np.array([0, 3, 4]), np.array([1, 4, 5]))
    assert comp.tolist() == [0, 0, 1, 2, 2, 2]


@pytest.fixture
def staged(world):
    ws, truth = world
    summary = run_stage(ws, progress=False, workers=1)
    return ws, truth, summary


def test_world_duplicates_found_without_false_exact(staged):
    ws, truth, summary = staged
    leaks = pd.read_parquet(ws.root / "duplicates" / "leaks.parquet")
    pairs = set(zip(leaks.val_key, leaks.train_key))
    exact = set(zip(leaks[leaks.kind == "exact"].val_key, leaks[leaks.kind == "exact"].train_key))
    true_exact = set(zip(*truth[truth.transformation.str.startswith("exact")][["val_key", "train_key"]].T.values))
    assert exact == true_exact  # exact recall 1.0 and no false exact duplicate (re-encodes are not exact)
    near = truth[truth.transformation.isin(["reencode", "resize", "flip", "crop"])]
    assert all((v, t) in pairs for v, t in zip(near.val_key, near.train_key))  # crops too, by geometric verification
    crops = leaks[leaks.train_key.str.contains("crop")]
    assert len(crops) == 4 and crops.crop.all() and (crops.kind == "near").all() and crops.crop_area.between(0.8, 0.95).all()
    assert not leaks[~leaks.train_key.str.contains("crop")].crop.any()
    true_pairs = set(zip(truth.val_key, truth.train_key))
    assert len(pairs - true_pairs) == 0  # the distractors stay apart
    assert (~leaks.same_label).all()
    assert summary["leaks"]["exact"] == {"val_images": 8, "val_images_with_several_copies": 0, "train_copies": 8, "pairs": 8, "pairs_with_different_label": 8,
                                         "pairs_with_multilabels": 0, "train_label_correct_under_multilabels": 0}  # no multi-labels here


def test_outputs_for_the_review_app(staged):
    ws, truth, summary = staged
    d = ws.root / "duplicates"
    drop = (d / "train_drop.txt").read_text().split()
    assert sorted(drop) == sorted(truth[truth.transformation.str.startswith("exact")].train_key)
    clusters = pd.read_parquet(d / "clusters.parquet")
    assert {"cluster", "key", "split", "label", "path", "kind", "score", "cluster_kind"} <= set(clusters.columns)
    gallery = json.loads((d / "clusters.json").read_text())["clusters"]
    assert len(gallery) == clusters.cluster.nunique() and all(c["size"] == len(c["members"]) >= 2 for c in gallery)
    by_pair = pd.read_csv(d / "leaks_by_class_pair.csv")
    assert by_pair.pairs.sum() == summary["leaks"]["near"]["pairs"]
    png = (d / "nn_distance_hist.png").read_bytes()
    assert png[:4] == b"\x89PNG"
    flip = truth[truth.transformation == "flip"].iloc[0]
    nb = neighbors_of(ws, flip.val_key)
    assert list(nb.columns) == ["rank", "key", "label", "distance", "path"] and len(nb) == 10
    assert nb.key.iloc[0] == flip.train_key and nb.distance.iloc[0] < 0.01


def test_rerun_after_a_training_image_becomes_unreadable(staged):
    ws, truth, _ = staged
    from bagel.data.imageset import ImageSet

    train = ImageSet.load(ws, "train")
    (train.root / truth.train_key.iloc[0]).write_bytes(b"\xff\xd8\xff broken jpeg")
    for f in (ws.root / "hashes").glob("*.parquet"):
        f.unlink()
    summary = find_duplicates(ws, model=None, progress=False, workers=1)
    assert summary["unreadable"]["train"] == 1 and summary["leaks"]["exact"]["val_images"] == 7
