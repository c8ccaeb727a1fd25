"""The way into the outbox for everything but the Hub's hot path: typed deliveries become
rows with their deadline, are written, and the dispatcher is told which rooms to look at.

Consent releases, announcements, command answers, notices and retried dead letters all go
through one :class:`Outbox`, so none of them needs the dispatcher or the Hub itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from bridgebot.core.delivery import Delivery, notice
from bridgebot.model import RoomRef
from bridgebot.store import NewDelivery, Store

__all__ = ["Notify", "Outbox"]

#: Wakes the dispatcher's workers for these destination rooms.
Notify = Callable[[Iterable[str]], None]


class Outbox:
    """Writes deliveries and wakes the rooms they go to."""

    def __init__(self, store: Store, notify: Notify, deadline: Callable[[], float]) -> None:
        self._store = store
        self._notify = notify
        #: Seconds a delivery may wait before it becomes a dead letter ([dispatch] deadline,
        #: as in force now: a reload may change it).
        self._deadline = deadline

    def rows(self, deliveries: Sequence[Delivery]) -> list[NewDelivery]:
        """The outbox rows for ``deliveries``, their deadline counted from now."""
        deadline = time.time() + self._deadline()
        return [NewDelivery(str(d.dest), d.kind.value, d.to_json(), deadline) for d in deliveries]

    def notify(self, rows: Iterable[NewDelivery]) -> None:
        """Wake the rooms of rows just written."""
        self._notify(r.dest_room for r in rows)

    async def add(self, message_id: int, deliveries: Sequence[Delivery]) -> None:
        """Queue ``deliveries`` for the existing message ``message_id``."""
        if not deliveries:
            return
        rows = self.rows(deliveries)
        await self._store.add_deliveries(message_id, rows)
        self.notify(rows)

    async def post_notice(
        self,
        room: RoomRef,
        key: str,
        text: str,
        *,
        reply_to: int | None = None,
        bridge: str | None = None,
    ) -> None:
        """Post the bot's own ``text`` into ``room``, once per ``key`` in that room."""
        rows = self.rows([notice(room, key, text, bridge=bridge, reply_to=reply_to)])
        accepted = await self._store.accept_message(
            str(room), f"bridgebot:{key}", "bridgebot", bridge, time.time(), rows
        )
        if accepted is not None:
            self.notify(rows)

    async def wake_all(self) -> None:
        """Wake every room with pending rows (after a retry, or rows another process
        queued)."""
        self._notify(await self._store.pending_rooms())
