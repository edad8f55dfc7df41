"""Deterministic cover art for sandbox clips: a gradient in the song's colours, a few shapes and the title, as a PNG.

The song's style picks the palette (lofi dusk purples, drum and bass neon green, jazz gold on navy...) and a
minor key darkens it; the key string seeds the rest.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import random
import textwrap
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

ART_SIZE = 512
_FONT_SIZE = 40
_DIAGONAL = 364  # > 256 * sqrt(2)
# Per style: (main hue, second hue), hues in 0..1.
_PALETTES = {
    "lofi": (0.78, 0.07), "dnb": (0.33, 0.5), "ballad": (0.6, 0.68), "rock": (0.0, 0.05), "jazz": (0.12, 0.62),
    "ambient": (0.48, 0.58), "house": (0.85, 0.5), "hiphop": (0.07, 0.95), "folk": (0.25, 0.1), "pop": (0.92, 0.55),
}  # fmt: skip


def _rng(key: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))


def _colour(hue: float, saturation: float, value: float, alpha: int = 255) -> tuple[int, int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return int(r * 255), int(g * 255), int(b * 255), alpha


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, ValueError):  # Pillow built without FreeType only has the small bitmap font
        return ImageFont.load_default()


@lru_cache(maxsize=64)  # the same clip's art is fetched again and again (the bot, then every page showing it)
def render_png(key: str, title: str, size: int = ART_SIZE, *, mood: tuple[str, str] | None = None) -> bytes:
    """A ``size`` x ``size`` PNG whose shapes follow ``key``, with ``title`` written across it.

    ``mood`` is the song's (style, mode): the style's palette, darker in a minor mode. Without it the palette
    comes from ``key`` too.
    """
    rng = _rng(key)
    hue = rng.random()
    second = hue + rng.uniform(0.15, 0.45)
    light = 0.85
    if mood is not None and mood[0] in _PALETTES:
        main, other = _PALETTES[mood[0]]
        hue, second = main + rng.uniform(-0.03, 0.03), other + rng.uniform(-0.03, 0.03)
        light = 0.62 if mood[1] in ("minor", "dorian") else 0.92
    top = _colour(hue, 0.55 + 0.4 * rng.random(), light)
    bottom = _colour(second, 0.6 + 0.4 * rng.random(), 0.35 * light / 0.85)
    # A 256-step gradient mask, rotated and scaled, is much cheaper than drawing the gradient row by row. It is
    # enlarged to cover the square's diagonal first so the rotation leaves no empty corners.
    mask = Image.linear_gradient("L").resize((_DIAGONAL, _DIAGONAL), Image.Resampling.BILINEAR)
    mask = mask.rotate(rng.uniform(0, 360), resample=Image.Resampling.BILINEAR)
    edge = (_DIAGONAL - 256) // 2
    mask = mask.crop((edge, edge, edge + 256, edge + 256)).resize((size, size), Image.Resampling.BILINEAR)
    image = Image.composite(Image.new("RGBA", (size, size), bottom), Image.new("RGBA", (size, size), top), mask)

    overlay = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for _ in range(rng.randint(5, 9)):
        colour = _colour(
            hue + rng.uniform(-0.2, 0.6), rng.uniform(0.3, 0.9), rng.uniform(0.5, 1.0), rng.randint(70, 170)
        )
        x, y = rng.uniform(0, size), rng.uniform(0, size)
        radius = rng.uniform(size * 0.05, size * 0.3)
        box = (x - radius, y - radius, x + radius, y + radius)
        shape = rng.randrange(3)
        if shape == 0:
            draw.ellipse(box, fill=colour)
        elif shape == 1:
            draw.rectangle(box, fill=colour)
        else:
            draw.regular_polygon((x, y, radius), n_sides=rng.randint(3, 6), rotation=rng.uniform(0, 360), fill=colour)
    image = Image.alpha_composite(image, overlay).convert("RGB")

    text = "\n".join(textwrap.wrap(title.strip() or "Untitled", width=18)[:3])
    font = _font(_FONT_SIZE)
    # Drawing in RGBA mode onto an RGB image blends the translucent band instead of replacing pixels.
    draw = ImageDraw.Draw(image, "RGBA")
    left, upper, right, lower = draw.multiline_textbbox((0, 0), text, font=font, align="center")
    x = (size - (right - left)) / 2 - left
    y = size * 0.78 - (lower - upper) / 2 - upper
    pad = 16
    draw.rectangle((0, y + upper - pad, size, y + lower + pad), fill=(0, 0, 0, 110))
    draw.multiline_text((x, y), text, font=font, fill=(255, 255, 255, 255), align="center")

    buffer = io.BytesIO()
    # Fast compression: the art is made on request and never stored (only the latest few are kept in memory).
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
