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
from bot.sandbox.music.compose import (
    SONG_S,
    Composer,
    LyricQueue,
    choose_form,
    progressions,
    register,
    rng_for,
    section_chords,
)
from bot.sandbox.music.plan import MAX_SONG_S, TAIL_S, Patch, Plan, Section
from bot.sandbox.music.style import PRESETS, Reading, read
from bot.sandbox.music.theory import SCALES

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
    options: list[tuple[Plan, float]] = [(parent, parent.bpm), (_time_scale(parent, 2, divide=False), parent.bpm * 2)]
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
        return without_vocals(parent)
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


def without_vocals(plan: Plan) -> Plan:
    """The same song with its tune played by the style's lead instrument instead of sung."""
    return replace(plan, voice="", sections=tuple(replace(s, lines=()) for s in plan.sections))


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


# --- Sonic's operations -------------------------------------------------------------------------------------------
_ALTERNATIVES = {
    "piano": "epiano", "epiano": "piano", "organ": "epiano", "stab": "pad", "guitar": "guitar_acoustic",
    "guitar_acoustic": "piano", "pad": "strings", "lead_square": "lead_saw", "lead_saw": "lead_square",
    "lead_flute": "lead_bell", "lead_bell": "lead_vibes", "lead_vibes": "lead_bell", "lead_piano": "lead_bell",
}  # fmt: skip


def remaster(parent: Plan, *, level: str, seed: str) -> Plan:
    """The same song produced again: ``subtle`` replays it (new humanisation), ``normal`` also new grooves and
    voicings, ``high`` also other instruments of the same style."""
    rng = rng_for("remaster", seed, level)
    plan = replace(parent, remaster=parent.remaster + 1)
    if level in ("normal", "high"):
        plan = replace(plan, sections=tuple(replace(s, seed=rng.getrandbits(32)) for s in plan.sections))
    if level == "high":
        style = plan.style
        plan = replace(
            plan,
            style=replace(
                style,
                keys_patch=_ALTERNATIVES.get(style.keys_patch, style.keys_patch),
                lead_patch=_ALTERNATIVES.get(style.lead_patch, style.lead_patch),
            ),
        )
    return plan


def add_vocals(
    parent: Plan, *, lyrics: str, prompt: str, seed: str, start_s: float | None = None, end_s: float | None = None
) -> Plan:
    """Vocals sung over the parent's backing (all of it, or only between ``start_s`` and ``end_s``)."""
    sung = swap_vocals(parent, prompt=prompt, lyrics=lyrics, seed=seed)
    if start_s is None and end_s is None:
        return sung
    start = parent.tick_at(start_s or 0.0)
    end = parent.ticks if end_s is None else parent.tick_at(end_s)
    return replace(parent, patches=(*parent.patches, Patch(start, end, replace(sung, patches=()))))


def add_instrumental(parent: Plan, *, prompt: str, seed: str) -> Plan:
    """A new backing under the parent's vocal (its melody and words kept note for note)."""
    return swap_sound(parent, prompt=prompt, seed=seed)


def _snap(pitch: int, classes: frozenset[int], pool: list[int]) -> int:
    """The pool pitch nearest ``pitch`` that belongs to the chord (or to the key, when none does)."""
    tones = [p for p in pool if p % 12 in classes] or pool
    return min(tones, key=lambda p: (abs(p - pitch), p)) if tones else pitch


def mashup(melody_from: Plan, backing_from: Plan, *, prompt: str, seed: str) -> Plan:
    """``melody_from``'s tune (and words) sung over ``backing_from``'s song: its style, tempo, key, form, chords.

    Each verse, chorus and bridge of the backing takes the tune of the melody song's section of the same kind,
    stretched to the section's length, moved into the backing's key and bent onto its chords where it lands on a
    strong beat.
    """
    rng = rng_for("mashup", seed, prompt)
    style = read(prompt).style if prompt.strip() else backing_from.style
    voice = melody_from.voice
    host = replace(backing_from, style=style, voice=voice, patches=(), head=None, cut=0)
    low, high = register(voice, style.lead_patch)
    composer = composer_for(host, rng, None)
    pool = [p for p in range(low, high + 1) if p % 12 in {(host.tonic + step) % 12 for step in _scale(host)}]
    shift = (host.tonic - melody_from.tonic) % 12
    shift = shift - 12 if shift > 6 else shift
    sources = {}
    for section in melody_from.sections:
        if section.melody and section.kind not in sources:
            sources[section.kind] = section
    fallback = next(iter(sources.values()), None)
    sections = []
    for section in host.sections:
        source = sources.get(section.kind) or (fallback if section.kind in ("verse", "chorus", "bridge") else None)
        if source is None or section.kind in ("intro", "outro"):
            sections.append(replace(section, melody=(), lines=(), seed=rng.getrandbits(32)))
            continue
        ratio = section.ticks / source.ticks
        bounds, at = [], 0
        for degree, length in section.chords:
            bounds.append((at, at + length, composer.chord_classes(degree)))
            at += length
        tunes = []
        for tune in source.melody:
            start = round(tune.start * ratio / 120) * 120
            end = max(start + 120, round(tune.end * ratio / 120) * 120)
            if start >= section.ticks:
                continue
            pitch = tune.pitch + shift
            strong = start % 960 == 0 or end - start >= 480
            classes = next((c for a, b, c in bounds if a <= start < b), bounds[-1][2])
            in_key = [p for p in pool if abs(p - pitch) <= 2] or pool
            pitch = _snap(pitch, classes, pool) if strong else min(in_key, key=lambda p: (abs(p - pitch), p))
            tunes.append(replace(tune, start=start, end=min(end, section.ticks), pitch=pitch))
        sections.append(replace(section, melody=tuple(tunes), lines=source.lines, seed=rng.getrandbits(32)))
    return replace(host, sections=tuple(sections), seed=rng.getrandbits(32))


def _scale(plan: Plan) -> tuple[int, ...]:
    return SCALES[plan.mode]


def sample(
    parent: Plan,
    *,
    start_s: float,
    end_s: float,
    prompt: str,
    lyrics: str,
    seed: str,
    instrumental: bool = False,
) -> Plan:
    """A new song grown from a stretch of the parent: its tempo and key, the chords heard there as the new
    progression, the tune heard there as the new verse's motif; the style from ``prompt`` (or the parent's)."""
    rng = rng_for("sample", seed, prompt, lyrics, start_s, end_s)
    start, end = parent.tick_at(start_s), parent.tick_at(end_s)
    degrees: list[int] = []
    source: Section | None = None
    at = 0
    for section in parent.sections:
        if source is None and at <= start < at + section.ticks:
            source = section
        for degree, length in section.chords:
            if at < end and at + length > start and (not degrees or degrees[-1] != degree):
                degrees.append(degree)
            at += length
    fallback = _progressions(parent)
    verse = tuple((degrees * 4)[:4]) if degrees else fallback["verse"]
    progs = {"verse": verse, "chorus": verse[2:] + verse[:2], "bridge": fallback["bridge"]}
    reading = read(prompt) if prompt.strip() else None
    style = reading.style if reading else parent.style
    sung = not instrumental and not words.is_instrumental(lyrics)
    voice = ((reading.voice if reading else "") or parent.voice or rng.choice(("female", "male"))) if sung else ""
    low, high = register(voice, style.lead_patch)
    composer = Composer(
        parent.tonic, parent.mode, style.extensions, style.phrase_feel, low, high, rng,
        LyricQueue(lyrics) if sung else None, {},
    )  # fmt: skip
    if source is not None and source.melody:
        composer.learn(replace(source, kind="verse", lines=()))
    form = choose_form(parent.bpm, rng)
    sections = tuple(
        composer.section(kind, label, bars, section_chords(kind, bars, form.phrase, progs))
        for kind, label, bars in form.sections
    )
    return Plan(style, parent.bpm, parent.tonic, parent.mode, voice, sections, rng.getrandbits(32))
