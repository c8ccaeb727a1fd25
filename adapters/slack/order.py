"""Keep Socket Mode events in arrival order.

slack_sdk runs every envelope in its own task, so two events (a message and its edit)
can reach the core in either order. A listener on the raw socket sees envelopes in
arrival order and hands out tickets; the event handler waits for its ticket's turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["Sequencer"]


class Sequencer:
    """Turns in arrival order; a turn whose owner never shows up is skipped after a while.

    An envelope may never reach the handler (a middleware dropped it), so waiting forever
    for it would stall the room; ``patience`` bounds that wait.
    """

    def __init__(self, patience: float = 2.0) -> None:
        self.patience = patience
        self._tickets: dict[str, int] = {}
        self._issued = 0
        self._turn = 0
        self._done: set[int] = set()
        self._changed = asyncio.Condition()

    def arrive(self, key: str) -> None:
        """Record that the envelope ``key`` arrived now (call in arrival order)."""
        self._tickets[key] = self._issued
        self._issued += 1

    @asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        """Wait until every envelope that arrived before ``key`` has been handled."""
        seq = self._tickets.pop(key, None)
        if seq is None:
            yield
            return
        try:
            async with self._changed:
                try:
                    async with asyncio.timeout(self.patience):
                        await self._changed.wait_for(lambda: self._turn >= seq)
                except TimeoutError:
                    self._done.update(range(self._turn, seq))
                    self._advance()
            yield
        finally:
            async with self._changed:
                self._done.add(seq)
                self._advance()
                self._changed.notify_all()

    def _advance(self) -> None:
        while self._turn in self._done:
            self._done.remove(self._turn)
            self._turn += 1
