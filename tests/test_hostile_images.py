"""Hostile images: a decompression bomb is refused before a pixel is decoded, and only PNG
and JPEG open, whatever the file is called."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib
from contextlib import nullcontext

import numpy as np
import pytest
from PIL import Image, ImageFile

from aigc import imaging


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png(side: int) -> bytes:
    """A valid 1-bit black PNG of side x side pixels in a few KB: the IDAT is zlib over rows of
    zeros, compressed streaming so the raw 24 MB (at 14000) is never held at once."""
    row = bytes(1 + (side + 7) // 8)  # filter byte + packed bits
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit grayscale
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [14000, 7000])  # over Pillow's own bomb limit, and under it
def test_a_decompression_bomb_is_refused_before_decoding(monkeypatch, side):
    bomb = bomb_png(side)
    assert len(bomb) < 200_000
    decoded: list[int] = []
    original = ImageFile.ImageFile.load

    def spy(self):
        decoded.append(self.width * self.height)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    tracemalloc.start()
    try:
        # Under Pillow's own limit it only warns; open_upload's pixel check refuses it.
        warns = pytest.warns(Image.DecompressionBombWarning) if side == 7000 else nullcontext()
        with warns, pytest.raises(imaging.ImageInputError, match="too large|more than") as info:
            imaging.open_upload(bomb, "bomb.png")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert decoded == [], "the pixels were decoded"
    assert peak < 20_000_000, f"peak {peak:,} bytes while refusing"
    assert str(info.value).startswith("bomb.png: ")


def _pil_bytes(fmt: str, **kw) -> bytes:
    img = Image.fromarray((np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8))
    buf = io.BytesIO()
    if fmt == "GIF-frames":
        frames = [img.rotate(i) for i in range(200)]
        frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    else:
        img.save(buf, format=fmt, **kw)
    return buf.getvalue()


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n0 0 moveto 10 10 lineto stroke\n%%EOF\n"


@pytest.mark.parametrize(
    ("what", "payload", "message"),
    [
        ("tiff", lambda: _pil_bytes("TIFF"), "not a PNG or JPEG"),
        ("eps", lambda: EPS, "not a PNG or JPEG"),
        ("pdf", lambda: _pil_bytes("PDF"), "not a PNG or JPEG"),
        ("gif", lambda: _pil_bytes("GIF"), "not a PNG or JPEG"),
        ("many-frame gif", lambda: _pil_bytes("GIF-frames"), "not a PNG or JPEG"),
        ("bmp", lambda: _pil_bytes("BMP"), "not a PNG or JPEG"),
        ("webp", lambda: _pil_bytes("WEBP"), "not a PNG or JPEG"),
        ("empty", lambda: b"", "empty"),
        ("png header only", lambda: _pil_bytes("PNG")[:40], "damaged or truncated|not a PNG"),
        ("truncated png", lambda: _pil_bytes("PNG")[:-300], "damaged or truncated"),
        ("truncated jpeg", lambda: _pil_bytes("JPEG")[:600], "damaged or truncated"),
        ("text", lambda: b"<svg onload=alert(1)></svg>", "not a PNG or JPEG"),
    ],
)
def test_only_png_and_jpeg_open_whatever_the_name(what, payload, message):
    data_ = payload()
    with pytest.raises(imaging.ImageInputError, match=message) as info:
        imaging.open_upload(data_, "photo.png")
    text = str(info.value)
    assert text.startswith("photo.png: ") and "\n" not in text and "Traceback" not in text


def test_real_png_and_jpeg_open_and_prepare():
    for fmt in ("PNG", "JPEG"):
        img = imaging.open_upload(_pil_bytes(fmt), f"ok.{fmt.lower()}")
        assert img.format == fmt
        digit = imaging.prepare_digit(img)
        assert digit.shape == (28, 28) and np.isfinite(digit).all()
