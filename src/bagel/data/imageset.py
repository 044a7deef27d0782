"""`ImageSet`: the ordered image keys of one split, their original labels and where pixels live."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bagel.errors import BagelError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


@dataclass
class ImageSet:
    """One split.

    keys:   (N,) str, unique image keys (for ImageNet the file name, e.g. ``ILSVRC2012_val_00000001.JPEG``).
    labels: (N,) int32 original class index, -1 where unknown.
    paths:  (N,) str, file paths relative to ``root`` ('' where pixels are not on disk).
    root:   folder the paths are relative to, or None when no pixels are available.
    """

    keys: np.ndarray
    labels: np.ndarray
    paths: np.ndarray
    root: Path | None = None
    split: str = "val"

    def __post_init__(self):
        self.keys = np.asarray(self.keys, dtype=object)
        self.labels = np.asarray(self.labels, dtype=np.int32)
        self.paths = np.asarray(self.paths, dtype=object)
        if not (len(self.keys) == len(self.labels) == len(self.paths)):
            raise BagelError(f"image set {self.split}: keys, labels and paths differ in length")
        uniq, counts = np.unique(self.keys.astype(str), return_counts=True)
        if len(uniq) != len(self.keys):
            raise BagelError(f"image set {self.split}: duplicated image key {str(uniq[counts > 1][0])!r}")
        self._index: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def index(self) -> dict[str, int]:
        """key -> row."""
        if self._index is None:
            self._index = {k: i for i, k in enumerate(self.keys)}
        return self._index

    def positions(self, keys, source: str = "keys") -> np.ndarray:
        """Rows of ``keys`` in this set; an unknown key is an error naming ``source``."""
        idx = self.index
        out = np.empty(len(keys), dtype=np.int64)
        for j, k in enumerate(keys):
            i = idx.get(k)
            if i is None:
                raise BagelError(f"{source}: image key {k!r} is not in the {self.split} image set ({len(self)} images)")
            out[j] = i
        return out

    def abs_path(self, i: int) -> Path:
        if self.root is None or not self.paths[i]:
            raise BagelError(f"image {self.keys[i]!r}: no pixels recorded for the {self.split} split")
        return self.root / self.paths[i]

    # ---- constructors -------------------------------------------------------------------------
    @classmethod
    def from_pairs(cls, pairs, vocabulary, split: str = "val", root: Path | None = None, source: str = "pairs") -> "ImageSet":
        """From ``[(file_name, wnid), ...]`` (the ImageNetV2 label-file layout), sorted by key."""
        pairs = sorted(pairs)
        keys = [p[0] for p in pairs]
        labels = vocabulary.indices([p[1] for p in pairs], source=source)
        return cls(np.array(keys, dtype=object), labels, np.array(keys if root else [""] * len(keys), dtype=object), root, split)

    @classmethod
    def from_image_folder(cls, root, vocabulary, split: str = "train") -> "ImageSet":
        """``root/<class name>/<image>``: the usual layout of ImageNet on disk (class folders named by wnid)."""
        root = Path(root)
        if not root.is_dir():
            raise BagelError(f"image folder {root}: no such folder")
        keys, labels, paths = [], [], []
        for cdir in sorted(p for p in root.iterdir() if p.is_dir()):
            c = vocabulary.index_of(cdir.name, source=str(cdir))
            for f in sorted(cdir.iterdir()):
                if f.suffix.lower() in IMAGE_SUFFIXES:
                    keys.append(f"{cdir.name}/{f.name}")
                    labels.append(c)
                    paths.append(f"{cdir.name}/{f.name}")
        if not keys:
            raise BagelError(f"image folder {root}: expected class folders holding images, found none")
        return cls(np.array(keys, dtype=object), np.array(labels), np.array(paths, dtype=object), root, split)

    @classmethod
    def from_flat_dir(cls, root, split: str = "val", labels_by_key: dict | None = None) -> "ImageSet":
        """A folder of images (``ILSVRC2012_val_*.JPEG``); labels from ``labels_by_key`` when given."""
        root = Path(root)
        if not root.is_dir():
            raise BagelError(f"image folder {root}: no such folder")
        files = sorted(f.name for f in root.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise BagelError(f"image folder {root}: expected image files, found none")
        labels = [labels_by_key.get(f, -1) if labels_by_key else -1 for f in files]
        return cls(np.array(files, dtype=object), np.array(labels), np.array(files, dtype=object), root, split)

    @classmethod
    def from_table(cls, path, vocabulary=None, split: str = "val", root=None) -> "ImageSet":
        """A CSV or Parquet list with columns ``key`` and optionally ``label`` (index or class name)
        and ``path`` (relative to ``root``)."""
        path = Path(path)
        df = read_table(path)
        if "key" not in df.columns:
            raise BagelError(f"{path}: expected a 'key' column, found columns {list(df.columns)}")
        n = len(df)
        labels = np.full(n, -1, dtype=np.int32)
        if "label" in df.columns:
            col = df["label"]
            if pd.api.types.is_integer_dtype(col):
                labels = col.to_numpy(np.int32)
            elif vocabulary is not None:
                labels = vocabulary.indices(col.astype(str).tolist(), source=str(path))
            else:
                raise BagelError(f"{path}: class names in 'label' need a vocabulary")
        paths = df["path"].astype(str).to_numpy(object) if "path" in df.columns else np.array([""] * n, dtype=object)
        return cls(df["key"].astype(str).to_numpy(object), labels, paths, Path(root) if root else None, split)

    # ---- workspace persistence ----------------------------------------------------------------
    def save(self, ws) -> Path:
        out = ws.path("imagesets", f"{self.split}.parquet")
        pd.DataFrame({"key": self.keys.astype(str), "label": self.labels, "path": self.paths.astype(str)}).to_parquet(out, index=False)
        ws.path("imagesets", f"{self.split}.json").write_text(json.dumps({"split": self.split, "root": str(self.root.resolve()) if self.root else None, "n": len(self)}))
        return out

    @classmethod
    def load(cls, ws, split: str) -> "ImageSet":
        table = ws.root / "imagesets" / f"{split}.parquet"
        if not table.exists():
            have = sorted(p.stem for p in (ws.root / "imagesets").glob("*.parquet")) if (ws.root / "imagesets").exists() else []
            raise BagelError(f"workspace {ws.root}: no image set for split {split!r} (have: {', '.join(have) or 'none'})")
        meta = json.loads((ws.root / "imagesets" / f"{split}.json").read_text())
        df = pd.read_parquet(table)
        return cls(df["key"].to_numpy(object), df["label"].to_numpy(np.int32), df["path"].to_numpy(object), Path(meta["root"]) if meta.get("root") else None, split)

    @staticmethod
    def splits(ws) -> list[str]:
        d = ws.root / "imagesets"
        return sorted(p.stem for p in d.glob("*.parquet")) if d.exists() else []


def read_table(path: Path) -> pd.DataFrame:
    """CSV or Parquet by suffix, with one-line errors for unreadable files."""
    if not path.exists():
        raise BagelError(f"{path}: no such file")
    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        if path.suffix.lower() in {".csv", ".tsv", ".txt"}:
            return pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
    except Exception as e:  # pandas/pyarrow raise many types for corrupt input
        raise BagelError(f"{path}: cannot read table ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'corrupt'})") from None
    raise BagelError(f"{path}: expected a .csv, .tsv or .parquet table, found suffix {path.suffix!r}")
