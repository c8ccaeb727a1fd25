"""Digest mode: a period's messages gathered into one mail per thread.

Periods are fixed wall-clock windows (``floor(time / period)``), so a message's digest
Message-ID is known when it is accepted and stays the same across restarts. Pending entries
are persisted in a context cursor per list, so a restart sends them instead of losing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

from bridgebot.contract import AdapterContext
from bridgebot.errors import AdapterError

__all__ = ["Digest", "DigestEntry"]

_RETRY = 30.0


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """One relayed message waiting for its digest."""

    period: int
    thread: str
    label: str
    text: str
    ts: float
    first_line: str
    #: the subject tag of the bridge the message came through, e.g. "[khub]"
    tag: str = ""


#: sends one digest mail: (list, period, thread key, entries)
SendDigest = Callable[[str, int, str, list[DigestEntry]], Awaitable[None]]


class Digest:
    """Pending digest entries per list, flushed by one task per list."""

    def __init__(
        self,
        context: AdapterContext,
        send: SendDigest,
        period_of: Callable[[str], float],
        log: logging.Logger,
    ) -> None:
        self._context, self._send, self._period_of, self._log = context, send, period_of, log
        self._pending: dict[str, list[DigestEntry]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @staticmethod
    def cursor_key(room_id: str) -> str:
        """The context cursor holding a list's pending entries."""
        return f"digest:{room_id}"

    def period_now(self, room_id: str) -> int:
        """The index of the current period for this list."""
        return int(time.time() // self._period_of(room_id))

    async def load(self, room_id: str) -> None:
        """Reload entries persisted before a restart and schedule their flush."""
        stored = await self._context.get_cursor(self.cursor_key(room_id))
        if not stored:
            return
        try:
            entries = [DigestEntry(**item) for item in json.loads(stored)]
        except (ValueError, TypeError) as exc:
            self._log.warning("pending digest of %s unreadable (%s); dropped", room_id, exc)
            return
        self._pending[room_id] = entries
        self._schedule(room_id)

    async def add(self, room_id: str, entry: DigestEntry) -> None:
        """Queue one message; persisted before this returns."""
        self._pending.setdefault(room_id, []).append(entry)
        await self._persist(room_id)
        self._schedule(room_id)

    async def _persist(self, room_id: str) -> None:
        entries = self._pending.get(room_id, [])
        await self._context.set_cursor(
            self.cursor_key(room_id), json.dumps([asdict(e) for e in entries])
        )

    def _schedule(self, room_id: str) -> None:
        task = self._tasks.get(room_id)
        if task is None or task.done():
            self._tasks[room_id] = asyncio.create_task(
                self._run(room_id), name=f"digest {room_id}"
            )

    async def _run(self, room_id: str) -> None:
        period = self._period_of(room_id)
        while self._pending.get(room_id):
            oldest = min(e.period for e in self._pending[room_id])
            await asyncio.sleep(max(0.0, (oldest + 1) * period - time.time()))
            try:
                await self._flush(room_id, oldest)
            except AdapterError as exc:
                self._log.warning("digest for %s not sent (%s); retrying", room_id, exc)
                await asyncio.sleep(min(_RETRY, period))

    async def _flush(self, room_id: str, period: int) -> None:
        due = [e for e in self._pending[room_id] if e.period <= period]
        threads: dict[tuple[int, str], list[DigestEntry]] = {}
        for entry in due:
            threads.setdefault((entry.period, entry.thread), []).append(entry)
        for (entry_period, thread), entries in threads.items():
            await self._send(room_id, entry_period, thread, entries)
            # sent: forget these before the next thread, so a failure resends only the rest
            sent = set(map(id, entries))
            self._pending[room_id] = [e for e in self._pending[room_id] if id(e) not in sent]
            await self._persist(room_id)

    async def stop(self) -> None:
        """Stop the flush tasks; pending entries stay persisted for the next start."""
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
