"""The sandbox's songs: each clip keeps a recipe (how it was asked for), from which its plan, score, audio and
stems are made on demand and cached.

A recipe names its parents by clip id, so a derived clip is composed from its parent's plan (an extension
continues the parent's form, a cover keeps its melody). Plans are small and kept for every clip; scores and
rendered mixes are large and kept for the most recent clips only.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np

from bot.sandbox.music import derive
from bot.sandbox.music.arrange import arrange
from bot.sandbox.music.compose import compose
from bot.sandbox.music.midi import midi_bytes
from bot.sandbox.music.mix import Mix, render
from bot.sandbox.music.plan import Plan
from bot.sandbox.music.score import Score
from bot.sandbox.music.wav import wav_bytes, wav_seconds

if TYPE_CHECKING:
    from bot.sandbox.store import ClipSpec

log = logging.getLogger(__name__)

V = TypeVar("V")
SCORES_KEPT = 64
MIXES_KEPT = 6  # a 25 s mix with its stems is ~6 MB of int16


@dataclass(frozen=True, slots=True)
class Recipe:
    """How a clip's music is made: an operation, its inputs, and the clips it derives from."""

    op: str  # create, extend, continue, cover, variation, swap_vocals, swap_sound, replace, upload, ...
    prompt: str = ""  # the style words of this request ('' = keep the parent's)
    lyrics: str = ""  # the words of this request ('' = keep the parent's)
    seed: str = ""
    instrumental: bool = False
    parents: tuple[str, ...] = ()
    start_s: float | None = None
    end_s: float | None = None
    length_s: float | None = None
    voice: str = ""  # a persona's singer ("female"/"male"); '' = the dice or the prompt decide
    level: str = ""  # remaster: subtle, normal, high
    voices: tuple[str, ...] = ()  # stems and VOX: the parts of the source mixed into this file


# Stem names a Sonic client sees, and the parts of the score each one holds.
BASIC_STEMS = (("Vocals", ("vocal",)), ("Instrumental", ("drums", "bass", "keys", "pad", "lead")))
STEM_NAMES = {"drums": "Drums", "bass": "Bass", "keys": "Keys", "pad": "Pad", "lead": "Lead", "vocal": "Vocals"}
RECOGNISED_KEPT = 512


class _Lru(Generic[V]):
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, V] = OrderedDict()

    def get(self, key: str) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


class Songs:
    def __init__(self, clips: Callable[[str], ClipSpec | None], clip_seconds: float | None = None) -> None:
        self._clip = clips  # looks a clip up in the sandbox's current store (tests may swap the store)
        self.clip_seconds = clip_seconds  # forces every clip's length (fast tests); None = the song's own
        self._plans: dict[str, Plan] = {}
        self._standins: dict[str, Plan] = {}  # foreign uploads: what derived songs start from
        self._scores: _Lru[Score] = _Lru(SCORES_KEPT)
        self._mixes: _Lru[Mix] = _Lru(MIXES_KEPT)
        # The sandbox's own WAV files by content digest: an upload of one is recognised as the song it is.
        self._rendered: _Lru[str] = _Lru(RECOGNISED_KEPT)
        self._lock = threading.Lock()  # files render in worker threads

    # --- plans --------------------------------------------------------------------------------------------------
    def plan(self, clip: ClipSpec) -> Plan | None:
        """The clip's plan: the music it is. None for a file cut from another song (a stem) and for an upload the
        sandbox did not make (its music is only the file it came with)."""
        with self._lock:
            found = self._plans.get(clip.clip_id)
        if found is not None or clip.recipe is None or clip.recipe.op in ("stem", "vox"):
            return found
        if clip.recipe.op == "upload":
            return self._recognised(clip)
        plan = self._realise(clip.recipe)
        if clip.recipe.instrumental and plan.voice and clip.recipe.op != "create":
            plan = derive.without_vocals(plan)  # "make_instrumental" on a derived song: the tune is played
        with self._lock:
            self._plans[clip.clip_id] = plan
        return plan

    def _recognised(self, clip: ClipSpec) -> Plan | None:
        """An upload of one of the sandbox's own WAV files is that song: the bytes say which (by digest)."""
        if clip.audio is None:
            return None
        digest = hashlib.sha256(clip.audio).hexdigest()[:16]
        with self._lock:
            known = self._rendered.get(digest)
        original = self._clip(known) if known else None
        plan = self.plan(original) if original is not None else None
        if plan is not None:
            with self._lock:
                self._plans[clip.clip_id] = plan
        return plan

    def source_plan(self, clip: ClipSpec) -> Plan:
        """The plan a derived operation starts from; a foreign upload's is a stand-in composed from its name and
        bytes (kept apart, so the upload itself still has no notes to report)."""
        plan = self.plan(clip)
        if plan is not None:
            return plan
        with self._lock:
            found = self._standins.get(clip.clip_id)
        if found is not None:
            return found
        digest = hashlib.sha256(clip.audio or clip.clip_id.encode()).hexdigest()[:16]
        plan = compose(f"{clip.title} {clip.sound}", clip.lyrics, digest, instrumental=not clip.lyrics.strip())
        with self._lock:
            self._standins[clip.clip_id] = plan
        return plan

    def _parent(self, recipe: Recipe, index: int = 0) -> tuple[Plan, ClipSpec] | None:
        clip = self._clip(recipe.parents[index]) if index < len(recipe.parents) else None
        return None if clip is None else (self.source_plan(clip), clip)

    def _realise(self, r: Recipe) -> Plan:
        found = self._parent(r) if r.op not in ("create", "persona") else None
        if found is None and r.op != "persona":  # a new song (or, should a parent be missing, one from the words)
            return compose(r.prompt, r.lyrics, r.seed, instrumental=r.instrumental, target_s=self.clip_seconds)
        if found is None:
            return compose(r.prompt, r.lyrics, r.seed, instrumental=r.instrumental, voice=r.voice)
        parent, parent_clip = found
        if r.op in ("extend", "continue"):
            return derive.extend(
                parent,
                at_s=r.start_s,
                lyrics=r.lyrics,
                parent_lyrics=parent_clip.lyrics,
                seed=r.seed,
                length_s=r.length_s,
                full=r.op == "extend",
            )
        if r.op == "cover":
            return derive.cover(parent, prompt=r.prompt, lyrics=r.lyrics, seed=r.seed)
        if r.op == "variation":
            return derive.variation(parent, seed=r.seed)
        if r.op == "swap_vocals":
            return derive.swap_vocals(parent, prompt=r.prompt, lyrics=r.lyrics, seed=r.seed)
        if r.op == "swap_sound":
            return derive.swap_sound(parent, prompt=r.prompt, seed=r.seed)
        if r.op == "replace":
            return derive.replace_section(
                parent, start_s=r.start_s or 0.0, end_s=r.end_s, prompt=r.prompt, lyrics=r.lyrics, seed=r.seed
            )
        if r.op == "concat":
            return derive.concat(parent)
        if r.op == "remaster":
            return derive.remaster(parent, level=r.level or "normal", seed=r.seed)
        if r.op == "add_vocals":
            return derive.add_vocals(
                parent, lyrics=r.lyrics, prompt=r.prompt, seed=r.seed, start_s=r.start_s, end_s=r.end_s
            )
        if r.op == "add_instrumental":
            return derive.add_instrumental(parent, prompt=r.prompt, seed=r.seed)
        if r.op == "sample":
            return derive.sample(
                parent,
                start_s=r.start_s or 0.0,
                end_s=r.end_s if r.end_s is not None else parent.duration_s,
                prompt=r.prompt,
                lyrics=r.lyrics,
                seed=r.seed,
                instrumental=r.instrumental,
            )
        if r.op == "mashup":
            other = self._parent(r, 1)
            if other is None:
                return parent
            return derive.mashup(parent, other[0], prompt=r.prompt, seed=r.seed)
        if r.op == "persona":
            return compose(r.prompt, r.lyrics, r.seed, instrumental=r.instrumental, voice=r.voice)
        raise ValueError(f"unknown recipe operation {r.op!r}")

    # --- scores and audio ---------------------------------------------------------------------------------------
    def sings(self, clip: ClipSpec) -> bool:
        """Whether the clip may have sung lines: false for an instrumental, whose lyrics timeline is known without
        arranging the song (a poll of a thousand instrumentals should not arrange a thousand scores)."""
        plan = self.plan(clip)
        return plan is None or _may_sing(plan)

    def score(self, clip: ClipSpec) -> Score | None:
        with self._lock:
            found = self._scores.get(clip.clip_id)
        if found is not None:
            return found
        plan = self.plan(clip)
        if plan is None:
            return None
        score = arrange(plan, length_s=self.clip_seconds)
        with self._lock:
            self._scores.put(clip.clip_id, score)
        return score

    def duration(self, clip: ClipSpec) -> float:
        """The clip's length in seconds, known without rendering it."""
        if clip.audio is not None:
            return round(wav_seconds(clip.audio) or 0.0, 2)
        recipe = clip.recipe
        if recipe is not None and recipe.op in ("stem", "vox"):
            source = self._clip(recipe.parents[0]) if recipe.parents else None
            whole = self.duration(source) if source is not None else 0.0
            if recipe.op == "vox" and recipe.start_s is not None and recipe.end_s is not None:
                return round(min(recipe.end_s, whole) - recipe.start_s, 2)
            return whole
        if self.clip_seconds is not None:
            return float(self.clip_seconds)
        plan = self.plan(clip)
        return plan.duration_s if plan is not None else 0.0

    def mix(self, clip: ClipSpec, *, stems: bool = False) -> Mix | None:
        """The clip's rendered song (``stems``: its stems will be asked for, so make them with it)."""
        with self._lock:
            found = self._mixes.get(clip.clip_id)
        if found is not None:
            return found
        score = self.score(clip)
        if score is None:
            return None
        rendered = render(score, stems=stems)
        with self._lock:
            self._mixes.put(clip.clip_id, rendered)
        return rendered

    def wav(self, clip: ClipSpec) -> bytes | None:
        """The clip's audio as a WAV file; a stem or VOX file is cut from its source's mix."""
        recipe = clip.recipe
        if recipe is not None and recipe.op in ("stem", "vox"):
            return self._cut(recipe)
        rendered = self.mix(clip)
        if rendered is None:
            return None
        data = wav_bytes(rendered.mix, rendered.sample_rate)
        with self._lock:
            self._rendered.put(hashlib.sha256(data).hexdigest()[:16], clip.clip_id)
        return data

    def _cut(self, recipe: Recipe) -> bytes | None:
        source = self._clip(recipe.parents[0]) if recipe.parents else None
        rendered = self.mix(source, stems=True) if source is not None else None
        if rendered is None:
            return None
        total = np.zeros(len(rendered.mix), dtype=np.int32)
        for name in recipe.voices:
            stem = rendered.stems.get(name)
            if stem is not None:
                total += stem
        samples = np.clip(total, -32768, 32767).astype(np.int16)
        if recipe.op == "vox" and recipe.start_s is not None and recipe.end_s is not None:
            rate = rendered.sample_rate
            samples = samples[round(recipe.start_s * rate) : round(recipe.end_s * rate)]
        return wav_bytes(samples, rendered.sample_rate)

    def midi(self, clip: ClipSpec) -> bytes | None:
        score = self.score(clip)
        return None if score is None else midi_bytes(score)


def _may_sing(plan: Plan) -> bool:
    return (
        plan.vocal or any(_may_sing(p.plan) for p in plan.patches) or (plan.head is not None and _may_sing(plan.head))
    )
