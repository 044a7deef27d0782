"""Benchmark `suggest_vs_evaluate`: suggesting a category and severity for every mistake of a 50k-image
ImageNet model (resnet50, the 7 other shipped models as evidence, no image model) plus learning the
co-occurrence statistics from the 50k ReaL lists, against `bagel evaluate`'s metrics for the same model
(`evaluate_predictions`, 1000 bootstrap resamples). Loading files and the hierarchy's pair tables is
outside both timings (evaluate needs neither; the tables are cached per dataset).

Run from the repository root: ``python -m benchmarks.bench_suggest`` (BAGEL_DATA_DIR must hold the
shared reference data). ratio = evaluate time / suggest time.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("BAGEL_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data"))

from benchmarks.results import peak_rss_mb, record  # noqa: E402
from bagel.data.dataset import Dataset  # noqa: E402
from bagel.evaluate import evaluate_predictions  # noqa: E402
from bagel.mistakes.evidence import build_evidence  # noqa: E402
from bagel.mistakes.pipeline import shipped_predictions  # noqa: E402
from bagel.mistakes.table import suggest_mistakes  # noqa: E402

MODEL = "resnet50"


def best_of(fn, repeats: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> dict:
    dataset = Dataset.imagenet()
    models = shipped_predictions(dataset)
    model = next(p for p in models if p.name == MODEL)
    others = [p for p in models if p.name != MODEL]
    dataset.labels("real")
    dataset.hierarchy.pair_tables  # noqa: B018 (load once: part of the dataset, not of suggesting)

    def ours():
        dataset.labels("real")
        evidence = build_evidence(dataset, ["real", "original"], others)
        return suggest_mistakes(model, evidence)

    def baseline():
        return evaluate_predictions(model, dataset, ["real"], n_resamples=1000)

    t_cold, _ = best_of(ours, repeats=1)  # first call: walks the hierarchy for OOV counts (cached after)
    t_ours, df = best_of(ours)
    t_base, _ = best_of(baseline)
    entry = record("suggest_vs_evaluate", t_ours, t_base, "s", t_base / t_ours, peak_rss_mb(),
                   note=f"{len(df)} mistakes of {MODEL}, 7 other models + ReaL co-occurrence as evidence; baseline: evaluate_predictions (1000 resamples)",
                   cold_s=round(t_cold, 4))
    print(entry)
    return entry


if __name__ == "__main__":
    main()
