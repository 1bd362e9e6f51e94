"""Phone photos of declaration QR codes decode measured on degraded images.

bench/qr_photos.py makes seeded, phone-photo-like images of real signed tokens (rotation,
perspective, downscaling, blur, low contrast, uneven light, noise, JPEG); these tests hold
tokens.qr.decode_qr_image to >= 95 % on 100 of them, with no wrong reads, and check that the
set really is that hard. `python -m bench.qr_images --count 200` prints the full table.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bench.qr_images import measure
from bench.qr_photos import generate, perspective_coefficients
from tokens.qr import QrDecodeError, decode_qr_image

SEED = 7
COUNT = 100


@pytest.fixture(scope="module")
def images() -> list[tuple[str, bytes, dict]]:
    return generate(COUNT, SEED)


@pytest.fixture(scope="module")
def result(images) -> dict:
    return measure(images)


def test_at_least_95_percent_of_degraded_photos_decode(result):
    assert result["images"] == COUNT
    assert result["decode_rate"] >= 0.95, result["failures"]


def test_every_read_is_the_exact_token_that_verifies(result):
    # measure() counts an image as decoded only when decode_qr_image returned exactly
    # [token] and that token verified; anything else it read is counted as wrong.
    assert result["wrong"] == 0, result["failures"]
    assert result["decoded"] + result["not_found"] == COUNT


def test_the_fallback_passes_read_photos_a_single_reader_pass_misses(result):
    assert result["decoded"] > result["first_pass_decoded"]


def test_the_set_holds_every_degradation_family_at_its_hard_end(images):
    params = [p for _, _, p in images]
    assert max(abs(p["angle"]) for p in params) >= 20
    assert sum(abs(p["angle"]) >= 20 for p in params) >= 10
    assert min(p["jpeg_quality"] or 100 for p in params) <= 50
    assert sum((p["jpeg_quality"] or 100) <= 50 for p in params) >= 10
    assert sum(p["perspective"] >= 0.07 for p in params) >= 10
    assert sum(p["ppm"] < 3.0 for p in params) >= 10  # downscaled to under 3 pixels a module
    assert sum(p["blur"] >= 0.9 for p in params) >= 10
    assert sum(p["noise"] > 0 for p in params) >= 20
    assert sum(p["lighting"] > 0 for p in params) >= 20
    assert sum(p["paper"] - p["ink"] <= 120 for p in params) >= 10
    assert any(data.startswith(b"\x89PNG") for _, data, _ in images)
    assert any(data.startswith(b"\xff\xd8") for _, data, _ in images)
    for family in ("rotation", "perspective", "downscale", "blur", "low_contrast", "lighting", "noise", "jpeg"):
        assert any(family in p["families"] for p in params), family


def test_the_set_is_reproducible_from_its_seed(images):
    again = generate(3, SEED)
    assert [(name, data) for name, data, _ in again] == [(name, data) for name, data, _ in images[:3]]


def test_perspective_coefficients_map_each_output_corner_to_its_source():
    dst = [(10.0, 12.0), (210.0, 5.0), (220.0, 230.0), (3.0, 200.0)]
    src = [(0.0, 0.0), (200.0, 0.0), (200.0, 200.0), (0.0, 200.0)]
    a, b, c, d, e, f, g, h = perspective_coefficients(dst, src)
    for (x, y), (u, v) in zip(dst, src, strict=True):
        w = g * x + h * y + 1
        assert (a * x + b * y + c) / w == pytest.approx(u, abs=1e-6)
        assert (d * x + e * y + f) / w == pytest.approx(v, abs=1e-6)


def test_an_image_without_a_qr_still_fails_after_every_fallback():
    blank = Image.new("L", (320, 240), 200)
    out = io.BytesIO()
    blank.save(out, format="JPEG")
    with pytest.raises(QrDecodeError, match="no QR code"):
        decode_qr_image(out.getvalue())
