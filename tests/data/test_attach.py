"""Attaching images on disk: ImageNet val (flat or in wnid folders, a subset) and ImageFolder datasets."""

import json

import numpy as np
from PIL import Image

from bagel.data.dataset import Dataset
from bagel.data.imageset import ImageSet
from bagel.workspace import Workspace


def _img(path, value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (value, 0, 0)).save(path)


def test_imagenet_val_subset_flat_and_in_wnid_folders(tmp_path, shared_data, run_cli):
    pairs = json.loads((shared_data / "imagenet/imagenet-validation-original.json").read_text())["image_filenames"]
    chosen = sorted(pairs[:: 10000])  # 5 images, one per 10,000
    _img(tmp_path / "val" / chosen[0][0])
    for name, wnid in chosen[1:]:
        _img(tmp_path / "val" / wnid / name)
    _img(tmp_path / "train" / "n01440764" / "n01440764_1.JPEG")
    ws = tmp_path / "ws"
    code, out, err = run_cli("dataset", "imagenet", "-w", ws, "--val", tmp_path / "val", "--train", tmp_path / "train")
    assert code == 0, err
    ds = Dataset.for_workspace(Workspace(ws))
    assert ds.name == "imagenet" and ds.imageset.keys.tolist() == [n for n, _ in chosen]
    assert [ds.vocabulary.ids[c] for c in ds.imageset.labels] == [w for _, w in chosen]
    assert all(ds.imageset.abs_path(i).exists() for i in range(5))
    assert ImageSet.load(Workspace(ws), "train").labels.tolist() == [0]
    # predictions for the subset align by key
    np.savez(tmp_path / "sub.npz", topk=ds.imageset.labels[:, None], keys=np.array([n for n, _ in chosen]))
    code, out, err = run_cli("evaluate", tmp_path / "sub.npz", "-w", ws, "--labels", "original", "--json", "--bootstrap", "0")
    assert code == 0, err
    assert json.loads(out)["models"][0]["top1"] == 100.0
    _img(tmp_path / "val" / "holiday.jpg")
    code, _, err = run_cli("dataset", "imagenet", "-w", ws, "--val", tmp_path / "val")
    assert code == 2 and "1 files are not ImageNet validation images (first: holiday.jpg)" in err


def test_folder_dataset(tmp_path, run_cli):
    for split, n in (("train", 3), ("val", 2)):
        for c in ("cat", "dog"):
            for j in range(n):
                _img(tmp_path / split / c / f"{c}{j}.png", j)
    ws = tmp_path / "ws"
    code, _, err = run_cli("dataset", "folder", "-w", ws, "--val", tmp_path / "val", "--train", tmp_path / "train", "--name", "pets")
    assert code == 0, err
    ds = Dataset.for_workspace(Workspace(ws))
    assert ds.name == "pets" and ds.vocabulary.ids == ["cat", "dog"] and ds.imageset.labels.tolist() == [0, 0, 1, 1]
    assert len(ImageSet.load(Workspace(ws), "train")) == 6


def test_imported_multilabels_serve_an_imagenet_workspace(tmp_path, shared_data, run_cli):
    """`bagel review import-labels` on an ImageNet workspace: evaluate then reports MLA and ImageNet-M."""
    ws = tmp_path / "ws"
    assert run_cli("dataset", "imagenet", "-w", ws)[0] == 0
    pairs = json.loads((shared_data / "imagenet/imagenet-validation-original.json").read_text())["image_filenames"]
    chosen = pairs[:4]  # four images of class 0 (tench)
    ml = {"initial_annots": {k: {"correct": [w]} for k, w in chosen}, "problematic_images": {},
          "imagenet_m": [chosen[0][0]]}
    (tmp_path / "ml.json").write_text(json.dumps(ml))
    code, _, err = run_cli("review", "import-labels", "-w", ws, tmp_path / "ml.json")
    assert code == 0, err
    top5 = np.zeros((50000, 5), dtype=np.int64)  # always 'tench'
    np.save(tmp_path / "tench.npy", top5)
    code, out, err = run_cli("evaluate", tmp_path / "tench.npy", "--order", "imagenetv2-val", "-w", ws, "--json", "--bootstrap", "0")
    assert code == 0, err
    m = json.loads(out)["models"][0]
    assert m["mla"] == 100.0 and m["mla_n_classes"] == 1 and m["imagenet_m"] == 1 and m["imagenet_m_size"] == 1
    assert m["top1"] == 0.1  # 50 of 50,000
