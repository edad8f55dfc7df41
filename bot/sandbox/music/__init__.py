"""The sandbox's music: prompt -> plan (compose) -> score (arrange) -> voices (synth) -> mix and stems (mix).

docs/sandbox-music.md explains how a prompt's words become music and how derived songs relate to their parent.
"""

from bot.sandbox.music.arrange import arrange
from bot.sandbox.music.compose import compose
from bot.sandbox.music.mix import Mix, render
from bot.sandbox.music.plan import Plan
from bot.sandbox.music.score import Score
from bot.sandbox.music.synth import SAMPLE_RATE

__all__ = ["SAMPLE_RATE", "Mix", "Plan", "Score", "arrange", "compose", "render"]
