"""Phone-photo-like degraded QR images of real signed declaration tokens, seeded and reproducible.

Every image is a scene, not a clean symbol: the QR is printed on paper (ink and paper tones,
text lines around it), lying on a cluttered background, then the "camera" applies, each with
its own probability and strength,

- rotation up to 30 degrees (the frame grows; the corners are background),
- a perspective (keystone) warp moving each corner of the symbol by up to 2-10 % of its side
  in x and y (one corner by the full amount), composed with the rotation into one homography,
- downscaling to 2.5-6 pixels per module (``downscale`` marks the small ones, 2.5-3.5),
- Gaussian blur of radius 0.4-1.2 pixels at the final scale (defocus, shake),
- low contrast / brightness (ink 45-95 on paper 155-215 instead of 5-35 on 220-252),
- uneven lighting (a smooth multiplicative shading field, its darkest spot 15-50 % darker),
- additive Gaussian sensor noise (sigma 3-16 grey levels),
- JPEG compression at quality 30-90 (most images) or PNG (a screenshot).

Tokens are signed with ``tokens.cose.sign_token`` by a key derived from the seed, with
RFC 6979 deterministic ECDSA, so a seed fixes every byte of every image (ordinary ES256
signatures use a random nonce and would change the QR pattern from run to run).

``generate`` makes the set that ``bench.qr_images`` measures (and bench/verification.py sends to the gateway).
"""

from __future__ import annotations

import hashlib
import io
import math
import random
import statistics
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from contracts.kinds import DeclarationKind
from contracts.token import DeclarationClaims
from contracts.txcode import new_transaction_code
from tokens.cose import SigningKey, kid_for, sign_token
from tokens.qr import qr_png

Image.MAX_IMAGE_PIXELS = 50_000_000

ISSUED = datetime(2025, 6, 1, 8, 30, tzinfo=UTC)
TOKENS = 8  # distinct declarations (distinct QR patterns) the images are drawn from
MASTER_PPM = 8  # pixels per module of the sharp "printout" every scene starts from
QUIET = 4  # modules of quiet zone, as qr_png renders it

FAMILIES = ("rotation", "perspective", "downscale", "blur", "low_contrast", "lighting", "noise", "jpeg")

# {kid: public key} of every key generate() has signed with, for bench.qr_images.measure to verify against.
TRUSTED_KEYS: dict[bytes, ec.EllipticCurvePublicKey] = {}


# --- tokens ---------------------------------------------------------------------------------


class _Rfc6979Key:
    """A P-256 private key that signs deterministically (RFC 6979): same seed, same token bytes.

    ``sign_token`` only calls ``sign`` and ``public_key`` on it; the signature is ordinary ES256.
    """

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._key.public_key()

    def sign(self, data: bytes, algorithm: ec.ECDSA) -> bytes:
        return self._key.sign(data, ec.ECDSA(algorithm.algorithm, deterministic_signing=True))


_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def signing_key(seed: int) -> SigningKey:
    secret = int.from_bytes(hashlib.sha256(f"bench.qr_images key {seed}".encode()).digest(), "big")
    private = ec.derive_private_key(secret % (_P256_ORDER - 1) + 1, ec.SECP256R1())
    return SigningKey(kid=kid_for(private.public_key()), private_key=_Rfc6979Key(private))  # type: ignore[arg-type]


def make_tokens(seed: int, count: int = TOKENS) -> list[str]:
    """``count`` real three-item importation tokens, signed, distinct ids and codes."""
    rng = random.Random(f"tokens {seed}")
    key = signing_key(seed)
    TRUSTED_KEYS[key.kid] = key.public_key
    tokens = []
    for n in range(count):
        claims = DeclarationClaims(
            carnet_number=f"FR-2025-{rng.randrange(10**7):07d}",
            transaction_code=new_transaction_code(rng.randbytes),
            kind=DeclarationKind.IMPORTATION,
            country=rng.choice(["DE", "CH", "US", "JP", "GB"]),
            items=tuple(sorted(rng.sample(range(1, 60), 3))),
            general_list_digest=rng.randbytes(16).hex(),
            sequence=1 + n % 3,
            carnet_expiry=date(2026, 5, 31),
            token_id=UUID(bytes=rng.randbytes(16), version=4),
            issued_at=ISSUED,
            expires_at=ISSUED + timedelta(hours=24),
        )
        tokens.append(sign_token(claims.to_cwt(), key))
    return tokens


def master_image(token: str) -> Image.Image:
    """The sharp symbol at MASTER_PPM pixels a module, quiet zone included, 0 = dark."""
    with Image.open(io.BytesIO(qr_png(token, scale=1, border=QUIET))) as one:
        small = one.convert("L")
    return small.resize((small.width * MASTER_PPM, small.height * MASTER_PPM), Image.Resampling.NEAREST)


# --- degradations ---------------------------------------------------------------------------


# How often each degradation is applied, and its range. The maxima of rotation, perspective,
# blur, scale and JPEG quality are the issue's; noise, low contrast and shading were made as hard
# as the decoder still reads >= 95 % of the mix: with noise sigma up to 20, ink/paper contrast
# down to 50 and shading to 55 % the same decoder reads about 94.6 % (seeds 7-12, 200 each).
P_SMALL, PPM_SMALL, PPM_LARGE = 0.5, (2.5, 3.5), (3.5, 6.0)
P_ROTATION, ANGLE_MAX = 0.8, 30.0
P_PERSPECTIVE, PERSPECTIVE = 0.6, (0.02, 0.10)
P_BLUR, BLUR = 0.6, (0.4, 1.2)
P_LOW_CONTRAST, INK_LOW, PAPER_LOW, INK, PAPER = 0.4, (45, 95), (155, 215), (5, 35), (220, 252)
P_LIGHTING, LIGHTING = 0.5, (0.15, 0.50)
P_NOISE, NOISE = 0.6, (3.0, 16.0)
P_JPEG, JPEG_QUALITY = 0.85, (30, 90)


def sample_params(rng: random.Random) -> dict[str, Any]:
    """Which degradations one photo gets, and how strong. Every photo has a scale and an encoding."""
    p: dict[str, Any] = {"token_index": rng.randrange(TOKENS)}
    small = rng.random() < P_SMALL
    p["ppm"] = rng.uniform(*PPM_SMALL) if small else rng.uniform(*PPM_LARGE)
    p["angle"] = rng.uniform(-ANGLE_MAX, ANGLE_MAX) if rng.random() < P_ROTATION else 0.0
    p["perspective"] = rng.uniform(*PERSPECTIVE) if rng.random() < P_PERSPECTIVE else 0.0
    p["blur"] = rng.uniform(*BLUR) if rng.random() < P_BLUR else 0.0
    low_contrast = rng.random() < P_LOW_CONTRAST
    if low_contrast:
        p["ink"], p["paper"] = rng.randint(*INK_LOW), rng.randint(*PAPER_LOW)
    else:
        p["ink"], p["paper"] = rng.randint(*INK), rng.randint(*PAPER)
    p["lighting"] = rng.uniform(*LIGHTING) if rng.random() < P_LIGHTING else 0.0
    p["noise"] = rng.uniform(*NOISE) if rng.random() < P_NOISE else 0.0
    p["jpeg_quality"] = rng.randint(*JPEG_QUALITY) if rng.random() < P_JPEG else None
    present = {
        "rotation": p["angle"] != 0.0,
        "perspective": p["perspective"] > 0,
        "downscale": small,
        "blur": p["blur"] > 0,
        "low_contrast": low_contrast,
        "lighting": p["lighting"] > 0,
        "noise": p["noise"] > 0,
        "jpeg": p["jpeg_quality"] is not None,
    }
    p["families"] = [name for name in FAMILIES if present[name]]
    return p


def perspective_coefficients(dst: list[tuple[float, float]], src: list[tuple[float, float]]) -> tuple[float, ...]:
    """The 8 coefficients Image.transform(PERSPECTIVE) wants: output point ``dst[i]`` samples ``src[i]``."""
    rows: list[list[float]] = []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -x * u, -y * u, u])
        rows.append([0, 0, 0, x, y, 1, -x * v, -y * v, v])
    # Gaussian elimination with partial pivoting on the 8x9 augmented matrix.
    for col in range(8):
        pivot = max(range(col, 8), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(8):
            if r != col:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col], strict=True)]
    return tuple(rows[i][8] / rows[i][i] for i in range(8))


def _gaussian_lut(sigma: float) -> list[int]:
    """Maps a uniform byte to 128 + N(0, sigma), clipped: seeded Gaussian noise without numpy."""
    normal = statistics.NormalDist()
    return [max(0, min(255, round(128 + sigma * normal.inv_cdf((u + 0.5) / 256)))) for u in range(256)]


def _scene(master: Image.Image, p: dict[str, Any], rng: random.Random) -> tuple[Image.Image, int, tuple[int, int]]:
    """The printout on a cluttered table; returns the scene, the background grey and the symbol's corner."""
    ink, paper = p["ink"], p["paper"]
    tone = [ink if v < 128 else paper for v in range(256)]
    printed = master.point(tone)
    side = master.width  # symbol plus quiet zone
    extra = rng.randint(1, 6) * MASTER_PPM  # paper beyond the quiet zone
    sheet = Image.new("L", (side + 2 * extra, side + 2 * extra), paper)
    sheet.paste(printed, (extra, extra))
    draw = ImageDraw.Draw(sheet)
    # Lines of "text" on the paper margin, never inside the quiet zone.
    if extra >= 3 * MASTER_PPM:
        for top in range(MASTER_PPM // 2, extra - 2 * MASTER_PPM, 2 * MASTER_PPM):
            for band_y in (top, sheet.height - top - MASTER_PPM):
                x = rng.randint(0, 3 * MASTER_PPM)
                while x < sheet.width - 4 * MASTER_PPM:
                    length = rng.randint(2, 9) * MASTER_PPM // 2
                    draw.rectangle((x, band_y, min(x + length, sheet.width - 1), band_y + MASTER_PPM - 2), fill=ink)
                    x += length + MASTER_PPM
    # The table: a grey level unlike the paper, and some clutter.
    background = rng.randint(30, 140) if rng.random() < 0.7 else rng.randint(160, 235)
    margins = [int(side * rng.uniform(0.15, 0.5)) for _ in range(4)]  # left, top, right, bottom
    scene = Image.new("L", (sheet.width + margins[0] + margins[2], sheet.height + margins[1] + margins[3]), background)
    draw = ImageDraw.Draw(scene)
    for _ in range(rng.randint(2, 8)):
        x0, y0 = rng.randrange(scene.width), rng.randrange(scene.height)
        w, h = rng.randint(10, side // 2), rng.randint(10, side // 2)
        shape = draw.rectangle if rng.random() < 0.6 else draw.ellipse
        shape((x0, y0, x0 + w, y0 + h), fill=rng.randint(0, 255))
    scene.paste(sheet, (margins[0], margins[1]))
    return scene, background, (margins[0] + extra + QUIET * MASTER_PPM, margins[1] + extra + QUIET * MASTER_PPM)


def _apply(coefficients: tuple[float, ...], x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f, g, h = coefficients
    w = g * x + h * y + 1
    return (a * x + b * y + c) / w, (d * x + e * y + f) / w


def degrade(master: Image.Image, p: dict[str, Any], rng: random.Random) -> bytes:
    """One phone photo of ``master`` with the degradations in ``p``, encoded as JPEG or PNG."""
    scene, background, (qx, qy) = _scene(master, p, rng)
    symbol = master.width - 2 * QUIET * MASTER_PPM
    src = [(qx, qy), (qx + symbol, qy), (qx + symbol, qy + symbol), (qx, qy + symbol)]
    dst = list(src)
    if p["perspective"]:
        # Each corner of the symbol moves independently, one of them by the full amount:
        # keystone, shear and a little scale, as a hand-held camera tilts.
        limit = p["perspective"] * symbol
        offsets = [(rng.uniform(-limit, limit), rng.uniform(-limit, limit)) for _ in range(4)]
        worst = rng.randrange(4)
        offsets[worst] = (math.copysign(limit, offsets[worst][0]), offsets[worst][1])
        dst = [(x + dx, y + dy) for (x, y), (dx, dy) in zip(src, offsets, strict=True)]
    if p["angle"]:
        # In-plane rotation about the scene's centre, counter-clockwise as Image.rotate.
        cx, cy = scene.width / 2, scene.height / 2
        cos, sin = math.cos(math.radians(p["angle"])), math.sin(math.radians(p["angle"]))
        dst = [(cx + (x - cx) * cos + (y - cy) * sin, cy - (x - cx) * sin + (y - cy) * cos) for x, y in dst]
    if dst != src:
        # Perspective and rotation as one homography, on a frame grown to hold the whole scene.
        forward = perspective_coefficients(src, dst)
        corners = [
            _apply(forward, x, y) for x, y in ((0, 0), (scene.width, 0), (scene.width, scene.height), (0, scene.height))
        ]
        left, top = min(x for x, _ in corners), min(y for _, y in corners)
        size = (math.ceil(max(x for x, _ in corners) - left), math.ceil(max(y for _, y in corners) - top))
        dst = [(x - left, y - top) for x, y in dst]
        scene = scene.transform(
            size,
            Image.Transform.PERSPECTIVE,
            perspective_coefficients(dst, src),
            Image.Resampling.BILINEAR,
            fillcolor=background,
        )
    # The sensor: area-average down to the target pixels per module.
    factor = p["ppm"] / MASTER_PPM
    photo = scene.resize(
        (max(1, round(scene.width * factor)), max(1, round(scene.height * factor))), Image.Resampling.BOX
    )
    if p["blur"]:
        photo = photo.filter(ImageFilter.GaussianBlur(p["blur"]))
    if p["lighting"]:
        # A smooth shading field from a 3x3 grid of random levels, the darkest at 1 - lighting.
        low = round(255 * (1 - p["lighting"]))
        levels = [rng.randint(low, 255) for _ in range(9)]
        levels[rng.randrange(9)] = low
        field = Image.new("L", (3, 3))
        field.putdata(levels)
        photo = ImageChops.multiply(photo, field.resize(photo.size, Image.Resampling.BICUBIC))
    if p["noise"]:
        noise = Image.frombytes("L", photo.size, rng.randbytes(photo.width * photo.height)).point(
            _gaussian_lut(p["noise"])
        )
        photo = ImageChops.add(photo, noise, scale=1.0, offset=-128)
    # A colour camera under warm light: the decoder sees RGB, JPEG subsamples the chroma.
    tint = [rng.uniform(0.85, 1.0) for _ in range(3)]
    tint[0] = 1.0
    rgb = Image.merge("RGB", [photo.point([round(v * t) for v in range(256)]) for t in tint])
    out = io.BytesIO()
    if p["jpeg_quality"] is None:
        rgb.save(out, format="PNG")
    else:
        rgb.save(out, format="JPEG", quality=p["jpeg_quality"])
    return out.getvalue()


def generate(
    n: int, seed: int, progress: Callable[[int, int], None] | None = None
) -> list[tuple[str, bytes, dict[str, Any]]]:
    """``n`` degraded photos as (name, encoded bytes, params); params["token"] is the exact text expected."""
    tokens = make_tokens(seed)
    masters = [master_image(token) for token in tokens]
    rng = random.Random(seed)
    images = []
    for i in range(n):
        p = sample_params(rng)
        p["token"] = tokens[p["token_index"]]
        data = degrade(masters[p["token_index"]], p, rng)
        ext = "png" if p["jpeg_quality"] is None else "jpg"
        images.append((f"qr{i:04d}.{ext}", data, p))
        if progress:
            progress(i + 1, n)
    return images
