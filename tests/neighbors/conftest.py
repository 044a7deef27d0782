"""A small image world of our own: real files in tmp_path, with known duplicates across splits."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bagel.data.imageset import ImageSet
from bagel.workspace import Workspace

TRANSFORMS = ("exact", "exact_png", "reencode", "resize", "crop", "flip")


def picture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A distinct photo-like picture: smooth random colour field + a few discs + fine noise."""
    small = rng.uniform(0, 255, size=(4, 4, 3))
    base = np.asarray(Image.fromarray(small.astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC), np.float64)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(4):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(6, min(h, w) / 3)
        base[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0, 255, 3)
    base += rng.normal(0, 6, base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


def make_world(root: Path, n_twins: int = 24, n_val_alone: int = 8, n_train_alone: int = 20, seed: int = 0):
    """val/ and train/ folders; each of the first n_twins val images has one train twin made by
    TRANSFORMS[i % 6] under a different label. Returns (val, train, truth DataFrame)."""
    rng = np.random.default_rng(seed)
    (root / "val").mkdir(parents=True)
    (root / "train").mkdir(parents=True)
    val, train, truth = [], [], []
    for i in range(n_twins + n_val_alone):
        h, w = rng.integers(90, 140, 2)
        vkey = f"v{i:03d}.jpg"
        Image.fromarray(picture(rng, h, w)).save(root / "val" / vkey, quality=92)
        label = int(rng.integers(0, 5))
        val.append((vkey, label))
        if i < n_twins:
            kind = TRANSFORMS[i % len(TRANSFORMS)]
            tkey = f"t{i:03d}-{kind}.{'png' if kind == 'exact_png' else 'jpg'}"
            im = Image.open(root / "val" / vkey).convert("RGB")
            if kind == "exact":
                shutil.copyfile(root / "val" / vkey, root / "train" / tkey)
            elif kind == "exact_png":
                im.save(root / "train" / tkey)
            elif kind == "reencode":
                im.save(root / "train" / tkey, quality=60)
            elif kind == "resize":
                im.resize((int(w * 0.7), int(h * 0.7)), Image.Resampling.LANCZOS).save(root / "train" / tkey, quality=90)
            elif kind == "crop":
                im.crop((int(w * 0.04), int(h * 0.04), int(w * 0.98), int(h * 0.98))).save(root / "train" / tkey, quality=90)
            elif kind == "flip":
                im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(root / "train" / tkey, quality=90)
            train.append((tkey, (label + 1) % 5))
            truth.append((vkey, tkey, kind))
    for j in range(n_train_alone):
        h, w = rng.integers(90, 140, 2)
        tkey = f"d{j:03d}.jpg"
        Image.fromarray(picture(rng, h, w)).save(root / "train" / tkey, quality=92)
        train.append((tkey, int(rng.integers(0, 5))))

    def mk(rows, split):
        return ImageSet(np.array([r[0] for r in rows], object), np.array([r[1] for r in rows]), np.array([r[0] for r in rows], object), root / split, split)

    return mk(val, "val"), mk(train, "train"), pd.DataFrame(truth, columns=["val_key", "train_key", "transformation"])


@pytest.fixture
def world(tmp_path):
    """(workspace with val and train image sets saved, truth)."""
    val, train, truth = make_world(tmp_path / "images")
    ws = Workspace(tmp_path / "ws")
    val.save(ws)
    train.save(ws)
    return ws, truth
