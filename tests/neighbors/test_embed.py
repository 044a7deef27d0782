import importlib.util
import json

import numpy as np
import pytest
import torch

from bagel.data.imageset import ImageSet
from bagel.errors import BagelError
from bagel.neighbors.embed import embed_split, import_vectors, load_embeddings
from bagel.neighbors.embedders import DCTEmbedder, TorchEmbedder, create_embedder


def test_builtin_embedding_is_normalised_and_flip_invariant(world):
    ws, truth = world
    train = ImageSet.load(ws, "train")
    res = embed_split(ws, train, DCTEmbedder(), workers=1, shard_size=16, progress=False)
    emb, ok, meta = load_embeddings(ws, train, "dct")
    assert isinstance(emb, np.memmap) and emb.dtype == np.float32 and emb.shape == (len(train), res["dim"])
    assert ok.all() and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    assert (ws.root / "embeddings" / "dct" / "train.npy").exists() and meta["complete"]
    val = ImageSet.load(ws, "val")
    embed_split(ws, val, DCTEmbedder(), workers=1, progress=False)
    ev, _, _ = load_embeddings(ws, val, "dct")
    flip = truth[truth.transformation == "flip"].iloc[0]
    sim = float(ev[val.index[flip.val_key]] @ emb[train.index[flip.train_key]])
    assert sim > 0.99


def test_rerun_skips_finished_shards_and_redoes_unfinished(world):
    ws, _ = world
    train = ImageSet.load(ws, "train")
    first = embed_split(ws, train, DCTEmbedder(), workers=1, shard_size=10, progress=False)
    assert first["shards_done"] == 5 and first["shards_skipped"] == 0
    done_file = ws.root / "embeddings" / "dct" / "train.done.npy"
    done = np.load(done_file)
    done[2] = False  # as if the run had died in shard 2
    np.save(done_file, done)
    before = np.array(np.load(ws.root / "embeddings" / "dct" / "train.npy"))
    again = embed_split(ws, train, DCTEmbedder(), workers=1, shard_size=10, progress=False)
    assert again["shards_done"] == 1 and again["shards_skipped"] == 4
    assert np.array_equal(before, np.load(ws.root / "embeddings" / "dct" / "train.npy"))


def test_unreadable_images_are_skipped_with_reason(world):
    ws, _ = world
    val = ImageSet.load(ws, "val")
    (val.root / val.paths[3]).write_bytes(b"garbage")
    res = embed_split(ws, val, DCTEmbedder(), workers=2, batch_size=8, progress=False)  # real worker processes
    _, ok, _ = load_embeddings(ws, val, "dct")
    assert res["skipped"] == 1 and not ok[3] and ok.sum() == len(val) - 1
    skipped = (ws.root / "embeddings" / "dct" / "val.skipped.csv").read_text()
    assert val.keys[3] in skipped and "not an image" in skipped


class TinyNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2)
        self.pool = torch.nn.AdaptiveAvgPool2d(2)

    def forward(self, x):
        return self.pool(torch.relu(self.conv(x)))


def test_torch_path_with_a_random_network(world):
    ws, _ = world
    torch.manual_seed(0)
    emb = TorchEmbedder(TinyNet(), "tiny", size=32)
    val = ImageSet.load(ws, "val")
    res = embed_split(ws, val, emb, workers=1, batch_size=7, progress=False)
    e, ok, _ = load_embeddings(ws, val, "tiny")
    assert res["dim"] == 32 and e.shape == (len(val), 32) and ok.all()
    assert np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    # same batch, same answer: the network runs in eval mode without randomness
    batch = np.stack([emb.preprocess(val.abs_path(i)) for i in range(3)])
    assert np.allclose(emb.embed(batch), e[:3], atol=1e-5)


def test_exported_model_file(world, tmp_path):
    ws, _ = world
    torch.manual_seed(0)
    net = TinyNet().eval()
    batch = torch.export.Dim("batch", min=1, max=4096)
    path = tmp_path / "tiny.pt2"
    torch.export.save(torch.export.export(net, (torch.zeros(2, 3, 32, 32),), dynamic_shapes={"x": {0: batch}}), str(path))
    emb = create_embedder("torch", checkpoint=str(path), size=32)
    assert emb.name == "torch-tiny" and emb.dim == 32
    val = ImageSet.load(ws, "val")
    x = np.stack([emb.preprocess(val.abs_path(i)) for i in range(3)])
    direct = TorchEmbedder(net, "same", size=32).embed(x)
    assert np.allclose(emb.embed(x), direct, atol=1e-5)
    bad = tmp_path / "bad.pt2"
    bad.write_bytes(b"not a model")
    with pytest.raises(BagelError, match="bad.pt2: expected a model saved with torch.export.save"):
        create_embedder("torch", checkpoint=str(bad))


@pytest.mark.skipif(importlib.util.find_spec("timm") is None, reason="timm extra not installed (pip install bagel[timm])")
def test_timm_adapter_random_weights(world):
    emb = create_embedder("timm/resnet18")
    assert emb.dim == 512


@pytest.mark.skipif(importlib.util.find_spec("open_clip") is None, reason="open_clip extra not installed (pip install bagel[clip])")
def test_open_clip_adapter_random_weights(world):
    emb = create_embedder("open_clip/RN50")
    assert emb.dim > 0


def test_missing_extras_give_one_line_errors():
    if importlib.util.find_spec("timm") is None:
        with pytest.raises(BagelError, match="optional package 'timm'"):
            create_embedder("timm/resnet18")
    with pytest.raises(BagelError, match="unknown"):
        create_embedder("nosuchmodel")


def test_import_vectors_aligns_by_key(world, tmp_path):
    ws, _ = world
    val = ImageSet.load(ws, "val")
    keys = list(val.keys[::-1]) + ["not-in-the-set.jpg"]
    vec = np.arange(len(keys) * 4, dtype=np.float64).reshape(len(keys), 4) + 1
    np.save(tmp_path / "v.npy", vec)
    (tmp_path / "keys.txt").write_text("\n".join(keys))
    res = import_vectors(ws, val, tmp_path / "v.npy", tmp_path / "keys.txt", "clip")
    e, ok, meta = load_embeddings(ws, val, "clip")
    assert res["ignored_keys"] == 1 and ok.all() and meta["dim"] == 4
    np.testing.assert_allclose(e[0], vec[len(val) - 1] / np.linalg.norm(vec[len(val) - 1]), rtol=1e-6)
    (tmp_path / "short.txt").write_text("\n".join(keys[:3]))
    with pytest.raises(BagelError, match=r"short.txt: expected \d+ keys .* found 3"):
        import_vectors(ws, val, tmp_path / "v.npy", tmp_path / "short.txt")


def test_stale_embeddings_are_refused(world):
    ws, _ = world
    val = ImageSet.load(ws, "val")
    embed_split(ws, val, DCTEmbedder(), workers=1, progress=False)
    fewer = ImageSet(val.keys[:-1], val.labels[:-1], val.paths[:-1], val.root, "val")
    with pytest.raises(BagelError, match="another list"):
        load_embeddings(ws, fewer, "dct")
    meta = json.loads((ws.root / "embeddings" / "dct" / "val.json").read_text())
    assert meta["n"] == len(val)
