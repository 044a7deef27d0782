"""A tiny hand-built world for exact rule tests: 6 classes in a 3-level hierarchy.

    root(0) ─ animal(1) ─ dog(2) ─ beagle(3) #0, husky(3) #1, dingo (out of vocabulary)
            └ artifact(1) ┬ vehicle(2) ─ sedan #2, pickup #3
                          └ container(2) ─ mug #4, cup #5
Median class depth 3, so with near_ratio 0.6 an LCA at depth >= 2 makes a pair near (siblings).
"""

import numpy as np

from bagel.data.dataset import Dataset
from bagel.data.hierarchy import Hierarchy
from bagel.data.imageset import ImageSet
from bagel.data.vocabulary import Vocabulary

IDS = ["c0beagle", "c1husky", "c2sedan", "c3pickup", "c4mug", "c5cup"]
EDGES = [("root", "animal"), ("root", "artifact"), ("animal", "dog"), ("dog", "c0beagle"), ("dog", "c1husky"), ("dog", "dingo"),
         ("artifact", "vehicle"), ("artifact", "container"), ("vehicle", "c2sedan"), ("vehicle", "c3pickup"),
         ("container", "c4mug"), ("container", "c5cup")]
WORDS = {"root": "entity", "animal": "animal", "artifact": "artifact", "dog": "dog", "dingo": "dingo", "vehicle": "vehicle",
         "container": "container", "c0beagle": "beagle", "c1husky": "husky", "c2sedan": "sedan", "c3pickup": "pickup",
         "c4mug": "mug", "c5cup": "cup"}
BEAGLE, HUSKY, SEDAN, PICKUP, MUG, CUP = range(6)


def make_vocab():
    return Vocabulary(IDS, [[WORDS[i]] for i in IDS])


def make_hierarchy(vocab):
    return Hierarchy(EDGES, WORDS, vocab, {"animal": "animal", "artifact": "artifact"})


def tiny_dataset(vocab, hierarchy, labels):
    """A Dataset over images img0.. with the given original labels and the tiny hierarchy."""
    labels = np.asarray(labels)
    keys = np.array([f"img{i}" for i in range(len(labels))], dtype=object)
    ds = Dataset("tiny", vocab, ImageSet(keys, labels, np.array([""] * len(labels), dtype=object)), {}, None, False)
    ds.__dict__["hierarchy"] = hierarchy  # cached_property slot: the tiny hierarchy instead of files
    return ds
