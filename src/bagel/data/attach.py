"""Attach a dataset's images on disk to a workspace, so that stages needing pixels (embeddings,
duplicates, the review app) find them: ImageNet from its usual layouts, or any ImageFolder dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bagel.data.dataset import Dataset
from bagel.data.imageset import IMAGE_SUFFIXES, ImageSet
from bagel.data.vocabulary import Vocabulary
from bagel.errors import BagelError


def _image_files(root: Path) -> list[Path]:
    """Images directly in ``root`` or one folder down (flat val folder, or ImageFolder layout)."""
    if not root.is_dir():
        raise BagelError(f"{root}: no such folder")
    files = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        files.extend(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise BagelError(f"{root}: expected image files (flat, or in class folders), found none")
    return sorted(files)


def imagenet_val_images(val_dir: Path, dataset: Dataset) -> ImageSet:
    """ImageNet validation images on disk (flat ``ILSVRC2012_val_*.JPEG`` or sorted into wnid folders):
    keys are file names, labels those of the validation label file. A subset is fine."""
    files = _image_files(val_dir)
    by_name = {}
    for f in files:
        if f.name in by_name:
            raise BagelError(f"{val_dir}: file name {f.name} occurs twice ({by_name[f.name]} and {f})")
        by_name[f.name] = f
    known = dataset.imageset.index
    unknown = [n for n in by_name if n not in known]
    if unknown:
        raise BagelError(f"{val_dir}: {len(unknown)} files are not ImageNet validation images (first: {unknown[0]})")
    keys = sorted(by_name)
    rows = dataset.imageset.positions(keys)
    paths = [str(by_name[k].relative_to(val_dir)) for k in keys]
    return ImageSet(np.array(keys, dtype=object), dataset.imageset.labels[rows], np.array(paths, dtype=object), val_dir.resolve(), "val")


def attach_imagenet(ws, val_dir: Path | None = None, train_dir: Path | None = None) -> dict:
    """Record ImageNet as the workspace's dataset, with its image folders when given."""
    dataset = Dataset.imagenet()
    out = {"dataset": "imagenet"}
    if val_dir is not None:
        val = imagenet_val_images(Path(val_dir), dataset)
        val.save(ws)
        out["val_images"] = len(val)
    if train_dir is not None:
        train = ImageSet.from_image_folder(Path(train_dir).resolve(), dataset.vocabulary, "train")
        train.save(ws)
        out["train_images"] = len(train)
    dataset.save_meta(ws)
    return out


def attach_folder(ws, val_dir: Path, train_dir: Path | None = None, classes: Path | None = None, name: str = "custom") -> dict:
    """A dataset in ImageFolder layout (``root/<class>/<image>``) for val (and train): classes from a
    JSON list (``--classes``) or the class folders (train's when given, else val's)."""
    val_dir = Path(val_dir)
    if classes is not None:
        vocab = Vocabulary.from_json_list(classes)
    else:
        vocab = Vocabulary.from_folders(Path(train_dir) if train_dir else val_dir)
    val = ImageSet.from_image_folder(val_dir.resolve(), vocab, "val")
    val.save(ws)
    out = {"dataset": name, "classes": len(vocab), "val_images": len(val)}
    if train_dir is not None:
        train = ImageSet.from_image_folder(Path(train_dir).resolve(), vocab, "train")
        train.save(ws)
        out["train_images"] = len(train)
    import json

    ws.path("dataset", "class_info.json").write_text(json.dumps(vocab.to_class_info(), indent=1))
    ws.path("dataset", "dataset.json").write_text(json.dumps({"name": name, "class_info": "class_info.json", "eval_split": "val", "collapse": False}, indent=1))
    return out
