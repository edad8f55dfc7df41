"""The sandbox's songs as music: the prompt steers them, derived songs relate to their parent, the mix is clean.

Assertions read the score (what each voice plays) and measurable properties of the audio (levels, brightness,
onset rate, tempo by autocorrelation), never timing.
"""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
import pytest

from bot.sandbox.bench import render_cost
from bot.sandbox.music import SAMPLE_RATE, Mix, Plan, Score, arrange, compose, derive, render, synth
from bot.sandbox.music.mix import CEILING
from bot.sandbox.music.score import KICK, SNARE
from bot.sandbox.music.wav import wav_bytes
from tests.sandbox.listening import centroid_hz, onsets_per_second, peak, rms_db, same_tempo, tempo_bpm

WORDS = "[Verse]\nI walk the city in the rain\nThe lights are calling out my name\n\n[Chorus]\nOh stay with me\nStay"
SEED = "1234"


@cache
def song(prompt: str, lyrics: str = "", seed: str = SEED, instrumental: bool = False) -> tuple[Plan, Score, Mix]:
    plan = compose(prompt, lyrics, seed, instrumental=instrumental)
    score = arrange(plan)
    return plan, score, render(score, stems=True)  # most tests here listen to the stems too


def melody(score: Score) -> list[int]:
    part = score.part("vocal") or score.part("lead")
    assert part is not None
    return [n.pitch for n in part.notes]


def notes_of(score: Score, name: str) -> list[tuple[int, int, int, int]]:
    part = score.part(name)
    return [] if part is None else [(n.start, n.end, n.pitch, n.velocity) for n in part.notes]


# --- a song -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "prompt", ["lofi beats", "drum and bass", "piano ballad", "rock", "jazz", "ambient", "edm house", "pop", "x"]
)
def test_a_song_lasts_20_to_30_seconds_with_every_voice_and_a_clean_master(prompt: str) -> None:
    plan, score, mix = song(prompt, WORDS if prompt in ("pop", "rock") else "")
    assert 20.0 <= mix.seconds <= 30.0
    assert mix.seconds == pytest.approx(plan.duration_s, abs=1 / SAMPLE_RATE)
    assert next(s.kind for s in score.sections) == "intro" and score.sections[-1].kind == "outro"
    assert {"verse", "chorus"} <= {s.kind for s in score.sections}
    expected = {"bass", "keys", "vocal" if prompt in ("pop", "rock") else "lead"}
    if prompt != "ambient":
        expected.add("drums")
    assert expected <= set(score.voices)
    # Loud enough for laptop speakers, never clipping, starting and ending in silence (short fades).
    assert peak(mix.mix) <= CEILING * 32767 + 1
    assert -19 < rms_db(mix.mix) < -12
    assert abs(int(mix.mix[0])) < 200 and abs(int(mix.mix[-1])) < 50
    # Balanced: no voice buried or shouting over the whole mix.
    for name, stem in mix.stems.items():
        assert rms_db(mix.mix) - 18 < rms_db(stem) < rms_db(mix.mix), name


@pytest.mark.parametrize("now", [True, False], ids=["made-with-the-mix", "made-when-asked"])
def test_stems_add_up_to_the_mix(now: bool) -> None:
    score = arrange(compose("pop", WORDS, SEED))
    mix = render(score, stems=now)
    assert list(mix.stems) == list(score.voices)
    total = np.sum([s.astype(np.int64) for s in mix.stems.values()], axis=0)
    assert np.max(np.abs(total - mix.mix)) <= len(mix.stems)  # rounding each stem to 16 bits, no more
    assert np.array_equal(mix.mix, render(score, stems=not now).mix)  # the mix is the same either way


def test_the_same_request_gives_the_same_bytes() -> None:
    first = compose("happy house", WORDS, "9")
    second = compose("happy house", WORDS, "9")
    assert first == second
    a, b = render(arrange(first)), render(arrange(second))
    assert wav_bytes(a.mix, SAMPLE_RATE) == wav_bytes(b.mix, SAMPLE_RATE)
    assert compose("happy house", WORDS, "10") != first


# --- the prompt steers it -----------------------------------------------------------------------------------------
def test_lofi_is_slow_and_soft_and_drum_and_bass_fast_and_busy() -> None:
    lofi_plan, lofi, lofi_mix = song("lofi beats")
    _dnb_plan, dnb, dnb_mix = song("drum and bass")
    assert lofi.bpm <= 90 and dnb.bpm >= 160
    assert lofi_plan.style.keys_patch == "epiano" and lofi_plan.style.kit == "soft"

    def hits_per_second(score: Score) -> float:
        return len(notes_of(score, "drums")) / score.duration_s

    def velocity(score: Score) -> float:
        return float(np.mean([v for *_, v in notes_of(score, "drums")]))

    assert hits_per_second(dnb) > 2 * hits_per_second(lofi)
    assert velocity(lofi) < velocity(dnb) - 10
    # Heard, not just written: the break has more onsets, the lofi beat is darker.
    assert onsets_per_second(dnb_mix.stems["drums"], SAMPLE_RATE) > 2 * onsets_per_second(
        lofi_mix.stems["drums"], SAMPLE_RATE
    )
    assert centroid_hz(lofi_mix.mix, SAMPLE_RATE) < centroid_hz(dnb_mix.mix, SAMPLE_RATE)


@pytest.mark.parametrize("prompt", ["edm house", "rock", "drum and bass", "jazz", "lofi beats"])
def test_the_beat_heard_is_the_tempo_written(prompt: str) -> None:
    _, score, mix = song(prompt)
    assert same_tempo(tempo_bpm(mix.stems["drums"], SAMPLE_RATE, near=score.bpm), score.bpm)
    # The ear is not just agreeing: asked about a tempo 8% off, it hears the one played.
    for wrong in (score.bpm * 0.92, score.bpm * 1.08):
        assert not same_tempo(tempo_bpm(mix.stems["drums"], SAMPLE_RATE, near=wrong), wrong)


def test_house_is_four_on_the_floor() -> None:
    _, score, _ = song("edm house")
    beat = 480
    kicks = {n[0] % (4 * beat) // beat for n in notes_of(score, "drums") if n[2] == KICK}
    assert kicks == {0, 1, 2, 3} and 118 <= score.bpm <= 130


def test_a_piano_ballad_is_played_on_a_piano_that_rings_and_fades() -> None:
    plan, score, _ = song("piano ballad")
    keys = score.part("keys")
    assert keys is not None and keys.patch == "piano" and plan.style.name == "ballad" and score.bpm <= 80
    # A piano note is struck, then decays while held (strings ringing out), and its tone mellows as it does.
    note = synth.piano(60, 0.7, SAMPLE_RATE)
    levels = [float(np.sqrt(np.mean(note[i : i + 2205] ** 2))) for i in range(0, SAMPLE_RATE, 2205)]
    assert all(a > b for a, b in itertools.pairwise(levels))
    early, late = note[:4410], note[13230:17640]
    assert centroid_hz(early, SAMPLE_RATE) > centroid_hz(late, SAMPLE_RATE)


def test_rock_is_brighter_than_a_ballad() -> None:
    assert centroid_hz(song("rock")[2].mix, SAMPLE_RATE) > centroid_hz(song("piano ballad")[2].mix, SAMPLE_RATE)


@pytest.mark.parametrize(
    ("prompt", "minor"),
    [("sad piano", True), ("dark techno", True), ("happy pop", False), ("bright folk", False)],
)
def test_mood_words_pick_major_or_minor(prompt: str, minor: bool) -> None:
    for seed in ("1", "2", "3"):
        plan = compose(prompt, "", seed)
        assert (plan.mode in ("minor", "dorian")) is minor, (prompt, seed, plan.mode)


def test_a_named_key_and_tempo_are_used() -> None:
    plan = compose("jazz in F# minor, 100 bpm", "", "1")
    score = arrange(plan)
    assert plan.tonic == 6 and plan.mode in ("minor", "dorian") and plan.bpm == 100
    assert score.key == "F# minor"


def test_jazz_walks_and_swings() -> None:
    plan, score, _ = song("jazz")
    assert plan.style.bass == "walking" and plan.style.swing > 0.6
    # Swung eighths: the melody's offbeats land late, about two thirds of the way through the beat.
    offbeats = [n[0] % 480 for n in notes_of(score, "lead") if n[0] % 480]
    assert offbeats and all(o == 240 + round(0.14 * 480) for o in offbeats)


@pytest.mark.parametrize(
    ("lyrics", "instrumental", "prompt"),
    [("", False, "pop"), ("[Instrumental]", False, "pop"), (WORDS, True, "pop"), (WORDS, False, "instrumental pop")],
)
def test_instrumental_songs_have_no_singer(lyrics: str, instrumental: bool, prompt: str) -> None:
    _, score, mix = song(prompt, lyrics, instrumental=instrumental)
    assert "vocal" not in score.voices and "vocal" not in mix.stems
    assert "lead" in score.voices and not score.lyrics


def test_lyrics_are_sung_by_a_voice_and_the_timeline_is_when_they_are_heard() -> None:
    plan, score, mix = song("pop", WORDS)
    vocal = score.part("vocal")
    assert vocal is not None and "lead" not in score.voices and plan.voice in ("female", "male")
    assert [line.text for line in score.lyrics][:3] == [
        "I walk the city in the rain",
        "The lights are calling out my name",
        "Oh stay with me",
    ]
    stem = mix.stems["vocal"].astype(np.float64)
    for line in score.lyrics:
        start, end = score.seconds(line.start), score.seconds(line.end)
        assert 0 <= start < end <= score.duration_s
        inside = stem[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
        assert rms_db(inside.astype(np.int16)) > rms_db(mix.mix) - 12  # the voice is singing then
        words = [w.text for w in line.words]
        assert words == line.text.split()
        assert all(a.end <= b.start for a, b in zip(line.words, line.words[1:], strict=False))
    # Silence between lines really is silence from the singer (a breath, or the intro before the first line).
    before = stem[: int(score.seconds(score.lyrics[0].start) * SAMPLE_RATE) - 200]
    assert rms_db(before.astype(np.int16)) < -60
    # Every sung note carries its syllables, and they spell the words.
    assert "".join(n.lyric.replace(" ", "") for n in vocal.notes).lower().startswith("iwalkthecity")


def test_a_voice_sounds_like_vowels_not_a_beep() -> None:
    """The singer's spectrum has formant peaks: energy spread over the first kilohertz or two, not one tone."""
    _, _, mix = song("pop", WORDS)
    stem = mix.stems["vocal"].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(stem))
    freqs = np.fft.rfftfreq(len(stem), 1 / SAMPLE_RATE)
    low = spectrum[(freqs > 100) & (freqs < 500)].sum()
    formants = spectrum[(freqs > 500) & (freqs < 3000)].sum()
    assert formants > 0.5 * low


# --- derived songs ----------------------------------------------------------------------------------------------
def test_an_extension_continues_the_parent() -> None:
    parent, parent_score, _ = song("rock", WORDS)
    extended = derive.extend(parent, at_s=None, lyrics="", parent_lyrics=WORDS, seed="e1")
    score = arrange(extended)
    assert (extended.bpm, extended.tonic, extended.mode, extended.style) == (
        parent.bpm,
        parent.tonic,
        parent.mode,
        parent.style,
    )
    assert score.duration_s > parent_score.duration_s + 10
    # The parent up to its outro is played as it was (the drummer only fills into the new section)...
    cut = next(s.start for s in parent_score.sections if s.kind == "outro")
    last = max(s.start for s in parent_score.sections if s.start < cut)
    for name in ("drums", "bass", "keys", "vocal"):
        limit = last if name == "drums" else cut
        assert [n for n in notes_of(score, name) if n[0] < limit] == [
            n for n in notes_of(parent_score, name) if n[0] < limit
        ]
    # ...and the new part picks up the form with the parent's own progression.
    new = [s for s in score.sections if s.start >= cut]
    assert new[0].kind in ("verse", "chorus", "bridge") and new[-1].kind == "outro"
    first = new[0]
    parent_section = next(s for s in parent_score.sections if s.kind == first.kind)
    heard = [c.name for c in score.chords if first.start <= c.start < first.end][:4]
    written = [c.name for c in parent_score.chords if parent_section.start <= c.start < parent_section.end][:4]
    if first.kind != "bridge":
        assert heard == written


def test_an_extension_from_a_time_keeps_only_what_came_before() -> None:
    parent, parent_score, _ = song("pop", WORDS)
    chorus = next(s for s in parent_score.sections if s.kind == "chorus")
    at_s = parent_score.seconds(chorus.start) + 0.1
    extended = derive.extend(parent, at_s=at_s, lyrics="[Verse]\nNew words", parent_lyrics=WORDS, seed="2")
    score = arrange(extended)
    assert extended.sections[:2] == parent.sections[:2]  # intro and verse kept; the chorus is written anew
    assert next(s.kind for s in extended.sections[2:]) == "chorus"
    assert next(line.text for line in score.lyrics if line.start >= chorus.start) == "New words"


def test_a_cover_keeps_the_melody_in_a_new_style() -> None:
    parent, parent_score, parent_mix = song("lofi beats", WORDS)
    covered = derive.cover(parent, prompt="drum and bass", lyrics="", seed="c1")
    score = arrange(covered)
    assert melody(score) == melody(parent_score)
    assert [line.text for line in score.lyrics] == [line.text for line in parent_score.lyrics]
    assert (covered.tonic, covered.mode) == (parent.tonic, parent.mode)
    assert covered.style.name == "dnb" and score.bpm >= 140
    assert score.part("keys") != parent_score.part("keys")
    assert 18 <= covered.duration_s <= 34
    # Another style by ear too: the drums are busier.
    mix = render(score)
    assert onsets_per_second(mix.stems["drums"], SAMPLE_RATE) > onsets_per_second(
        parent_mix.stems["drums"], SAMPLE_RATE
    )


def test_a_cover_without_a_style_still_changes_the_style() -> None:
    parent, *_ = song("pop", WORDS)
    assert derive.cover(parent, prompt="", lyrics="", seed="x").style.name != "pop"


def test_a_variation_keeps_the_chords_and_writes_a_new_melody() -> None:
    parent, parent_score, _ = song("folk", WORDS)
    score = arrange(derive.variation(parent, seed="v1"))
    assert [c.name for c in score.chords] == [c.name for c in parent_score.chords]
    assert [line.text for line in score.lyrics] == [line.text for line in parent_score.lyrics]
    assert melody(score) != melody(parent_score)


def test_swap_vocals_keeps_the_backing_note_for_note() -> None:
    parent, parent_score, _ = song("pop", WORDS)
    swapped = derive.swap_vocals(parent, prompt="", lyrics="[Verse]\nA different song\nWith other words", seed="s")
    score = arrange(swapped)
    for name in ("drums", "bass", "keys"):
        assert notes_of(score, name) == notes_of(parent_score, name)
    assert notes_of(score, "vocal") != notes_of(parent_score, "vocal")
    assert swapped.voice != parent.voice
    assert score.lyrics[0].text == "A different song"


def test_swap_sound_keeps_the_singer_note_for_note() -> None:
    parent, parent_score, _ = song("pop", WORDS)
    score = arrange(derive.swap_sound(parent, prompt="jazz", seed="s"))
    assert score.style == "jazz" and score.bpm == parent_score.bpm
    assert [(n.pitch, n.lyric) for n in score.part("vocal").notes] == [  # type: ignore[union-attr]
        (n.pitch, n.lyric)
        for n in parent_score.part("vocal").notes  # type: ignore[union-attr]
    ]
    assert notes_of(score, "drums") != notes_of(parent_score, "drums")


def test_replace_section_rewrites_only_its_range() -> None:
    parent, parent_score, parent_mix = song("pop", WORDS)
    start_s, end_s = 6.0, 12.0
    score = arrange(derive.replace_section(parent, start_s=start_s, end_s=end_s, prompt="", lyrics="", seed="r"))
    start, end = score.tick_at(start_s), score.tick_at(end_s)
    for name in score.voices:
        outside = [n for n in notes_of(score, name) if not start <= n[0] < end]
        assert outside == [n for n in notes_of(parent_score, name) if not start <= n[0] < end]
    assert notes_of(score, "vocal") != notes_of(parent_score, "vocal")
    # By ear: the audio differs inside the range far more than before it.
    mix = render(score)
    a, b = mix.mix.astype(np.float64), parent_mix.mix.astype(np.float64)

    def difference(lo: float, hi: float) -> float:
        span = slice(int(lo * SAMPLE_RATE), int(hi * SAMPLE_RATE))
        return float(np.sqrt(np.mean((a[span] - b[span]) ** 2)))

    assert difference(start_s + 0.5, end_s) > 4 * difference(0.0, start_s - 0.5)


def test_concat_of_a_continuation_is_the_full_extension() -> None:
    parent, *_ = song("house", WORDS)
    part = derive.extend(parent, at_s=None, lyrics="", parent_lyrics=WORDS, seed="k", full=False)
    full = derive.extend(parent, at_s=None, lyrics="", parent_lyrics=WORDS, seed="k")
    assert arrange(derive.concat(part)) == arrange(full)
    assert part.duration_s < full.duration_s
    assert part.sections[0].kind != "intro"  # the new part only


def test_forced_length_cuts_and_fades() -> None:
    plan = compose("rock", WORDS, "1")
    score = arrange(plan, length_s=5.0)
    mix = render(score)
    assert len(mix.mix) == 5 * SAMPLE_RATE and score.faded
    assert all(n.start < score.tick_at(5.0) for part in score.parts for n in part.notes)
    assert abs(int(mix.mix[-1])) < 50 and rms_db(mix.mix[-2000:]) < rms_db(mix.mix) - 10


def test_snare_backbeat_in_pop() -> None:
    _, score, _ = song("pop")
    snares = [n[0] % 1920 for n in notes_of(score, "drums") if n[2] == SNARE]
    backbeat = [t for t in snares if min(abs(t - 480), abs(t - 1440)) <= 10]  # beats 2 and 4, give or take a hair
    assert len(backbeat) > 0.6 * len(snares)


def test_the_render_cost_bench_reports_every_stage() -> None:
    cost = render_cost(prompts=("pop",), rounds=1)
    assert cost.songs == 1 and 20 <= cost.audio_s <= 30
    assert min(cost.compose_ms, cost.arrange_ms, cost.render_ms, cost.wav_ms) >= 0
    assert cost.total_ms >= cost.render_ms and cost.wav_bytes > 500_000
