"""Deterministic words for the sandbox: drafted lyrics from an idea, and titles when a request gives none."""

from __future__ import annotations

import hashlib
import random
import re

_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_SECTION = re.compile(r"^\s*\[[^\]]*\]\s*$", re.MULTILINE)
# Words that make poor titles or lyric hooks on their own.
_STOP_WORDS = (
    "a an and the of with in on at to for from by is are be my your our their this that it its very about "
    "who what when where how i me we us you he she they them his her loves love likes like has have was "
    "music song songs style vocals vocal male female singer feat beat"
)
_STOP = frozenset(_STOP_WORDS.split())

_IMAGES = (
    "city lights",
    "open road",
    "midnight rain",
    "northern sky",
    "empty station",
    "summer haze",
    "silver moon",
    "paper boats",
    "neon signs",
    "quiet harbour",
    "burning sun",
    "falling snow",
)
_VERBS = ("chasing", "dreaming of", "holding on to", "running from", "singing to", "waiting for", "dancing with")
_VERSE_LINES = (
    "I keep on {verb} {hook}",
    "Under the {image} I call your name",
    "Every road leads back to {hook}",
    "{Hook} is all I've ever known",
    "We were young beneath the {image}",
    "Tell me why I'm still {verb} you",
    "I still hear the {image} calling",
    "I wrote {hook} on the window glass",
)
_CHORUS_LINES = (
    "Oh, {hook}, {hook}",
    "Don't let go of {hook} tonight",
    "We are {verb} the {image}",
    "{Hook}, take me home",
    "Sing it louder, {hook}",
)


def _rng(key: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))


def keywords(text: str, limit: int = 4) -> list[str]:
    """The first meaningful words of a prompt or lyrics, section markers like ``[Verse]`` skipped."""
    words = _WORD.findall(_SECTION.sub(" ", text or ""))
    picked = [w for w in words if w.lower() not in _STOP]
    return (picked or words)[:limit]


def phrase(text: str, limit: int = 4) -> str:
    """The opening words of lyrics or a prompt, as written (section markers skipped): what a filter would quote."""
    return " ".join(_WORD.findall(_SECTION.sub(" ", text or ""))[:limit])


def title_from(*texts: str | None, fallback: str = "Untitled Sketch") -> str:
    """A short title from the first text that has words in it."""
    for text in texts:
        words = keywords(text or "", 3)
        if words:
            return " ".join(w.capitalize() for w in words)[:80]
    return fallback


def draft(idea: str, take: int = 0) -> tuple[str, str]:
    """(title, lyrics) for an idea; ``take`` gives another draft of the same idea."""
    rng = _rng(f"{idea}\x00{take}")
    words = keywords(idea, 2) or ["tonight"]
    hook = " ".join(words).lower()

    def line(templates: tuple[str, ...]) -> str:
        text = rng.choice(templates).format(
            hook=hook, Hook=hook.capitalize(), verb=rng.choice(_VERBS), image=rng.choice(_IMAGES)
        )
        return text[0].upper() + text[1:]

    def block(templates: tuple[str, ...], size: int = 4) -> str:
        # Sampling without replacement keeps a section from repeating the same template line.
        chosen = rng.sample(templates, min(size, len(templates)))
        return "\n".join(line((template,)) for template in chosen)

    chorus = block(_CHORUS_LINES)
    sections = [
        "[Verse]\n" + block(_VERSE_LINES),
        "[Chorus]\n" + chorus,
        "[Verse 2]\n" + block(_VERSE_LINES),
        "[Chorus]\n" + chorus,
        "[Outro]\n" + line(_CHORUS_LINES),
    ]
    title = title_from(idea) if take == 0 else f"{title_from(idea)} ({rng.choice(_IMAGES).title()})"
    return title, "\n\n".join(sections)
