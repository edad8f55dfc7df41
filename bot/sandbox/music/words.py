"""Lyrics as a singer reads them: sections of lines, lines of words, words of syllables."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

_TAG = re.compile(r"^\s*\[([^\]]*)\]\s*$")
_WORD = re.compile(r"[^\W\d_][\w'’\-]*|\d+", re.UNICODE)
_VOWELS = re.compile(r"[aeiouyàáâäèéêëìíîïòóôöùúûüæøå]+", re.IGNORECASE)
INSTRUMENTAL_MARK = "[instrumental]"
MAX_LINE_WORDS = 24  # a longer "line" is prose pasted as lyrics: sing its start


@dataclass(frozen=True, slots=True)
class Block:
    """A run of lyric lines under one tag: ``kind`` is verse, chorus, bridge, intro, outro or '' (untagged)."""

    kind: str
    lines: tuple[str, ...]


def blocks(lyrics: str) -> tuple[Block, ...]:
    """The lyric text split at its ``[Tag]`` markers; blank lines also end a block."""
    found: list[Block] = []
    kind, lines = "", list[str]()

    def close() -> None:
        if lines:
            found.append(Block(kind, tuple(lines)))
        lines.clear()

    for raw in (lyrics or "").splitlines():
        tag = _TAG.match(raw)
        if tag:
            close()
            kind = tag_kind(tag.group(1))
        elif not raw.strip():
            close()
        elif words(raw):
            lines.append(" ".join(raw.split()))
    close()
    return tuple(found)


def tag_kind(tag: str) -> str:
    lowered = tag.lower()
    for kind in ("pre-chorus", "chorus", "hook", "verse", "bridge", "intro", "outro"):
        if kind in lowered:
            return {"hook": "chorus", "pre-chorus": "verse"}.get(kind, kind)
    return ""


def is_instrumental(lyrics: str) -> bool:
    text = (lyrics or "").strip().lower()
    return not text or text == INSTRUMENTAL_MARK or not blocks(lyrics)


def words(line: str) -> list[str]:
    return _WORD.findall(line)[:MAX_LINE_WORDS]


def syllables(word: str) -> list[str]:
    """A word cut into sung syllables: one per vowel group, a silent final 'e' folded into the one before."""
    groups = list(_VOWELS.finditer(word))
    silent_e = groups and groups[-1].end() == len(word) and groups[-1].group().lower() == "e"
    if len(groups) > 1 and silent_e and not word.lower().endswith(("le", "ee")):
        groups.pop()
    if len(groups) <= 1:
        return [word]
    cuts = [0]
    for before, after in itertools.pairwise(groups):
        gap = after.start() - before.end()  # consonants between two vowel groups: split them
        cuts.append(before.end() + gap // 2 if gap > 1 else before.end() + gap)
    cuts.append(len(word))
    return [word[a:b] for a, b in itertools.pairwise(cuts) if word[a:b]]


def vowel(syllable: str) -> str:
    """The vowel a syllable is sung on: one of a, e, i, o, u."""
    found = _VOWELS.search(syllable)
    if not found:
        return "a"
    letter = found.group().lower()[0]
    return {"y": "i", "à": "a", "á": "a", "â": "a", "ä": "e", "è": "e", "é": "e", "ê": "e", "ë": "e",
            "ì": "i", "í": "i", "î": "i", "ï": "i", "ò": "o", "ó": "o", "ô": "o", "ö": "o", "ø": "o",
            "ù": "u", "ú": "u", "û": "u", "ü": "u", "æ": "a", "å": "o"}.get(letter, letter)  # fmt: skip


def onset(syllable: str) -> str:
    """How a syllable starts: 's' (sibilant), 't' (plosive), 'n' (soft consonant) or '' (a vowel)."""
    head = syllable.lower()[:1]
    if head in "szcxj" or syllable.lower().startswith(("sh", "ch")):
        return "s"
    if head in "tkpbdgq":
        return "t"
    if head and not _VOWELS.match(head) and head.isalpha():
        return "n"
    return ""
