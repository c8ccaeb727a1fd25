"""The contract between the core and the network adapters.

Adapters implement :class:`Adapter` and are built by a :class:`NetworkSpec` factory from an
:class:`AdapterSetup`; the core hands them an :class:`AdapterContext` for the little state
they keep (cursors) and for echo checks. See docs/architecture.md, "Adapters".
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from bridgebot.model import Capabilities, Event, Outbound, RoomRef

__all__ = [
    "Adapter",
    "AdapterContext",
    "AdapterSetup",
    "Emit",
    "NetworkSpec",
]

#: The callback an adapter calls for every inbound event. It returns once the event is
#: durably accepted (or dropped as an echo/duplicate); an adapter should await it before
#: advancing its own cursor, so that nothing is lost across a crash.
Emit = Callable[[Event], Awaitable[None]]


class AdapterContext(Protocol):
    """What the core offers an adapter: persisted cursors, echo checks, roles."""

    async def get_cursor(self, key: str) -> str | None:
        """A value this adapter stored earlier under ``key`` (sync token, update offset)."""
        ...

    async def set_cursor(self, key: str, value: str) -> None:
        """Persist ``value`` under ``key`` for this adapter's account."""
        ...

    async def is_copy(self, room: RoomRef, remote_id: str) -> bool:
        """True if ``remote_id`` in ``room`` is a message this bridge posted (an echo)."""
        ...

    def is_admin(self, user_ref: str) -> bool:
        """True if ``ACCOUNT:USER`` is a configured admin (e.g. to accept Matrix invites)."""
        ...


@runtime_checkable
class Adapter(Protocol):
    """One account on one network. Knows nothing about bridges or rules."""

    network: str
    account: str
    capabilities: Capabilities

    async def start(self, emit: Emit) -> None:
        """Connect, join the configured rooms and begin reporting events through ``emit``.

        Returns once connected; raises ``TransientError`` (the supervisor retries with
        backoff) or ``PermanentError`` (bad token, missing permission: the adapter stays
        down and the admin is told).
        """
        ...

    async def stop(self) -> None:
        """Disconnect and release every resource; safe to call twice."""
        ...

    async def send(self, room: RoomRef, out: Outbound) -> str:
        """Post ``out`` in ``room``; return the new message's remote id."""
        ...

    async def edit(self, room: RoomRef, remote_id: str, out: Outbound) -> None:
        """Replace the text of our earlier copy ``remote_id`` with ``out``."""
        ...

    async def delete(self, room: RoomRef, remote_id: str) -> None:
        """Delete our earlier copy ``remote_id``."""
        ...

    async def react(self, room: RoomRef, remote_id: str, emoji: str) -> None:
        """Add ``emoji`` as a reaction to ``remote_id``."""
        ...


@dataclass(frozen=True, slots=True)
class AdapterSetup:
    """Everything an adapter factory gets: validated settings, its rooms, its context."""

    account: str
    settings: BaseModel
    rooms: tuple[str, ...]
    context: AdapterContext
    log: logging.Logger


@dataclass(frozen=True, slots=True)
class NetworkSpec:
    """A network type as the composition root registers it: ``{name: NetworkSpec}``.

    ``settings`` is the pydantic model for ``[networks.NAME.ACCOUNT]`` tables (it should
    forbid unknown keys, so config typos are caught by ``bridgebot check``).
    """

    name: str
    settings: type[BaseModel]
    factory: Callable[[AdapterSetup], Adapter]
