"""QR codes for declaration tokens: rendering (segno) and reading back from photos (zxing-cpp).

Error correction M without boosting keeps the symbol version predictable from the token
length alone, which is what the size budget in the tests relies on; M still survives a
scuffed phone screen or a creased printout.
"""

from __future__ import annotations

import io
import math
import threading
from concurrent.futures import Executor
from dataclasses import dataclass

import segno
from PIL import Image, ImageFilter

from tokens.cose import PREFIX

_ERROR_LEVEL = "m"
# Only formats a phone camera or scanner app produces; fewer Pillow decoders, less attack surface.
_IMAGE_FORMATS = ("PNG", "JPEG")
# zxing-cpp reads the photo as sent with its local-average binariser (it tries rotations, inverted
# symbols and its own downscaled copies); that reads about 95 % of bench/qr_images.py's degraded
# photos in 1-3 ms. A photo it misses gets up to six more passes, each a few milliseconds: the
# global-histogram binariser (uneven light defeats a local threshold less often than a global one
# only on small symbols), the photo sharpened (defocus), and sharpened or reduced copies pre-warped
# by a keystone that undoes much of a camera's tilt in one direction. The order is the greedy best
# rescues-per-millisecond on seeds 8 and 9 (400 photos), checked on seed 7 (bench/README.md).
# A photo with no QR at all costs every pass, about 25 ms for a 1,600-pixel one.
_SHARPEN = ImageFilter.UnsharpMask(radius=2, percent=200, threshold=0)
# (scale, sharpened, keystone strength x, y, global-histogram binariser): see _Variants.
_FALLBACKS: tuple[tuple[float, bool, float, float, bool], ...] = (
    (1.0, False, 0.0, 0.0, True),
    (1.0, True, 0.0, 0.0, False),
    (2 / 3, False, 0.2, 0.0, True),
    (1.0, True, 0.0, 0.5, False),
    (1.0, True, -0.2, 0.0, True),
    (1.0, True, 0.5, 0.0, False),
    (1.0, True, -0.5, 0.0, False),
)
# A phone photo is 12 MP or more while a QR reader needs only ~3 pixels a module: larger photos are
# read at a reduced size whose long side stays at least this (a version-10 symbol filling a tenth
# of the frame's width still gets ~3 px a module), a JPEG reduced by its decoder for almost nothing.
MAX_SIDE = 1600


class QrDecodeError(ValueError):
    """The bytes are not a readable image, or no QR code was found in it."""


class UnreadableImage(QrDecodeError):
    """The bytes are not a PNG or JPEG image that Pillow can decode."""


class QrDecoderUnavailable(RuntimeError):
    """zxing-cpp, the QR reader, is not installed (services that never read images do not need it)."""


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


@dataclass(frozen=True)
class QrRead:
    """What one photo gave: the QR codes' texts, and the pass that read them (0 = the photo as sent)."""

    texts: list[str]
    attempt: int


def decode_qr_image(image_bytes: bytes) -> list[str]:
    """Every QR code found in a PNG or JPEG image, as text, in the order the reader reports them."""
    return read_qr_image(image_bytes).texts


def read_qr_image(image_bytes: bytes, lanes: Executor | None = None) -> QrRead:
    """`decode_qr_image` with the pass that read it. With ``lanes`` (an executor with a free thread), a photo
    the first pass misses has its fallback passes split over this thread and one of the executor's: zxing-cpp
    and Pillow release the GIL, so on two idle cores the hardest photo's wait is about halved (the officer
    is waiting; the CPU spent is the same)."""
    try:
        gray = grey_image(image_bytes)
    # Pillow reports unreadable or hostile input through several exception types.
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(f"not a readable PNG or JPEG image: {exc}") from exc
    # Only the photo as sent is also tried inverted (a light-on-dark screen): the fallbacks rescue
    # camera faults, and each would pay a second, inverted detection for nothing.
    found = read_qr(gray, inverted_too=True)
    if found:
        return QrRead(found, 0)
    variants = _Variants(gray)
    if lanes is None:
        hit = _lane(variants, range(len(_FALLBACKS)), threading.Event())
    else:
        hit = _two_lanes(variants, lanes)
    if hit is None:
        raise QrDecodeError("no QR code found in the image")
    return QrRead(hit[1], hit[0] + 1)


def _two_lanes(variants: _Variants, lanes: Executor) -> tuple[int, list[str]] | None:
    """Even fallbacks here, odd ones on the executor; the first read stops both lanes between passes."""
    done = threading.Event()
    odd = range(1, len(_FALLBACKS), 2)
    other = lanes.submit(_lane, variants, odd, done)
    mine = _lane(variants, range(0, len(_FALLBACKS), 2), done)
    if mine is not None and other.cancel():
        return mine
    # Not started yet (the executor is busy with other photos): its passes run here instead of waiting.
    theirs = _lane(variants, odd, done) if other.cancel() else other.result()
    hits = [h for h in (mine, theirs) if h is not None]
    return min(hits, default=None)


def _lane(variants: _Variants, indices: range, done: threading.Event) -> tuple[int, list[str]] | None:
    for i in indices:
        if done.is_set():
            return None
        attempt, histogram = variants.get(i)
        found = read_qr(attempt, global_histogram=histogram, inverted_too=False)
        if found:
            done.set()
            return i, found
    return None


def read_qr(gray: Image.Image, *, global_histogram: bool = False, inverted_too: bool = True) -> list[str]:
    """One zxing-cpp pass over a grey image: the QR codes it reads, as text."""
    try:
        # Imported here: only the gateway and the tools that read photos load the native reader.
        import zxingcpp
    except ImportError as exc:
        raise QrDecoderUnavailable("reading QR images needs zxing-cpp: pip install zxing-cpp") from exc
    binarizer = zxingcpp.Binarizer.GlobalHistogram if global_histogram else zxingcpp.Binarizer.LocalAverage
    found = zxingcpp.read_barcodes(
        gray,
        formats=zxingcpp.BarcodeFormat.QRCode,
        binarizer=binarizer,
        text_mode=zxingcpp.TextMode.Plain,
        try_invert=inverted_too,
    )
    return [symbol.text for symbol in found]


def grey_image(image_bytes: bytes) -> Image.Image:
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


class _Variants:
    """The fallback images of _FALLBACKS, made lazily; a base they share (the reduced or the sharpened copy)
    is made once, even when both lanes ask for it at the same time."""

    def __init__(self, gray: Image.Image) -> None:
        self._made: dict[tuple[float, bool], Image.Image] = {(1.0, False): gray}
        self._locks = {(scale, sharpened): threading.Lock() for scale, *_ in _FALLBACKS for sharpened in (False, True)}

    def get(self, i: int) -> tuple[Image.Image, bool]:
        scale, sharpened, gx, gy, histogram = _FALLBACKS[i]
        base = self._base(scale, sharpened)
        return (_keystone(base, gx, gy) if gx or gy else base), histogram

    def _base(self, scale: float, sharpened: bool) -> Image.Image:
        key = (scale, sharpened)
        if key not in self._made:
            with self._locks[key]:
                if key not in self._made:
                    if sharpened:
                        self._made[key] = self._base(scale, False).filter(_SHARPEN)
                    else:
                        gray = self._made[1.0, False]
                        size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
                        self._made[key] = gray.resize(size, Image.Resampling.BOX)
        return self._made[key]


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
        (1 + cx * a) / k,
        cx * b / k,
        cx * (k - 1) / k,
        cy * a / k,
        (1 + cy * b) / k,
        cy * (k - 1) / k,
        a / k,
        b / k,
    )
    return image.transform(
        image.size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR, fillcolor=255
    )
