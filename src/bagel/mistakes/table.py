"""Mistake tables: finding a model's mistakes, suggesting for each, and reading/writing them (the
workspace's ``mistakes/<model>.parquet`` and the published ``{file: {top_prediction, failure category,
failure severity}}`` JSON schema).

Workspace contract (the review app reads it): one row per mistake with columns ``key`` (str),
``row`` (int64), ``label`` (int32), ``prediction`` (int32), ``top5`` (list<int32>), ``scores``
(list<float32> or null), ``category`` / ``severity`` (taxonomy values), ``confidence`` (float64),
``evidence`` (str, a JSON object), plus ``reason`` and signal columns.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bagel.data.imageset import ImageSet
from bagel.data.predictions import Predictions
from bagel.data.vocabulary import load_json
from bagel.errors import BagelError
from bagel.mistakes.evidence import Evidence
from bagel.mistakes.signals import MistakeSignals, compute_signals
from bagel.mistakes.suggest import evidence_json, suggest
from bagel.mistakes.taxonomy import PUBLISHED_CATEGORY, PUBLISHED_SEVERITY, parse_category, parse_severity

TABLE_DIR = "mistakes"


def find_mistakes(top1: np.ndarray, evidence: Evidence) -> np.ndarray:
    """(M,) int64 sorted rows of the mistakes: images annotated by a label source, not flagged
    problematic, whose top-1 is not accepted (correct or unclear, after the collapsed mappings)."""
    lists = evidence.lists
    rows = np.flatnonzero(lists.annotated & ~lists.problematic)
    return rows[~lists.accepts(rows, top1[rows])]


def signals_for(evidence: Evidence, rows: np.ndarray, prediction: np.ndarray, model: str | None = None) -> MistakeSignals:
    """Signals of the mistakes at ``rows`` with top-1 ``prediction`` (other models = every evidence
    model except one named ``model``)."""
    others_topk, others_correct, confusion = evidence.excluding(model or "")
    labels = evidence.dataset.imageset.labels
    return compute_signals(evidence.tables, rows, prediction, labels[rows], evidence.lists.codes, evidence.cooc, confusion,
                           others_topk, others_correct, labels, evidence.embeddings)


def suggest_mistakes(pred: Predictions, evidence: Evidence, with_evidence: bool = True) -> pd.DataFrame:
    """One row per mistake of ``pred`` (columns of the workspace contract, in row order)."""
    rows = find_mistakes(pred.top1, evidence)
    return suggest_rows(evidence, rows, pred.topk[rows], pred.scores[rows] if pred.scores is not None else None,
                        model=pred.name, with_evidence=with_evidence)


def suggest_rows(evidence: Evidence, rows: np.ndarray, topk: np.ndarray, scores: np.ndarray | None = None,
                 model: str | None = None, with_evidence: bool = True) -> pd.DataFrame:
    """Suggestions for given mistakes: ``rows`` (M,) image rows, ``topk`` (M, k) ranked predictions
    (k >= 1), optional ``scores`` (M, k)."""
    imageset = evidence.dataset.imageset
    rows = np.asarray(rows, dtype=np.int64)
    topk = np.asarray(topk, dtype=np.int32).reshape(len(rows), -1)
    prediction = topk[:, 0]
    sig = signals_for(evidence, rows, prediction, model)
    category, severity, confidence, reason = suggest(sig, evidence.rules)
    k = min(5, topk.shape[1])
    df = pd.DataFrame({
        "key": imageset.keys[rows].astype(str), "row": rows, "label": imageset.labels[rows].astype(np.int32),
        "prediction": prediction.astype(np.int32), "top5": list(topk[:, :k]),
        "scores": list(np.asarray(scores, dtype=np.float32)[:, :k]) if scores is not None else [None] * len(rows),
        "category": category, "severity": severity, "confidence": confidence.astype(np.float64),
        "evidence": evidence_json(sig, reason, evidence.dataset.vocabulary, evidence.tables) if with_evidence else [""] * len(rows),
        "reason": reason, "distance": sig.distance.astype(np.int32), "lca_depth": sig.lca_depth.astype(np.int32),
        "near": sig.near, "listed": sig.accepted, "cooccurrence": sig.cooccurrence, "confusion": sig.confusion,
        "models_wrong": sig.models_wrong, "prediction_seen": sig.prediction_seen, "label_seen": sig.label_seen,
    })
    return df


# ---- files --------------------------------------------------------------------------------------
_SCHEMA_TYPES = {"key": pa.string(), "row": pa.int64(), "label": pa.int32(), "prediction": pa.int32(),
                 "top5": pa.list_(pa.int32()), "scores": pa.list_(pa.float32()), "category": pa.string(),
                 "severity": pa.string(), "confidence": pa.float64(), "evidence": pa.string()}


def write_table(df: pd.DataFrame, path: Path) -> Path:
    """Parquet (or CSV by suffix, lists as JSON) with the contract's column types."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        out = df.copy()
        for c in ("top5", "scores"):
            out[c] = [None if v is None else json.dumps([round(float(x), 6) if c == "scores" else int(x) for x in v]) for v in out[c]]
        out.to_csv(path, index=False)
        return path
    fields = [pa.field(c, _SCHEMA_TYPES.get(c, pa.from_numpy_dtype(df[c].dtype) if df[c].dtype != object else pa.string())) for c in df.columns]
    table = pa.Table.from_pandas(df, schema=pa.schema(fields), preserve_index=False)
    pq.write_table(table, path)
    return path


def to_published(df: pd.DataFrame) -> dict:
    """The published mistakes schema: ``{key: {"top_prediction", "failure category", "failure severity"}}``."""
    return {k: {"top_prediction": int(p), "failure category": PUBLISHED_CATEGORY[c], "failure severity": PUBLISHED_SEVERITY[s]}
            for k, p, c, s in zip(df["key"], df["prediction"], df["category"], df["severity"])}


def write_published(df: pd.DataFrame, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_published(df), indent=1))
    return path


def read_published(path, imageset: ImageSet, n_classes: int) -> pd.DataFrame:
    """An expert (or exported) mistakes file in the published schema, as a table with columns ``key``,
    ``row``, ``prediction``, ``category``, ``severity`` (taxonomy values, mapped by meaning), in the
    file's order. Unknown keys, category or severity strings and out-of-range predictions are errors."""
    path = Path(path)
    data = load_json(path)
    if not isinstance(data, dict) or not data:
        raise BagelError(f"{path}: expected the published mistakes schema, an object {{file: {{top_prediction, failure category, failure severity}}}}")
    keys, preds, cats, sevs = [], [], [], []
    for key, v in data.items():
        if not isinstance(v, dict) or "top_prediction" not in v:
            raise BagelError(f"{path}: entry {key!r} has no 'top_prediction' (expected {{top_prediction, failure category, failure severity}})")
        p = v["top_prediction"]
        if not isinstance(p, int) or isinstance(p, bool) or not 0 <= p < n_classes:
            raise BagelError(f"{path}: entry {key!r}: top_prediction {p!r} is not a class index in 0..{n_classes - 1}")
        keys.append(key)
        preds.append(p)
        cats.append(parse_category(v.get("failure category"), source=f"{path} ({key})"))
        sevs.append(parse_severity(v.get("failure severity"), source=f"{path} ({key})"))
    rows = imageset.positions(keys, source=str(path))
    return pd.DataFrame({"key": keys, "row": rows, "prediction": np.array(preds, dtype=np.int32), "category": cats, "severity": sevs})


# ---- workspace ----------------------------------------------------------------------------------
def table_path(ws, model: str) -> Path:
    return ws.root / TABLE_DIR / f"{model}.parquet"


def save_mistakes(ws, model: str, df: pd.DataFrame) -> tuple[Path, Path]:
    """Write ``WS/mistakes/<model>.parquet`` and ``WS/mistakes/<model>.json`` (published schema)."""
    return write_table(df, ws.path(TABLE_DIR, f"{model}.parquet")), write_published(df, ws.path(TABLE_DIR, f"{model}.json"))


def mistake_models(ws) -> list[str]:
    """Models whose mistake table the workspace holds, sorted."""
    d = ws.root / TABLE_DIR
    return sorted(p.stem for p in d.glob("*.parquet")) if d.exists() else []


def load_mistakes(ws, model: str) -> pd.DataFrame:
    """The mistake table of ``model`` (columns of the workspace contract)."""
    p = table_path(ws, model)
    if not p.exists():
        have = mistake_models(ws)
        raise BagelError(f"workspace {ws.root}: no mistakes for model {model!r} (have: {', '.join(have) or 'none'}; run `bagel mistakes suggest`)")
    return pd.read_parquet(p)
