"""Personas: a voice saved from a track, under a name, for the server's members to pick when they make a song.

Saving one is a job answered at once (admitted by the same rules, charged, refunded on failure, audited), like a
lyrics draft. The provider keeps the voice; the server keeps its name and the provider's id (the store's
``personas``), one name per server and provider. A provider that retired personas answers 410: the operation is
switched off like any retired one, and the member's credits come back.
"""

from __future__ import annotations

import logging
from typing import Protocol

from bot.core.admission import Admission
from bot.core.audit import AuditRecorder
from bot.core.catalog import Catalog
from bot.core.jobs.finisher import Finisher
from bot.domain.audit import PersonaChanged
from bot.domain.errors import ErrorKind, InvalidRequest, NotAllowed, NotFound, OperationUnavailable, ProviderError
from bot.domain.models import Operation, Persona
from bot.domain.outcomes import Failure, FailureKind
from bot.domain.ports import Clock, JobStore, NewPersona, PersonaStore
from bot.domain.requester import Requester
from bot.domain.sonic import SavePersona

log = logging.getLogger(__name__)


class PersonaJobs(JobStore, PersonaStore, Protocol):
    """The personas, and the jobs that save them."""


class Personas:
    def __init__(
        self,
        *,
        admission: Admission,
        catalog: Catalog,
        finisher: Finisher,
        store: PersonaJobs,
        audit: AuditRecorder,
        clock: Clock,
    ) -> None:
        self._admission = admission
        self._catalog = catalog
        self._finisher = finisher
        self._store = store
        self._audit = audit
        self._clock = clock

    async def save(
        self,
        who: Requester,
        track_id: int,
        name: str,
        *,
        description: str | None = None,
        styles: str | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
        confirmed_cost: int | None = None,
    ) -> tuple[Persona, int]:
        """Save the voice of a track as a persona of the server; returns it with what it cost. Raises before
        spending on a taken name."""
        self._catalog.ensure_available(Operation.PERSONA)
        maker = self._catalog.persona_maker
        if maker is None:
            raise OperationUnavailable(
                f"Personas aren't offered by the current music provider ({self._catalog.provider_name})."
            )
        name = " ".join(name.split())
        if any(p.name.casefold() == name.casefold() for p in await self.of_server(who.guild_id)):
            raise InvalidRequest(f"This server already has a persona named “{name}”; choose another name.")
        values = {
            "name": name,
            "description": description,
            "styles": styles,
            "vocal_start_s": start_s,
            "vocal_end_s": end_s,
        }
        admitted = await self._admission.admit(
            who, Operation.PERSONA, values, track_id=track_id, confirmed_cost=confirmed_cost
        )
        job, request = admitted.job, admitted.request
        assert isinstance(request, SavePersona)
        try:
            persona_id = await maker.save_persona(request)
        except ProviderError as exc:
            if exc.kind is ErrorKind.RETIRED:
                await self._catalog.retire(Operation.PERSONA, exc.message)
            await self._refund(who, name, track_id, job.id, Failure.of(exc.kind.value, str(exc)), str(exc))
            raise
        except (InvalidRequest, OperationUnavailable) as exc:
            await self._refund(who, name, track_id, job.id, Failure(FailureKind.REJECTED, str(exc)), str(exc))
            raise
        new = NewPersona(who.guild_id, self._catalog.provider_name, name, persona_id, track_id, who.user_id)
        persona = await self._store.save_persona(job.id, new, self._clock.now())
        if persona is None:
            error = InvalidRequest(f"Someone just saved a persona named “{name}”; choose another name.")
            await self._refund(who, name, track_id, job.id, Failure(FailureKind.REJECTED, str(error)), str(error))
            raise error
        await self._audit.record(
            who.guild_id, PersonaChanged(who.user_id, name, True, track_id=track_id, job_id=job.id, cost=job.cost)
        )
        log.info("persona %d (%s) saved in guild %d", persona.id, name, who.guild_id)
        return persona, job.cost

    async def _refund(
        self, who: Requester, name: str, track_id: int, job_id: int, failure: Failure, error: str
    ) -> None:
        await self._finisher.fail(job_id, failure, deliver=False)
        await self._audit.record(
            who.guild_id, PersonaChanged(who.user_id, name, True, track_id=track_id, job_id=job_id, error=error)
        )

    async def of_server(self, guild_id: int) -> list[Persona]:
        """The server's personas for the active provider, by name."""
        return await self._store.personas(guild_id, self._catalog.provider_name)

    async def find(self, guild_id: int, text: str) -> list[Persona]:
        """For autocomplete: the server's personas whose name contains ``text``."""
        needle = text.strip().casefold()
        return [p for p in await self.of_server(guild_id) if needle in p.name.casefold()][:25]

    async def forget(self, who: Requester, persona_id: int) -> Persona:
        """Its maker or a moderator forgets a persona (songs already made keep their voice)."""
        persona = await self._store.persona(persona_id)
        if persona is None or persona.guild_id != who.guild_id:
            raise NotFound("There is no such persona in this server.")
        if persona.created_by != who.user_id and not (who.is_moderator or who.is_admin):
            raise NotAllowed("Only the member who saved a persona, or a moderator, can forget it.")
        await self._store.delete_persona(persona.id)
        await self._audit.record(who.guild_id, PersonaChanged(who.user_id, persona.name, False))
        return persona
