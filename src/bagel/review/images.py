"""Serving image pixels safely: a URL names a split and an image key, never a path, and the file
behind it must resolve (symlinks followed) inside that split's recorded root; thumbnails are
cached in the workspace.

An image set's table could hold any string as a path (a tampered file, or an ImageFolder with a
symlink out of it), so the containment check runs on the resolved path of every request.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from pathlib import Path

from bagel.data.imageset import IMAGE_SUFFIXES, ImageSet
from bagel.errors import BagelError
from bagel.neighbors.images import ImageReadError, open_image

THUMB_SIZES = {"thumb": 224, "medium": 512}
# Formats every browser shows as they are; others (TIFF) are converted to PNG.
NATIVE = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif", ".webp": "image/webp",
          ".bmp": "image/bmp"}


class NotServed(BagelError):
    """The image cannot be served (unknown key, no pixels, outside the root, unreadable): 404."""


class ImageServer:
    """Looks up image files by (split, key) in a workspace and produces thumbnails.

    ws: the workspace (image sets under ``imagesets/``, thumbnail cache under ``review/thumbs/``).
    """

    def __init__(self, ws):
        self.ws = ws
        self._sets: dict[str, tuple[float, ImageSet, Path | None]] = {}
        self._lock = threading.Lock()
        self.cache = ws.root / "review" / "thumbs"

    def imageset(self, split: str) -> ImageSet:
        return self._load(split)[0]

    def _load(self, split: str) -> tuple[ImageSet, Path | None]:
        if split not in ImageSet.splits(self.ws):
            raise NotServed(f"no image set {split!r}")
        meta = self.ws.root / "imagesets" / f"{split}.parquet"
        mtime = meta.stat().st_mtime
        hit = self._sets.get(split)
        if hit is None or hit[0] != mtime:
            with self._lock:
                s = ImageSet.load(self.ws, split)
                root = s.root.resolve() if s.root is not None else None
                hit = (mtime, s, root)
                self._sets[split] = hit
        return hit[1], hit[2]

    def path(self, split: str, key: str) -> Path:
        """The file of ``key`` in ``split``, or `NotServed`. The resolved file must lie inside the
        split's resolved root and have an image suffix."""
        s, root = self._load(split)
        i = s.index.get(key)
        if i is None or root is None or not s.paths[i]:
            raise NotServed(f"no image {key!r} in split {split!r}")
        rel = str(s.paths[i])
        if os.path.isabs(rel) or "\x00" in rel:
            raise NotServed(f"image {key!r}: recorded path is not relative to the root")
        p = (root / rel).resolve()
        if not p.is_relative_to(root) or p == root:
            raise NotServed(f"image {key!r}: outside the image root")
        if p.suffix.lower() not in IMAGE_SUFFIXES or not p.is_file():
            raise NotServed(f"image {key!r}: not an image file")
        return p

    def original(self, split: str, key: str) -> tuple[Path | None, bytes | None, str]:
        """(file to send as is, or None and the converted bytes, media type)."""
        p = self.path(split, key)
        media = NATIVE.get(p.suffix.lower())
        if media:
            return p, None, media
        return None, self._render(p, None, "PNG"), "image/png"

    def thumbnail(self, split: str, key: str, size: str = "thumb") -> Path:
        """A cached JPEG at most THUMB_SIZES[size] pixels on its long side; regenerated when the
        source file changes (its size and mtime are part of the cache name)."""
        if size not in THUMB_SIZES:
            raise NotServed(f"thumbnail size {size!r}: expected one of {', '.join(THUMB_SIZES)}")
        p = self.path(split, key)
        st = p.stat()
        h = hashlib.sha1(f"{split}\0{key}\0{st.st_size}\0{st.st_mtime_ns}\0{size}".encode()).hexdigest()
        out = self.cache / h[:2] / f"{h}.jpg"
        if not out.exists():
            data = self._render(p, THUMB_SIZES[size], "JPEG")
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_suffix(f".{threading.get_ident()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, out)  # atomic: a concurrent reader never sees half a file
        return out

    @staticmethod
    def _render(p: Path, size: int | None, fmt: str) -> bytes:
        """The image as RGB ``fmt`` bytes, at most ``size`` pixels on its long side; decoded by the
        same robust reader as the embeddings (EXIF orientation, any mode, bomb check, JPEG draft)."""
        try:
            im = open_image(p, draft_size=size)
        except ImageReadError as e:
            raise NotServed(f"{p.name}: unreadable image ({e})") from None
        if size:
            im.thumbnail((size, size))
        buf = io.BytesIO()
        im.save(buf, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
        return buf.getvalue()
