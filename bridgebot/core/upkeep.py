"""The running bridge's periodic work, every TICK (5 s): publish the status snapshot for
``bridgebot status``, run the jobs the composition root hands in (due announcements and
their reports, picking up rows another process queued), and, at start and then hourly,
forget what ``[store] keep_days`` and ``held_days`` no longer keep."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bridgebot.config import StoreConfig
from bridgebot.store import Store

__all__ = ["PRUNE_EVERY", "STATUS_CURSOR", "TICK", "Upkeep"]

log = logging.getLogger("bridgebot.hub")

#: Seconds between two rounds of the periodic work.
TICK = 5.0
#: Where the status snapshot is kept for `bridgebot status` (another process reads it).
STATUS_CURSOR = "core:status"
#: Seconds between two prunings of the id map and the holds.
PRUNE_EVERY = 3600.0

Job = Callable[[], Awaitable[None]]


class Upkeep:
    """One background task doing the periodic work."""

    def __init__(
        self,
        store: Store,
        keep: Callable[[], StoreConfig],
        status: Callable[[], dict[str, Any]],
        jobs: Sequence[Job],
    ) -> None:
        self._store = store
        self._keep = keep
        self._status = status
        self._jobs = tuple(jobs)
        self._task: asyncio.Task[None] | None = None
        self._next_prune = 0.0  # time.monotonic() of the next pass; 0: at the first tick
        #: When the last pruning pass finished (time.time()), or None before the first.
        self.pruned_at: float | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="upkeep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def prune(self) -> None:
        """Forget what ``[store] keep_days`` and ``held_days`` no longer keep."""
        keep = self._keep()  # as in force now: a reload may have changed it
        pruned = await self._store.prune(keep.keep_days, keep.held_days)
        self.pruned_at = time.time()
        for author, count in sorted(pruned.held.items()):
            log.info(
                "dropped %d held messages by %s: no consent answer within %g days "
                "([store] held_days)",
                count,
                author,
                keep.held_days,
            )
        if pruned.messages:
            log.info(
                "forgot %d messages older than %g days ([store] keep_days): their edits, "
                "deletes and replies no longer cross",
                pruned.messages,
                keep.keep_days,
            )

    async def _run(self) -> None:
        while True:
            try:
                await self._store.set_cursor(STATUS_CURSOR, json.dumps(self._status()))
                for job in self._jobs:
                    await job()
                if time.monotonic() >= self._next_prune:
                    self._next_prune = time.monotonic() + PRUNE_EVERY
                    await self.prune()
            except Exception:
                log.exception("periodic store check failed; trying again in %.0f s", TICK)
            await asyncio.sleep(TICK)
