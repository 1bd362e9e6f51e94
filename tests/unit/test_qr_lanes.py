"""A photo the first pass misses: its fallback passes on two lanes (tokens.qr.read_qr_image) read what the
single lane reads (R9: the officer's device reads the signed declaration from a phone photo)."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from bench.qr_photos import generate
from tokens.qr import QrDecodeError, UnreadableImage, read_qr_image


@pytest.fixture(scope="module")
def hard_photos() -> list[tuple[bytes, int]]:
    """Photos of the benchmark's seeded set that only a fallback pass reads, with that pass."""
    out = []
    for _, data, _ in generate(60, 7):
        try:
            attempt = read_qr_image(data).attempt
        except QrDecodeError:
            continue
        if attempt > 0:
            out.append((data, attempt))
    assert out, "the seeded set holds photos only the fallbacks read"
    return out


def test_r9_two_lanes_read_what_one_lane_reads(hard_photos):
    with ThreadPoolExecutor(2) as lanes:
        for data, attempt in hard_photos:
            one, two = read_qr_image(data), read_qr_image(data, lanes)
            assert two.texts == one.texts
            # Passes are deterministic: no lane reads before the first pass that reads in one lane.
            assert two.attempt >= attempt >= 1


def test_r9_with_the_lanes_busy_the_caller_runs_both_lanes_itself(hard_photos):
    release = threading.Event()
    with ThreadPoolExecutor(1) as lanes:
        blocker = lanes.submit(release.wait, 10)
        try:
            for data, _ in hard_photos:
                assert read_qr_image(data, lanes).texts == read_qr_image(data).texts
        finally:
            release.set()
        assert blocker.result() is True


def test_r9_no_code_and_no_image_are_told_apart_on_two_lanes():
    blank = io.BytesIO()
    Image.new("L", (300, 300), 255).save(blank, format="PNG")
    with ThreadPoolExecutor(2) as lanes:
        with pytest.raises(QrDecodeError, match="no QR code") as no_code:
            read_qr_image(blank.getvalue(), lanes)
        with pytest.raises(UnreadableImage):
            read_qr_image(b"GIF89a not a photo", lanes)
    assert not isinstance(no_code.value, UnreadableImage)
