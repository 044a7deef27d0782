"""The built-in demo world: a deterministic, offline dataset small enough to run every stage in
well under two minutes, with the structure the paper found in ImageNet.

- 24 classes in a small WordNet-like hierarchy (dogs, cats, birds; vehicles, instruments,
  containers; baked goods), with out-of-vocabulary synsets under some superclasses;
- generated images (each class a palette and a shape pattern; siblings look alike), a train split
  in ImageFolder layout and a flat val split, as on an ImageNet disk;
- multi-labels in the published schema: a second object drawn into some images, unclear labels,
  problematic images whose original label is wrong, an ImageNet-M-like set of hard images;
- three simulated models whose mistakes are structured like real ones: mostly siblings, some
  co-occurring objects (correct "mistakes"), some spurious partners, atypical images wrong for all;
- train/val leaks: exact copies of val images in train under another label (also stored as PNG,
  so only a pixel hash finds them), and near-duplicates (crops, resizes, re-encodes).
Everything is drawn from one seeded generator, so two runs give identical files.
"""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
from PIL import Image, ImageDraw

from bagel.data.imageset import ImageSet
from bagel.data.vocabulary import Vocabulary

SEED = 20221128
SIZE = 64
N_TRAIN_PER_CLASS = 40
N_VAL_PER_CLASS = 15

# (id, names, parent); classes are the leaves listed in CLASSES below.
SYNSETS = [
    ("x00000", "entity", None),
    ("x00100", "organism, being", "x00000"), ("x00200", "artifact, artefact", "x00000"), ("x00300", "food, nutrient", "x00000"),
    ("x00110", "dog, domestic dog", "x00100"), ("x00120", "cat, true cat", "x00100"), ("x00130", "bird", "x00100"),
    ("x00210", "vehicle", "x00200"), ("x00220", "instrument, musical instrument", "x00200"), ("x00230", "container", "x00200"),
    ("x00310", "baked goods", "x00300"),
    ("x00119", "dingo, warrigal", "x00110"), ("x00129", "lynx, catamount", "x00120"),  # out of vocabulary
    ("x00219", "limousine, limo", "x00210"), ("x00319", "croissant, crescent roll", "x00310"),
]
CLASSES = [  # (id, names, parent, gloss)
    ("x01101", "beagle", "x00110", "a small short-legged smooth-coated hound"),
    ("x01102", "basset, basset hound", "x00110", "a long-bodied short-legged hound"),
    ("x01103", "Siberian husky", "x00110", "breed of sled dog developed in northeastern Siberia"),
    ("x01104", "malamute, Alaskan malamute", "x00110", "breed of sled dog developed in Alaska"),
    ("x01201", "tabby, tabby cat", "x00120", "a cat with a grey or tawny coat mottled with black"),
    ("x01202", "Siamese cat, Siamese", "x00120", "a slender short-haired blue-eyed breed of cat"),
    ("x01203", "Persian cat", "x00120", "a long-haired breed of cat"),
    ("x01301", "robin, American robin", "x00130", "large American thrush having a rust-red breast"),
    ("x01302", "goldfinch", "x00130", "small American finch whose males have yellow plumage"),
    ("x01303", "jay", "x00130", "crested largely blue bird"),
    ("x02101", "sedan, saloon", "x00210", "a car that is closed and that has front and rear seats"),
    ("x02102", "pickup, pickup truck", "x00210", "a light truck with an open body and low sides"),
    ("x02103", "minivan", "x00210", "a small box-shaped passenger van"),
    ("x02104", "tractor", "x00210", "a wheeled vehicle with large wheels used in farming"),
    ("x02201", "violin, fiddle", "x00220", "bowed stringed instrument that is the highest member of the violin family"),
    ("x02202", "cello, violoncello", "x00220", "a large stringed instrument; seated player holds it upright"),
    ("x02203", "banjo", "x00220", "a stringed instrument with a long neck and circular body"),
    ("x02301", "coffee mug", "x00230", "a mug intended for serving coffee"),
    ("x02302", "cup", "x00230", "a small open container usually used for drinking"),
    ("x02303", "bucket, pail", "x00230", "a roughly cylindrical vessel that is open at the top"),
    ("x03101", "bagel, beigel", "x00310", "(Yiddish) glazed yeast-raised doughnut-shaped roll"),
    ("x03102", "pretzel", "x00310", "glazed and salted cracker typically in the shape of a loose knot"),
    ("x03103", "dough", "x00310", "a flour mixture stiff enough to knead or roll"),
    ("x03104", "French loaf", "x00310", "a long thin crusty loaf of French bread"),
]
# Classes that share scenes: the second object of a multi-label image, and the spurious partner a
# model predicts from context (mugs on tables with bagels; tractors and pickups on farms).
COOCCUR = {"x03101": "x02301", "x02301": "x03101", "x02102": "x02104", "x02104": "x02102",
           "x02201": "x02202", "x03103": "x03104", "x01103": "x02303", "x02302": "x03102"}
GROUPS = {"organism": "x00100", "artifact": "x00200", "dog": "x00110"}
MODELS = {"demo-small": 1.0, "demo-base": 2.0, "demo-large": 3.2}  # model -> skill


def _class_style(c: int, parent_index: int, rng: np.random.Generator):
    """A palette and pattern per class; siblings share a base hue so they are hard to tell apart."""
    base = np.array([(parent_index * 67) % 255, (parent_index * 131 + 40) % 255, (parent_index * 29 + 90) % 255], float)
    tint = rng.normal(0, 28, 3)
    return {"bg": np.clip(base + tint, 0, 255), "fg": np.clip(255 - base + rng.normal(0, 40, 3), 0, 255),
            "shape": c % 3, "n": 2 + c % 4, "freq": 1 + (c % 5)}


def _draw(style: dict, rng: np.random.Generator, atypical: bool = False, second: dict | None = None) -> Image.Image:
    """One image of a class: gradient background, class shapes, optional second object, noise."""
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    phase = rng.uniform(0, 2 * np.pi)
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * style["freq"] * (x + y) + phase)
    bg = style["bg"] if not atypical else 255 - style["bg"]
    arr = bg[None, None, :] * (0.6 + 0.4 * wave[..., None])
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    fg = tuple(int(v) for v in (style["fg"] + rng.normal(0, 12, 3)).clip(0, 255))
    for _ in range(style["n"]):
        cx, cy, r = rng.uniform(12, 52), rng.uniform(12, 52), rng.uniform(5, 13)
        box = [cx - r, cy - r, cx + r, cy + r]
        (d.ellipse, d.rectangle, lambda b, fill: d.polygon([(b[0], b[3]), ((b[0] + b[2]) / 2, b[1]), (b[2], b[3])], fill=fill))[style["shape"]](box, fill=fg)
    if second is not None:  # a second object in a corner
        sfg = tuple(int(v) for v in second["fg"])
        d.rectangle([44, 44, 62, 62], fill=tuple(int(v) for v in second["bg"]))
        d.ellipse([47, 47, 59, 59], fill=sfg)
    noisy = np.asarray(img, dtype=np.int16) + rng.integers(-6, 7, (SIZE, SIZE, 3))
    return Image.fromarray(noisy.clip(0, 255).astype(np.uint8))


def _jpeg(img: Image.Image, quality: int = 92) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def build_world(ws, progress=None) -> dict:
    """Write the demo dataset into workspace ``ws``; returns a summary (counts, paths)."""
    rng = np.random.default_rng(SEED)
    base = ws.root / "dataset"
    images = ws.root / "images"
    for p in (base, images, ws.root / "models"):
        if p.exists():
            shutil.rmtree(p)
    base.mkdir(parents=True)
    ids = [c[0] for c in CLASSES]
    C = len(ids)
    vocab = Vocabulary(ids, [[n.strip() for n in c[1].split(",")] for c in CLASSES], [c[3] for c in CLASSES])
    (base / "class_info.json").write_text(json.dumps(vocab.to_class_info(), indent=1))
    edges = [(p, s) for s, _, p in SYNSETS if p] + [(c[2], c[0]) for c in CLASSES]
    (base / "is_a.txt").write_text("".join(f"{p} {c}\n" for p, c in edges))
    (base / "words.txt").write_text("".join(f"{s}\t{n}\n" for s, n, _ in SYNSETS) + "".join(f"{c[0]}\t{c[1]}\n" for c in CLASSES))
    parents = sorted({c[2] for c in CLASSES})
    parent_of = np.array([parents.index(c[2]) for c in CLASSES])
    styles = [_class_style(c, parent_of[c], rng) for c in range(C)]
    partner = np.array([ids.index(COOCCUR[w]) if w in COOCCUR else -1 for w in ids])

    # ---- train: ImageFolder ------------------------------------------------------------------
    train_keys, train_labels = [], []
    for c, w in enumerate(ids):
        (images / "train" / w).mkdir(parents=True)
        for j in range(N_TRAIN_PER_CLASS):
            second = styles[partner[c]] if partner[c] >= 0 and rng.random() < 0.3 else None
            key = f"{w}/{w}_{j:04d}.JPEG"
            (images / "train" / key).write_bytes(_jpeg(_draw(styles[c], rng, second=second)))
            train_keys.append(key)
            train_labels.append(c)
        if progress:
            progress("train images", c + 1, C)

    # ---- val: flat folder, with multi-labels ---------------------------------------------------
    (images / "val").mkdir(parents=True)
    n_val = C * N_VAL_PER_CLASS
    val_labels = np.repeat(np.arange(C), N_VAL_PER_CLASS)
    rng.shuffle(val_labels)
    val_keys = [f"demo_val_{i + 1:05d}.JPEG" for i in range(n_val)]
    atypical = rng.random(n_val) < 0.06
    problematic = rng.random(n_val) < 0.03
    shown = val_labels.copy()  # what the image really depicts
    for i in np.flatnonzero(problematic):
        shown[i] = rng.choice(np.flatnonzero(parent_of != parent_of[val_labels[i]]))
    has_second = (partner[shown] >= 0) & (rng.random(n_val) < 0.45)
    annots, real = {}, []
    for i, key in enumerate(val_keys):
        c = shown[i]
        img = _draw(styles[c], rng, atypical=atypical[i], second=styles[partner[c]] if has_second[i] else None)
        (images / "val" / key).write_bytes(_jpeg(img))
        correct = [ids[c]] + ([ids[partner[c]]] if has_second[i] else [])
        sibs = [ids[s] for s in np.flatnonzero(parent_of == parent_of[c]) if s != c]
        unclear = [sibs[rng.integers(len(sibs))]] if rng.random() < 0.1 else []
        wrong = [s for s in sibs if s not in unclear][:2]
        annots[key] = {"correct": correct, "unclear": unclear, "wrong": wrong}
        real.append([] if problematic[i] else sorted(ids.index(w) for w in correct))
    if progress:
        progress("val images", n_val, n_val)
    order = np.argsort(np.array(val_keys))  # ReaL lists follow sorted keys
    real_sorted = [real[i] for i in order]

    # ---- simulated models ----------------------------------------------------------------------
    difficulty = rng.normal(0, 1, n_val) + 2.5 * atypical + 1.5 * problematic + 0.7 * has_second
    confusion_target = np.empty(n_val, dtype=np.int64)
    for i in range(n_val):
        c = val_labels[i]
        u = rng.random()
        sibs = np.flatnonzero((parent_of == parent_of[c]) & (np.arange(C) != c))
        if has_second[i] and u < 0.35:
            confusion_target[i] = partner[c]  # a correct "mistake": the other object
        elif partner[c] >= 0 and u < 0.45:
            confusion_target[i] = partner[c]  # spurious: context of the partner class
        elif u < 0.9:
            confusion_target[i] = rng.choice(sibs)  # fine-grained
        else:
            confusion_target[i] = rng.integers(C)
        if problematic[i]:
            confusion_target[i] = shown[i]  # models see what is there
    (ws.root / "models").mkdir(parents=True, exist_ok=True)
    model_files = []
    for name, skill in MODELS.items():
        p_wrong = 1 / (1 + np.exp(-(1.6 * difficulty - skill)))
        wrong = rng.random(n_val) < p_wrong
        follow = rng.random(n_val) < 0.8  # models that err mostly agree on what they see
        pred = np.where(wrong, np.where(follow, confusion_target, rng.integers(C, size=n_val)), val_labels)
        pred = np.where(wrong & (pred == val_labels), (pred + 1) % C, pred)
        logits = rng.normal(0, 1, (n_val, C)).astype(np.float32)
        logits[np.arange(n_val), val_labels] += 2.0
        logits[np.arange(n_val), pred] += 6.0 + skill
        path = ws.root / "models" / f"{name}.npz"
        np.savez(path, logits=logits, keys=np.array(val_keys))
        model_files.append(path)

    # ---- leaks: exact and near duplicates of val images in train under other labels ----------
    leaks = []
    # Exact leaks are mostly photos collected for two classes at once (two objects in the picture), so
    # two thirds of the exact victims have a second object; the training copy is labelled with it.
    two_objects = np.flatnonzero(has_second & ~problematic)
    exact_victims = rng.choice(two_objects, min(8, len(two_objects)), replace=False)
    rest = rng.choice(np.setdiff1d(np.arange(n_val), exact_victims), 30 - len(exact_victims), replace=False)
    victims = np.concatenate([exact_victims, rest])
    kinds = ["exact"] * 8 + ["exact-png"] * 4 + ["crop"] * 6 + ["resize"] * 6 + ["reencode"] * 6
    for n, (i, kind) in enumerate(zip(victims, kinds)):
        src = images / "val" / val_keys[i]
        if kind.startswith("exact"):
            # As in ImageNet, an exact leak carries another label, mostly a plausible one: the second
            # object of the image, or a sibling class.
            sibs = np.flatnonzero((parent_of == parent_of[val_labels[i]]) & (np.arange(C) != val_labels[i]))
            other = partner[val_labels[i]] if has_second[i] else rng.choice(sibs)
        else:
            other = val_labels[i] if n % 2 else rng.integers(C)
        w = ids[other]
        with Image.open(src) as im:
            im.load()
            if kind == "exact":
                key, data = f"{w}/{w}_leak{n:03d}.JPEG", src.read_bytes()
            elif kind == "exact-png":  # the same pixels in another container: only a pixel hash sees it
                key, buf = f"{w}/{w}_leak{n:03d}.png", io.BytesIO()
                im.save(buf, format="PNG")
                data = buf.getvalue()
            elif kind == "crop":
                key, data = f"{w}/{w}_leak{n:03d}.JPEG", _jpeg(im.crop((4, 4, 60, 60)).resize((SIZE, SIZE)))
            elif kind == "resize":
                key, data = f"{w}/{w}_leak{n:03d}.JPEG", _jpeg(im.resize((48, 48), Image.BICUBIC))
            else:
                key, data = f"{w}/{w}_leak{n:03d}.JPEG", _jpeg(im, quality=55)
        (images / "train" / key).write_bytes(data)
        train_keys.append(key)
        train_labels.append(int(other))
        leaks.append({"val_key": val_keys[i], "train_key": key, "kind": kind, "val_label": ids[val_labels[i]], "train_label": w})

    # ---- ImageNet-M-like hard set: images most models get wrong -------------------------------
    hard = np.argsort(-difficulty)[:10]
    ml = {"initial_annots": annots, "problematic_images": {val_keys[i]: True for i in np.flatnonzero(problematic)},
          "imagenet_m": sorted(val_keys[i] for i in hard)}
    (base / "multilabel.json").write_text(json.dumps(ml))
    (base / "real.json").write_text(json.dumps(real_sorted))
    (base / "injected_duplicates.json").write_text(json.dumps(leaks, indent=1))
    (base / "dataset.json").write_text(json.dumps({
        "name": "bagel-demo", "class_info": "class_info.json", "is_a": "is_a.txt", "words": "words.txt",
        "real": "real.json", "multilabel": "multilabel.json", "eval_split": "val", "groups": GROUPS, "collapse": False}, indent=1))

    val = ImageSet(np.array(val_keys, dtype=object), val_labels, np.array(val_keys, dtype=object), images / "val", "val")
    train = ImageSet(np.array(train_keys, dtype=object), np.array(train_labels), np.array(train_keys, dtype=object), images / "train", "train")
    val.save(ws)
    train.save(ws)
    from bagel.data.dataset import Dataset
    from bagel.data.predictions import load_predictions

    dataset = Dataset.for_workspace(ws)
    for path in model_files:
        load_predictions(path, dataset.imageset, dataset.vocabulary).save(ws)
    return {"classes": C, "train_images": len(train_keys), "val_images": n_val, "models": list(MODELS),
            "injected_leaks": len(leaks), "problematic": int(problematic.sum()), "model_files": [str(p) for p in model_files]}
