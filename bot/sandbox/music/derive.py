"""Derived songs: each operation is a function from the parent's plan to a new plan that keeps what it should.

| operation    | keeps                                                  | changes                                      |
|--------------|--------------------------------------------------------|----------------------------------------------|
| extend       | style, tempo, key, motifs; the parent up to the cut    | continues the form with new sections         |
| cover        | key, form, chords, melody (and words)                  | style: instruments, grooves, tempo feel      |
| variation    | style, tempo, key, form, chords, words                 | the melody and the grooves                   |
| swap vocals  | the whole backing (same notes)                         | the words, the tune and the singer           |
| swap sound   | the vocal (same notes), tempo, key, form, chords       | style of the backing                         |
| replace      | everything outside the range                           | the notes inside it                          |
"""

from __future__ import annotations

import random
from dataclasses import replace

from bot.sandbox.music import words
from bot.sandbox.music.compose import SONG_S, Composer, LyricQueue, progressions, register, rng_for, section_chords
from bot.sandbox.music.plan import MAX_SONG_S, TAIL_S, Patch, Plan, Section
from bot.sandbox.music.style import PRESETS, Reading, read

CONTINUATION_S = (18.0, 28.0)  # how long an extension's new part runs when the request does not say


def composer_for(plan: Plan, rng: random.Random, lyrics: LyricQueue | None) -> Composer:
    low, high = register(plan.voice, plan.style.lead_patch)
    return Composer(plan.tonic, plan.mode, plan.style.extensions, plan.style.phrase_feel, low, high, rng, lyrics, {})


def _phrase(plan: Plan) -> int:
    return next((s.bars for s in plan.sections if s.kind in ("verse", "chorus")), 4)


def _progressions(plan: Plan) -> dict[str, tuple[int, ...]]:
    """The parent's progressions as written in its first verse, chorus and bridge."""
    found: dict[str, tuple[int, ...]] = {}
    for section in plan.sections:
        if section.kind in ("verse", "chorus", "bridge") and section.kind not in found:
            found[section.kind] = tuple(degree for degree, _ in section.chords[:4])
    fallback = progressions(plan.style.harmony, plan.mode, random.Random(plan.seed))
    for kind in ("verse", "chorus", "bridge"):
        found.setdefault(kind, fallback[kind])
    return found


def _sung_verse_lines(plan: Plan) -> int:
    return sum(len(s.lines) for s in plan.sections if s.kind in ("verse", "bridge"))


def cut_index(plan: Plan, at_s: float | None) -> int:
    """How many of the plan's sections an extension from ``at_s`` keeps: whole sections, never the outro."""
    starts = plan.section_starts()
    keep = len(plan.sections)
    if at_s is not None:
        at = plan.tick_at(at_s)
        keep = 0
        for i, (start, section) in enumerate(zip(starts, plan.sections, strict=True)):
            if at >= start + section.ticks / 2:
                keep = i + 1
    outro = next((i for i, s in enumerate(plan.sections) if s.kind == "outro"), len(plan.sections))
    return min(keep, outro)


def _continuation_kinds(last_kind: str, pairs: int, rng: random.Random) -> list[str]:
    if last_kind == "verse":
        kinds = ["chorus"] + ["verse", "chorus"] * (pairs - 1)
    elif last_kind in ("chorus", "bridge") and rng.random() < 0.4:
        kinds = ["bridge", "chorus"] + ["verse", "chorus"] * (pairs - 1)
    else:
        kinds = ["verse", "chorus"] * pairs
    return [*kinds, "outro"]


def continuation(
    parent: Plan,
    *,
    at_s: float | None,
    lyrics: str,
    parent_lyrics: str,
    seed: str,
    length_s: float | None = None,
) -> tuple[int, tuple[Section, ...], str]:
    """(sections of the parent kept, new sections, the voice) for an extension: the form goes on in the parent's
    material."""
    rng = rng_for("extend", seed, lyrics, at_s, length_s)
    keep = cut_index(parent, at_s)
    kept = parent.sections[:keep]
    phrase = _phrase(parent)
    progs = _progressions(parent)
    bar_s = 240.0 / parent.bpm
    goal = length_s if length_s else rng.uniform(*CONTINUATION_S)
    kept_s = parent.seconds(sum(s.ticks for s in kept))
    goal = max(2 * phrase * bar_s, min(goal, MAX_SONG_S - TAIL_S - kept_s))
    pairs = max(1, round((goal - max(1, phrase // 2) * bar_s) / (2 * phrase * bar_s)))
    last_kind = kept[-1].kind if kept else "intro"
    kinds = _continuation_kinds(last_kind, pairs, rng)
    while len(kinds) > 2 and (sum(phrase for k in kinds if k != "outro") * bar_s) > MAX_SONG_S - TAIL_S - kept_s:
        kinds = kinds[2:]  # a song at the length cap: continue for less
    sung = parent.vocal or not words.is_instrumental(lyrics)
    if sung and not words.is_instrumental(lyrics):
        queue: LyricQueue | None = LyricQueue(lyrics)
    elif sung:
        # No new words: sing on where the parent stopped (the verses it had no room for), choruses repeat.
        queue = LyricQueue(parent_lyrics, position=_sung_verse_lines(parent))
    else:
        queue = None
    voice = parent.voice or (rng.choice(("female", "male")) if sung else "")
    composer = composer_for(replace(parent, voice=voice), rng, queue)
    for section in parent.sections:
        composer.learn(section)
    counts: dict[str, int] = {}
    for section in kept:
        counts[section.kind] = counts.get(section.kind, 0) + 1
    new: list[Section] = []
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
        label = kind.capitalize() + (f" {counts[kind]}" if counts[kind] > 1 and kind != "outro" else "")
        bars = max(1, phrase // 2) if kind == "outro" else phrase
        new.append(composer.section(kind, label, bars, section_chords(kind, bars, phrase, progs)))
    return keep, tuple(new), voice


def extend(
    parent: Plan,
    *,
    at_s: float | None,
    lyrics: str,
    parent_lyrics: str,
    seed: str,
    length_s: float | None = None,
    full: bool = True,
) -> Plan:
    """An extension: the whole song (``full``) or only its new part, remembering what it continues."""
    keep, new, voice = continuation(
        parent, at_s=at_s, lyrics=lyrics, parent_lyrics=parent_lyrics, seed=seed, length_s=length_s
    )
    cut = sum(s.ticks for s in parent.sections[:keep])
    if full:
        patches = tuple(p for p in parent.patches if p.end <= cut)
        return replace(parent, voice=voice, sections=parent.sections[:keep] + new, patches=patches, head=None, cut=0)
    return replace(parent, voice=voice, sections=new, patches=(), head=parent, cut=cut)


def concat(extension: Plan) -> Plan:
    """The full song of an extension that holds only its new part: the parent up to the cut, then the new part."""
    head = extension.head
    if head is None:
        return extension
    if head.head is not None:
        head = concat(head)
    kept: list[Section] = []
    at = 0
    for section in head.sections:
        if at >= extension.cut:
            break
        kept.append(section)
        at += section.ticks
    patches = tuple(p for p in head.patches if p.end <= at)
    return replace(extension, sections=tuple(kept) + extension.sections, patches=patches, head=None, cut=0)


def _other_style(parent: Plan, seed: str) -> Reading:
    """A cover without a style named: another preset than the parent's, picked by the seed."""
    options = [name for name in PRESETS if name != parent.style.name and name != "ambient"]
    return read(rng_for("cover-style", seed).choice(options))


def _time_scale(plan: Plan, factor: int, divide: bool) -> Plan:
    """The same music in twice (or half) as many bars: what playing it in double or half time means."""

    def scale(ticks: int) -> int:
        return ticks // factor if divide else ticks * factor

    sections = []
    for s in plan.sections:
        melody = tuple(replace(t, start=scale(t.start), end=scale(t.end)) for t in s.melody)
        chords = tuple((degree, scale(length)) for degree, length in s.chords)
        bars = s.bars // factor if divide else s.bars * factor
        sections.append(replace(s, bars=bars, chords=chords, melody=melody))
    return replace(plan, sections=tuple(sections), patches=())


def cover(parent: Plan, *, prompt: str, lyrics: str, seed: str) -> Plan:
    """The parent's tune in another style: same key, chords and melody; new instruments, grooves and feel."""
    reading = read(prompt) if prompt.strip() else _other_style(parent, seed)
    style = reading.style
    if style == parent.style:
        style = _other_style(parent, seed).style
    rng = rng_for("cover", seed, prompt)
    low, high = style.bpm
    # The new style's tempo, reached from the parent's in double or half time where that is closer (lofi at 80
    # becomes drum and bass at 160+ in twice the bars), so the tune keeps its shape and roughly its length.
    options = [(parent, parent.bpm), (_time_scale(parent, 2, divide=False), parent.bpm * 2)]
    if all(s.bars % 2 == 0 for s in parent.sections):
        options.append((_time_scale(parent, 2, divide=True), parent.bpm / 2))
    plan, played = min(options, key=lambda o: max(0.0, low - o[1], o[1] - high))
    bpm = round(min(max(played, low), high))
    plan = _fit_length(replace(plan, bpm=bpm))
    voice = reading.voice or parent.voice
    sections = tuple(replace(s, seed=rng.getrandbits(32)) for s in plan.sections)
    covered = replace(plan, style=style, bpm=bpm, voice=voice if parent.voice else "", sections=sections)
    if not words.is_instrumental(lyrics) and parent.voice:
        covered = _resing(covered, lyrics, rng, keep_pitches=True)
    return replace(covered, seed=rng.getrandbits(32), patches=())


def _fit_length(plan: Plan) -> Plan:
    """A cover played faster or slower than its parent, brought back to a song's length: a chorus repeated, or
    the second verse and chorus left out."""
    sections = list(plan.sections)
    chorus = next((s for s in reversed(sections) if s.kind == "chorus"), None)
    while chorus is not None and replace(plan, sections=tuple(sections)).duration_s < SONG_S[0]:
        at = max(i for i, s in enumerate(sections) if s.kind == "chorus") + 1
        sections.insert(at, replace(chorus, label=f"{chorus.label} (again)"))
    while len(sections) > 4 and replace(plan, sections=tuple(sections)).duration_s > SONG_S[1] + 4:
        pair = [i for i, s in enumerate(sections) if s.kind in ("verse", "chorus")][-2:]
        if len(pair) < 2 or pair[0] == 1:
            break
        del sections[pair[0] : pair[1] + 1]
    return replace(plan, sections=tuple(sections))


def _resing(plan: Plan, lyrics: str, rng: random.Random, *, keep_pitches: bool) -> Plan:
    """New words on the plan's sung sections: the rhythm follows the syllables; the pitches are kept (cycled)
    when ``keep_pitches``, else written anew."""
    queue = LyricQueue(lyrics)
    composer = composer_for(plan, rng, queue)
    sections = []
    for section in plan.sections:
        if section.kind not in ("verse", "chorus", "bridge"):
            sections.append(section)
            continue
        fresh = composer.section(section.kind, section.label, section.bars, section.chords)
        melody = fresh.melody
        if keep_pitches and section.melody:
            old = [t.pitch for t in section.melody]
            melody = tuple(replace(t, pitch=old[i % len(old)]) for i, t in enumerate(fresh.melody))
        sections.append(replace(section, melody=melody, lines=fresh.lines))
    return replace(plan, sections=tuple(sections))


def variation(parent: Plan, *, seed: str, lyrics: str = "") -> Plan:
    """Same chords, form, style and words; a new melody (and fresh grooves)."""
    rng = rng_for("variation", seed)
    composer = composer_for(parent, rng, None)
    sections = []
    for section in parent.sections:
        if section.kind in ("verse", "chorus", "bridge"):
            lines = [" ".join(w) for w in section.lines] if section.lines else None
            fresh = composer.section(section.kind, section.label, section.bars, section.chords, lines=lines)
            sections.append(replace(fresh, energy=section.energy))
        else:
            sections.append(replace(section, seed=rng.getrandbits(32)))
    plan = replace(parent, sections=tuple(sections), seed=rng.getrandbits(32))
    if lyrics and parent.voice and not words.is_instrumental(lyrics):
        plan = _resing(plan, lyrics, rng, keep_pitches=False)
    return plan


def swap_vocals(parent: Plan, *, prompt: str, lyrics: str, seed: str) -> Plan:
    """The same backing, note for note; new words, tune and singer."""
    rng = rng_for("swap-vocals", seed, prompt)
    if words.is_instrumental(lyrics):
        return replace(parent, voice="", sections=tuple(replace(s, lines=()) for s in parent.sections))
    other = {"female": "male", "male": "female"}
    voice = read(prompt).voice or other.get(parent.voice, rng.choice(("female", "male")))
    plan = replace(parent, voice=voice)
    composer = composer_for(plan, rng, LyricQueue(lyrics))
    sections = []
    for section in plan.sections:
        if section.kind in ("verse", "chorus", "bridge"):
            fresh = composer.section(section.kind, section.label, section.bars, section.chords)
            # The backing's dice (section.seed) stay: drums, bass and keys play exactly what they played.
            sections.append(replace(section, melody=fresh.melody, lines=fresh.lines))
        else:
            sections.append(replace(section, melody=() if section.kind == "outro" else section.melody))
    return replace(plan, sections=tuple(sections))


def swap_sound(parent: Plan, *, prompt: str, seed: str) -> Plan:
    """The same melody and singer at the same tempo and key; the backing in another style."""
    reading = read(prompt) if prompt.strip() else _other_style(parent, seed)
    style = reading.style if reading.style != parent.style else _other_style(parent, seed).style
    rng = rng_for("swap-sound", seed, prompt)
    sections = tuple(replace(s, seed=rng.getrandbits(32)) for s in parent.sections)
    return replace(parent, style=style, sections=sections, seed=rng.getrandbits(32))


def replace_section(parent: Plan, *, start_s: float, end_s: float | None, prompt: str, lyrics: str, seed: str) -> Plan:
    """The parent with the notes between ``start_s`` and ``end_s`` (the end when None) written anew."""
    start = max(0, parent.tick_at(start_s))
    end = parent.ticks if end_s is None else min(parent.ticks, parent.tick_at(end_s))
    if end <= start:
        return parent
    base = replace(parent, patches=())
    fresh = variation(base, seed=f"replace:{seed}:{prompt}", lyrics=lyrics)
    return replace(parent, patches=(*parent.patches, Patch(start, end, fresh)))
