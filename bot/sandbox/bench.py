"""What a sandbox song costs to make: ``python -m bot.sandbox.bench`` (or call :func:`render_cost`).

Each stage is timed in CPU seconds of this process (less disturbed by other processes than wall time) and the
median of a few rounds is reported: composing the plan, arranging the score, synthesising and mixing the voices,
and writing the WAV file. Caches are cleared before each round, so the figures are for a song never heard before.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from dataclasses import asdict, dataclass

from bot.sandbox.music import arrange, compose, render, synth
from bot.sandbox.music.wav import wav_bytes

log = logging.getLogger(__name__)

PROMPTS = ("lofi beats", "drum and bass", "piano ballad", "rock anthem", "smooth jazz", "ambient drone", "edm house")
LYRICS = "[Verse]\nI walk the city in the rain\nThe lights are calling out my name\n\n[Chorus]\nOh stay with me"


@dataclass(frozen=True, slots=True)
class RenderCost:
    songs: int  # songs per round
    audio_s: float  # seconds of audio per round
    compose_ms: float  # per song, median over rounds (CPU time)
    arrange_ms: float
    render_ms: float  # synthesis and mix of every voice
    wav_ms: float
    total_ms: float
    realtime_factor: float  # seconds of audio made per CPU second
    wav_bytes: int  # size of one average song's file


def _clear_caches() -> None:
    synth.wavetable.cache_clear()
    synth.vowel_table.cache_clear()
    synth.drum_sound.cache_clear()


def render_cost(prompts: tuple[str, ...] = PROMPTS, rounds: int = 3, *, lyrics: str = LYRICS) -> RenderCost:
    """Median CPU cost per song of making ``prompts`` (half of them sung), over ``rounds`` rounds."""
    stages: dict[str, list[float]] = {"compose": [], "arrange": [], "render": [], "wav": []}
    audio_s = 0.0
    size = 0
    for round_index in range(rounds):
        _clear_caches()
        spent = dict.fromkeys(stages, 0.0)
        audio_s = 0.0
        size = 0
        for i, prompt in enumerate(prompts):
            started = time.process_time()
            plan = compose(prompt, lyrics if i % 2 else "", f"bench-{round_index}-{i}")
            composed = time.process_time()
            score = arrange(plan)
            arranged = time.process_time()
            mix = render(score)
            rendered = time.process_time()
            data = wav_bytes(mix.mix, mix.sample_rate)
            written = time.process_time()
            spent["compose"] += composed - started
            spent["arrange"] += arranged - composed
            spent["render"] += rendered - arranged
            spent["wav"] += written - rendered
            audio_s += mix.seconds
            size += len(data)
        for name, seconds in spent.items():
            stages[name].append(seconds * 1000 / len(prompts))
    median = {name: statistics.median(values) for name, values in stages.items()}
    total = sum(median.values())
    per_song_s = audio_s / len(prompts)
    return RenderCost(
        songs=len(prompts),
        audio_s=round(audio_s, 1),
        compose_ms=round(median["compose"], 2),
        arrange_ms=round(median["arrange"], 2),
        render_ms=round(median["render"], 1),
        wav_ms=round(median["wav"], 2),
        total_ms=round(total, 1),
        realtime_factor=round(per_song_s / (total / 1000), 1) if total else float("inf"),
        wav_bytes=size // len(prompts),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.sandbox.bench", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    cost = render_cost(rounds=max(1, args.rounds))
    if args.json:
        sys.stdout.write(json.dumps(asdict(cost)) + "\n")
        return
    rows = [
        ("songs per round", f"{cost.songs} ({cost.audio_s:.0f} s of audio)"),
        ("compose (plan)", f"{cost.compose_ms:.2f} ms per song"),
        ("arrange (score)", f"{cost.arrange_ms:.2f} ms per song"),
        ("synthesise + mix", f"{cost.render_ms:.1f} ms per song"),
        ("write WAV", f"{cost.wav_ms:.2f} ms per song"),
        ("total", f"{cost.total_ms:.1f} ms CPU per song, {cost.realtime_factor:.0f}x faster than real time"),
        ("file size", f"{cost.wav_bytes / 1e6:.2f} MB per song (22.05 kHz mono 16-bit WAV)"),
    ]
    width = max(len(name) for name, _ in rows)
    sys.stdout.write("".join(f"{name:<{width}}  {value}\n" for name, value in rows))


if __name__ == "__main__":
    main()
