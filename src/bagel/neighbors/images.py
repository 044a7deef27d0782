"""Robust image decoding: any file a dataset may hold becomes RGB pixels, or a one-line reason.

Large image collections always contain a few files that are corrupt, truncated, CMYK, 16-bit,
palette-based, EXIF-rotated or absurdly large. A run over a million images must not die on one of
them, so every reader here either returns an RGB image or raises `ImageReadError` whose message
says why; callers record the reason and skip the image.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow's own hard limit is 2 x MAX_IMAGE_PIXELS (~179 MP); we refuse earlier, before decoding, so a
# decompression bomb costs a header read, not gigabytes of memory.
MAX_PIXELS = 89_478_485

# Errors Pillow and its codecs raise for broken files (truncation is an OSError; some broken
# headers surface as SyntaxError, struct.error or ValueError).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, MemoryError, Image.DecompressionBombError)


class ImageReadError(Exception):
    """An image that cannot be used; ``str(e)`` is the one-line reason recorded for it."""


def open_image(path: str | Path, *, draft_size: int | None = None, max_pixels: int = MAX_PIXELS,
               keep_gray: bool = False) -> Image.Image:
    """Decode one file to an 8-bit RGB PIL image, as a viewer would show it.

    path:       image file.
    draft_size: when given and the file is a JPEG, let libjpeg decode at a reduced scale (1/2, 1/4
                or 1/8) that is still at least ``draft_size`` pixels on each side: several times
                faster when only a thumbnail is needed. None decodes every pixel.
    max_pixels: files with more pixels than this are refused before decoding (decompression bombs).
    keep_gray:  return 8-bit grayscale (mode ``L``) images as they are: their RGB form is the grey
                value three times, which a caller can build for the few pixels it needs instead of
                paying a conversion pass over the whole image.

    Returns a loaded image of mode ``RGB`` (or ``L`` with ``keep_gray``) with EXIF orientation applied; transparency is
    composited onto white, grayscale / palette / CMYK are converted, 16-bit and 32-bit integer
    samples are scaled to 8 bits. Raises `ImageReadError` with the reason otherwise.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning / EXIF warnings: we check size ourselves
            im = Image.open(path)
            w, h = im.size
            if w * h > max_pixels:
                raise ImageReadError(f"too large: {w}x{h} = {w * h} pixels > {max_pixels} (decompression bomb?)")
            if w == 0 or h == 0:
                raise ImageReadError(f"empty image ({w}x{h})")
            if draft_size and im.format == "JPEG":
                im.draft(None, (draft_size, draft_size))
            im.load()
            im = _exif_upright(im)
            return im if keep_gray and im.mode == "L" else to_rgb(im)
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError("missing file") from None
    except UnidentifiedImageError:
        raise ImageReadError("not an image Pillow can identify") from None
    except Image.DecompressionBombError as e:
        raise ImageReadError(f"too large: {str(e).split('.')[0]}") from None
    except _DECODE_ERRORS as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ImageReadError(f"corrupt or truncated: {msg}") from None


def _exif_upright(im: Image.Image) -> Image.Image:
    # Look at the tag first: exif_transpose copies every image, rotated or not, which costs more
    # than a third of a JPEG decode.
    try:
        if im.getexif().get(0x0112, 1) in (1, None):
            return im
        return ImageOps.exif_transpose(im)
    except Exception:  # a malformed EXIF block should not cost us the pixels
        return im


def to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL mode -> 8-bit RGB (alpha composited on white, high bit depths scaled, not clipped)."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        mode = im.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode.startswith("I;16") or mode == "I":
        a = np.asarray(im).astype(np.float64)
        # 16-bit files use 0..65535; a 32-bit "I" image holding small values is really 8-bit.
        scale = 255.0 / 65535.0 if (mode != "I" or a.max(initial=0) > 255) else 1.0
        a8 = np.clip(np.rint(a * scale), 0, 255).astype(np.uint8)
        return Image.fromarray(a8, "L").convert("RGB")
    if mode == "F":
        a = np.asarray(im, dtype=np.float64)
        top = a.max(initial=0)
        scale = 255.0 if top <= 1.0 else 1.0  # floats in [0, 1] are normalised intensities
        return Image.fromarray(np.clip(np.rint(a * scale), 0, 255).astype(np.uint8), "L").convert("RGB")
    return im.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def read_rgb(path: str | Path, *, draft_size: int | None = None, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """`open_image` as a (H, W, 3) uint8 array."""
    return np.asarray(open_image(path, draft_size=draft_size, max_pixels=max_pixels))


def thumbnail(im: Image.Image, size: int) -> Image.Image:
    """Squash ``im`` to ``size`` x ``size`` (aspect ratio ignored: near-duplicates that were
    resized non-uniformly still line up). Box-reduce first so large images cost one cheap pass."""
    w, h = im.size
    factor = min(w, h) // (2 * size)
    if factor > 1:
        im = im.reduce(factor)
    return im.resize((size, size), Image.Resampling.BILINEAR)

