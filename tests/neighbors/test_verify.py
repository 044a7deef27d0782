"""Geometric verification: crops (either way round), mirrored crops, and unrelated look-alikes."""

import json

import numpy as np
import pandas as pd
from PIL import Image

from bagel.neighbors.verify import BASE, THRESHOLD, Verifier, box_matrices, verify_pairs

from .conftest import picture


def _thumb(a: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(a).convert("L").resize((BASE, BASE), Image.Resampling.BOX), np.uint8)


def test_box_matrices_average_and_crop():
    r = box_matrices([0.0, 0.25], [1.0, 0.5], 4, 8)
    assert r.shape == (2, 4, 8) and np.allclose(r.sum(2), 1)
    x = np.arange(8, dtype=np.float32)
    assert np.allclose(r[0] @ x, [0.5, 2.5, 4.5, 6.5]) and np.allclose(r[1] @ x, [2, 3, 4, 5])


def test_crops_either_way_and_mirrored_verify_unrelated_do_not():
    rng = np.random.default_rng(3)
    pics = [picture(rng, 120, 150) for _ in range(6)]
    a = pics[0]
    crop = a[10:106, 6:138]  # 70 % of the area, squashed back by the thumbnail
    mirrored = np.ascontiguousarray(a[5:115, 12:150][:, ::-1])
    left = np.stack([_thumb(a), _thumb(crop), _thumb(a)] + [_thumb(p) for p in pics[1:]])
    right = np.stack([_thumb(crop), _thumb(a), _thumb(mirrored)])
    ia = np.array([0, 1, 2] + [3, 4, 5, 6, 7] * 3)
    ib = np.array([0, 1, 2] + [0] * 5 + [1] * 5 + [2] * 5)
    res = Verifier().verify(left, right, ia, ib)
    assert res["verified"][:3].all() and (res["score"][:3] > 0.98).all()
    assert res["cropped"][0] == 0 and res["cropped"][1] == 1 and res["mirror"][2]
    assert abs(res["area"][0] - 0.70) < 0.05
    assert not res["verified"][3:].any() and res["score"][3:].max() < THRESHOLD


def test_verify_pairs_reads_files_and_skips_unreadable(tmp_path):
    rng = np.random.default_rng(5)
    a = picture(rng, 100, 100)
    Image.fromarray(a).save(tmp_path / "a.jpg", quality=90)
    Image.fromarray(a[5:95, 8:92]).resize((64, 64)).save(tmp_path / "b.jpg", quality=90)
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    res = verify_pairs([str(tmp_path / "a.jpg")], [str(tmp_path / "b.jpg"), str(tmp_path / "bad.jpg")], [0, 0], [0, 1], workers=1)
    assert res["verified"].tolist() == [True, False] and np.isnan(res["score"][1])


def test_demo_world_leaks_are_all_found_and_nothing_else(tmp_path):
    """The demo's injected leaks (exact, PNG copies, 56/64 crops resized back, resizes, re-encodes)
    are all reported, with the right kinds, and no other val/train pair is."""
    from bagel.demo import build_world
    from bagel.neighbors.pipeline import run_stage
    from bagel.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    build_world(ws)
    summary = run_stage(ws, progress=False, workers=1)
    truth = pd.DataFrame(json.loads((ws.root / "dataset" / "injected_duplicates.json").read_text()))
    leaks = pd.read_parquet(ws.root / "duplicates" / "leaks.parquet")
    got = leaks.merge(truth, on=["val_key", "train_key"], how="right", suffixes=("", "_truth"))
    assert got["kind"].notna().all(), got[got["kind"].isna()]
    by = got.groupby("kind_truth")
    assert set(by.get_group("exact").kind) == {"exact"}
    assert set(by.get_group("exact-png").kind) == {"exact"}  # same pixels in a PNG: the pixel hash says exact
    crops = by.get_group("crop")
    assert set(crops.kind) == {"near"} and crops.crop.all() and np.allclose(crops.crop_area, (56 / 64) ** 2, atol=0.03)
    assert set(got.kind[got.kind_truth.isin(["resize", "reencode"])]) <= {"near", "resized"}
    assert len(leaks) == len(truth)  # no pair outside the ground truth
    assert summary["verification"]["crops"] == 6 and summary["leaks"]["exact"]["pairs"] == 12
