"""`LabelSet`: per image the correct / unclear / wrong classes and a problematic flag, stored sparse.

Rows follow an `ImageSet`. Entries are CSR arrays (``indptr``, ``classes``, ``status``), so the
50,000 x 1000 ImageNet label sets cost a few hundred kB. Loaders read the public formats: original
single labels, ReaL (``real.json``) and the multi-label file of "When does dough become a bagel?"
(``human_accuracy_v3.0.0.json``), including ImageNet-M membership.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bagel.data.imageset import ImageSet
from bagel.data.vocabulary import Vocabulary, load_json
from bagel.errors import BagelError

CORRECT, UNCLEAR, WRONG = 1, 2, 3
STATUS_NAMES = {CORRECT: "correct", UNCLEAR: "unclear", WRONG: "wrong"}


@dataclass
class LabelSet:
    """Labels of the N images of an image set over C classes.

    indptr:  (N+1,) int64 CSR row pointers.
    classes: (nnz,) int32 class index of each entry (sorted within a row).
    status:  (nnz,) int8 CORRECT / UNCLEAR / WRONG.
    annotated: (N,) bool, images this source labels (ReaL leaves some out; the multi-label file covers 20k).
    problematic: (N,) bool, images whose original label is wrong or that do not belong in the set.
    imagenet_m: (N,) bool, members of ImageNet-M (all False for sources without it).
    """

    name: str
    n_classes: int
    indptr: np.ndarray
    classes: np.ndarray
    status: np.ndarray
    annotated: np.ndarray
    problematic: np.ndarray
    imagenet_m: np.ndarray

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @classmethod
    def from_rows(cls, name: str, n_images: int, n_classes: int, rows: dict[int, list[tuple[int, int]]],
                  problematic=None, imagenet_m=None, annotated=None) -> "LabelSet":
        """From ``{row: [(class, status), ...]}``; rows not given are unannotated unless ``annotated`` says."""
        counts = np.zeros(n_images + 1, dtype=np.int64)
        for r, entries in rows.items():
            counts[r + 1] = len(dict(entries))
        indptr = np.cumsum(counts)
        classes = np.empty(indptr[-1], dtype=np.int32)
        status = np.empty(indptr[-1], dtype=np.int8)
        for r, entries in rows.items():
            merged = dict(entries)  # a class listed twice keeps its last status
            s = indptr[r]
            for j, c in enumerate(sorted(merged)):
                classes[s + j] = c
                status[s + j] = merged[c]
        ann = np.zeros(n_images, dtype=bool)
        if annotated is None:
            ann[list(rows)] = True
        else:
            ann[:] = annotated
        prob = np.zeros(n_images, dtype=bool) if problematic is None else np.asarray(problematic, dtype=bool)
        im = np.zeros(n_images, dtype=bool) if imagenet_m is None else np.asarray(imagenet_m, dtype=bool)
        return cls(name, n_classes, indptr, classes, status, ann, prob, im)

    # ---- queries ------------------------------------------------------------------------------
    def row(self, i: int) -> dict[str, list[int]]:
        s, e = self.indptr[i], self.indptr[i + 1]
        out = {"correct": [], "unclear": [], "wrong": []}
        for c, st in zip(self.classes[s:e], self.status[s:e]):
            out[STATUS_NAMES[int(st)]].append(int(c))
        return out

    def codes(self, statuses=(CORRECT, UNCLEAR), extra_pairs: np.ndarray | None = None) -> np.ndarray:
        """Sorted int64 codes ``row * C + class`` of the entries whose status is in ``statuses``.

        extra_pairs: optional (P, 2) int array of (label, also-accepted class) pairs (the collapsed
        mappings): every accepted label adds its partners.
        """
        rows = np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.indptr))
        keep = np.isin(self.status, np.asarray(statuses, dtype=np.int8))
        rows, cls = rows[keep], self.classes[keep].astype(np.int64)
        if extra_pairs is not None and len(extra_pairs):
            add_r, add_c = [rows], [cls]
            for src, dst in extra_pairs:
                hit = cls == src
                add_r.append(rows[hit])
                add_c.append(np.full(int(hit.sum()), dst, dtype=np.int64))
            rows, cls = np.concatenate(add_r), np.concatenate(add_c)
        return np.unique(rows * self.n_classes + cls)

    def contains(self, rows: np.ndarray, classes: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """(M,) bool: whether ``classes[m]`` is accepted for image ``rows[m]`` under ``codes``
        (from `codes`)."""
        return codes_contain(codes, rows, classes, self.n_classes)

    def with_correct(self, additions: list[tuple[int, int]], name: str | None = None) -> "LabelSet":
        """A copy where each ``(row, class)`` is marked correct (a correct 'mistake' accepted by review)."""
        rows: dict[int, list[tuple[int, int]]] = {}
        for r in np.flatnonzero(self.annotated):
            s, e = self.indptr[r], self.indptr[r + 1]
            rows[int(r)] = list(zip(self.classes[s:e].tolist(), self.status[s:e].tolist()))
        for r, c in additions:
            rows.setdefault(int(r), []).append((int(c), CORRECT))
        ann = self.annotated.copy()
        ann[[r for r, _ in additions]] = True
        return LabelSet.from_rows(name or self.name, len(self), self.n_classes, rows, self.problematic, self.imagenet_m, ann)

    # ---- persistence --------------------------------------------------------------------------
    def save(self, ws) -> Path:
        out = ws.path("labels", f"{self.name}.npz")
        np.savez(out, n_classes=self.n_classes, indptr=self.indptr, classes=self.classes, status=self.status,
                 annotated=self.annotated, problematic=self.problematic, imagenet_m=self.imagenet_m)
        return out

    @classmethod
    def load(cls, ws, name: str) -> "LabelSet":
        p = ws.root / "labels" / f"{name}.npz"
        if not p.exists():
            raise BagelError(f"workspace {ws.root}: no label set {name!r}")
        z = np.load(p)
        return cls(name, int(z["n_classes"]), z["indptr"], z["classes"], z["status"], z["annotated"], z["problematic"], z["imagenet_m"])

    def to_multilabel_json(self, imageset: ImageSet, vocabulary: Vocabulary) -> dict:
        """The published multi-label schema (``initial_annots``, ``problematic_images``, ``imagenet_m``)."""
        annots = {}
        for r in np.flatnonzero(self.annotated):
            row = self.row(int(r))
            annots[str(imageset.keys[r])] = {k: [vocabulary.ids[c] for c in v] for k, v in row.items()}
        return {"initial_annots": annots,
                "problematic_images": {str(imageset.keys[r]): True for r in np.flatnonzero(self.problematic)},
                "imagenet_m": [str(imageset.keys[r]) for r in np.flatnonzero(self.imagenet_m)]}


def codes_contain(codes: np.ndarray, rows, classes, n_classes: int) -> np.ndarray:
    """(M,) bool: whether ``rows[m] * n_classes + classes[m]`` is among the sorted int64 ``codes``:
    a binary search per query, no Python loop."""
    q = np.asarray(rows, dtype=np.int64) * n_classes + np.asarray(classes, dtype=np.int64)
    if not len(codes):
        return np.zeros(len(q), dtype=bool)
    pos = np.minimum(np.searchsorted(codes, q), len(codes) - 1)
    return codes[pos] == q


# ---- loaders ----------------------------------------------------------------------------------
def original_labels(imageset: ImageSet, n_classes: int) -> LabelSet:
    """Each image's single original label as its only correct class."""
    have = imageset.labels >= 0
    n = len(imageset)
    indptr = np.concatenate([[0], np.cumsum(have.astype(np.int64))])
    return LabelSet("original", n_classes, indptr, imageset.labels[have].astype(np.int32),
                    np.full(int(have.sum()), CORRECT, dtype=np.int8), have.copy(), np.zeros(n, bool), np.zeros(n, bool))


def imagenet_val_key(i: int) -> str:
    return f"ILSVRC2012_val_{i + 1:08d}.JPEG"


def real_labels(path, imageset: ImageSet, n_classes: int) -> LabelSet:
    """ReaL (``real.json``): a list of 50,000 class-index lists in file-name order; an empty list
    leaves the image out. For another dataset (keys not ImageNet's) the list follows the sorted keys."""
    path = Path(path)
    data = load_json(path)
    if not isinstance(data, list) or not all(isinstance(x, list) for x in data):
        raise BagelError(f"{path}: expected a JSON list of class-index lists (ReaL format)")
    rows: dict[int, list[tuple[int, int]]] = {}
    index = imageset.index
    if len(imageset) != len(data):
        raise BagelError(f"{path}: ReaL lists {len(data)} images, the {imageset.split} image set has {len(imageset)}")
    imagenet = str(imageset.keys[0]).startswith("ILSVRC2012_val_")
    sorted_keys = None if imagenet else sorted(imageset.keys.tolist())
    for i, labels in enumerate(data):
        if not labels:
            continue
        key = imagenet_val_key(i) if imagenet else sorted_keys[i]
        r = index.get(key)
        if r is None:
            raise BagelError(f"{path}: image {key} (entry {i}) is not in the {imageset.split} image set")
        bad = [c for c in labels if not (isinstance(c, int) and 0 <= c < n_classes)]
        if bad:
            raise BagelError(f"{path}: entry {i} has class index {bad[0]!r} outside 0..{n_classes - 1}")
        rows[r] = [(c, CORRECT) for c in labels]
    return LabelSet.from_rows("real", len(imageset), n_classes, rows)


def validate_multilabel_json(path: Path, origin: str | None = None) -> dict:
    data = load_json(path)
    where = origin or str(path)
    if not isinstance(data, dict) or not isinstance(data.get("initial_annots"), dict):
        raise BagelError(f"{where}: expected the multi-label schema (an object with 'initial_annots'), found {type(data).__name__} without it")
    for k, v in list(data["initial_annots"].items())[:1000]:
        if not isinstance(v, dict) or not set(v) <= {"correct", "wrong", "unclear"}:
            raise BagelError(f"{where}: initial_annots[{k!r}] should hold 'correct'/'wrong'/'unclear' lists, found {v!r:.80}")
    if "problematic_images" in data and not isinstance(data["problematic_images"], (dict, list)):
        raise BagelError(f"{where}: 'problematic_images' should be an object keyed by file name")
    if "imagenet_m" in data and not isinstance(data["imagenet_m"], list):
        raise BagelError(f"{where}: 'imagenet_m' should be a list of file names")
    return data


def multilabel_labels(path, imageset: ImageSet, vocabulary: Vocabulary, name: str = "multilabel") -> LabelSet:
    """The published multi-label file: ``initial_annots`` {file: {correct, wrong, unclear: [wnid]}},
    ``problematic_images`` (key present = problematic), ``imagenet_m`` (68 file names). Keys of
    other datasets (ImageNetV2 images share the file) are ignored when absent from the image set."""
    path = Path(path)
    data = validate_multilabel_json(path)
    index = imageset.index
    rows: dict[int, list[tuple[int, int]]] = {}
    for key, annot in data["initial_annots"].items():
        r = index.get(key)
        if r is None:
            if key.startswith("ILSVRC2012_val_") or not imageset.keys[0].startswith("ILSVRC2012_val_"):
                raise BagelError(f"{path}: image {key!r} is not in the {imageset.split} image set")
            continue
        entries = []
        for status_name, status in (("correct", CORRECT), ("unclear", UNCLEAR), ("wrong", WRONG)):
            for w in annot.get(status_name, []):
                entries.append((vocabulary.index_of(w, source=f"{path} ({key})"), status))
        rows[r] = entries
    prob = np.zeros(len(imageset), dtype=bool)
    for key in data.get("problematic_images", {}):
        if key in index:
            prob[index[key]] = True
    im = np.zeros(len(imageset), dtype=bool)
    for key in data.get("imagenet_m", []):
        if key not in index:
            raise BagelError(f"{path}: ImageNet-M image {key!r} is not in the {imageset.split} image set")
        im[index[key]] = True
    return LabelSet.from_rows(name, len(imageset), len(vocabulary), rows, prob, im)


def detect_format(path: Path) -> str:
    """'real', 'multilabel' or 'original' from a label file's content."""
    data = load_json(path)
    if isinstance(data, list) and (not data or isinstance(data[0], list)):
        return "real"
    if isinstance(data, dict) and "initial_annots" in data:
        return "multilabel"
    if isinstance(data, dict) and "image_filenames" in data:
        return "original"
    raise BagelError(f"{path}: not a label file bagel knows (expected ReaL's list of lists, the multi-label schema, or an ImageNetV2 image_filenames file)")
