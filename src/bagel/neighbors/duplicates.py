"""Exact and near duplicates across a validation and a training split, clusters and the leak report.

Three kinds of evidence, strongest first, each an edge between two images:
  exact    pixel-identical after decoding (fingerprint key grouping, verified by a SHA-1 of every
           pixel): the paper's "pixelwise L2 distance of 0"; found in O(N) by hashing.
  resized  the same picture at another size or encoding: equal pHash of the canonical 32 x 32
           thumbnail; O(N) by grouping.
  near     among each validation image's K nearest training images (`bagel neighbors`): embedding
           cosine distance <= ``near_threshold``, or passing the geometric verification of
           `bagel.neighbors.verify` (one image is a crop -- keeping >= 68 % of the area -- or a
           resized, re-encoded or mirrored copy of the other). A pHash Hamming distance <=
           ``phash_bits`` alone is not evidence: on smooth pictures unrelated images get there.
Edges are joined into clusters with union-find. A pair's kind is its strongest evidence.

Files written to ``duplicates/`` (see `find_duplicates`):
  clusters.parquet   one row per image in a cluster: cluster, key, split, label, path, kind, score,
                     cluster_kind, cluster_size, n_val, n_train, n_labels
  clusters.json      the same grouped by cluster, for the review app's gallery
  leaks.parquet      one row per (validation, training) duplicate pair: val_key, val_label,
                     train_key, train_label, kind, score, distance, hamming, same_label,
                     verify_score, crop_area, crop (geometric verification of near candidates;
                     NaN / False where not verified)
  leaks_by_class_pair.csv   val_label, train_label, kind, pairs, val_images
  train_drop.txt     training keys to drop for a de-duplicated retraining, one per line
  summary.json       counts (also returned)
  nn_distance_hist.png      nearest-training-neighbour distances with the near threshold
``hashes/<split>.parquet`` caches the fingerprints (key, pixel_key, phash, informative, width, height, reason).
"""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import pandas as pd

from bagel.data.imageset import ImageSet
from bagel.errors import BagelError
from bagel.neighbors.hashing import fingerprint_files, hamming, pixel_digest
from bagel.neighbors.images import ImageReadError
from bagel.neighbors.parallel import ordered_map
from bagel.neighbors.verify import CROP_AREA, verify_pairs
from bagel.neighbors.verify import THRESHOLD as VERIFY_THRESHOLD

log = logging.getLogger("bagel.neighbors")

KINDS = ("exact", "resized", "near")  # strongest first
DROP_LEVELS = {"exact": {"exact"}, "resized": {"exact", "resized"}, "near": set(KINDS)}
DEFAULT_PHASH_BITS = 8


# ---- fingerprints ---------------------------------------------------------------------------------
def fingerprint_split(ws, imageset: ImageSet, workers: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Fingerprints of every image of ``imageset`` in image-set order, cached in
    ``hashes/<split>.parquet`` (reused while the keys are unchanged)."""
    cache = ws.path("hashes", f"{imageset.split}.parquet")
    keys = imageset.keys.astype(str)
    if cache.exists():
        df = pd.read_parquet(cache)
        if len(df) == len(keys) and (df["key"].to_numpy(str) == keys).all():
            return df
    if imageset.root is None:
        raise BagelError(f"image set {imageset.split}: no pixels on disk (no root folder), cannot look for duplicates")
    paths = [str(imageset.abs_path(i)) if imageset.paths[i] else "" for i in range(len(imageset))]
    f = fingerprint_files(paths, workers=workers, progress=progress)
    df = pd.DataFrame({"key": keys, **f})
    df["reason"] = df["reason"].astype(str)
    for r, why in zip(paths, df["reason"]):
        if why:
            log.warning("skipped %s: %s", r, why)
    df.to_parquet(cache, index=False)
    return df


def _digest_or_none(path: str) -> str | None:
    try:
        return pixel_digest(path)
    except ImageReadError:
        return None


# ---- union-find -----------------------------------------------------------------------------------
def connected_components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Union-find over ``n`` nodes and edges (a[i], b[i]); returns (n,) int64 component ids
    numbered 0.. in order of each component's smallest node."""
    parent = np.arange(n)

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving keeps trees shallow
            x = parent[x]
        return x

    for x, y in zip(np.asarray(a).tolist(), np.asarray(b).tolist()):
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    roots = np.array([find(x) for x in range(n)], dtype=np.int64)
    _, comp = np.unique(roots, return_inverse=True)
    return comp.astype(np.int64)


def _group_edges(values: np.ndarray, nodes: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Groups (size >= 2) of ``nodes`` sharing a value; also chain edges linking each group."""
    if len(nodes) == 0:
        return [], np.empty(0, np.int64), np.empty(0, np.int64)
    order = np.argsort(values, kind="stable")
    v, nd = values[order], nodes[order]
    starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
    stops = np.r_[starts[1:], len(v)]
    groups = [nd[s:e] for s, e in zip(starts, stops) if e - s > 1]
    same = np.flatnonzero(v[1:] == v[:-1])
    return groups, nd[same], nd[same + 1]


# ---- the stage ------------------------------------------------------------------------------------
def find_duplicates(ws, val_split: str = "val", train_split: str = "train", model: str | None = "dct", *,
                    near_threshold: float | None = None, phash_bits: int = DEFAULT_PHASH_BITS, drop: str = "exact",
                    verify: bool = True, verify_threshold: float = VERIFY_THRESHOLD, verify_k: int | None = None,
                    workers: int | None = None, progress: bool = True) -> dict:
    """Find duplicates between and within ``val_split`` and ``train_split``; write the files listed
    in the module docstring and return the summary dict.

    model: embedding model whose stored ``val_split``->``train_split`` neighbours give the near
           candidates (None: hashing only, no near duplicates by embedding).
    near_threshold: cosine distance for 'near' (default: the embedder's measured value).
    phash_bits: neighbours beyond ``verify_k`` within this pHash Hamming distance (of 64) are verified too.
    verify: geometrically verify the candidates (`bagel.neighbors.verify`): finds crops the
           embedding distance misses. Off: 'near' is the embedding threshold alone.
    verify_threshold: band-pass correlation a verified pair needs (default measured, see docs).
    verify_k: verify the first ``verify_k`` stored neighbours of each validation image (None: all).
    drop: which pairs put a training image on the drop list: 'exact', 'resized' (and exact) or 'near' (all).
    """
    if drop not in DROP_LEVELS:
        raise BagelError(f"drop level {drop!r}: expected one of {', '.join(DROP_LEVELS)}")
    vset, tset = ImageSet.load(ws, val_split), ImageSet.load(ws, train_split)
    fv, ft = fingerprint_split(ws, vset, workers, progress), fingerprint_split(ws, tset, workers, progress)
    nv, nt = len(vset), len(tset)
    # One node per image: val rows 0..nv-1, then train rows.
    split = np.r_[np.zeros(nv, np.int8), np.ones(nt, np.int8)]
    keys = np.r_[vset.keys.astype(str), tset.keys.astype(str)].astype(object)
    labels = np.r_[vset.labels, tset.labels].astype(np.int64)
    paths = [str(vset.abs_path(i)) if vset.root and vset.paths[i] else "" for i in range(nv)] + \
            [str(tset.abs_path(i)) if tset.root and tset.paths[i] else "" for i in range(nt)]
    ok = np.r_[fv["reason"].to_numpy(str) == "", ft["reason"].to_numpy(str) == ""]
    pkey = np.r_[fv["pixel_key"].to_numpy(np.uint64), ft["pixel_key"].to_numpy(np.uint64)]
    phash = np.r_[fv["phash"].to_numpy(np.uint64), ft["phash"].to_numpy(np.uint64)]
    informative = np.r_[fv["informative"].to_numpy(bool), ft["informative"].to_numpy(bool)] & ok

    # exact: group by the sampled-row key, then verify every candidate group on all pixels
    cand_groups, _, _ = _group_edges(pkey[ok], np.flatnonzero(ok))
    members = np.concatenate(cand_groups) if cand_groups else np.empty(0, np.int64)
    digests = dict(zip(members.tolist(), ordered_map(_digest_or_none, [paths[m] for m in members], workers if len(members) > 512 else 1)))
    exact_id = np.full(len(keys), -1, np.int64)
    if len(members):
        dig = np.array([digests[m] or f"unreadable-{m}" for m in members.tolist()], dtype=object)
        _, inv = np.unique(dig, return_inverse=True)
        exact_id[members] = inv
    exact_nodes = np.flatnonzero(exact_id >= 0)
    exact_groups, ea, eb = _group_edges(exact_id[exact_nodes], exact_nodes)
    n_false_key = len(members) - sum(len(g) for g in exact_groups)

    # resized: same canonical pHash, not already pixel-identical
    inf_nodes = np.flatnonzero(informative)
    canon_groups, ra, rb = _group_edges(phash[inf_nodes], inf_nodes)

    pair_rows: list[tuple[int, int, str]] = []  # (val node, train node, kind) and train-train pairs
    # Every val x train pair of a group is a leak; pairs inside one split only need the chain
    # edges (a group of n look-alikes must not cost n^2 rows).
    for kind, groups, ca, cb in (("exact", exact_groups, ea, eb), ("resized", canon_groups, ra, rb)):
        for g in groups:
            gv, gt = g[g < nv], g[g >= nv]
            pair_rows += [(int(a), int(b), kind) for a in gv for b in gt]
        pair_rows += [(int(a), int(b), kind) for a, b in zip(ca, cb) if (a < nv) == (b < nv)]

    # near: the K stored neighbours of each validation image
    emb_v = emb_t = None
    nn_dist = np.empty(0, np.float32)
    vstats: dict = {"enabled": bool(verify and model is not None), "threshold": verify_threshold}
    verified_rows = pd.DataFrame({"a": np.empty(0, np.int64), "b": np.empty(0, np.int64), "verify_score": [], "crop_area": []})
    if model is not None:
        from bagel.neighbors.embed import load_embeddings
        from bagel.neighbors.lookup import load_neighbors

        nb = load_neighbors(ws, val_split, train_split, model)
        emb_v, _, meta = load_embeddings(ws, vset, model)
        emb_t, _, _ = load_embeddings(ws, tset, model)
        near_threshold = float(meta.get("near_threshold", 0.05)) if near_threshold is None else float(near_threshold)
        qi = np.repeat(nb.query_rows, nb.indices.shape[1])
        ti = np.asarray(nb.indices).ravel()
        di = np.asarray(nb.distances).ravel()
        valid = ti >= 0
        qi, ti, di = qi[valid], ti[valid], di[valid]
        nn_dist = np.asarray(nb.distances)[:, 0]
        ham = hamming(phash[qi], phash[nv + ti])
        near = di <= near_threshold
        if verify:
            rank = np.tile(np.arange(nb.indices.shape[1]), len(nb.query_rows))[valid]
            cand = (rank < (verify_k if verify_k is not None else rank.max(initial=0) + 1)) | ((ham <= phash_bits) & informative[qi] & informative[nv + ti])
            cand &= ok[qi] & ok[nv + ti]
            t0 = time.perf_counter()
            res = verify_pairs(paths[:nv], paths[nv:], qi[cand], ti[cand], threshold=verify_threshold, workers=workers)
            vstats["seconds"] = round(time.perf_counter() - t0, 3)
            vscore, varea = np.full(len(qi), np.nan), np.full(len(qi), np.nan)
            vscore[cand], varea[cand] = res["score"], res["area"]
            near |= vscore >= verify_threshold
            vstats.update(candidate_pairs=int(cand.sum()), verified_pairs=int(res["verified"].sum()),
                          verified_beyond_distance=int((res["verified"] & (di[cand] > near_threshold)).sum()),
                          crops=int((res["verified"] & (res["area"] < CROP_AREA)).sum()),
                          ms_per_pair=round(1000 * vstats["seconds"] / max(1, int(cand.sum())), 3))
            verified_rows = pd.DataFrame({"a": qi[near], "b": nv + ti[near], "verify_score": vscore[near], "crop_area": varea[near]})
        pair_rows += [(int(a), int(nv + b), "near") for a, b in zip(qi[near], ti[near])]

    # pairs: keep each pair's strongest kind
    pairs = pd.DataFrame(pair_rows, columns=["a", "b", "kind"]) if pair_rows else pd.DataFrame({"a": [], "b": [], "kind": []})
    pairs["a"], pairs["b"] = pairs["a"].astype(np.int64), pairs["b"].astype(np.int64)
    lo, hi = np.minimum(pairs.a, pairs.b), np.maximum(pairs.a, pairs.b)
    pairs["a"], pairs["b"] = lo, hi
    pairs["rank"] = pairs["kind"].map({k: i for i, k in enumerate(KINDS)})
    pairs = pairs.sort_values(["a", "b", "rank"]).drop_duplicates(["a", "b"]).reset_index(drop=True)
    pairs["hamming"] = hamming(phash[pairs.a.to_numpy()], phash[pairs.b.to_numpy()]) if len(pairs) else np.empty(0, np.int64)
    pairs["distance"] = _pair_distances(pairs, nv, emb_v, emb_t)
    pairs["score"] = np.where(pairs["kind"] == "exact", 1.0, np.where(np.isnan(pairs["distance"]), 1.0 - pairs["hamming"] / 64.0, 1.0 - pairs["distance"]))
    pairs = pairs.merge(verified_rows.astype({"a": np.int64, "b": np.int64}), on=["a", "b"], how="left")  # val node < train node: (a, b) order holds
    pairs["crop"] = (pairs["verify_score"] >= verify_threshold) & (pairs["crop_area"] < CROP_AREA) & (pairs["kind"] == "near")

    # clusters: union-find over all edges (the group chains are enough to connect groups)
    a_all = np.r_[pairs.a.to_numpy(), ea, ra]
    b_all = np.r_[pairs.b.to_numpy(), eb, rb]
    comp = connected_components(len(keys), a_all, b_all)
    in_pair = np.zeros(len(keys), bool)
    in_pair[a_all] = True
    in_pair[b_all] = True
    clusters = _cluster_table(comp, in_pair, pairs, keys, split, labels, paths, exact_id, val_split, train_split)

    leaks = _leak_table(pairs, nv, keys, labels)
    leaks["train_label_in_multilabels"] = _train_labels_under_multilabels(ws, leaks, val_split)
    by_pair = (leaks.groupby(["val_label", "train_label", "kind"]).agg(pairs=("val_key", "size"), val_images=("val_key", "nunique")).reset_index()
               .sort_values("pairs", ascending=False)) if len(leaks) else pd.DataFrame(columns=["val_label", "train_label", "kind", "pairs", "val_images"])
    drop_keys = sorted(set(leaks.loc[leaks.kind.isin(DROP_LEVELS[drop]), "train_key"])) if len(leaks) else []

    out = ws.path("duplicates", "summary.json").parent
    clusters.to_parquet(out / "clusters.parquet", index=False)
    (out / "clusters.json").write_text(json.dumps(_gallery(clusters), default=_json_default))
    leaks.to_parquet(out / "leaks.parquet", index=False)
    by_pair.to_csv(out / "leaks_by_class_pair.csv", index=False)
    (out / "train_drop.txt").write_text("".join(k + "\n" for k in drop_keys))
    plot = _plot_nn_distances(nn_dist, near_threshold, out / "nn_distance_hist.png") if len(nn_dist) else None

    summary = {
        "val_images": nv, "train_images": nt,
        "unreadable": {val_split: int((fv["reason"] != "").sum()), train_split: int((ft["reason"] != "").sum())},
        "exact_groups": len(exact_groups), "exact_key_collisions_rejected": int(n_false_key),
        "clusters": int(clusters["cluster"].nunique()) if len(clusters) else 0,
        "thresholds": {"near_cosine_distance": near_threshold, "phash_bits": phash_bits, "model": model, "verify_correlation": verify_threshold if vstats["enabled"] else None},
        "verification": vstats,
        "leaks": _leak_counts(leaks),
        "train_within_split_exact_pairs": int(((split[pairs.a] == 1) & (split[pairs.b] == 1) & (pairs.kind == "exact")).sum()) if len(pairs) else 0,
        "drop": drop, "train_drop": len(drop_keys), "plot": str(plot) if plot else None,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=_json_default))
    return summary


def _pair_distances(pairs: pd.DataFrame, nv: int, emb_v, emb_t) -> np.ndarray:
    """Cosine distance of each pair in the embedding space (NaN without embeddings)."""
    if emb_v is None or len(pairs) == 0:
        return np.full(len(pairs), np.nan)
    def vec(nodes):
        nodes = np.asarray(nodes)
        out = np.empty((len(nodes), emb_v.shape[1]), np.float32)
        isv = nodes < nv
        out[isv] = emb_v[nodes[isv]]
        out[~isv] = emb_t[nodes[~isv] - nv]
        return out

    va, vb = vec(pairs.a.to_numpy()), vec(pairs.b.to_numpy())
    zero = (np.abs(va).sum(1) == 0) | (np.abs(vb).sum(1) == 0)  # unreadable at embedding time
    d = 1.0 - (va * vb).sum(1)
    return np.where(zero, np.nan, np.maximum(d, 0.0))


def _cluster_table(comp, in_pair, pairs, keys, split, labels, paths, exact_id, val_split, train_split) -> pd.DataFrame:
    nodes = np.flatnonzero(in_pair)
    cols = ["cluster", "key", "split", "label", "path", "kind", "score", "cluster_kind", "cluster_size", "n_val", "n_train", "n_labels"]
    if len(nodes) == 0:
        return pd.DataFrame(columns=cols)
    # each member's strongest link and best score
    long = pd.concat([pairs[["a", "rank", "score"]].rename(columns={"a": "node"}), pairs[["b", "rank", "score"]].rename(columns={"b": "node"})])
    best = long.groupby("node").agg(rank=("rank", "min"), score=("score", "max"))
    df = pd.DataFrame({"node": nodes, "cluster": comp[nodes], "key": keys[nodes], "split": np.where(split[nodes] == 0, val_split, train_split),
                       "label": labels[nodes], "path": [paths[n] for n in nodes]})
    df = df.join(best, on="node")
    df["rank"] = df["rank"].fillna(0).astype(int)  # linked only through a group chain: exact/resized group member
    df["kind"] = np.array(KINDS)[df["rank"].to_numpy()]
    df["score"] = df["score"].fillna(1.0)
    g = df.groupby("cluster")
    df["cluster_kind"] = np.array(KINDS)[g["rank"].transform("max").to_numpy()]
    df["cluster_size"] = g["key"].transform("size")
    df["n_val"] = g["split"].transform(lambda s: int((s == val_split).sum()))
    df["n_train"] = df["cluster_size"] - df["n_val"]
    df["n_labels"] = g["label"].transform("nunique")
    # renumber clusters: leaks across splits with label conflicts first, then by size
    order = df.groupby("cluster").agg(v=("n_val", "first"), t=("n_train", "first"), l=("n_labels", "first"), s=("cluster_size", "first"))
    order = order.sort_values(["v", "l", "s"], ascending=False, key=lambda c: c if c.name != "v" else (c > 0)).index
    df["cluster"] = df["cluster"].map({c: i for i, c in enumerate(order)})
    return df.sort_values(["cluster", "split", "key"])[cols].reset_index(drop=True)


def _leak_table(pairs: pd.DataFrame, nv: int, keys, labels) -> pd.DataFrame:
    cross = pairs[(pairs.a < nv) & (pairs.b >= nv)]
    return pd.DataFrame({
        "val_key": keys[cross.a.to_numpy()].astype(str), "val_label": labels[cross.a.to_numpy()],
        "train_key": keys[cross.b.to_numpy()].astype(str), "train_label": labels[cross.b.to_numpy()],
        "kind": cross["kind"].to_numpy(str), "score": cross["score"].to_numpy(float), "distance": cross["distance"].to_numpy(float),
        "hamming": cross["hamming"].to_numpy(np.int64), "same_label": labels[cross.a.to_numpy()] == labels[cross.b.to_numpy()],
        "verify_score": cross["verify_score"].to_numpy(float), "crop_area": cross["crop_area"].to_numpy(float), "crop": cross["crop"].to_numpy(bool),
    })


def _leak_counts(leaks: pd.DataFrame) -> dict:
    """Per kind level (exact; exact+resized; all): validation images with training duplicates,
    training copies, how many of those carry a different label, and, where the validation image has
    multi-labels, how many training labels those multi-labels accept (the paper's G.1 numbers: 797
    images, 831 copies, all with another label; 219 of 331 labels correct under multi-labels)."""
    out = {}
    for level, kinds in DROP_LEVELS.items():
        sub = leaks[leaks.kind.isin(kinds)] if len(leaks) else leaks
        ml = sub["train_label_in_multilabels"].dropna() if len(sub) else sub
        out[level] = {"val_images": int(sub.val_key.nunique()) if len(sub) else 0,
                      "val_images_with_several_copies": int((sub.groupby("val_key").size() > 1).sum()) if len(sub) else 0,
                      "train_copies": int(sub.train_key.nunique()) if len(sub) else 0,
                      "pairs": int(len(sub)), "pairs_with_different_label": int((~sub.same_label).sum()) if len(sub) else 0,
                      "pairs_with_multilabels": int(len(ml)), "train_label_correct_under_multilabels": int(ml.astype(bool).sum())}
    return out


def _train_labels_under_multilabels(ws, leaks: pd.DataFrame, val_split: str) -> pd.Series:
    """Per leak pair: whether the training copy's label is among its validation image's accepted
    multi-labels (correct or unclear); None where the image has none, or the workspace dataset has no
    multi-label set for this split."""
    missing = pd.Series([None] * len(leaks), index=leaks.index, dtype=object)
    if not len(leaks) or not (ws.root / "dataset" / "dataset.json").exists():
        return missing
    from bagel.data.dataset import Dataset

    try:
        dataset = Dataset.for_workspace(ws)
        if dataset.imageset.split != val_split or not dataset.has_labels("multilabel"):
            return missing
        ml = dataset.labels("multilabel")
        rows = dataset.imageset.positions(leaks["val_key"].tolist(), source="leak report")
    except BagelError as e:  # labels unavailable: the leak report stands without this column
        log.info("leak report without the multi-label check: %s", e)
        return missing
    accepted = ml.contains(rows, leaks["train_label"].to_numpy(), ml.codes())
    return pd.Series(np.where(ml.annotated[rows], accepted, None), index=leaks.index, dtype=object)


def _gallery(clusters: pd.DataFrame) -> dict:
    out = []
    for cid, g in clusters.groupby("cluster", sort=True):
        first = g.iloc[0]
        out.append({"cluster": int(cid), "kind": first.cluster_kind, "size": int(first.cluster_size), "n_val": int(first.n_val),
                    "n_train": int(first.n_train), "n_labels": int(first.n_labels), "score": float(g.score.min()),
                    "members": g[["key", "split", "label", "path", "kind", "score"]].to_dict("records")})
    return {"clusters": out}


def read_gallery(ws) -> list[dict]:
    """The duplicate clusters `find_duplicates` wrote for galleries (``duplicates/clusters.json``):
    [{cluster, kind, size, n_val, n_train, n_labels, score, members: [{key, split, label, path, kind,
    score}]}]; an error when the stage has not run or the file is unreadable."""
    path = ws.root / "duplicates" / "clusters.json"
    try:
        return json.loads(path.read_text())["clusters"]
    except FileNotFoundError:
        raise BagelError(f"workspace {ws.root}: no duplicate clusters; run `bagel duplicates` first") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BagelError(f"{path}: unreadable duplicate clusters ({type(e).__name__})") from None


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(type(o))


def _plot_nn_distances(nn_dist: np.ndarray, threshold: float, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    d = np.clip(np.asarray(nn_dist, np.float64), 1e-6, None)
    bins = np.logspace(-6, max(0.0, np.log10(d.max()) + 0.1), 60)
    ax.hist(d, bins=bins, color="#4a78a8")
    ax.set_xscale("log")
    ax.axvline(threshold, color="#c0392b", linestyle="--", label=f"near-duplicate threshold {threshold:g}")
    ax.set_xlabel("cosine distance to the nearest training image (log)")
    ax.set_ylabel("validation images")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
