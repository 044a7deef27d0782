import numpy as np
import pytest

from bagel.data.hierarchy import Hierarchy
from bagel.data.vocabulary import Vocabulary
from bagel.errors import BagelError

#            root
#          /      \
#       animal    thing
#       /    \        \
#     dog    cat*     cup*
#    /   \      \
#  pug* husky*  wolfish (OOV, also under 'wild')
EDGES = [("root", "animal"), ("root", "thing"), ("animal", "dog"), ("animal", "cat"), ("thing", "cup"),
         ("dog", "pug"), ("dog", "husky"), ("dog", "wolfish"), ("root", "wild"), ("wild", "wolfish")]
WORDS = {s: s for e in EDGES for s in e}


@pytest.fixture
def tiny():
    vocab = Vocabulary(["pug", "husky", "cat", "cup"], [["pug"], ["husky"], ["cat"], ["cup"]])
    return Hierarchy(EDGES, WORDS, vocab, groups={"animal": "animal", "dog": "dog"})


def test_distances_and_lca(tiny):
    dist, lca = tiny.pair_tables
    assert dist.tolist() == [[0, 2, 3, 5], [2, 0, 3, 5], [3, 3, 0, 4], [5, 5, 4, 0]]
    assert tiny.lca(0, 1) == "dog" and tiny.lca(0, 2) == "animal" and tiny.lca(0, 3) == "root"
    assert tiny.lca(2, 2) == "cat"


def test_depth_is_longest_path(tiny):
    assert tiny.depth("root") == 0 and tiny.depth("dog") == 2 and tiny.depth("pug") == 3
    assert tiny.depth("wolfish") == 3  # root-animal-dog-wolfish beats root-wild-wolfish
    assert tiny.class_depths.tolist() == [3, 3, 2, 2]


def test_oov_and_groups(tiny):
    assert tiny.oov_under("dog") == ["wolfish"]
    assert tiny.oov_under("animal") == ["dog", "wolfish"]
    assert tiny.classes_under("animal") == [0, 1, 2]
    masks = tiny.group_masks()
    assert masks["animal"].tolist() == [True, True, True, False]
    assert masks["dog"].tolist() == [True, True, False, False]
    assert masks["other"].tolist() == [False, False, False, True]
    assert tiny.subtree_class_counts["dog"] == 2


def test_class_missing_from_hierarchy_is_an_error():
    vocab = Vocabulary(["pug", "ghost"], [["pug"], ["ghost"]])
    with pytest.raises(BagelError, match="not in the hierarchy"):
        Hierarchy(EDGES, WORDS, vocab)


def test_imagenet_hierarchy(shared_data):
    vocab = Vocabulary.from_class_info(shared_data / "imagenet/class_info.json")
    h = Hierarchy.from_files(shared_data / "imagenet/is_a.txt", shared_data / "imagenet/words.txt", vocab)
    assert h.name(h.lca(250, 248)) == "working dog"  # siberian husky vs eskimo dog
    masks = h.group_masks()
    assert masks["dog"].sum() == 118  # the 118 dog classes of ImageNet
    assert (masks["organism"] | masks["artifact"] | masks["other"]).all()
    assert not (masks["organism"] & masks["artifact"]).any()
    assert np.all(h.pair_tables[0] >= 0)
