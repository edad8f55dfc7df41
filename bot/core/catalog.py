"""The active provider's offer: its operations and models, and which operations it retired (HTTP 410).

A retired operation is switched off (refused for free, its buttons left out) until an admin switches it back on
with ``/studio provider``: a provider may bring an endpoint back, or have answered 410 by mistake.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from bot.domain.errors import InvalidRequest, OperationUnavailable
from bot.domain.models import Operation, normalise_model
from bot.domain.ports import Clock, MusicProvider, ProviderStateStore
from bot.domain.requests import Dialect
from bot.domain.sonic import PersonaMaker, StudioTools, Tool, normalise_sonic_model

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OperationInfo:
    operation: Operation
    retired: bool = False
    message: str | None = None  # what the provider said when it retired it


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """What ``/studio provider`` shows."""

    name: str
    operations: tuple[OperationInfo, ...]
    models: tuple[str, ...]


class Offer(Protocol):
    """The read-only face of the catalog that cogs and ui see (Services.catalog)."""

    @property
    def provider_name(self) -> str: ...

    @property
    def models(self) -> tuple[str, ...]: ...

    @property
    def operations(self) -> frozenset[Operation]: ...

    @property
    def extensions_are_partial(self) -> bool: ...

    @property
    def dialect(self) -> Dialect: ...

    def available(self) -> frozenset[Operation]: ...

    def ensure_available(self, operation: Operation) -> None: ...

    def tools(self) -> frozenset[Tool]: ...


class Catalog:
    def __init__(self, provider: MusicProvider, store: ProviderStateStore, clock: Clock) -> None:
        self._provider = provider
        self._store = store
        self._clock = clock
        self._retired: dict[Operation, str | None] = {}
        self._available = provider.operations
        # Optional abilities, found on the provider itself (structural checks, no adapter imported here).
        self.tool_provider: StudioTools | None = provider if isinstance(provider, StudioTools) else None
        self.persona_maker: PersonaMaker | None = provider if isinstance(provider, PersonaMaker) else None

    @property
    def provider_name(self) -> str:
        return self._provider.name

    @property
    def models(self) -> tuple[str, ...]:
        return self._provider.models

    @property
    def operations(self) -> frozenset[Operation]:
        """Everything the provider offers, retired or not."""
        return self._provider.operations

    @property
    def dialect(self) -> Dialect:
        """How members' values become requests for this provider (bot/domain/requests.py)."""
        return "sonic" if self._provider.request_dialect == "sonic" else "generic"

    @property
    def extensions_are_partial(self) -> bool:
        """An extension holds only the new part; the job joins it into the full song (bot/core/jobs/followup.py)."""
        return self._provider.extensions_are_partial

    def normalise_model(self, value: str) -> str | None:
        """A model a member or admin typed, in the provider's spelling; InvalidRequest naming the choices."""
        if not self.models:
            raise InvalidRequest(f"The {self.provider_name} provider has no choice of model.")
        try:
            return normalise_sonic_model(value) if self.dialect == "sonic" else normalise_model(value)
        except ValueError as exc:
            # Only the first letter: str.capitalize() would lowercase the model names it lists.
            text = str(exc)
            raise InvalidRequest(text[:1].upper() + text[1:] + ".") from None

    def tools(self) -> frozenset[Tool]:
        """The studio tools members may use now: the provider's, minus those it retired."""
        if self.tool_provider is None:
            return frozenset()
        return frozenset(t for t in self.tool_provider.tools if t.operation in self._available)

    async def provider_credits(self) -> float | None:
        """The provider account's balance, when it tells (raises ProviderError when it does not answer)."""
        return await self._provider.credits()

    async def load(self) -> None:
        """Read which operations were retired (at start: a restart keeps them off)."""
        self._retired = await self._store.retired_operations(self._provider.name)
        self._changed()

    def available(self) -> frozenset[Operation]:
        """What members may ask for now: the provider's operations minus those it retired."""
        return self._available

    def _changed(self) -> None:
        self._available = self._provider.operations - set(self._retired)

    def is_retired(self, operation: Operation) -> bool:
        return operation in self._retired

    def ensure_available(self, operation: Operation) -> None:
        if operation not in self._provider.operations:
            raise OperationUnavailable(
                f"{operation.label} isn't offered by the current music provider ({self._provider.name})."
            )
        if operation in self._retired:
            raise OperationUnavailable(
                f"{operation.label} was retired by the music provider, so it's switched off for now. "
                "Nothing was charged."
            )
        if operation is Operation.EXTEND and self.extensions_are_partial and Operation.CONCAT in self._retired:
            # Its extensions hold only the new part; without joining them there is no full song to give.
            raise OperationUnavailable(
                "Extend needs the provider's full-song join, which it retired, so it's switched off for now. "
                "Nothing was charged."
            )

    def describe(self) -> ProviderInfo:
        operations = tuple(
            OperationInfo(op, op in self._retired, self._retired.get(op))
            for op in Operation
            if op in self._provider.operations
        )
        return ProviderInfo(self._provider.name, operations, self._provider.models)

    async def retire(self, operation: Operation, message: str | None) -> None:
        """The provider answered that this operation is gone: switch it off, here and across restarts."""
        if operation in self._retired:
            return
        self._retired[operation] = message
        self._changed()
        await self._store.retire_operation(self._provider.name, operation, message=message, now=self._clock.now())
        log.warning("provider %s retired operation %s; it is now switched off", self._provider.name, operation.value)

    async def reinstate(self, operation: Operation) -> bool:
        """Switch a retired operation back on; False when it was not retired."""
        was_retired = operation in self._retired
        self._retired.pop(operation, None)
        self._changed()
        changed = await self._store.reinstate_operation(self._provider.name, operation)
        if changed or was_retired:
            log.info("operation %s of provider %s switched back on", operation.value, self._provider.name)
        return changed or was_retired
