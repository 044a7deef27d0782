"""`Dataset`: what an evaluation needs besides predictions: the vocabulary, the evaluation image set,
the hierarchy and the label sources; ImageNet's from the data cache, any other from a workspace."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from bagel.data import sources
from bagel.data.hierarchy import Hierarchy
from bagel.data.imageset import ImageSet
from bagel.data.labelset import LabelSet, detect_format, multilabel_labels, original_labels, real_labels
from bagel.data.vocabulary import Vocabulary, load_json
from bagel.errors import BagelError

LABEL_SOURCES = ("original", "real", "multilabel")


@dataclass
class Dataset:
    """name: 'imagenet' or the workspace dataset's name. files: paths of the hierarchy and label
    files (None where absent). collapse: whether ImageNet's collapsed mappings apply."""

    name: str
    vocabulary: Vocabulary
    imageset: ImageSet
    files: dict[str, Path | None] = field(default_factory=dict)
    groups: dict[str, str] | None = None
    collapse: bool = False
    _labelsets: dict = field(default_factory=dict, repr=False)

    @classmethod
    def imagenet(cls) -> "Dataset":
        """ImageNet validation from the data cache (``bagel data fetch`` fills it)."""
        vocab = Vocabulary.from_class_info(sources.require("class-info"))
        data = load_json(sources.require("val-labels"))
        imageset = ImageSet.from_pairs(data["image_filenames"], vocab, "val", source="val-labels")
        files = {k: (sources.local_path(k) if sources.local_path(k).exists() else None)
                 for k in ("wordnet-is-a", "wordnet-words", "real", "multilabel")}
        return cls("imagenet", vocab, imageset, {"is_a": files["wordnet-is-a"], "words": files["wordnet-words"],
                                                  "real": files["real"], "multilabel": files["multilabel"]}, None, True)

    @classmethod
    def for_workspace(cls, ws) -> "Dataset":
        """The workspace's own dataset when it has one (``dataset/dataset.json``), else ImageNet."""
        meta_path = ws.root / "dataset" / "dataset.json" if ws is not None else None
        if meta_path is None or not meta_path.exists():
            return cls.imagenet()
        meta = load_json(meta_path)
        if meta.get("name") == "imagenet":
            ds = cls.imagenet()
            if (ws.root / "imagesets" / "val.parquet").exists():  # the images on disk (maybe a subset)
                ds.imageset = ImageSet.load(ws, "val")
            for source in ("real", "multilabel"):  # label files imported into this workspace win
                if meta.get(source):
                    ds.files[source] = ws.root / "dataset" / meta[source]
            return ds
        base = ws.root / "dataset"
        vocab = Vocabulary.from_class_info(base / meta["class_info"])
        imageset = ImageSet.load(ws, meta.get("eval_split", "val"))
        files = {k: (base / meta[k] if meta.get(k) else None) for k in ("is_a", "words", "real", "multilabel")}
        return cls(meta["name"], vocab, imageset, files, meta.get("groups"), bool(meta.get("collapse", False)))

    @cached_property
    def hierarchy(self) -> Hierarchy:
        if not self.files.get("is_a") or not self.files.get("words"):
            raise BagelError("the class hierarchy is not in the data cache; run `bagel data fetch wordnet-is-a wordnet-words`")
        return Hierarchy.from_files(self.files["is_a"], self.files["words"], self.vocabulary, self.groups)

    def has_labels(self, source: str) -> bool:
        return source == "original" or bool(self.files.get(source)) or Path(source).exists()

    def labels(self, source: str) -> LabelSet:
        """A label set by source name ('original', 'real', 'multilabel') or path of a label file."""
        if source in self._labelsets:
            return self._labelsets[source]
        C = len(self.vocabulary)
        if source == "original":
            ls = original_labels(self.imageset, C)
        elif source in ("real", "multilabel"):
            path = self.files.get(source)
            if not path:
                fetch = "bagel data fetch real" if source == "real" else "bagel data fetch multilabel"
                raise BagelError(f"{source} labels are not available for {self.name}; run `{fetch}`")
            ls = real_labels(path, self.imageset, C) if source == "real" else multilabel_labels(path, self.imageset, self.vocabulary)
        else:
            path = Path(source)
            if not path.exists():
                raise BagelError(f"--labels {source}: expected one of {', '.join(LABEL_SOURCES)} or a label file, found neither")
            kind = detect_format(path)
            if kind == "real":
                ls = real_labels(path, self.imageset, C)
            elif kind == "multilabel":
                ls = multilabel_labels(path, self.imageset, self.vocabulary, name=path.stem)
            else:
                data = load_json(path)
                ls = original_labels(ImageSet.from_pairs(data["image_filenames"], self.vocabulary, source=str(path)), C)
            ls.name = path.stem
        self._labelsets[source] = ls
        return ls

    def use_label_file(self, path) -> str:
        """Let a label file stand in for the source of its format: the multi-label schema for
        'multilabel', a ReaL-style list (or an ImageNetV2 label file) for 'real'. Returns that source."""
        path = Path(path)
        kind = "multilabel" if detect_format(path) == "multilabel" else "real"
        self._labelsets[kind] = self.labels(str(path))
        self.files[kind] = path
        return kind

    def save_meta(self, ws, **extra) -> None:
        meta = {"name": self.name, **extra}
        ws.path("dataset", "dataset.json").write_text(json.dumps(meta, indent=1))
