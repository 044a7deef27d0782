"""Public label sources: a registry of named files (URL pinned to a commit + sha256) and the local
data cache they are downloaded into.

The cache mirrors the relative paths of upstream files (``imagenet/real.json``, ...), so any folder
with that layout serves as a cache: ``BAGEL_DATA_DIR`` points at it. ``BAGEL_MIRROR=URL`` fetches
every source as ``URL/<relative path>`` instead of its upstream address (for proxies and tests).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir

from bagel.errors import BagelError

_IMAGENETV2 = "https://raw.githubusercontent.com/modestyachts/ImageNetV2/0b0c3fe89058e4c7ee2348938b3f4f706a931bf3/data"
_MISTAKES = "https://raw.githubusercontent.com/google-research/imagenet-mistakes/6fdda60a87dd79cdef764c8823db7b2f67c43a97/metadata"
_TREE = "https://raw.githubusercontent.com/MariusAnje/ImageNet-Tree/71794d4d7d52751f73d6bb62ef53e248ed5a901f"


@dataclass(frozen=True)
class Source:
    name: str
    relpath: str  # path inside the data cache (and under a mirror)
    url: str
    sha256: str | None  # None: upstream publishes none; pinned on first download in pins.json
    description: str
    schema: str | None = None  # name of a validator in `SCHEMA_CHECKS`


SOURCES: dict[str, Source] = {}


def register(source: Source) -> Source:
    SOURCES[source.name] = source
    return source


register(Source("class-info", "imagenet/class_info.json", f"{_IMAGENETV2}/metadata/class_info.json",
                "01968f45aa507b6ccf4d9a1f5f71f1dfc16819f32d6d84ee95861edba98d043b", "ImageNet's 1000 classes: wnid, names, gloss"))
register(Source("val-labels", "imagenet/imagenet-validation-original.json", f"{_IMAGENETV2}/datasets/imagenet-validation-original.json",
                "c0f9da0fb7817e9707efedbc655d2b3f5ba31c201a3e13e37edcbd9076a81072", "original labels of the 50,000 validation images"))
register(Source("annotated-val20k", "imagenet/imagenet-annotatedval20k-0.json", f"{_IMAGENETV2}/datasets/imagenet-annotatedval20k-0.json",
                "970fee6ef203e622a84e87b9f1333d6d66cdb8a88dc5453155e02a0f1f15ea12", "the 20,000 multi-label-annotated validation images"))
register(Source("real", "imagenet/real.json",
                "https://raw.githubusercontent.com/google-research/reassessed-imagenet/bcd006fe12e929f055e0ec7fe39dbf4d64a6881a/real.json",
                "d83e9bff374c631aae8439eb064c7019acc56e1b3bc3f56b8380c2a710b0220b", "ReaL labels (Are we done with ImageNet?)"))
register(Source("wordnet-is-a", "imagenet/is_a.txt", f"{_TREE}/is_a.txt",
                "ff7206572ae989d1de8acbd6cbd921854fefd32dcdcb50eab11b81e797e28cd1", "WordNet hierarchy edges (parent child)"))
register(Source("wordnet-words", "imagenet/words.txt", f"{_TREE}/words.txt",
                "4728cfa1b62edd77a8c8ddb0aac34b97245879c3687c4fb4fa682ed07c7d5db8", "WordNet synset names"))
register(Source("multilabel", "imagenet/human_accuracy_v3.0.0.json",
                "https://storage.googleapis.com/brain-car-datasets/imagenet-mistakes/human_accuracy_v3.0.0.json",
                None, "multi-label annotations and ImageNet-M (When does dough become a bagel?)", schema="multilabel"))
register(Source("vit3b-mistakes", "mistakes/vit3b_mistakes.json", f"{_MISTAKES}/vit3b_mistakes.json",
                "7c48988d683c60714ee720b9ee8f762b32e5759e2b98a12a5ab23d41b20d4c2a", "expert review of ViT-3B's mistakes"))
register(Source("vit3b-confusions", "mistakes/class_confusion_wnids.json", f"{_MISTAKES}/class_confusion_wnids.json",
                "c1d26e80c504f44240a225f5f3f2f0d3ccb32bad2f01dbfadc472243215c01c6", "ViT-3B's confused class pairs (wnids)"))
_PREDICTIONS = {
    "alexnet": "e1e9e9752823785cc00c565769f10605a115f0d39a271cc1401c3b8aa0233c93",
    "densenet121": "ce7ef31dd616b8bf28dda496dc6e83315b638453fe7344be79356c60b9918803",
    "inception_v3": "389d83c3cc5439eae818fbf14f18e5a2f5c2e0fca942bed6888b331a30684753",
    "nasnetalarge": "06aaf1ff924c2432af2381e7241ac2ae7d3057866b1c7677e4f64fdb40c929f9",
    "resnet18": "472f777ce8d201d89fb50ce6d459705a09e4f55ad76772f6401f04336f06e284",
    "resnet50": "f126fd3328dcabd8df237b7f1aab8be428bb8dc46eaffcbd474924dd37b24007",
    "squeezenet1_0": "30b6134cf28d176d999ffa4f292f703a9ee9c7fec8ed925bd3fa418eec4d3e4b",
    "vgg16": "b92892acb09edfe3ff5c6f45ea992435ddcad1c427a47b208592c44ac6c945f3",
}
for _model, _sha in _PREDICTIONS.items():
    register(Source(f"predictions-{_model}", f"imagenet/predictions/{_model}.npy",
                    f"{_IMAGENETV2}/predictions/imagenet-validation-original/{_model}.npy", _sha,
                    f"top-5 predictions of {_model} on the validation set (ImageNetV2 order)"))

DEFAULT_SOURCES = [n for n in SOURCES if not n.startswith("predictions-")]


def data_dir() -> Path:
    """The data cache: ``$BAGEL_DATA_DIR``, else the user's cache folder."""
    return Path(os.environ.get("BAGEL_DATA_DIR") or Path(user_cache_dir("bagel")) / "data")


def get(name: str) -> Source:
    if name not in SOURCES:
        raise BagelError(f"unknown data source {name!r} (known: {', '.join(SOURCES)})")
    return SOURCES[name]


def local_path(name: str) -> Path:
    return data_dir() / get(name).relpath


def require(name: str) -> Path:
    """The cached file of source ``name``, or an error saying which command fetches it."""
    p = local_path(name)
    if not p.exists():
        raise BagelError(f"{p}: {get(name).description} not in the data cache; run `bagel data fetch {name}`")
    return p


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _pins_path() -> Path:
    return data_dir() / "pins.json"


def pinned_sha256(source: Source) -> str | None:
    if source.sha256:
        return source.sha256
    p = _pins_path()
    if p.exists():
        try:
            return json.loads(p.read_text()).get(source.name)
        except json.JSONDecodeError:
            return None
    return None


def _url(source: Source) -> str:
    mirror = os.environ.get("BAGEL_MIRROR")
    return f"{mirror.rstrip('/')}/{source.relpath}" if mirror else source.url


def fetch(name: str, force: bool = False, progress=None) -> Path:
    """Download source ``name`` into the cache (atomically: a failed or mismatched download leaves
    any file already there untouched) and verify its sha256 (or schema, where none is published)."""
    source = get(name)
    dest = data_dir() / source.relpath
    expected = pinned_sha256(source)
    if dest.exists() and not force:
        if expected is None or sha256_of(dest) == expected:
            return dest
    url = _url(source)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        try:
            with urllib.request.urlopen(url, timeout=60) as resp, os.fdopen(fd, "wb") as out:
                total = int(resp.headers.get("Content-Length") or 0)
                if progress:
                    progress(name, 0, total)
                done = 0
                for block in iter(lambda: resp.read(1 << 20), b""):
                    out.write(block)
                    done += len(block)
                    if progress:
                        progress(name, done, total)
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise BagelError(f"{url}: download of {name} failed ({getattr(e, 'reason', None) or e})") from None
        got = sha256_of(Path(tmp))
        if expected is not None and got != expected:
            raise BagelError(f"{url}: checksum mismatch for {name}: expected sha256 {expected}, got {got}; the cached file was left as it was")
        if source.schema:
            SCHEMA_CHECKS[source.schema](Path(tmp), url)
        os.replace(tmp, dest)
        tmp = None
        if expected is None:
            pins = json.loads(_pins_path().read_text()) if _pins_path().exists() else {}
            pins[name] = got
            _pins_path().write_text(json.dumps(pins, indent=1))
        return dest
    finally:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)


def status() -> list[dict]:
    """Per source: name, relative path, present?, verified? (sha256 matches), description."""
    rows = []
    for s in SOURCES.values():
        p = data_dir() / s.relpath
        expected = pinned_sha256(s)
        present = p.exists()
        rows.append({"name": s.name, "path": s.relpath, "present": present,
                     "verified": bool(present and expected and sha256_of(p) == expected),
                     "pinned": expected is not None, "description": s.description})
    return rows


def _check_multilabel(path: Path, origin: str) -> None:
    from bagel.data.labelset import validate_multilabel_json

    validate_multilabel_json(path, origin)


SCHEMA_CHECKS = {"multilabel": _check_multilabel}


def copy_into_cache(name: str, path: Path) -> Path:
    """Place a file the user already has (e.g. downloaded by hand) into the cache, verified."""
    source = get(name)
    expected = pinned_sha256(source)
    if expected and sha256_of(path) != expected:
        raise BagelError(f"{path}: checksum mismatch for {name}: expected sha256 {expected}")
    if source.schema:
        SCHEMA_CHECKS[source.schema](path, str(path))
    dest = data_dir() / source.relpath
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, dest)
    return dest
