"""Geometric verification of near-duplicate candidates: is one image a crop of the other (or the
same picture resized, re-encoded, mirrored)?

An embedding finds candidates (each validation image's K nearest training images); this module
decides, for each candidate pair (a, b), whether some crop of a, squashed to a square, lines up
with the whole of b, or the other way round, also with b mirrored left-right. Crops keep at least
`MIN_AREA` of the area, each side at least `MIN_SIDE`.

How, per pair, on grey thumbnails (aspect ratio ignored, so a crop + resize is still a crop):
  1. coarse: every image gets a matrix of its crops over a grid of windows (side fractions 1.0 to
     0.70 in steps of 0.05, offsets in steps of 0.05; ~200 windows), each crop a 16 x 16
     zero-mean unit-norm thumbnail. A pair's scores are two small matrix products (crops of a x
     whole b and its mirror, and the reverse), batched over pairs: best window, direction, mirror.
  2. fine: pairs whose coarse correlation reaches `GATE` are refined at 32 x 32 around that
     window (offsets +-0.025 then +-0.006, side fractions +-0.025 then +-0.0125) on a band-pass
     (difference of Gaussians, sigma 0.7 and 3 px) version of the thumbnails: the band-pass drops
     the smooth gradients (skies, vignettes) that make unrelated images correlate, and keeps the
     edges and texture that identify one picture. The score is the best normalised correlation.
A pair is a verified duplicate when the fine score is >= `THRESHOLD` (see docs/neighbors.md for
how it was measured). Every step is a batched matrix product; the only per-image work is one
draft-mode decode to a 64 x 64 grey thumbnail. Cost: O(candidate pairs), memory bounded by the
block of pairs in flight.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from bagel.neighbors.images import ImageReadError, open_image
from bagel.neighbors.parallel import chunks, ordered_map

BASE = 64  # grey thumbnail side every image is decoded to
FINE = 32  # side of the fine (verifying) crops
COARSE = 16  # side of the coarse (searching) crops
MIN_SIDE = 0.70
MIN_AREA = 0.68
GATE = 0.75  # coarse correlation a pair needs to be refined
THRESHOLD = 0.965  # fine band-pass correlation of a verified pair
TRIES = 1  # coarse windows refined per pair (3 gained little on the benchmark and doubled the cost)
CROP_AREA = 0.95  # a verified match whose window keeps less than this is reported as a crop
BAND = (0.7, 3.0)  # difference-of-Gaussians sigmas (pixels of the 32 x 32 crop)


# ---- decoding (worker processes) ------------------------------------------------------------------
def grey_thumbnail(path: str) -> np.ndarray | None:
    """(BASE, BASE) uint8 grey thumbnail of a file, aspect ratio ignored; None when unreadable."""
    if not path:
        return None
    try:
        im = open_image(path, draft_size=BASE)
    except ImageReadError:
        return None
    return np.asarray(im.convert("L").resize((BASE, BASE), Image.Resampling.BOX), np.uint8)


def _grey_chunk(paths: list[str]) -> list[np.ndarray | None]:
    return [grey_thumbnail(p) for p in paths]


def grey_thumbnails(paths: list[str], workers: int | None = None, chunk: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(N, BASE, BASE) uint8 thumbnails and an (N,) readable mask."""
    out = np.zeros((len(paths), BASE, BASE), np.uint8)
    ok = np.zeros(len(paths), bool)
    parts = [paths[a:b] for a, b in chunks(len(paths), chunk)]
    i = 0
    for res in ordered_map(_grey_chunk, parts, workers if len(paths) > 4 * chunk else 1):
        for g in res:
            if g is not None:
                out[i], ok[i] = g, True
            i += 1
    return out, ok


# ---- linear operators -----------------------------------------------------------------------------
def box_matrices(start, frac, out: int, size: int) -> np.ndarray:
    """Area-averaging resampling matrices, (M, out, size) float32: row i of matrix m averages the
    input pixels covering [start + frac * i / out, start + frac * (i + 1) / out] (fractions of the
    side) of a length-``size`` signal. ``R @ G @ R'.T`` crops and resizes a thumbnail G."""
    start, frac = np.atleast_1d(np.asarray(start, np.float64)), np.atleast_1d(np.asarray(frac, np.float64))
    edges = (start[:, None] + frac[:, None] * np.arange(out + 1)[None, :] / out) * size  # (M, out+1)
    lo, hi = edges[:, :-1, None], edges[:, 1:, None]
    px = np.arange(size)[None, None, :]
    w = np.clip(np.minimum(hi, px + 1) - np.maximum(lo, px), 0, None)
    return (w / np.maximum(w.sum(2, keepdims=True), 1e-12)).astype(np.float32)


def blur_matrix(n: int, sigma: float) -> np.ndarray:
    """(n, n) Gaussian blur with replicated edges: ``K @ x`` blurs a length-n signal."""
    r = int(np.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    taps /= taps.sum()
    k = np.zeros((n, n))
    for t, w in zip(range(-r, r + 1), taps):
        k[np.arange(n), np.clip(np.arange(n) + t, 0, n - 1)] += w
    return k.astype(np.float32)


def _normalise(x: np.ndarray) -> np.ndarray:
    """Rows of (..., D) made zero-mean and unit-norm (flat rows stay zero); in place for float32."""
    x = np.asarray(x, np.float32)
    x -= x.mean(-1, keepdims=True)
    n = np.sqrt(np.einsum("...i,...i->...", x, x))[..., None]
    x *= 1.0 / np.where(n > 1e-3, n, np.inf)
    return x


def pd_best(group: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Index of the largest ``value`` of each run of equal, sorted ``group`` ids."""
    order = np.lexsort((-value, group))
    first = np.r_[True, group[order][1:] != group[order][:-1]]
    return order[first]


def _axis_windows() -> np.ndarray:
    """(W, 2) coarse 1-D windows: (start, fraction)."""
    out = []
    for f in np.round(np.arange(1.0, MIN_SIDE - 1e-9, -0.05), 4):
        n = round((1 - f) / 0.05) + 1
        out += [(s, f) for s in np.linspace(0.0, 1.0 - f, n)]
    return np.array(out)


class Verifier:
    """Batched crop verification of image pairs given as grey thumbnails (see the module doc)."""

    def __init__(self, threshold: float = THRESHOLD, gate: float = GATE, tries: int = TRIES):
        self.threshold, self.gate, self.tries = threshold, gate, tries
        self.win1 = _axis_windows()
        self.R1 = box_matrices(self.win1[:, 0], self.win1[:, 1], COARSE, BASE // 2)  # (W1, 16, 32)
        fy, fx = np.meshgrid(self.win1[:, 1], self.win1[:, 1], indexing="ij")
        iy, ix = np.nonzero(fy * fx >= MIN_AREA - 1e-9)
        self.win2 = np.stack([iy, ix], 1)  # (W2, 2) indices into win1
        self.full = int(np.flatnonzero((self.win1[iy, 1] == 1) & (self.win1[ix, 1] == 1))[0])
        self.Rfull = box_matrices(0.0, 1.0, FINE, BASE)[0]
        self.Klo, self.Khi = blur_matrix(FINE, BAND[0]), blur_matrix(FINE, BAND[1])

    # -- coarse -----------------------------------------------------------------------------------
    def coarse_crops(self, grey: np.ndarray) -> np.ndarray:
        """(N, BASE, BASE) -> (N, W2, COARSE**2) normalised coarse crops."""
        n, w1 = len(grey), len(self.win1)
        g = grey.reshape(n, BASE // 2, 2, BASE // 2, 2).mean((2, 4), dtype=np.float32)  # (N, 32, 32)
        a = np.matmul(self.R1.reshape(w1 * COARSE, BASE // 2), g).reshape(n, w1, COARSE, BASE // 2)  # rows of every window
        out = np.empty((n, len(self.win2), COARSE, COARSE), np.float32)
        for wy in range(w1):  # one large product per vertical window, over all images and its horizontal windows
            sel = np.flatnonzero(self.win2[:, 0] == wy)
            rx = self.R1[self.win2[sel, 1]].reshape(len(sel) * COARSE, BASE // 2)
            out[:, sel] = (a[:, wy].reshape(n * COARSE, -1) @ rx.T).reshape(n, COARSE, len(sel), COARSE).transpose(0, 2, 1, 3)
        return _normalise(out.reshape(n, len(self.win2), -1))

    def coarse_match(self, ca: np.ndarray, cb: np.ndarray, tries: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For pairs (ca[m], cb[m]) of coarse crop matrices: the ``tries`` best (M, tries) scores,
        directions (0: a cropped, 1: b cropped), mirror flags and window indices (into win2)."""
        def whole(c):
            f = c[:, self.full]
            fl = f.reshape(len(f), COARSE, COARSE)[:, :, ::-1].reshape(len(f), -1)
            return np.stack([f, fl], 2)  # (M, D, 2)

        s = np.stack([np.matmul(ca, whole(cb)), np.matmul(cb, whole(ca))], 1)  # (M, 2 dir, W2, 2 mirror)
        flat = s.reshape(len(s), -1)
        best = np.argsort(-flat, axis=1)[:, :tries]
        d, w, f = np.unravel_index(best, s.shape[1:])
        return np.take_along_axis(flat, best, 1), d, f.astype(bool), w

    # -- fine -------------------------------------------------------------------------------------
    def _bandpass(self, c: np.ndarray) -> np.ndarray:
        lo = np.matmul(np.matmul(self.Klo, c), self.Klo.T)
        hi = np.matmul(np.matmul(self.Khi, c), self.Khi.T)
        return _normalise((lo - hi).reshape(c.shape[:-2] + (-1,)))

    @staticmethod
    def _local(s0, f0, dstart, dfrac):
        """Windows around (s0, f0) per pair: (M, n) starts and fractions."""
        f = np.clip(f0[:, None, None] + np.asarray(dfrac)[None, :, None], MIN_SIDE - 0.05, 1.0)
        s = np.clip(s0[:, None, None] + np.asarray(dstart)[None, None, :], 0.0, 1.0 - f)
        return s.reshape(len(s0), -1), np.broadcast_to(f, s.shape).reshape(len(s0), -1)

    def fine_match(self, src: np.ndarray, dst: np.ndarray, mirror: np.ndarray, win: np.ndarray):
        """Refine crops of ``src`` (M, BASE, BASE) against the whole of ``dst`` (mirrored where
        ``mirror``) around ``win`` (M, 4: start_y, frac_y, start_x, frac_x). Returns the best
        band-pass correlation (M,) and its window (M, 4)."""
        m = len(src)
        t = np.matmul(np.matmul(self.Rfull, dst), self.Rfull.T)  # (M, 32, 32)
        t = np.where(mirror[:, None, None], t[:, :, ::-1], t)
        t = self._bandpass(t)  # (M, D)
        win = win.astype(np.float64)
        best = np.full(m, -1.0)
        for dstart, dfrac in ((np.linspace(-0.025, 0.025, 5), (-0.025, 0.0, 0.025)), ((-0.00625, 0.0, 0.00625), (-0.0125, 0.0, 0.0125))):
            sy, fy = self._local(win[:, 0], win[:, 1], dstart, dfrac)
            sx, fx = self._local(win[:, 2], win[:, 3], dstart, dfrac)
            n = sy.shape[1]
            ry = box_matrices(sy.ravel(), fy.ravel(), FINE, BASE).reshape(m, n, FINE, BASE)
            rx = box_matrices(sx.ravel(), fx.ravel(), FINE, BASE).reshape(m, n, FINE, BASE)
            # band-pass folded into the window matrices: bp(Ry G Rx') = (Klo Ry) G (Klo Rx)' - (Khi Ry) G (Khi Rx)';
            # one (32 x 64) @ (64 x n*32) product per (pair, vertical window) gives n crops at once
            c = 0.0
            for k, sign in ((self.Klo, 1.0), (self.Khi, -1.0)):
                # K @ R for every window at once; contiguous operands keep numpy's stacked matmul on BLAS
                kry = np.matmul(k, ry.reshape(m * n, FINE, BASE)).reshape(m, n * FINE, BASE)
                krxt = np.ascontiguousarray(np.matmul(k, rx.reshape(m * n, FINE, BASE)).reshape(m, n * FINE, BASE).transpose(0, 2, 1))
                c = c + sign * np.matmul(np.matmul(kry, src), krxt)  # (M, n*32, n*32): all n*n crops
            c = c.reshape(m, n, FINE, n, FINE)
            sq = np.einsum("mysxt,mysxt->myx", c, c) - c.sum((2, 4)) ** 2 / (FINE * FINE)  # centred sum of squares
            norm = np.sqrt(np.maximum(sq, 0.0))
            s = (np.einsum("mysxt,mst->myx", c, t.reshape(m, FINE, FINE)) / np.where(norm > 1e-3, norm, np.inf)).reshape(m, -1)
            k = s.argmax(1)
            iy, ix = np.unravel_index(k, (n, n))
            r = np.arange(m)
            better = s[r, k] > best
            best = np.where(better, s[r, k], best)
            win = np.where(better[:, None], np.stack([sy[r, iy], fy[r, iy], sx[r, ix], fx[r, ix]], 1), win)
        return best, win

    # -- both -------------------------------------------------------------------------------------
    def verify(self, grey_a: np.ndarray, grey_b: np.ndarray, ia: np.ndarray, ib: np.ndarray, block: int = 64) -> dict[str, np.ndarray]:
        """Verify pairs (grey_a[ia[m]], grey_b[ib[m]]).

        Returns (M,) arrays: ``score`` (fine correlation; the coarse one where the pair did not
        reach the gate), ``area`` (area fraction kept by the best window), ``cropped`` (0: a is
        cropped to match b, 1: b to match a), ``mirror`` and ``verified`` (score >= threshold)."""
        m = len(ia)
        out = {"score": np.zeros(m), "area": np.ones(m), "cropped": np.zeros(m, np.int8), "mirror": np.zeros(m, bool)}
        order = np.argsort(ia, kind="stable")
        starts = np.flatnonzero(np.r_[True, ia[order][1:] != ia[order][:-1]])  # first pair of each a image
        # blocks of `block` a images with all their pairs: coarse crops (~250 KB an image) of the
        # block and its partners only, so memory is bounded whatever the number of pairs
        for s0 in range(0, len(starts), block):
            lo, hi = starts[s0], (starts[s0 + block] if s0 + block < len(starts) else m)
            sel = order[lo:hi]
            ua, inv_a = np.unique(ia[sel], return_inverse=True)
            ub, inv_b = np.unique(ib[sel], return_inverse=True)
            ca, cb = self.coarse_crops(grey_a[ua]), self.coarse_crops(grey_b[ub])
            for s, e in chunks(len(sel), block):
                idx = sel[s:e]
                sc, d, f, w = self.coarse_match(ca[inv_a[s:e]], cb[inv_b[s:e]], self.tries)
                out["score"][idx], out["cropped"][idx], out["mirror"][idx] = sc[:, 0], d[:, 0], f[:, 0]
                wy, wx = self.win1[self.win2[w, 0]], self.win1[self.win2[w, 1]]  # (M, tries, 2)
                out["area"][idx] = wy[:, 0, 1] * wx[:, 0, 1]
                # refine the best few coarse windows of every pair that reaches the gate
                go_p, go_t = np.nonzero((sc >= self.gate) & (sc >= sc[:, :1] - 0.1))
                if len(go_p) == 0:
                    continue
                ga, gb = grey_a[ia[idx[go_p]]].astype(np.float32), grey_b[ib[idx[go_p]]].astype(np.float32)
                a_cropped = (d[go_p, go_t] == 0)[:, None, None]
                src, dst = np.where(a_cropped, ga, gb), np.where(a_cropped, gb, ga)
                win = np.concatenate([wy[go_p, go_t], wx[go_p, go_t]], 1)  # (G, 4): start_y, frac_y, start_x, frac_x
                fs, fw = self.fine_match(src, dst, f[go_p, go_t], win)
                top = pd_best(go_p, fs)  # best try of each refined pair
                rows = idx[go_p[top]]
                out["score"][rows] = fs[top]
                out["area"][rows] = fw[top, 1] * fw[top, 3]
                out["cropped"][rows], out["mirror"][rows] = d[go_p[top], go_t[top]], f[go_p[top], go_t[top]]
        out["verified"] = out["score"] >= self.threshold
        return out


def verify_pairs(paths_a: list[str], paths_b: list[str], ia: np.ndarray, ib: np.ndarray, *, threshold: float = THRESHOLD,
                 workers: int | None = None, block_images: int = 2048) -> dict[str, np.ndarray]:
    """Verify candidate pairs (paths_a[ia[m]], paths_b[ib[m]]) reading the files.

    Pairs are processed in blocks of ``block_images`` distinct ``a`` images (with their partners),
    so memory stays bounded: 4 KB thumbnails of the block and its partners, coarse crops of 64 images at a time.
    Unreadable images get score NaN and are not verified. Returns `Verifier.verify`'s dict."""
    ia, ib = np.asarray(ia, np.int64), np.asarray(ib, np.int64)
    m = len(ia)
    out = {"score": np.full(m, np.nan), "area": np.full(m, np.nan), "cropped": np.zeros(m, np.int8),
           "mirror": np.zeros(m, bool), "verified": np.zeros(m, bool)}
    if m == 0:
        return out
    v = Verifier(threshold)
    order = np.argsort(ia, kind="stable")
    ua = np.unique(ia)
    for s, e in chunks(len(ua), block_images):
        sel = order[np.searchsorted(ia[order], ua[s], "left"):np.searchsorted(ia[order], ua[e - 1], "right")]
        a_ids, a_inv = np.unique(ia[sel], return_inverse=True)
        b_ids, b_inv = np.unique(ib[sel], return_inverse=True)
        ga, oka = grey_thumbnails([paths_a[i] for i in a_ids], workers)
        gb, okb = grey_thumbnails([paths_b[i] for i in b_ids], workers)
        good = oka[a_inv] & okb[b_inv]
        res = v.verify(ga, gb, a_inv[good], b_inv[good])
        for k, col in out.items():
            col[sel[good]] = res[k]
    return out
