"""`Hierarchy`: the WordNet DAG over a vocabulary's classes.

Loaded from ImageNet's ``is_a.txt`` (``parent child`` per line) and ``words.txt`` (``id<TAB>names``).
A synset can have several parents, so "depth" is the length of the shortest path from a root and
the distance between two classes is the shortest path through a common ancestor.
"""

from __future__ import annotations

from collections import deque
from functools import cached_property
from pathlib import Path

import numpy as np

from bagel.data.vocabulary import Vocabulary
from bagel.errors import BagelError

# Named superclass groups of ImageNet (WordNet ids). "dog" lies inside "organism"; a class under
# none of organism/artifact is "other" (food, geological formations, people, ...).
IMAGENET_GROUPS = {"organism": "n00004475", "artifact": "n00021939", "dog": "n02084071"}


class Hierarchy:
    """Parents/children of every synset plus per-class tables over a `Vocabulary`.

    parents, children: dict synset id -> list of synset ids.
    words: dict synset id -> names string.
    groups: dict group name -> synset id (named superclass groups; see `group_of`).
    """

    def __init__(self, edges, words: dict[str, str], vocabulary: Vocabulary, groups: dict[str, str] | None = None, source: str = "hierarchy"):
        self.vocabulary = vocabulary
        self.words = words
        self.parents: dict[str, list[str]] = {}
        self.children: dict[str, list[str]] = {}
        for p, c in edges:
            self.parents.setdefault(c, []).append(p)
            self.children.setdefault(p, []).append(c)
        missing = [w for w in vocabulary.ids if w not in self.parents and w not in self.children]
        if missing:
            raise BagelError(f"{source}: {len(missing)} classes of the vocabulary are not in the hierarchy (first: {missing[0]})")
        self.groups = dict(IMAGENET_GROUPS if groups is None else groups)
        self._class_of = {w: i for i, w in enumerate(vocabulary.ids)}

    @classmethod
    def from_files(cls, is_a_path, words_path, vocabulary: Vocabulary, groups: dict[str, str] | None = None) -> "Hierarchy":
        edges = []
        is_a_path, words_path = Path(is_a_path), Path(words_path)
        for path in (is_a_path, words_path):
            if not path.exists():
                raise BagelError(f"{path}: no such file")
        with open(is_a_path) as f:
            for n, line in enumerate(f, 1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) != 2:
                    raise BagelError(f"{is_a_path}:{n}: expected 'parent_id child_id', found {line.strip()!r}")
                edges.append((parts[0], parts[1]))
        words = {}
        with open(words_path) as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    wid, _, names = line.rstrip("\n").partition("\t")
                    words[wid] = names
        return cls(edges, words, vocabulary, groups, source=str(is_a_path))

    # ---- single-synset queries ----------------------------------------------------------------
    def name(self, synset: str) -> str:
        return self.words.get(synset, synset).split(",")[0]

    def ancestors(self, synset: str) -> dict[str, int]:
        """All ancestors of ``synset`` (itself included, at 0) with their shortest distance up."""
        dist = {synset: 0}
        queue = deque([synset])
        while queue:
            s = queue.popleft()
            for p in self.parents.get(s, ()):
                if p not in dist:
                    dist[p] = dist[s] + 1
                    queue.append(p)
        return dist

    def descendants(self, synset: str) -> set[str]:
        """All synsets below ``synset`` (not itself)."""
        out, stack = set(), [synset]
        while stack:
            for c in self.children.get(stack.pop(), ()):
                if c not in out:
                    out.add(c)
                    stack.append(c)
        return out

    def depth(self, synset: str) -> int:
        """Length of the longest path from a root, so every synset is deeper than all its parents
        (with the shortest path, 'canine' would be deeper than its child 'dog')."""
        depths = self._depths
        if synset in depths:
            return depths[synset]
        parents = self.parents.get(synset, ())
        return 1 + max(self.depth(p) for p in parents) if parents else 0

    @cached_property
    def _depths(self) -> dict[str, int]:
        out: dict[str, int] = {}
        # Topological order over the classes' ancestors: resolve parents before children.
        def resolve(s: str) -> int:
            stack = [s]
            while stack:
                top = stack[-1]
                todo = [p for p in self.parents.get(top, ()) if p not in out]
                if todo:
                    stack.extend(todo)
                else:
                    ps = self.parents.get(top, ())
                    out[top] = 1 + max(out[p] for p in ps) if ps else 0
                    stack.pop()
            return out[s]
        for w in self.vocabulary.ids:
            resolve(w)
        return out

    def is_class(self, synset: str) -> bool:
        """Whether ``synset`` is one of the vocabulary's classes (else it is out of vocabulary)."""
        return synset in self._class_of

    def classes_under(self, synset: str) -> list[int]:
        """Class indices at or below ``synset``."""
        below = self.descendants(synset) | {synset}
        return sorted(self._class_of[w] for w in below if w in self._class_of)

    def oov_under(self, synset: str) -> list[str]:
        """Out-of-vocabulary synsets below ``synset``: descendants that are not classes."""
        return sorted(s for s in self.descendants(synset) if s not in self._class_of)

    # ---- class-level tables (computed once, vectorized over ancestors) ------------------------
    @cached_property
    def _class_ancestors(self) -> list[dict[str, int]]:
        return [self.ancestors(w) for w in self.vocabulary.ids]

    @cached_property
    def pair_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """(distance, lca): two (C, C) arrays over class indices.

        distance[a, b]: int16 shortest path length between classes a and b through a common ancestor
        (0 on the diagonal, -1 where they share no ancestor).
        lca[a, b]: int32 index into ``self.lca_nodes`` of their deepest common ancestor (-1 if none).
        """
        C = len(self.vocabulary)
        members: dict[str, list[tuple[int, int]]] = {}
        for c, anc in enumerate(self._class_ancestors):
            for a, d in anc.items():
                members.setdefault(a, []).append((c, d))
        nodes = sorted(members, key=lambda a: (self._depths[a], a))
        self.lca_nodes = nodes
        dist = np.full((C, C), np.iinfo(np.int16).max, dtype=np.int16)
        lca = np.full((C, C), -1, dtype=np.int32)
        for k, a in enumerate(nodes):  # shallow to deep: the last write is the deepest common ancestor
            m = np.array(members[a], dtype=np.int64)
            cls, d = m[:, 0], m[:, 1].astype(np.int16)
            block = d[:, None] + d[None, :]
            ix = np.ix_(cls, cls)
            dist[ix] = np.minimum(dist[ix], block)
            lca[ix] = k
        dist[dist == np.iinfo(np.int16).max] = -1
        return dist, lca

    def distance(self, a: int, b: int) -> int:
        return int(self.pair_tables[0][a, b])

    def lca(self, a: int, b: int) -> str | None:
        k = self.pair_tables[1][a, b]
        return self.lca_nodes[k] if k >= 0 else None

    @cached_property
    def class_depths(self) -> np.ndarray:
        """(C,) int16 depth of every class."""
        return np.array([self._depths[w] for w in self.vocabulary.ids], dtype=np.int16)

    @cached_property
    def subtree_class_counts(self) -> dict[str, int]:
        """Number of classes at or below each ancestor of a class (the 'size' of a superclass)."""
        counts: dict[str, int] = {}
        for anc in self._class_ancestors:
            for a in anc:
                counts[a] = counts.get(a, 0) + 1
        return counts

    # ---- named groups --------------------------------------------------------------------------
    def in_group(self, group: str) -> np.ndarray:
        """(C,) bool: classes at or below the named group's synset."""
        if group not in self.groups:
            raise BagelError(f"unknown superclass group {group!r} (have: {', '.join(self.groups)})")
        node = self.groups[group]
        return np.array([node in anc for anc in self._class_ancestors], dtype=bool)

    def group_masks(self) -> dict[str, np.ndarray]:
        """Each named group's class mask plus 'other' (classes under none of the non-nested groups).
        Groups may nest (ImageNet's 'dog' lies inside 'organism')."""
        masks = {g: self.in_group(g) for g in self.groups}
        covered = np.zeros(len(self.vocabulary), dtype=bool)
        for m in masks.values():
            covered |= m
        masks["other"] = ~covered
        return masks
