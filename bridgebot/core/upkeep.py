"""The running bridge's periodic work, every TICK (5 s): publish the status snapshot for
``bridgebot status``, send scheduled announcements that are due and report settled ones,
pick up rows another process queued (``bridgebot dead-letters retry``), and, at start and
then hourly, forget what ``[store] keep_days`` and ``held_days`` no longer keep."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING

from bridgebot.admin.announcer import TICK

if TYPE_CHECKING:
    from bridgebot.core.hub import Hub

__all__ = ["PRUNE_EVERY", "STATUS_CURSOR", "Upkeep"]

log = logging.getLogger("bridgebot.hub")

#: Where the status snapshot is kept for `bridgebot status` (another process reads it).
STATUS_CURSOR = "core:status"
#: Seconds between two prunings of the id map and the holds.
PRUNE_EVERY = 3600.0


class Upkeep:
    """Owned by the Hub: one background task doing the periodic work."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
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
        keep = self._hub.config.store
        pruned = await self._hub.store.prune(keep.keep_days, keep.held_days)
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
        hub = self._hub
        while True:
            try:
                await hub.store.set_cursor(STATUS_CURSOR, json.dumps(hub.status()))
                await hub.announcer.fire_due()
                await hub.announcer.report_settled()
                await hub.wake_all()
                if time.monotonic() >= self._next_prune:
                    self._next_prune = time.monotonic() + PRUNE_EVERY
                    await self.prune()
            except Exception:
                log.exception("periodic store check failed; trying again in %.0f s", TICK)
            await asyncio.sleep(TICK)
