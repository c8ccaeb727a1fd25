"""Keep inbound events of one room in arrival order while their work overlaps.

An adapter may hand the Hub several events of a room at once (the API's websocket does,
so that one client can keep many posts in flight). Each event takes a turn when it
arrives; its store write is queued only after the previous event's write was queued, so
the outbox order is the arrival order, while lookups, rule checks and the commits of
different events overlap (and the store's group commit settles them in one trip).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["RoomSequencer", "Turn"]

_T = TypeVar("_T")


class Turn:
    """One event's place in its room's line."""

    def __init__(self, prev: Turn | None) -> None:
        loop = asyncio.get_running_loop()
        self.prev = prev
        self.queued: asyncio.Future[None] = loop.create_future()
        self.settled: asyncio.Future[None] = loop.create_future()

    async def after_previous_settled(self) -> None:
        """Wait until everything before this turn is committed (before id-map lookups)."""
        if self.prev is not None:
            await asyncio.shield(self.prev.settled)

    async def write(self, work: Awaitable[_T]) -> _T:
        """Queue ``work`` (a store write) after the previous turn's write, then await it."""
        if self.prev is not None:
            await asyncio.shield(self.prev.queued)
        task = asyncio.ensure_future(work)
        # The next turn resumes after this task's first step (call_soon is FIFO), and that
        # first step is what queues the write in the store.
        self._mark(self.queued)
        try:
            return await task
        finally:
            self._mark(self.settled)

    def done(self) -> None:
        """Release the line (also when the event was dropped before writing)."""
        self._mark(self.queued)
        self._mark(self.settled)

    @staticmethod
    def _mark(fut: asyncio.Future[None]) -> None:
        if not fut.done():
            fut.set_result(None)


class RoomSequencer:
    """Hands out turns per room; forgets a room's line once its last turn is done."""

    def __init__(self) -> None:
        self._tail: dict[str, Turn] = {}

    def turn(self, room: str) -> Turn:
        """Take a turn; call this before the first ``await`` of the event's handling."""
        turn = Turn(self._tail.get(room))
        self._tail[room] = turn
        turn.settled.add_done_callback(lambda _: self._forget(room, turn))
        return turn

    def _forget(self, room: str, turn: Turn) -> None:
        if self._tail.get(room) is turn:
            del self._tail[room]
