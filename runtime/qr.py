"""QR codes for declaration tokens: rendering (segno) and reading back from photos (zbar).

Error correction M without boosting keeps the symbol version predictable from the token
length alone, which is what the size budget in the tests relies on; M still survives a
scuffed phone screen or a creased printout.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator

import segno
from PIL import Image, ImageFilter

from runtime.cose import PREFIX

_ERROR_LEVEL = "m"
# Only formats a phone camera or scanner app produces; fewer Pillow decoders, less attack surface.
_IMAGE_FORMATS = ("PNG", "JPEG")
# zbar reads a QR seen head-on or rotated, but its grid fit gives up on a keystoned one (a
# photo taken at a tilt: with corners 10 % off it reads fewer than half) and is brittle on noisy or
# blurred small modules. When the image as sent yields nothing it gets up to ten more passes, each
# pre-warped by a keystone that undoes much of a camera's tilt in one direction. zbar's time grows
# with the pixels, so the cheap passes come first: at half scale (a quarter of the pixels; the
# averaging also smooths sensor noise and JPEG blocking) and at two thirds, then at full scale
# sharpened (defocus) with a +-10 % keystone, or as sent with a +-25 % one. The order is the
# greedy best rescues-per-millisecond on bench/qr_images.py seeds 8 and 9 (400 photos), checked
# on seed 7: it reads as many photos as the former order (smoothed, then the nine full-scale
# passes) in about half the time for the hard ones (bench/README.md). An image that decodes as
# sent costs nothing more; one that holds no QR at all costs about seven full zbar passes.
_SHARPEN = ImageFilter.UnsharpMask(radius=2, percent=200, threshold=0)
# (scale, sharpened, keystone strength x, y): see _fallbacks.
_FALLBACKS: tuple[tuple[str, bool, float, float], ...] = (
    ("half", False, 0.0, 0.2), ("half", False, 0.0, -0.2), ("two_thirds", False, -0.2, 0.0),
    ("full", True, 0.0, -0.2), ("full", False, -0.5, 0.0), ("full", False, 0.5, 0.0),
    ("full", True, 0.0, 0.2), ("full", False, 0.0, 0.5), ("full", False, 0.0, -0.5), ("full", True, -0.2, 0.0),
)
# A phone photo is 12 MP or more while zbar needs only ~3 pixels a module: larger photos are read
# at a reduced size whose long side stays at least this (a version-10 symbol filling a tenth of
# the frame's width still gets ~3 px a module), a JPEG reduced by its decoder for almost nothing.
MAX_SIDE = 1600

class QrDecodeError(ValueError):
    """The bytes are not a readable image, or no QR code was found in it."""


class QrDecoderUnavailable(RuntimeError):
    """The zbar shared library that pyzbar wraps is not installed."""


def _make(data: str) -> segno.QRCode:
    # Base45 text is all QR alphanumeric, 5.5 bits a character instead of 8 in byte mode;
    # forcing the mode makes a token with a stray character fail here rather than quietly
    # growing the symbol.
    mode = "alphanumeric" if data.startswith(PREFIX) else None
    return segno.make_qr(data, error=_ERROR_LEVEL, mode=mode, boost_error=False)


def qr_png(data: str, *, scale: int = 4, border: int = 4) -> bytes:
    out = io.BytesIO()
    _make(data).save(out, kind="png", scale=scale, border=border)
    return out.getvalue()


def qr_svg(data: str, *, scale: int = 4, border: int = 4, title: str | None = None) -> bytes:
    """The same symbol as `qr_png`, as scalable SVG for screens and print."""
    out = io.BytesIO()
    _make(data).save(out, kind="svg", scale=scale, border=border, xmldecl=True, title=title)
    return out.getvalue()


def qr_terminal(data: str) -> str:
    """Half-block rendering, two modules a line, drawn for a dark-background terminal."""
    out = io.StringIO()
    _make(data).terminal(out=out, compact=True)
    return out.getvalue()


def qr_version(data: str) -> int:
    return _make(data).version


def decode_qr_image(image_bytes: bytes) -> list[str]:
    """Every QR code found in a PNG or JPEG image, as text, in the order zbar reports them."""
    try:
        # Imported here because loading pyzbar loads libzbar, which is an OS package:
        # services that never read images must not need it.
        from pyzbar import pyzbar
    except ImportError as exc:
        raise QrDecoderUnavailable(
            "reading QR images needs the zbar shared library: apt-get install libzbar0"
        ) from exc

    try:
        gray = _grey(image_bytes)
    # Pillow reports unreadable or hostile input through several exception types.
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise QrDecodeError(f"not a readable PNG or JPEG image: {exc}") from exc

    symbols = [pyzbar.ZBarSymbol.QRCODE]
    found = pyzbar.decode(gray, symbols=symbols)
    if not found:
        for attempt in _fallbacks(gray):
            found = pyzbar.decode(attempt, symbols=symbols)
            if found:
                break
    if not found:
        raise QrDecodeError("no QR code found in the image")
    return [symbol.data.decode("utf-8", errors="replace") for symbol in found]


def _grey(image_bytes: bytes) -> Image.Image:
    """The image in grey levels, a large one reduced so that its long side stays >= MAX_SIDE."""
    with Image.open(io.BytesIO(image_bytes), formats=_IMAGE_FORMATS) as image:
        width, height = image.size
        if image.format == "JPEG":
            # The decoder writes grey directly (the JPEG's own luma: no colour conversion) and, for a
            # large photo, scales by 1/2, 1/4 or 1/8 in the DCT, never below the size asked for.
            shrink = max(1.0, max(width, height) / MAX_SIDE)
            image.draft("L", (math.ceil(width / shrink), math.ceil(height / shrink)))
        gray = image.convert("L")
    factor = max(gray.size) // MAX_SIDE
    return gray.reduce(factor) if factor >= 2 else gray


def _fallbacks(gray: Image.Image) -> Iterator[Image.Image]:
    """Variants of an image zbar could not read, made lazily, cheapest rescues first."""
    scaled = {"full": gray}
    sharp: Image.Image | None = None
    for scale, sharpened, gx, gy in _FALLBACKS:
        if scale not in scaled:
            den = 2 if scale == "half" else 3
            num = 1 if scale == "half" else 2
            scaled[scale] = gray.resize((max(1, gray.width * num // den), max(1, gray.height * num // den)),
                                        Image.Resampling.BOX)
        base = scaled[scale]
        if sharpened:
            sharp = sharp or gray.filter(_SHARPEN)
            base = sharp
        yield _keystone(base, gx, gy)


def _keystone(image: Image.Image, gx: float, gy: float) -> Image.Image:
    """``image`` seen through the homography [[1, 0, 0], [0, 1, 0], [gx/w, gy/h, 1]] about its centre.

    Output pixel p samples c + (p - c) / (1 + gx (x - cx) / w + gy (y - cy) / h): one side of
    the frame is shrunk and the opposite one stretched, by gx / 2 (or gy / 2) at the edges.
    """
    w, h = image.size
    cx, cy = w / 2, h / 2
    a, b = gx / w, gy / h
    k = 1 - a * cx - b * cy
    coefficients = (
        (1 + cx * a) / k, cx * b / k, cx * (k - 1) / k,
        cy * a / k, (1 + cy * b) / k, cy * (k - 1) / k,
        a / k, b / k,
    )
    return image.transform(image.size, Image.Transform.PERSPECTIVE, coefficients,
                           Image.Resampling.BILINEAR, fillcolor=255)
