"""Every awkward file a dataset holds is decoded or skipped with a reason, never a crash."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from bagel.neighbors.hashing import fingerprint_files, pixel_digest
from bagel.neighbors.images import ImageReadError, open_image, read_rgb


def _png_header_only(path, w, h):
    """A PNG that claims w x h pixels and holds none: what a decompression bomb looks like to a reader."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IEND", b""))


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    f = {}
    f["rgb"] = tmp_path / "rgb.jpg"
    Image.fromarray(rgb).save(f["rgb"], quality=95)
    f["gray"] = tmp_path / "gray.png"
    Image.fromarray(rgb[..., 0]).save(f["gray"])
    f["cmyk"] = tmp_path / "cmyk.jpg"
    Image.fromarray(rgb).convert("CMYK").save(f["cmyk"])
    f["g16"] = tmp_path / "g16.png"
    Image.fromarray((np.arange(40 * 60).reshape(40, 60) * 27).astype(np.uint16)).save(f["g16"])
    f["palette"] = tmp_path / "palette.png"
    Image.fromarray(rgb).convert("P").save(f["palette"])
    f["palette_transparent"] = tmp_path / "palette_t.gif"
    p = Image.fromarray(rgb).convert("P")
    p.info["transparency"] = 0
    p.save(f["palette_transparent"], transparency=0)
    f["rgba"] = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([rgb, np.full((40, 60), 128, np.uint8)])).save(f["rgba"])
    f["exif"] = tmp_path / "exif.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    Image.fromarray(rgb).save(f["exif"], exif=exif, quality=95)
    f["truncated"] = tmp_path / "truncated.jpg"
    f["truncated"].write_bytes(f["rgb"].read_bytes()[:600])
    f["corrupt"] = tmp_path / "corrupt.jpg"
    f["corrupt"].write_bytes(b"this is not an image at all")
    f["empty"] = tmp_path / "empty.png"
    f["empty"].write_bytes(b"")
    f["bomb"] = tmp_path / "bomb.png"
    _png_header_only(f["bomb"], 100_000, 100_000)
    f["missing"] = tmp_path / "missing.jpg"
    return f


@pytest.mark.parametrize("name", ["rgb", "gray", "cmyk", "g16", "palette", "palette_transparent", "rgba", "exif"])
def test_readable_modes_become_rgb(files, name):
    a = read_rgb(files[name])
    assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3


def test_exif_rotation_applied(files):
    assert read_rgb(files["exif"]).shape == (60, 40, 3)  # stored 60 wide x 40 high, shown upright


def test_sixteen_bit_scaled_not_clipped(files):
    a = read_rgb(files["g16"])[..., 0].astype(int)
    expected = np.rint(np.arange(40 * 60).reshape(40, 60) * 27 / 257.0)
    assert np.abs(a - expected).max() <= 1 and a.max() > 200


def test_transparent_pixels_composited_on_white(files):
    a = read_rgb(files["rgba"]).astype(int)
    assert (a >= 127).all()  # half-transparent over white: never darker than half


@pytest.mark.parametrize("name,reason", [("truncated", "corrupt or truncated"), ("corrupt", "not an image"), ("empty", "not an image"),
                                         ("bomb", "too large"), ("missing", "missing file")])
def test_broken_files_raise_a_reason(files, name, reason):
    with pytest.raises(ImageReadError, match=reason):
        open_image(files[name])


def test_max_pixels_is_checked_before_decoding(files):
    with pytest.raises(ImageReadError, match="too large: 60x40"):
        open_image(files["rgb"], max_pixels=100)


def test_jpeg_draft_decodes_smaller(tmp_path):
    p = tmp_path / "big.jpg"
    Image.new("RGB", (800, 600), (10, 200, 30)).save(p)
    im = open_image(p, draft_size=64)
    assert 64 <= min(im.size) < 600


def test_fingerprinting_a_mixed_folder_never_crashes(files):
    names = list(files)
    f = fingerprint_files([str(files[n]) for n in names], workers=1)
    reasons = dict(zip(names, f["reason"]))
    assert all(reasons[n] == "" for n in ["rgb", "gray", "cmyk", "g16", "palette", "palette_transparent", "rgba", "exif"])
    assert all(reasons[n] for n in ["truncated", "corrupt", "empty", "bomb", "missing"])
    assert f["pixel_key"].dtype == np.uint64 and len(set(f["pixel_key"][[names.index("rgb"), names.index("gray")]])) == 2


def test_pixel_digest_sees_pixels_not_bytes(tmp_path, files):
    png = tmp_path / "same.png"
    Image.open(files["rgb"]).save(png)
    assert pixel_digest(png) == pixel_digest(files["rgb"])
    assert pixel_digest(files["gray"]) != pixel_digest(files["rgb"])


def test_grey_and_rgb_storage_of_one_picture_fingerprint_alike(tmp_path):
    """Grey images are hashed without converting them whole, yet as the RGB bytes they stand for."""
    from bagel.neighbors.hashing import fingerprint_image, pixel_digest

    grey = (np.random.default_rng(0).random((100, 150)) * 255).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "grey.png")
    Image.fromarray(grey).convert("RGB").save(tmp_path / "rgb.png")
    Image.fromarray(np.stack([grey, grey, 255 - grey], -1)).save(tmp_path / "other.png")
    a, b, c = (fingerprint_image(tmp_path / n) for n in ("grey.png", "rgb.png", "other.png"))
    assert a == b and a[0] != c[0]
    assert pixel_digest(tmp_path / "grey.png") == pixel_digest(tmp_path / "rgb.png")
