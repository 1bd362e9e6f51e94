"""A declaration's token as a QR image, PNG or SVG, for the holder's phone (GET /v1/declarations/{id}/qr.*)."""

from __future__ import annotations

from functools import lru_cache

from tokens.qr import qr_png, qr_svg

# QR rendering: the PNG's parameters, so both images are the same symbol (tokens.qr).
_QR_SCALE = 6
_QR_BORDER = 4


@lru_cache(maxsize=2048)
def png(token: str) -> bytes:
    # Rendering costs ~30 ms (ARCHITECTURE: costs); a holder's phone asks for the same image often.
    return qr_png(token, scale=_QR_SCALE, border=_QR_BORDER)


@lru_cache(maxsize=2048)
def svg(token: str) -> bytes:
    return qr_svg(token, scale=_QR_SCALE, border=_QR_BORDER, title="ATA declaration token")
