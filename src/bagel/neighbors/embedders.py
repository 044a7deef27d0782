"""Embedding models, looked up by name in one registry.

An `Embedder` turns a batch of images into L2-normalised float32 vectors. It has two halves:
``preprocess`` (a small picklable object that runs in decoding worker processes: file -> uint8
array) and ``embed`` (runs in the main process on a stacked batch, where a model lives once).

Names:
  ``dct``                    built in, numpy only: flip-invariant DCT features of a 64 x 64 thumbnail
  ``torch``                  the user's whole model file (``checkpoint``): torch.export .pt2 or TorchScript .pt
  ``timm/<arch>``            any timm model (needs the ``timm`` extra); weights from ``checkpoint``
  ``torchvision/<arch>``     any torchvision classifier (needs ``torchvision``); weights from ``checkpoint``
  ``open_clip/<arch>``       any open_clip image tower (needs ``open_clip_torch``); ``checkpoint`` = path or tag
Vectors computed elsewhere are imported with `bagel.neighbors.embed.import_vectors` instead.
Adding a model is one `register_embedder` entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bagel.errors import BagelError
from bagel.neighbors.hashing import dct_matrix
from bagel.neighbors.images import open_image, thumbnail

_REGISTRY: dict[str, Callable[..., "Embedder"]] = {}


def register_embedder(name: str) -> Callable:
    """Decorator: ``name`` (or ``name/<arch>`` when name ends with '/') -> factory(arch, **options)."""

    def deco(factory):
        _REGISTRY[name] = factory
        return factory

    return deco


def embedder_names() -> list[str]:
    return sorted(_REGISTRY)


def create_embedder(spec: str, checkpoint: str | None = None, device: str = "cpu", **options: Any) -> "Embedder":
    """The embedder called ``spec`` (see the module docstring), ready to run."""
    family, _, arch = spec.partition("/")
    key = family + "/" if arch else spec
    if key not in _REGISTRY:
        raise BagelError(f"model {spec!r}: unknown; expected one of {', '.join(embedder_names())} (with /<arch> where shown)")
    return _REGISTRY[key](arch=arch, checkpoint=checkpoint, device=device, **options)


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows of ``x`` (B, D) scaled to unit L2 norm, float32; all-zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(n, eps)


# ---- preprocessing (runs in worker processes) -----------------------------------------------------
@dataclass(frozen=True)
class Preprocess:
    """File -> (size, size, 3) uint8. ``crop`` 'squash' ignores aspect ratio (what near-duplicate
    features want); 'center' resizes the short side to size/0.875 and centre-crops (what ImageNet
    classifiers were trained on)."""

    size: int
    crop: str = "center"

    def __call__(self, path) -> np.ndarray:
        im = open_image(path, draft_size=self.size)
        if self.crop == "squash":
            return np.asarray(thumbnail(im, self.size))
        w, h = im.size
        short = round(self.size / 0.875)
        scale = short / min(w, h)
        from PIL import Image

        im = im.resize((max(self.size, round(w * scale)), max(self.size, round(h * scale))), Image.Resampling.BILINEAR, reducing_gap=3.0)
        w, h = im.size
        left, top = (w - self.size) // 2, (h - self.size) // 2
        return np.asarray(im.crop((left, top, left + self.size, top + self.size)))


class Embedder:
    """name: what files are called; dim: output width; preprocess: a picklable `Preprocess`."""

    name: str
    preprocess: Preprocess

    def embed(self, batch: np.ndarray) -> np.ndarray:
        """(B, S, S, 3) uint8 -> (B, dim) float32, rows L2-normalised."""
        raise NotImplementedError

    @property
    def dim(self) -> int:
        s = self.preprocess.size
        return int(self.embed(np.zeros((1, s, s, 3), np.uint8)).shape[1])


# ---- built-in: no torch ---------------------------------------------------------------------------
class DCTEmbedder(Embedder):
    """Low-frequency DCT of the contrast-normalised luminance (32 x 32) and chroma (8 x 8) of a
    squashed 64 x 64 thumbnail.

    Why these features: low frequencies survive re-encoding, resizing and crops of a few percent;
    normalising luminance by its own mean and spread removes brightness/contrast jitter; taking
    the magnitude of coefficients with odd horizontal frequency (the ones a left-right flip negates)
    makes the vector identical for an image and its mirror. It is not a semantic embedding: it
    finds copies, not 'the same kind of thing'.
    """

    name = "dct"
    LUMA = 12  # lowest 12 x 12 luminance frequencies
    CHROMA = 4
    CHROMA_WEIGHT = 0.5

    def __init__(self):
        self.preprocess = Preprocess(64, "squash")
        self._d32 = dct_matrix(32).astype(np.float32)
        self._d8 = dct_matrix(8).astype(np.float32)

    def embed(self, batch: np.ndarray) -> np.ndarray:
        x = np.asarray(batch, dtype=np.float32) / 255.0
        b = len(x)
        r, g, bl = x[..., 0], x[..., 1], x[..., 2]
        yfull = 0.299 * r + 0.587 * g + 0.114 * bl
        y = yfull.reshape(b, 32, 2, 32, 2).mean(axis=(2, 4))
        y = (y - y.mean(axis=(1, 2), keepdims=True)) / (y.std(axis=(1, 2), keepdims=True) + 0.02)
        cy = _flip_invariant(self._d32 @ y @ self._d32.T, self.LUMA)
        feats = [cy[:, 1:]]  # DC is 0 after centring
        for c in (bl - yfull, r - yfull):  # colour-difference planes, as JPEG stores them
            c8 = c.reshape(b, 8, 8, 8, 8).mean(axis=(2, 4))
            feats.append(self.CHROMA_WEIGHT * 32 * _flip_invariant(self._d8 @ c8 @ self._d8.T, self.CHROMA))
        return l2_normalize(np.concatenate(feats, axis=1))


def _flip_invariant(coef: np.ndarray, n: int) -> np.ndarray:
    """(B, H, W) DCT coefficients -> (B, n*n) with |.| on odd horizontal frequencies."""
    c = coef[:, :n, :n].copy()
    c[:, :, 1::2] = np.abs(c[:, :, 1::2])
    return c.reshape(len(c), -1)


@register_embedder("dct")
def _dct_factory(arch: str = "", checkpoint=None, device="cpu", **_):
    return DCTEmbedder()


# ---- torch models ---------------------------------------------------------------------------------
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class TorchEmbedder(Embedder):
    """Any ``torch.nn.Module`` mapping (B, 3, S, S) normalised float images to (B, ...) features;
    the output is flattened and L2-normalised. ``forward`` overrides the call (e.g. CLIP's
    ``encode_image``)."""

    def __init__(self, module, name: str, size: int = 224, mean=IMAGENET_MEAN, std=IMAGENET_STD, device: str = "cpu", forward=None):
        import torch

        self.torch = torch
        self.name = name
        self.device = torch.device(device)
        self.module = module.eval().to(self.device)
        self.forward = forward or self.module
        self.preprocess = Preprocess(int(size), "center")
        self.mean = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)

    def embed(self, batch: np.ndarray) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
            out = self.forward((x - self.mean) / self.std)
            if isinstance(out, (tuple, list)):
                out = out[0]
            out = out.float().flatten(1).cpu().numpy()
        return l2_normalize(out)


def _need(module: str, extra: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise BagelError(f"model needs the optional package {module!r}: install it with `pip install bagel[{extra}]`") from None


def _checkpoint_path(checkpoint: str | None, what: str) -> Path:
    if not checkpoint:
        raise BagelError(f"model {what}: expected --checkpoint PATH to the weights, found none")
    p = Path(checkpoint)
    if not p.is_file():
        raise BagelError(f"checkpoint {p}: no such file")
    return p


@register_embedder("torch")
@register_embedder("torchscript")
def _torch_file_factory(arch: str = "", checkpoint=None, device="cpu", size: int = 224, **_):
    """A whole model saved by the user: ``torch.export.save`` (.pt2) or TorchScript (.pt)."""
    torch = _need("torch", "torch")
    p = _checkpoint_path(checkpoint, "torch")
    try:
        if p.suffix == ".pt2":
            module = torch.export.load(str(p)).module()
            module.eval = lambda: module  # exported graphs have no train/eval switch
        else:
            module = torch.jit.load(str(p), map_location=device)
    except Exception as e:
        raise BagelError(f"checkpoint {p}: expected a model saved with torch.export.save (.pt2) or torch.jit.save (.pt), found {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    return TorchEmbedder(module, f"torch-{p.stem}", size=size, device=device)


def _load_state(torch, module, checkpoint: str, what: str):
    p = _checkpoint_path(checkpoint, what)
    try:
        state = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as e:
        raise BagelError(f"checkpoint {p}: expected a torch state dict, found {type(e).__name__}") from None
    for k in ("state_dict", "model", "module"):
        if isinstance(state, dict) and k in state and isinstance(state[k], dict):
            state = state[k]
    missing, _unexpected = module.load_state_dict(state, strict=False)
    if len(missing) > len(module.state_dict()) // 2:
        raise BagelError(f"checkpoint {p}: expected weights of {what}, found keys matching only {len(module.state_dict()) - len(missing)} of {len(module.state_dict())} parameters")


@register_embedder("timm/")
def _timm_factory(arch: str, checkpoint=None, device="cpu", pretrained: bool = False, **_):
    timm = _need("timm", "timm")
    torch = _need("torch", "torch")
    try:
        # num_classes=0 makes timm return pooled features instead of logits.
        model = timm.create_model(arch, pretrained=pretrained, num_classes=0)
    except Exception as e:
        raise BagelError(f"model timm/{arch}: timm cannot create it ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    if checkpoint:
        _load_state(torch, model, checkpoint, f"timm/{arch}")
    cfg = timm.data.resolve_data_config({}, model=model)
    return TorchEmbedder(model, f"timm-{arch}", size=cfg["input_size"][-1], mean=cfg["mean"], std=cfg["std"], device=device)


@register_embedder("torchvision/")
def _torchvision_factory(arch: str, checkpoint=None, device="cpu", **_):
    tv = _need("torchvision", "timm")
    torch = _need("torch", "torch")
    try:
        model = tv.models.get_model(arch, weights=None)
    except Exception as e:
        raise BagelError(f"model torchvision/{arch}: torchvision cannot create it ({type(e).__name__})") from None
    if checkpoint:
        _load_state(torch, model, checkpoint, f"torchvision/{arch}")
    for head in ("fc", "classifier", "heads", "head"):  # drop the classifier: we want the features under it
        if hasattr(model, head):
            setattr(model, head, torch.nn.Identity())
            break
    return TorchEmbedder(model, f"torchvision-{arch}", device=device)


@register_embedder("open_clip/")
def _open_clip_factory(arch: str, checkpoint=None, device="cpu", **_):
    open_clip = _need("open_clip", "clip")
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=checkpoint or None, device=device)
    except Exception as e:
        raise BagelError(f"model open_clip/{arch}: open_clip cannot create it ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size
    mean = getattr(model.visual, "image_mean", None) or (0.48145466, 0.4578275, 0.40821073)
    std = getattr(model.visual, "image_std", None) or (0.26862954, 0.26130258, 0.27577711)
    return TorchEmbedder(model, f"open_clip-{arch}", size=size, mean=mean, std=std, device=device, forward=model.encode_image)
