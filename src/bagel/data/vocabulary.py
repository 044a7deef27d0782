"""`Vocabulary`: class index <-> wnid <-> names <-> gloss."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bagel.errors import BagelError


@dataclass
class Vocabulary:
    """The classes of one dataset, in class-index order.

    ids:    class identifiers (WordNet ids such as ``n01440764`` for ImageNet, folder names otherwise).
    names:  per class the list of names (first = display name).
    glosses: per class a one-line definition ('' when unknown).
    """

    ids: list[str]
    names: list[list[str]]
    glosses: list[str] = field(default_factory=list)

    def __post_init__(self):
        if not self.glosses:
            self.glosses = [""] * len(self.ids)
        if not (len(self.ids) == len(self.names) == len(self.glosses)):
            raise BagelError("vocabulary: ids, names and glosses differ in length")
        self._by_id = {w: i for i, w in enumerate(self.ids)}
        if len(self._by_id) != len(self.ids):
            raise BagelError("vocabulary: duplicated class id")

    def __len__(self) -> int:
        return len(self.ids)

    def name(self, c: int) -> str:
        return self.names[c][0] if self.names[c] else self.ids[c]

    def index_of(self, class_id: str, source: str = "input") -> int:
        try:
            return self._by_id[class_id]
        except KeyError:
            raise BagelError(f"{source}: unknown class {class_id!r} (not among the {len(self)} classes of the vocabulary)") from None

    def indices(self, class_ids, source: str = "input") -> np.ndarray:
        return np.array([self.index_of(w, source) for w in class_ids], dtype=np.int32)

    def find(self, query: str) -> list[int]:
        """Classes whose id equals ``query`` or one of whose names contains it (case-insensitive)."""
        q = query.strip().lower()
        if q in self._by_id:
            return [self._by_id[q]]
        return [i for i, ns in enumerate(self.names) if any(q in n.lower() for n in ns)]

    # ---- loaders ------------------------------------------------------------------------------
    @classmethod
    def from_class_info(cls, path) -> "Vocabulary":
        """ImageNetV2's ``class_info.json``: a list of ``{cid, wnid, synset: [names], gloss}``."""
        path = Path(path)
        data = load_json(path)
        if not isinstance(data, list) or not data or not all(isinstance(d, dict) and {"cid", "wnid"} <= d.keys() for d in data):
            raise BagelError(f"{path}: expected a list of {{cid, wnid, synset, gloss}} objects")
        data = sorted(data, key=lambda d: d["cid"])
        if [d["cid"] for d in data] != list(range(len(data))):
            raise BagelError(f"{path}: expected cids 0..{len(data) - 1} without gaps")
        return cls([d["wnid"] for d in data], [list(d.get("synset") or [d["wnid"]]) for d in data], [d.get("gloss", "") for d in data])

    @classmethod
    def from_folders(cls, root) -> "Vocabulary":
        """One class per sub-folder of an ImageFolder tree, sorted by name (torchvision's order)."""
        root = Path(root)
        if not root.is_dir():
            raise BagelError(f"{root}: expected a folder of class folders")
        ids = sorted(p.name for p in root.iterdir() if p.is_dir())
        if not ids:
            raise BagelError(f"{root}: expected class folders, found none")
        return cls(ids, [[i] for i in ids])

    @classmethod
    def from_json_list(cls, path) -> "Vocabulary":
        """A JSON list of class names (or of ``{id, names, gloss}`` objects) in class-index order."""
        path = Path(path)
        data = load_json(path)
        if isinstance(data, list) and data and all(isinstance(d, dict) for d in data) and "cid" in data[0]:
            return cls.from_class_info(path)
        if isinstance(data, list) and data and all(isinstance(d, str) for d in data):
            return cls(list(data), [[d] for d in data])
        if isinstance(data, list) and data and all(isinstance(d, dict) and "id" in d for d in data):
            return cls([d["id"] for d in data], [list(d.get("names") or [d["id"]]) for d in data], [d.get("gloss", "") for d in data])
        raise BagelError(f"{path}: expected a JSON list of class names or of {{id, names, gloss}} objects")

    def to_class_info(self) -> list[dict]:
        return [{"cid": i, "wnid": w, "synset": n, "gloss": g} for i, (w, n, g) in enumerate(zip(self.ids, self.names, self.glosses))]


def load_json(path: Path):
    """json.load with one-line errors for missing, truncated or corrupt files."""
    path = Path(path)
    if not path.exists():
        raise BagelError(f"{path}: no such file")
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BagelError(f"{path}: not valid JSON ({e.__class__.__name__} at byte {getattr(e, 'pos', '?')}); the file may be truncated or corrupt") from None
