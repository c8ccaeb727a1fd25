"""The running bridge's side of announcements: queue them when due, report them when
settled. (The store rows and the pure parts are in :mod:`bridgebot.announcements`.)"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

from bridgebot.admin import announcements
from bridgebot.admin.announcements import CLI_ORIGIN
from bridgebot.core.delivery import Outcome
from bridgebot.core.outbox import Outbox
from bridgebot.core.rulebook import Rulebook
from bridgebot.core.upkeep import TICK
from bridgebot.errors import BridgeError
from bridgebot.model import Capabilities, Event, RoomRef
from bridgebot.store import Announcement, OutboxItem, Store

__all__ = ["Announcer"]

log = logging.getLogger("bridgebot.hub")


class Announcer:
    """Sends announcements and posts their summaries in chat."""

    def __init__(
        self,
        store: Store,
        rulebook: Rulebook,
        outbox: Outbox,
        capabilities: Callable[[], Mapping[str, Capabilities]],
    ) -> None:
        self._store = store
        self._rulebook = rulebook
        self._outbox = outbox
        self._capabilities = capabilities
        #: Message ids of chat announcements whose summary is still to be posted.
        self._unreported: set[int] = set()
        self._report_soon: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Remember the chat announcements queued before a restart and not yet reported."""
        for ann in await self._store.announcements(("queued",), limit=1000):
            if ann.origin_room != str(CLI_ORIGIN) and ann.message_id is not None:
                self._unreported.add(ann.message_id)

    async def stop(self) -> None:
        if self._report_soon is not None:
            self._report_soon.cancel()
            await asyncio.gather(self._report_soon, return_exceptions=True)

    def on_settled(self, item: OutboxItem, outcome: Outcome, detail: str | None) -> None:
        """A delivery settled: if it belongs to an announcement, look at its report soon."""
        if item.message_id in self._unreported:
            self._schedule_report()

    async def announce(
        self, event: Event, text: str, due_at: float | None = None
    ) -> tuple[int, tuple[str, ...] | None]:
        """``text`` by ``event``'s author, to every room of the bridges of ``event.room``
        that they facilitate and its rules allow: now, or at ``due_at``.

        Returns the announcement id and the rooms it was queued for (None if scheduled).
        """
        ann_id = await self._store.add_announcement(
            author_ref=event.author_ref,
            author_name=event.author.display_name,
            text=text,
            bridge=event.bridge,
            origin_room=str(event.room),
            origin_id=event.remote_id,
            due_at=due_at,
        )
        if due_at is not None and due_at > time.time():
            return ann_id, None
        ann = await self._store.announcement(ann_id)
        assert ann is not None
        fired = await self._fire(ann)
        return ann_id, fired.rooms if fired is not None else ()

    async def _fire(self, ann: Announcement) -> announcements.Fired | None:
        try:
            fired = await announcements.fire(
                self._store,
                ann,
                self._rulebook.topology,
                self._outbox,
                caps=self._capabilities(),
                roles=self._rulebook.roles,
            )
        except BridgeError as exc:
            log.error("announcement %d cannot be sent, cancelled: %s", ann.id, exc)
            await self._store.cancel_announcement(ann.id)
            return None
        if fired is None:
            return None
        late = time.time() - (ann.due_at or ann.created_at)
        log.info(
            "announcement %d by %s queued for %d rooms%s",
            ann.id,
            ann.author_ref,
            len(fired.rooms),
            f" ({late:.0f} s after its time)" if late > 2 * TICK else "",
        )
        if ann.origin_room != str(CLI_ORIGIN):
            self._unreported.add(fired.message_id)
            if not fired.rooms:
                self._schedule_report()
        return fired

    async def fire_due(self) -> None:
        """Queue every scheduled announcement whose time has come."""
        for ann in await self._store.due_announcements(time.time()):
            await self._fire(ann)

    async def report_settled(self) -> None:
        """Post the summary of each chat announcement whose deliveries have all settled."""
        for ann in await self._store.unreported_announcements(str(CLI_ORIGIN)):
            if ann.message_id is None:
                continue
            state = await self._store.delivery_state(ann.message_id)
            if not set(state.landed) | set(state.failed) >= set(ann.rooms):
                continue
            await self._outbox.post_notice(
                RoomRef.parse(ann.origin_room),
                f"announce-report-{ann.id}",
                announcements.summary_text(ann, state),
                reply_to=ann.message_id,
                bridge=ann.bridge,
            )
            await self._store.announcement_reported(ann.id)
            self._unreported.discard(ann.message_id)

    def _schedule_report(self) -> None:
        if self._report_soon is None or self._report_soon.done():
            self._report_soon = asyncio.create_task(self._report_later(), name="announce report")

    async def _report_later(self) -> None:
        await asyncio.sleep(0.2)  # let a burst of completions land first
        try:
            await self.report_settled()
        except Exception:
            log.exception("announcement reports failed; the next tick tries again")
