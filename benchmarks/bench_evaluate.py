"""evaluate_vs_python_loop: `bagel evaluate`'s metrics for all shipped models vs a per-image loop.

Ours: every shipped model's predictions (50,000 x top-5), every metric (top-1, top-5, ReaL, MLA,
ImageNet-M, the collapsed variants, per-superclass) with 1000 bootstrap resamples each, through
`bagel.evaluate.evaluate_predictions`, files loaded and aligned by key. Baseline: the straightforward
per-image Python loop of the published notebooks computing the same metrics, bootstrap by drawing
resample indices; its bootstrap is timed on a few resamples and extrapolated linearly to 1000.

The multi-label file is not in the shared data, so a synthetic one in the published schema is made
for the 20,000 annotated images (correct = ReaL labels or the original label, some unclear, 5 %
problematic, 68 ImageNet-M images): the metrics' cost does not depend on which labels they hold.
Run: BAGEL_DATA_DIR=../shared/data python -m benchmarks.bench_evaluate
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.results import peak_rss_mb, record
from bagel import metrics
from bagel.data import sources
from bagel.data.dataset import Dataset
from bagel.data.predictions import load_predictions
from bagel.evaluate import evaluate_predictions

N_RESAMPLES = 1000
LOOP_RESAMPLES = 3


def synthetic_multilabel(dataset: Dataset, path: Path) -> None:
    rng = np.random.default_rng(0)
    annotated = json.loads(sources.require("annotated-val20k").read_text())["image_filenames"]
    real = dataset.labels("real")
    ids = dataset.vocabulary.ids
    annots = {}
    for key, wnid in annotated:
        r = dataset.imageset.index[key]
        row = real.row(r)["correct"] or [dataset.imageset.labels[r]]
        unclear = [int(rng.integers(1000))] if rng.random() < 0.1 else []
        annots[key] = {"correct": [ids[c] for c in row], "unclear": [ids[c] for c in unclear], "wrong": []}
    keys = [k for k, _ in annotated]
    prob = {keys[i]: True for i in rng.choice(len(keys), len(keys) // 20, replace=False)}
    path.write_text(json.dumps({"initial_annots": annots, "problematic_images": prob,
                                "imagenet_m": [keys[i] for i in rng.choice(len(keys), 68, replace=False)]}))


def python_loop(top5: list[list[int]], labels: list[int], real: list[set], ml: list[tuple | None], im_m: list[int],
                pairs: set, n_resamples: int, rng) -> dict:
    """The notebooks' way: one Python iteration per image per metric, bootstrap by index draws."""
    n = len(labels)

    def ok_top1(i, collapse):
        p, lab = top5[i][0], labels[i]
        return p == lab or (collapse and (lab, p) in pairs)

    def ok_set(i, accepted, collapse):
        p = top5[i][0]
        return p in accepted or (collapse and any((lab, p) in pairs for lab in accepted))

    out = {}
    per_image = {}
    for collapse in (False, True):
        per_image[f"top1{collapse}"] = [ok_top1(i, collapse) for i in range(n)]
        per_image[f"real{collapse}"] = [ok_set(i, real[i], collapse) if real[i] else None for i in range(n)]
        per_image[f"ml{collapse}"] = [ok_set(i, ml[i][0], collapse) if ml[i] and not ml[i][1] else None for i in range(n)]
    per_image["top5"] = [labels[i] in top5[i] for i in range(n)]

    def stats(idx):
        res = {}
        for name, vals in per_image.items():
            if name.startswith("ml"):
                per_class = {}
                for i in idx:
                    v = vals[i]
                    if v is not None:
                        h, c = per_class.get(labels[i], (0, 0))
                        per_class[labels[i]] = (h + v, c + 1)
                res[name] = sum(h / c for h, c in per_class.values()) / len(per_class)
                res[name + "_imagenet_m"] = sum(1 for i in im_m if ok_set(i, ml[i][0], name.endswith("True")))
            else:
                got = [vals[i] for i in idx if vals[i] is not None]
                res[name] = sum(got) / len(got)
        return res

    out["point"] = stats(range(n))
    boot = [stats(rng.integers(0, n, n)) for _ in range(n_resamples)]
    out["ci"] = {k: np.quantile([b[k] for b in boot], [0.025, 0.975]).tolist() for k in boot[0]} if boot else {}
    return out


def main() -> dict:
    dataset = Dataset.imagenet()
    dataset.hierarchy  # loaded once, as in one `bagel evaluate` run over many models
    files = sorted((sources.data_dir() / "imagenet" / "predictions").glob("*.npy"))
    with tempfile.TemporaryDirectory() as tmp:
        ml_path = Path(tmp) / "human_accuracy_v3.0.0.json"
        synthetic_multilabel(dataset, ml_path)
        dataset.files["multilabel"] = ml_path
        dataset.labels("multilabel")
        dataset.labels("real")

        t = time.perf_counter()
        results = []
        for f in files:
            pred = load_predictions(f, dataset.imageset, dataset.vocabulary, "imagenetv2-val")
            results.append(evaluate_predictions(pred, dataset, ["original", "real", "multilabel"], N_RESAMPLES))
        ours = time.perf_counter() - t
        peak = peak_rss_mb()

        # Baseline inputs as the notebooks hold them: Python lists and sets.
        real_ls, ml_ls = dataset.labels("real"), dataset.labels("multilabel")
        labels = dataset.imageset.labels.tolist()
        real = [set(real_ls.row(i)["correct"]) for i in range(len(labels))]
        ml = [((set(r["correct"]) | set(r["unclear"])), bool(ml_ls.problematic[i])) if ml_ls.annotated[i] else None
              for i, r in ((i, ml_ls.row(i)) for i in range(len(labels)))]
        im_m = np.flatnonzero(ml_ls.imagenet_m).tolist()
        pairs = set(map(tuple, metrics.collapse_pairs().tolist()))
        rng = np.random.default_rng(0)
        t = time.perf_counter()
        point_only = 0.0
        for f in files:
            pred = load_predictions(f, dataset.imageset, dataset.vocabulary, "imagenetv2-val")
            top5 = pred.topk.tolist()
            t0 = time.perf_counter()
            python_loop(top5, labels, real, ml, im_m, pairs, 0, rng)
            point_only += time.perf_counter() - t0
        t_point = time.perf_counter() - t
        t = time.perf_counter()
        python_loop(top5, labels, real, ml, im_m, pairs, LOOP_RESAMPLES, rng)
        per_resample = (time.perf_counter() - t - point_only / len(files)) / LOOP_RESAMPLES
        baseline = t_point + per_resample * N_RESAMPLES * len(files)
    check = {r["name"]: r["top1"] for r in results}
    assert abs(check["resnet50"] - 76.130) < 1e-3
    return record("evaluate_vs_python_loop", ours, baseline, "s", baseline / ours, peak,
                  note=f"{len(files)} models x 50k images, all metrics + collapsed + superclasses, {N_RESAMPLES} bootstrap resamples; "
                       f"loop bootstrap timed on {LOOP_RESAMPLES} resamples of one model and extrapolated linearly; synthetic multi-label file in the published schema",
                  per_resample_loop_s=round(per_resample, 4))


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
