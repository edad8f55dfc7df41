"""The active provider's offer: its operations and models, and which operations it retired (HTTP 410).

A retired operation is switched off (refused for free, its buttons left out) until an admin switches it back on
with ``/studio provider``: a provider may bring an endpoint back, or have answered 410 by mistake.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from bot.domain.errors import OperationUnavailable
from bot.domain.models import Operation
from bot.domain.ports import Clock, MusicProvider, ProviderStateStore

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

    def available(self) -> frozenset[Operation]: ...

    def ensure_available(self, operation: Operation) -> None: ...


class Catalog:
    def __init__(self, provider: MusicProvider, store: ProviderStateStore, clock: Clock) -> None:
        self._provider = provider
        self._store = store
        self._clock = clock
        self._retired: dict[Operation, str | None] = {}
        self._available = provider.operations

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
