"""The running bridge's side of announcements: queue them when due, report them when
settled. (The store rows and the pure parts are in :mod:`bridgebot.announcements`.)"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from bridgebot.admin import announcements
from bridgebot.admin.announcements import CLI_ORIGIN
from bridgebot.errors import BridgeError
from bridgebot.model import Event, RoomRef
from bridgebot.store import Announcement, OutboxItem

if TYPE_CHECKING:
    from bridgebot.core.hub import Hub

__all__ = ["Announcer"]

log = logging.getLogger("bridgebot.hub")

#: Seconds between the bridge's looks for due announcements (see bridgebot.upkeep).
TICK = 5.0


class Announcer:
    """Owned by the Hub: sends announcements and posts their summaries in chat."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        #: Message ids of chat announcements whose summary is still to be posted.
        self._unreported: set[int] = set()
        self._report_soon: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Remember the chat announcements queued before a restart and not yet reported."""
        for ann in await self._hub.store.announcements(("queued",), limit=1000):
            if ann.origin_room != str(CLI_ORIGIN) and ann.message_id is not None:
                self._unreported.add(ann.message_id)

    async def stop(self) -> None:
        if self._report_soon is not None:
            self._report_soon.cancel()
            await asyncio.gather(self._report_soon, return_exceptions=True)

    def on_settled(self, item: OutboxItem) -> None:
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
        ann_id = await self._hub.store.add_announcement(
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
        ann = await self._hub.store.announcement(ann_id)
        assert ann is not None
        fired = await self._fire(ann)
        return ann_id, fired.rooms if fired is not None else ()

    async def _fire(self, ann: Announcement) -> announcements.Fired | None:
        assert self._hub.topology is not None and self._hub.dispatcher is not None
        try:
            fired = await announcements.fire(
                self._hub.store,
                ann,
                self._hub.topology,
                deadline=time.time() + self._hub.config.dispatch.deadline,
                caps=self._hub.capabilities(),
                roles=self._hub.roles,
            )
        except BridgeError as exc:
            log.error("announcement %d cannot be sent, cancelled: %s", ann.id, exc)
            await self._hub.store.cancel_announcement(ann.id)
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
        self._hub.dispatcher.notify_all(fired.rooms)
        return fired

    async def fire_due(self) -> None:
        """Queue every scheduled announcement whose time has come."""
        for ann in await self._hub.store.due_announcements(time.time()):
            await self._fire(ann)

    async def report_settled(self) -> None:
        """Post the summary of each chat announcement whose deliveries have all settled."""
        for ann in await self._hub.store.unreported_announcements(str(CLI_ORIGIN)):
            if ann.message_id is None:
                continue
            state = await self._hub.store.delivery_state(ann.message_id)
            if not set(state.landed) | set(state.failed) >= set(ann.rooms):
                continue
            await self._hub.post_notice(
                RoomRef.parse(ann.origin_room),
                f"announce-report-{ann.id}",
                announcements.summary_text(ann, state),
                reply_to=ann.message_id,
                bridge=ann.bridge,
            )
            await self._hub.store.announcement_reported(ann.id)
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
