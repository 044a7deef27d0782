"""Fixtures of the tiny hand-built world (see mistakes_world.py)."""

import pytest

from mistakes_world import make_hierarchy, make_vocab


@pytest.fixture
def vocab():
    return make_vocab()


@pytest.fixture
def hierarchy(vocab):
    return make_hierarchy(vocab)
