"""QR codes for declaration tokens: rendering (segno) and reading back from photos (zbar).

Error correction M without boosting keeps the symbol version predictable from the token
length alone, which is what the size budget in the tests relies on; M still survives a
scuffed phone screen or a creased printout.
"""

from __future__ import annotations

import io

import segno
from PIL import Image

from runtime.cose import PREFIX

_ERROR_LEVEL = "m"
# Only formats a phone camera or scanner app produces; fewer Pillow decoders, less attack surface.
_IMAGE_FORMATS = ("PNG", "JPEG")


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

    found = pyzbar.decode(gray, symbols=[pyzbar.ZBarSymbol.QRCODE])
    if not found:
        raise QrDecodeError("no QR code found in the image")
    return [symbol.data.decode("utf-8", errors="replace") for symbol in found]
