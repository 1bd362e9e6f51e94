"""QR rendering and reading (tokens.qr) of declaration tokens (R9: the signed, dated declaration)."""

from __future__ import annotations

import hashlib
import io
import sys
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest
from PIL import Image

from contracts.kinds import DeclarationKind
from contracts.token import DeclarationClaims
from contracts.txcode import new_transaction_code
from tests.support.system_tools import require_module
from tokens.cose import PREFIX, generate_signing_key, sign_token, verify_token
from tokens.qr import (
    MAX_SIDE,
    QrDecodeError,
    QrDecoderUnavailable,
    decode_qr_image,
    grey_image,
    qr_png,
    qr_terminal,
    qr_version,
)

ISSUED = datetime(2025, 6, 1, 8, 30, tzinfo=UTC)
KEY = generate_signing_key()


def three_item_token() -> str:
    """A realistic importation of three items from a carnet's general list (R9)."""
    claims = DeclarationClaims(
        carnet_number="FR-2025-0001234",
        transaction_code=new_transaction_code(lambda n: bytes.fromhex("5a17c3e90b4d2f68")[:n]),
        kind=DeclarationKind.IMPORTATION,
        country="DE",
        items=(3, 7, 12),
        general_list_digest=hashlib.sha256(b"the general list").digest()[:16].hex(),
        sequence=1,
        carnet_expiry=date(2026, 5, 31),
        token_id=UUID("0b7e5c1a-4f0e-4c6e-9a55-2d3c4b5a6f70"),
        issued_at=ISSUED,
        expires_at=ISSUED + timedelta(hours=24),
    )
    return sign_token(claims.to_cwt(), KEY)


TOKEN = three_item_token()


def test_three_item_token_fits_a_small_qr_at_level_m():
    assert TOKEN.startswith(PREFIX)
    assert qr_version(TOKEN) <= 12


def test_png_round_trip_gives_back_the_exact_token():
    png = qr_png(TOKEN)
    assert png.startswith(b"\x89PNG")
    assert decode_qr_image(png) == [TOKEN]
    claims = DeclarationClaims.from_cwt(verify_token(TOKEN, lambda kid: KEY.public_key, ISSUED))
    assert claims.items == (3, 7, 12)


def test_jpeg_photo_round_trip():
    """Phones send JPEG: lossy compression of a scaled-up code must still read back."""
    image = Image.open(io.BytesIO(qr_png(TOKEN, scale=6))).convert("RGB")
    jpeg = io.BytesIO()
    image.save(jpeg, format="JPEG", quality=70)
    assert decode_qr_image(jpeg.getvalue()) == [TOKEN]


@pytest.mark.parametrize("kind", ["JPEG", "PNG"])
def test_a_large_photo_is_read_at_a_reduced_size_and_still_decodes(kind):
    """A 12 MP phone photo: zbar reads it at a long side of MAX_SIDE to 2 MAX_SIDE, not at full size (issue 9)."""
    symbol = Image.open(io.BytesIO(qr_png(TOKEN, scale=24))).convert("L")
    photo = Image.new("RGB", (4000, 3000), (120, 110, 100))
    photo.paste(symbol.convert("RGB"), (1400, 900))
    data = io.BytesIO()
    photo.save(data, format=kind, **({"quality": 85} if kind == "JPEG" else {}))
    grey = grey_image(data.getvalue())
    assert grey.mode == "L" and MAX_SIDE <= max(grey.size) < 2 * MAX_SIDE
    assert grey.size[0] * 3 == grey.size[1] * 4  # the same frame, only fewer pixels
    assert decode_qr_image(data.getvalue()) == [TOKEN]


def test_a_small_photo_is_read_at_its_own_size():
    jpeg = io.BytesIO()
    Image.open(io.BytesIO(qr_png(TOKEN, scale=6))).convert("RGB").save(jpeg, format="JPEG", quality=70)
    assert grey_image(jpeg.getvalue()).size == Image.open(jpeg).size


def test_png_size_follows_scale_and_border():
    width = 17 + 4 * qr_version(TOKEN)  # modules per side for a QR version
    with Image.open(io.BytesIO(qr_png(TOKEN, scale=3, border=2))) as image:
        assert image.size == ((width + 4) * 3, (width + 4) * 3)


def test_terminal_rendering_packs_two_rows_per_line():
    text = qr_terminal(TOKEN)
    lines = text.splitlines()
    side = 17 + 4 * qr_version(TOKEN) + 2 * 4
    assert len(lines) == (side + 1) // 2
    assert all(len(line) == side for line in lines)
    assert set(text) <= set(" \u2580\u2584\u2588\n")


def test_non_token_text_is_still_encodable():
    assert decode_qr_image(qr_png("hello, customs")) == ["hello, customs"]


def test_token_with_a_non_alphanumeric_character_is_refused():
    with pytest.raises(ValueError):
        qr_png(TOKEN + "a")


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20])
def test_bytes_that_are_not_an_image(data):
    with pytest.raises(QrDecodeError, match="not a readable"):
        decode_qr_image(data)


def test_formats_other_than_png_and_jpeg_are_refused():
    gif = io.BytesIO()
    Image.open(io.BytesIO(qr_png(TOKEN))).save(gif, format="GIF")
    with pytest.raises(QrDecodeError):
        decode_qr_image(gif.getvalue())


def test_image_without_a_qr_code():
    blank = io.BytesIO()
    Image.new("L", (200, 200), 255).save(blank, format="PNG")
    with pytest.raises(QrDecodeError, match="no QR code"):
        decode_qr_image(blank.getvalue())


def test_missing_reader_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "zxingcpp", None)
    with pytest.raises(QrDecoderUnavailable, match="pip install zxing-cpp"):
        decode_qr_image(qr_png(TOKEN))


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_r9_the_symbols_we_render_read_in_an_independent_reader_too(scale):
    """Officers' scanners are not ours: a token's QR must read the same in zbar as in the gateway's reader."""
    pyzbar = require_module("pyzbar.pyzbar", "libzbar0")
    png = qr_png(TOKEN, scale=scale)
    with Image.open(io.BytesIO(png)) as image:
        found = pyzbar.decode(image.convert("L"), symbols=[pyzbar.ZBarSymbol.QRCODE])
    assert [symbol.data.decode("ascii") for symbol in found] == [TOKEN] == decode_qr_image(png)
