"""The one object cogs and ui call core through: frozen, and nothing reaches past it to a provider or the store."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.admission import Admission
from bot.core.assembly import Core
from bot.core.catalog import Offer
from bot.core.credit_admin import CreditAdmin
from bot.core.jobs.control import JobControl
from bot.core.library import Library
from bot.core.lyrics import Lyrics
from bot.core.studio import StudioAdmin


@dataclass(frozen=True, slots=True)
class Services:
    admission: Admission  # start a job: every rule, then the reservation
    jobs: JobControl  # attach a status message, cancel, list active jobs
    lyrics: Lyrics  # draft lyrics (answered at once)
    library: Library  # tracks, lineage, history, delete, remix threads
    studio: StudioAdmin  # server administration: settings, block list, bans, the provider, status
    credits: CreditAdmin  # quota, budgets, caps, grants, prices, resets
    catalog: Offer  # the provider's offer: available operations and models (read-only)

    @classmethod
    def of(cls, core: Core) -> Services:
        return cls(
            admission=core.admission,
            jobs=core.jobs,
            lyrics=core.lyrics,
            library=core.library,
            studio=core.studio,
            credits=core.credits,
            catalog=core.catalog,
        )
