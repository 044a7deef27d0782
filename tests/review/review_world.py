"""A tiny but real workspace for the review tests: 6 bakery classes, 30 evaluation images and 24
training images as real image files, a multi-label file, a mistakes table, a predictions file; and
a real uvicorn server on a free loopback port."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from bagel.data.imageset import ImageSet
from bagel.data.vocabulary import Vocabulary
from bagel.mistakes.taxonomy import CATEGORIES, SEVERITIES
from bagel.workspace import Workspace

CLASSES = [("n07693725", ["bagel", "beigel"], "glazed yeast-raised doughnut-shaped roll with hard crust"),
           ("n07680932", ["dough"], "a flour mixture stiff enough to knead or roll"),
           ("n07695742", ["pretzel"], "glazed and salted cracker typically in the shape of a loose knot"),
           ("n02776631", ["bakery", "bakeshop", "bakehouse"], "a workplace where baked goods are produced or sold"),
           ("n07684084", ["French loaf"], "a loaf of French bread"),
           ("n07697537", ["hotdog", "hot dog", "red hot"], "a frankfurter served hot on a bun")]
MODEL = "tinynet"
N_VAL, N_TRAIN_PER_CLASS, N_MISTAKES = 30, 4, 14
COLORS = [(200, 150, 60), (240, 230, 200), (150, 90, 40), (220, 180, 120), (210, 170, 90), (190, 60, 50)]


def val_key(i: int) -> str:
    return f"ILSVRC2012_val_{i + 1:08d}.JPEG"


def _image(path: Path, color, i: int, fmt: str) -> None:
    im = Image.new("RGB", (64 + 8 * (i % 3), 48 + 4 * (i % 5)), color)
    for x in range(0, im.width, 8):  # a pattern, so each file differs
        im.putpixel((x, (i * 7 + x) % im.height), (i * 9 % 255, 0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, fmt)


def build_workspace(root: Path, mistakes: bool = True) -> Workspace:
    """The tiny world (see module docstring) in folder ``root``."""
    ws = Workspace(root)
    ds = ws.root / "dataset"
    ds.mkdir(exist_ok=True)
    (ds / "class_info.json").write_text(json.dumps([{"cid": c, "wnid": w, "synset": n, "gloss": g} for c, (w, n, g) in enumerate(CLASSES)]))
    vocab = Vocabulary.from_class_info(ds / "class_info.json")
    (ds / "dataset.json").write_text(json.dumps({"name": "tiny", "class_info": "class_info.json", "is_a": None, "words": None,
                                                 "multilabel": "multilabel.json", "eval_split": "val"}))
    C = len(CLASSES)
    # evaluation images: a flat folder of JPEGs named by key
    vdir = ws.root / "images" / "val"
    keys = [val_key(i) for i in range(N_VAL)]
    labels = np.array([i % C for i in range(N_VAL)], dtype=np.int32)
    for i, k in enumerate(keys):
        _image(vdir / k, COLORS[labels[i]], i, "JPEG")
    ImageSet(np.array(keys, dtype=object), labels, np.array(keys, dtype=object), vdir, "val").save(ws)
    # training images: an ImageFolder of PNGs
    tdir = ws.root / "images" / "train"
    for c, (w, _, _) in enumerate(CLASSES):
        for j in range(N_TRAIN_PER_CLASS):
            _image(tdir / w / f"{w}_{j}.png", COLORS[c], c * 10 + j, "PNG")
    ImageSet.from_image_folder(tdir, vocab, "train").save(ws)
    # multi-labels for the first 24 images: the original label correct, the next class wrong
    annots = {}
    for i in range(24):
        annots[keys[i]] = {"correct": [CLASSES[labels[i]][0]], "wrong": [CLASSES[(labels[i] + 2) % C][0]], "unclear": []}
    (ds / "multilabel.json").write_text(json.dumps({"initial_annots": annots, "problematic_images": {keys[3]: True}, "imagenet_m": [keys[0], keys[1]]}))
    if mistakes:
        write_mistakes(ws, MODEL, N_MISTAKES)
        write_predictions(ws, MODEL)
    return ws


def mistake_rows(n: int) -> list[int]:
    return list(range(n))


def write_mistakes(ws, model: str, n: int) -> Path:
    """Mistakes on val images 0..n-1: prediction = label + 1 (mod C)."""
    C = len(CLASSES)
    rows = []
    for i in range(n):
        label = i % C
        pred = (label + 1) % C
        top5 = [pred, label] + [c for c in range(C) if c not in (pred, label)][:3]
        rows.append({"key": val_key(i), "row": i, "label": label, "prediction": pred, "top5": top5,
                     "scores": [0.5, 0.3, 0.1, 0.06, 0.04], "category": CATEGORIES[i % 4], "severity": SEVERITIES[i % 3],
                     "confidence": 0.5 + 0.03 * i, "evidence": json.dumps({"rule": f"rule-{i % 4}", "lca_depth": i % 5})})
    df = pd.DataFrame(rows)
    df["row"] = df["row"].astype("int64")
    df["label"] = df["label"].astype("int32")
    df["prediction"] = df["prediction"].astype("int32")
    out = ws.path("mistakes", f"{model}.parquet")
    df.to_parquet(out, index=False)
    return out


def write_predictions(ws, model: str) -> Path:
    """A CSV predictions file consistent with the mistakes table (right on images >= N_MISTAKES)."""
    C = len(CLASSES)
    rows = []
    for i in range(N_VAL):
        label = i % C
        pred = (label + 1) % C if i < N_MISTAKES else label
        rest = [c for c in range(C) if c != pred][:4]
        rows.append({"key": val_key(i), "c1": pred, "c2": rest[0], "c3": rest[1], "c4": rest[2], "c5": rest[3]})
    out = ws.root / "preds" / f"{model}.csv"
    out.parent.mkdir(exist_ok=True)
    pd.DataFrame(rows).to_csv(out, index=False)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    """uvicorn serving ``app`` on 127.0.0.1:<free port> in a thread of this process."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "ServerThread":
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


def login(client, name: str, token: str | None = None) -> str:
    """Log ``client`` (an httpx.Client on the server) in as ``name``; returns the CSRF token."""
    s = client.get("/api/session").json()
    r = client.post("/api/login", json={"name": name, "token": token}, headers={"X-CSRF-Token": s["csrf"]})
    r.raise_for_status()
    return r.json()["csrf"]
