"""QR codes for declaration tokens: rendering (segno) and reading back from photos (zbar).

Error correction M without boosting keeps the symbol version predictable from the token
length alone, which is what the size budget in the tests relies on; M still survives a
scuffed phone screen or a creased printout.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import segno
from PIL import Image, ImageFilter

from runtime.cose import PREFIX

_ERROR_LEVEL = "m"
# Only formats a phone camera or scanner app produces; fewer Pillow decoders, less attack surface.
_IMAGE_FORMATS = ("PNG", "JPEG")
# zbar reads a QR seen head-on or rotated, but its grid fit gives up on a keystoned one (a
# photo taken at a tilt: with corners 10 % off it reads fewer than half) and is brittle on noisy or
# blurred small modules. When the image as sent yields nothing it gets up to nine more passes:
# smoothed (sensor noise, JPEG blocking), then sharpened (defocus) and pre-warped by a keystone
# of +-10 % of the frame in each of the four directions, then as sent with a +-25 % keystone;
# one of the warps undoes much of the camera's tilt. bench/qr_images.py measures the effect
# (80 % -> 97.5 % of its 200 degraded photos). An image that decodes as sent costs nothing
# more; one that holds no QR at all costs ten zbar passes instead of one.
_SMOOTH = ImageFilter.GaussianBlur(0.7)
_SHARPEN = ImageFilter.UnsharpMask(radius=2, percent=200, threshold=0)
_KEYSTONE_DIRECTIONS = ((0, 1), (1, 0), (0, -1), (-1, 0))


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
        with Image.open(io.BytesIO(image_bytes), formats=_IMAGE_FORMATS) as image:
            gray = image.convert("L")
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


def _fallbacks(gray: Image.Image) -> Iterator[Image.Image]:
    """Variants of an image zbar could not read, made lazily, most often successful first."""
    yield gray.filter(_SMOOTH)
    sharp = gray.filter(_SHARPEN)
    for dx, dy in _KEYSTONE_DIRECTIONS:
        yield _keystone(sharp, 0.2 * dx, 0.2 * dy)
    for dx, dy in _KEYSTONE_DIRECTIONS:
        yield _keystone(gray, 0.5 * dx, 0.5 * dy)


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
