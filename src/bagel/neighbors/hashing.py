"""Image fingerprints: an exact-pixel key and a perceptual hash, from one decode per image.

* ``pixel_key`` (uint64): a hash of the image size and of every 16th row of its decoded RGB pixels.
  Hashing a fraction of the rows keeps fingerprinting as fast as decoding (hashing every byte of a
  large photo costs as much as decoding it); the few images that share a key are then *verified*
  (`pixel_digest`: SHA-1 of every pixel), so exact duplicates are exact: pixelwise L2 distance 0.
* ``phash`` (uint64): the 64-bit DCT perceptual hash of a canonical 32 x 32 grey thumbnail. Equal
  pHashes flag the same picture stored at another size or encoding (O(N) by grouping); small
  Hamming distances flag near-duplicates. Flat images (``informative`` False) give meaningless
  pHashes and are left out of perceptual matching.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np

from PIL import Image

from bagel.neighbors.images import ImageReadError, open_image
from bagel.neighbors.parallel import chunks, default_workers, ordered_map

ROW_STRIDE = 16
THUMB = 32
MIN_THUMB_STD = 2.0  # grey levels (of 255); below this a thumbnail is flat and its pHash is noise


def dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix, (n, n) float64: ``D @ x`` is the DCT of a length-n signal."""
    k = np.arange(n)[:, None]
    m = np.cos(np.pi * (2 * np.arange(n)[None, :] + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m


_D8 = np.ascontiguousarray(dct_matrix(THUMB)[:8])  # only the 8 lowest frequencies are kept
_BITS = (1 << np.arange(64, dtype=np.uint64)).astype(np.uint64)


def phash_from_gray(gray: np.ndarray) -> tuple[np.uint64, bool]:
    """pHash of a (32, 32) grey thumbnail (float, 0..255): bit i of the result is set where the i-th
    coefficient of the 8 x 8 lowest-frequency DCT block exceeds their median (DC excluded from the
    median). Returns (hash, informative)."""
    c = (_D8 @ gray @ _D8.T).ravel()
    bits = c > np.median(c[1:])
    return np.uint64(np.bitwise_or.reduce(_BITS[bits]) if bits.any() else 0), bool(gray.std() >= MIN_THUMB_STD)


def _sampled_rows(im, stride: int) -> np.ndarray:
    """Every ``stride``-th row of a loaded RGB (or L) image as (H', W, 4) uint8: the RGB bytes with
    a 4th byte 0. A grey image gives the bytes of its RGB conversion (the grey value three times),
    built for the sampled rows only.

    Pillow keeps RGB pixels as 4 bytes; exporting them zero-copy (Arrow) and masking the padding
    byte is ~30x cheaper than slicing out 3 channels, and gives the same bytes on every path."""
    if im.mode == "L":
        grey = np.asarray(im)[::stride]
        out = np.zeros(grey.shape + (4,), np.uint8)
        out[..., 0] = out[..., 1] = out[..., 2] = grey
        return out
    try:
        import pyarrow as pa

        buf = pa.array(im).buffers()[-1]  # Pillow >= 11.2 exports its pixel block without a copy
        rows = np.frombuffer(buf, np.uint32).reshape(im.size[1], im.size[0])[::stride] & np.uint32(0x00FFFFFF)
        return rows.view(np.uint8).reshape(rows.shape[0], rows.shape[1], 4)
    except Exception:  # older Pillow, or an image spread over several memory blocks
        rgb = np.asarray(im)[::stride]
        out = np.zeros(rgb.shape[:2] + (4,), np.uint8)
        out[..., :3] = rgb
        return out


def fingerprint_image(path: str | Path) -> tuple[int, int, bool, int, int]:
    """(pixel_key, phash, informative, width, height) of one file; raises `ImageReadError`.
    The same picture gives the same values whether stored as grey or RGB (keys hash RGB bytes)."""
    im = open_image(path, keep_gray=True)
    w, h = im.size
    rows = _sampled_rows(im, ROW_STRIDE)
    # Two CRC-32s (even and odd sampled rows) make the 64-bit candidate key; candidates are
    # verified on every pixel later, so the key needs speed more than strength.
    head = zlib.crc32(struct.pack("<II", w, h))
    key = (zlib.crc32(np.ascontiguousarray(rows[0::2]), head) << 32) | zlib.crc32(np.ascontiguousarray(rows[1::2]), head)
    # The thumbnail comes from a ~64 x 64 grid of sampled pixels, not the full image: box-averaging
    # every pixel would cost a sixth of the decode, and the 8 x 8 lowest frequencies pHash keeps do
    # not need the skipped rows and columns.
    rows = _sampled_rows(im, max(1, h // (2 * THUMB)))[:, ::max(1, w // (2 * THUMB))]
    sampled = Image.frombuffer("RGB", (rows.shape[1], rows.shape[0]), np.ascontiguousarray(rows), "raw", "RGBX", 0, 1)
    gray = np.asarray(sampled.resize((THUMB, THUMB), Image.Resampling.BOX).convert("L"), dtype=np.float64)
    ph, informative = phash_from_gray(gray)
    return key, int(ph), informative, w, h


def pixel_digest(path: str | Path) -> str:
    """SHA-1 (hex) of the size and every decoded RGB pixel: equal digests = pixel-identical images."""
    im = open_image(path)
    d = hashlib.sha1(struct.pack("<II", *im.size))
    d.update(im.tobytes())
    return d.hexdigest()


def _fingerprint_chunk(paths: list[str]) -> list[tuple]:
    out = []
    for p in paths:
        try:
            out.append(fingerprint_image(p) + ("",))
        except ImageReadError as e:
            out.append((0, 0, False, 0, 0, str(e)))
    return out


def fingerprint_files(paths: list[str], workers: int | None = None, chunk: int = 64, progress: bool = False) -> dict[str, np.ndarray]:
    """Fingerprint every file of ``paths`` (N,), in worker processes.

    Returns a dict of (N,) arrays: ``pixel_key`` uint64, ``phash`` uint64, ``informative`` bool,
    ``width`` / ``height`` int32 (0 when unreadable) and ``reason`` object ('' when read, else why
    not). Unreadable files never stop the run.
    """
    n = len(paths)
    workers = default_workers() if workers is None else workers
    if n < 4 * chunk:
        workers = 1  # spawning processes costs more than it saves on a few hundred images
    rows: list[tuple] = []
    parts = [list(map(str, paths[a:b])) for a, b in chunks(n, chunk)]
    bar = _bar(n, "fingerprint", progress)
    for res in ordered_map(_fingerprint_chunk, parts, workers):
        rows.extend(res)
        bar.update(len(res))
    bar.close()
    cols = list(zip(*rows)) if rows else [[]] * 6
    return {
        "pixel_key": np.array(cols[0], dtype=np.uint64),
        "phash": np.array(cols[1], dtype=np.uint64),
        "informative": np.array(cols[2], dtype=bool),
        "width": np.array(cols[3], dtype=np.int32),
        "height": np.array(cols[4], dtype=np.int32),
        "reason": np.array(cols[5], dtype=object),
    }


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bitwise Hamming distance of uint64 hashes (broadcasting), as int64."""
    return np.bitwise_count(np.bitwise_xor(np.asarray(a, np.uint64), np.asarray(b, np.uint64))).astype(np.int64)


def _bar(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="img", disable=not enabled, leave=False)
