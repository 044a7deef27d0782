"""Reviews in and out of the published formats.

- Out: a model's reviews (one reviewer's, or the consensus) as the published mistakes schema
  (``{file_name: {top_prediction, failure category, failure severity}}``, wrong predictions only),
  and the multi-label file updated with what reviewers accepted: a correct "mistake" adds its
  prediction to the image's correct labels, a problematic flag marks the image problematic.
- In: a published mistakes file becomes the verdicts of reviewer 'imported' (an expert panel's
  review, to compare with or to start from); a published multi-label file becomes the workspace's
  multi-label set.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

from bagel.data.dataset import Dataset
from bagel.data.labelset import multilabel_labels, original_labels, validate_multilabel_json
from bagel.data.vocabulary import load_json
from bagel.errors import BagelError
from bagel.mistakes.taxonomy import Judgement, parse_category, parse_severity
from bagel.review.agreement import consensus
from bagel.review.queue import Tables
from bagel.review.store import IMPORTED, ReviewStore


def judgements(store: ReviewStore, model: str, reviewer: str | None = None) -> dict[str, dict]:
    """key -> {verdict, problematic, severity, category, prediction}: ``reviewer``'s current
    judgements, or (reviewer None) the consensus where there is one (open disagreements are left out)."""
    if reviewer is not None:
        store.reviewer_id(reviewer)  # unknown reviewer: a one-line error, not an empty file
        return {r["key"]: r for r in store.current(model, reviewer=reviewer)}
    return {k: v for k, v in consensus(store.current(model), store.resolutions(model)).items() if v["verdict"] is not None}


def _prediction(j: dict, table, key: str) -> int | None:
    if j.get("prediction") is not None:
        return int(j["prediction"])
    i = table.index.get(key) if table is not None else None
    return int(table.predictions[i]) if i is not None else None


def published_mistakes(ws, store: ReviewStore, model: str, reviewer: str | None = None) -> dict:
    """The published mistakes schema for the items judged wrong (sorted by key)."""
    table = _table(ws, model)
    out = {}
    for key, j in sorted(judgements(store, model, reviewer).items()):
        if j["verdict"] != "wrong":
            continue
        pred = _prediction(j, table, key)
        if pred is None:
            continue
        out[key] = Judgement(verdict="wrong", severity=j["severity"], category=j["category"]).published(pred)
    return out


def updated_multilabel(ws, store: ReviewStore, model: str, reviewer: str | None = None) -> tuple[dict, dict]:
    """(the multi-label file in the published schema with accepted corrections, summary). The base
    is the dataset's multi-label set, else its original labels."""
    ds = Dataset.for_workspace(ws)
    base = ds.labels("multilabel") if ds.files.get("multilabel") else original_labels(ds.imageset, len(ds.vocabulary))
    table = _table(ws, model)
    index = ds.imageset.index
    additions, flagged, unknown = [], [], 0
    for key, j in judgements(store, model, reviewer).items():
        r = index.get(key)
        if r is None:
            unknown += 1
            continue
        pred = _prediction(j, table, key)
        if j["verdict"] == "correct" and pred is not None and 0 <= pred < len(ds.vocabulary):
            additions.append((r, pred))
        if j["problematic"]:
            flagged.append(r)
    updated = base.with_correct(additions, name=f"{base.name}+review") if additions else base
    if flagged:
        prob = updated.problematic.copy()
        prob[flagged] = True
        updated = dataclasses.replace(updated, problematic=prob)
    newly = sorted(set(flagged))
    summary = {"labels_added": len(additions), "problematic_added": int((~base.problematic[newly]).sum()) if newly else 0,
               "unknown_keys": unknown, "base": base.name}
    return updated.to_multilabel_json(ds.imageset, ds.vocabulary), summary


def _table(ws, model: str):
    try:
        return Tables(ws).get(model)
    except BagelError:
        return None  # imported verdicts can be exported without the mistakes stage's table


def write_json(data, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)
    return path


def import_mistakes(ws, store: ReviewStore, model: str, path, reviewer: str = IMPORTED) -> dict:
    """A published mistakes file as ``reviewer``'s verdicts on ``model`` (each entry: verdict
    wrong with its category and severity). Re-importing the same file adds nothing (each entry's
    idempotency key is derived from its content). Returns counts."""
    path = Path(path)
    data = load_json(path)
    if not isinstance(data, dict) or not all(isinstance(v, dict) and "top_prediction" in v for v in data.values()):
        raise BagelError(f"{path}: expected the published mistakes schema ({{file_name: {{top_prediction, failure category, failure severity}}}})")
    store.add_reviewer(reviewer)
    table = _table(ws, model)
    imported = duplicates = not_in_table = other_prediction = 0
    for key, v in data.items():
        where = f"{path} ({key})"
        cat = parse_category(v["failure category"], where) if v.get("failure category") else None
        sev = parse_severity(v["failure severity"], where) if v.get("failure severity") else None
        pred = int(v["top_prediction"])
        if table is not None:
            i = table.index.get(key)
            if i is None:
                not_in_table += 1
            elif int(table.predictions[i]) != pred:
                other_prediction += 1
        idem = "import:" + hashlib.sha1(json.dumps([reviewer, model, key, v], sort_keys=True).encode()).hexdigest()
        rec = store.record(reviewer, model, key, Judgement("wrong", False, sev, cat, ""), prediction=pred, idem=idem, action="import")
        duplicates += rec.duplicate
        imported += not rec.duplicate
    return {"entries": len(data), "imported": imported, "already_there": duplicates, "not_in_mistakes": not_in_table,
            "other_prediction": other_prediction, "reviewer": reviewer}


def import_multilabel(ws, path) -> dict:
    """Make a published multi-label file the workspace dataset's multi-label set (copied to
    ``dataset/multilabel.json`` after checking every key and class against the dataset)."""
    path = Path(path)
    meta_path = ws.root / "dataset" / "dataset.json"
    if not meta_path.exists():
        raise BagelError(f"{ws.root}: importing a multi-label file needs a workspace dataset (dataset/dataset.json); "
                         "attach one first, e.g. `bagel dataset imagenet -w WS`")
    validate_multilabel_json(path)
    ds = Dataset.for_workspace(ws)
    ls = multilabel_labels(path, ds.imageset, ds.vocabulary)  # raises on unknown keys or classes
    meta = load_json(meta_path)
    dest = ws.root / "dataset" / "multilabel.json"
    if path.resolve() != dest.resolve():
        tmp = dest.with_name("multilabel.json.tmp")
        shutil.copyfile(path, tmp)
        tmp.replace(dest)
    if meta.get("multilabel") != "multilabel.json":
        meta["multilabel"] = "multilabel.json"
        write_json(meta, meta_path)
    return {"images": int(ls.annotated.sum()), "problematic": int(ls.problematic.sum()), "imagenet_m": int(ls.imagenet_m.sum()),
            "path": str(dest)}


def export(ws, store: ReviewStore, model: str, reviewer: str | None, mistakes_out=None, multilabel_out=None) -> dict:
    """Write the requested files; returns what was written with counts."""
    if mistakes_out is None and multilabel_out is None:
        raise BagelError("nothing to export: give --mistakes FILE and/or --multilabel FILE")
    out: dict = {"model": model, "source": reviewer or "consensus"}
    if mistakes_out is not None:
        m = published_mistakes(ws, store, model, reviewer)
        out["mistakes"] = {"path": str(write_json(m, mistakes_out)), "entries": len(m)}
    if multilabel_out is not None:
        ml, summary = updated_multilabel(ws, store, model, reviewer)
        out["multilabel"] = {"path": str(write_json(ml, multilabel_out)), **summary}
    return out
