"""`bagel evaluate` on the real shared predictions reproduces the published figures."""

import json

import pytest

# ../shared/data/README.md: top-1 / top-5 % over 50,000 images; ReaL % over 46,837 images.
PUBLISHED = {
    "alexnet": (56.518, 79.070, 63.061), "densenet121": (74.434, 91.972, 81.487),
    "inception_v3": (77.212, 93.528, 83.573), "nasnetalarge": (82.506, 96.018, 87.279),
    "resnet18": (69.758, 89.076, 77.285), "resnet50": (76.130, 92.862, 82.958),
    "squeezenet1_0": (58.092, 80.420, 65.391), "vgg16": (71.592, 90.382, 79.040),
}


def test_every_shipped_model_matches_the_published_table(shared_data, run_cli, tmp_path):
    files = sorted((shared_data / "imagenet/predictions").glob("*.npy"))
    assert {f.stem for f in files} == set(PUBLISHED)
    code, out, err = run_cli("evaluate", *files, "--order", "imagenetv2-val", "--json", "--bootstrap", "200", "-w", tmp_path / "ws")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["ranked_by"] == "real"  # the multi-label file is not in the shared cache
    assert doc["unavailable"]["mla"] == "bagel data fetch multilabel"
    for m in doc["models"]:
        top1, top5, real = PUBLISHED[m["name"]]
        assert m["top1"] == pytest.approx(top1, abs=0.001)
        assert m["top5"] == pytest.approx(top5, abs=0.001)
        assert m["real"] == pytest.approx(real, abs=0.001)
        assert m["real_n_images"] == 46837
        assert m["top1_collapsed"] >= m["top1"] and m["real_collapsed"] >= m["real"]
        assert m["mla"] is None and m["imagenet_m"] is None
        assert sum(g["n_images"] for k, g in m["superclasses"].items() if k != "dog") == 50000
    reals = [m["real"] for m in doc["models"]]
    assert reals == sorted(reals, reverse=True)
    from bagel.workspace import Workspace

    runs = Workspace(tmp_path / "ws").runs("evaluate")
    assert len(runs) == 1 and len(runs[0]["results"]["models"]) == 8


def test_csv_key_order_gives_the_same_numbers(shared_data, tmp_path, run_cli):
    import numpy as np
    import pandas as pd

    order = json.loads((shared_data / "imagenet/imagenet-validation-original.json").read_text())["image_filenames"]
    top5 = np.load(shared_data / "imagenet/predictions/resnet50.npy")
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(order))  # rows in any order: matched by key
    df = pd.DataFrame(top5[perm], columns=[f"pred_{i}" for i in range(1, 6)])
    df.insert(0, "key", [order[i][0] for i in perm])
    df.to_parquet(tmp_path / "resnet50_shuffled.parquet")
    code, out, err = run_cli("evaluate", tmp_path / "resnet50_shuffled.parquet", "--labels", "original", "--json", "--bootstrap", "0")
    assert code == 0, err
    m = json.loads(out)["models"][0]
    assert (m["top1"], m["top5"]) == (pytest.approx(76.130, abs=1e-3), pytest.approx(92.862, abs=1e-3))
