"""The SQLite store's tables off the relay's hot path: announcements (scheduled or sent,
with their reports), chat-made links, consent and messages held for it, the audit log,
chat-made overrides, cursors, retention.

A base of :class:`bridgebot.store.SQLiteStore`, kept in its own module for size; the
methods' contracts are those of :class:`bridgebot.store.Store`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

import aiosqlite

from bridgebot.store import sqlite_ops as ops
from bridgebot.store import sqlite_relay as relay
from bridgebot.store.records import (
    DAY,
    Announcement,
    AuditEntry,
    DeliveryState,
    HeldMessage,
    Link,
    NewDelivery,
    Pruned,
    check_deliveries,
)
from bridgebot.store.sqlite_engine import SQLiteEngine
from bridgebot.store.sqlite_prune import prune_batch
from bridgebot.store.sqlite_tx import atomic

__all__ = ["SQLiteAdmin"]


_ANN_COLUMNS = (
    "id, created_at, author_ref, author_name, text, bridge, origin_room, origin_id, due_at, "
    "state, message_id, rooms"
)


def _announcement(row: Sequence[Any]) -> Announcement:
    (i, created, ref, name, text, bridge, origin, origin_id, due, state, msg, rooms) = row
    return Announcement(
        int(i), float(created), str(ref), str(name), str(text), bridge, str(origin),
        origin_id, due, str(state), msg, tuple(json.loads(rooms)),
    )  # fmt: skip


async def _delivery_state(db: aiosqlite.Connection, message_id: int) -> DeliveryState:
    landed = await db.execute_fetchall(
        "SELECT room FROM copies WHERE message_id = ? ORDER BY room", (message_id,)
    )
    failed = await db.execute_fetchall(
        "SELECT dest_room, reason FROM dead_letters WHERE message_id = ? ORDER BY id",
        (message_id,),
    )
    return DeliveryState(tuple(r[0] for r in landed), {r[0]: r[1] for r in failed})


async def _queue_announcement(
    db: aiosqlite.Connection,
    announcement_id: int,
    message_id: int,
    deliveries: Sequence[NewDelivery],
    encoded: str,
    now: float,
) -> bool:
    rooms = json.dumps(sorted({d.dest_room for d in deliveries}))
    async with atomic(db):
        cursor = await db.execute(
            "UPDATE announcements SET state = 'queued', message_id = ?, rooms = ? "
            "WHERE id = ? AND state = 'scheduled'",
            (message_id, rooms, announcement_id),
        )
        if not cursor.rowcount:
            return False
        await ops.insert_deliveries(db, message_id, encoded, now)
        return True


class SQLiteAdmin(SQLiteEngine):
    """Announcements, links, consent and held messages, the audit log, chat-made overrides,
    cursors, retention: the tables off the relay's hot path."""

    # -- announcements ------------------------------------------------------------------

    async def add_announcement(
        self,
        *,
        author_ref: str,
        author_name: str,
        text: str,
        bridge: str | None,
        origin_room: str,
        origin_id: str | None = None,
        due_at: float | None = None,
    ) -> int:
        """Record an announcement, due at ``due_at`` (None: now); return its id.

        It stays ``scheduled`` until :meth:`queue_announcement` puts it in the outbox."""
        sql = """
            INSERT INTO announcements (created_at, author_ref, author_name, text, bridge,
                                       origin_room, origin_id, due_at, state)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
        """
        now = self._clock()
        params = (now, author_ref, author_name, text, bridge, origin_room, origin_id,
                  now if due_at is None else due_at, "scheduled")  # fmt: skip
        rows = await self._apply("add_announcement", ops.returning(sql, params))
        return int(rows[0][0])

    async def queue_announcement(
        self, announcement_id: int, message_id: int, deliveries: Sequence[NewDelivery]
    ) -> bool:
        """Put a scheduled announcement's deliveries in the outbox and mark it queued, in
        one transaction; False (writing nothing) if it was not scheduled any more."""
        check_deliveries(deliveries)
        queued = await self._write(
            "queue_announcement",
            _queue_announcement,
            announcement_id,
            message_id,
            deliveries,
            relay.deliveries_json(deliveries),
            self._clock(),
        )
        return bool(queued)

    async def announcement_reported(self, announcement_id: int) -> None:
        """The chat summary of the announcement is queued; do not report it again."""
        sql = "UPDATE announcements SET state = 'reported' WHERE id = ? AND state = 'queued'"
        await self._apply("announcement_reported", ops.change(sql, (announcement_id,)))

    async def cancel_announcement(self, announcement_id: int) -> bool:
        """Cancel a scheduled announcement; False if it is not (or no longer) scheduled."""
        sql = "UPDATE announcements SET state = 'cancelled' WHERE id = ? AND state = 'scheduled'"
        return bool(await self._apply("cancel_announcement", ops.change(sql, (announcement_id,))))

    async def announcement(self, announcement_id: int) -> Announcement | None:
        """One announcement by id."""
        sql = f"SELECT {_ANN_COLUMNS} FROM announcements WHERE id = ?"
        rows = await self._call("announcement", ops.fetch_all, sql, (announcement_id,))
        return _announcement(rows[0]) if rows else None

    async def announcements(
        self, states: Sequence[str] = ("scheduled", "queued", "reported"), limit: int = 50
    ) -> list[Announcement]:
        """The latest announcements in ``states``, newest first."""
        marks = ", ".join("?" for _ in states)
        sql = (
            f"SELECT {_ANN_COLUMNS} FROM announcements WHERE state IN ({marks}) "
            "ORDER BY id DESC LIMIT ?"
        )
        rows = await self._call("announcements", ops.fetch_all, sql, (*states, max(0, limit)))
        return [_announcement(r) for r in rows]

    async def due_announcements(self, now: float) -> list[Announcement]:
        """Scheduled announcements whose time has come, oldest due first."""
        sql = (
            f"SELECT {_ANN_COLUMNS} FROM announcements WHERE state = 'scheduled' "
            "AND due_at <= ? ORDER BY due_at, id"
        )
        rows = await self._call("due_announcements", ops.fetch_all, sql, (now,))
        return [_announcement(r) for r in rows]

    async def unreported_announcements(self, exclude_origin: str) -> list[Announcement]:
        """Queued announcements from chat rooms (not ``exclude_origin``) not yet summarised."""
        sql = (
            f"SELECT {_ANN_COLUMNS} FROM announcements WHERE state = 'queued' "
            "AND origin_room <> ? ORDER BY id"
        )
        rows = await self._call("unreported_announcements", ops.fetch_all, sql, (exclude_origin,))
        return [_announcement(r) for r in rows]

    async def delivery_state(self, message_id: int) -> DeliveryState:
        """Rooms where ``message_id`` landed, and where it failed (with the reason)."""
        state: DeliveryState = await self._call("delivery_state", _delivery_state, message_id)
        return state

    # -- links --------------------------------------------------------------------------

    async def set_link(self, bridge: str, room: str, linked: bool, actor: str) -> None:
        """Record that ``room`` is linked into (or unlinked from) ``bridge``."""
        sql = """
            INSERT INTO links (bridge, room, linked, actor, ts) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (bridge, room) DO UPDATE
            SET linked = excluded.linked, actor = excluded.actor, ts = excluded.ts
        """
        params = (bridge, room, int(linked), actor, self._clock())
        await self._apply("set_link", ops.change(sql, params))

    async def delete_link(self, bridge: str, room: str) -> None:
        """Forget a chat-made link or unlink: bot.toml decides again."""
        sql = "DELETE FROM links WHERE bridge = ? AND room = ?"
        await self._apply("delete_link", ops.change(sql, (bridge, room)))

    async def links(self) -> list[Link]:
        """Every chat-made link and unlink, by bridge and room."""
        sql = "SELECT bridge, room, linked, actor, ts FROM links ORDER BY bridge, room"
        rows = await self._call("links", ops.fetch_all, sql, ())
        return [Link(str(b), str(r), bool(n), str(a), float(t)) for b, r, n, a, t in rows]

    # -- consent --------------------------------------------------------------------------

    async def get_consent(self, author_ref: str) -> bool | None:
        """The author's recorded consent, or None if they never answered."""
        sql = "SELECT consented FROM consent WHERE author_ref = ?"
        found = await self._call("get_consent", ops.fetch_one, sql, (author_ref,))
        return None if found is None else bool(found)

    async def set_consent(self, author_ref: str, consented: bool) -> None:
        """Record (or change) the author's consent."""
        sql = """
            INSERT INTO consent (author_ref, consented, updated_at) VALUES (?, ?, ?)
            ON CONFLICT (author_ref) DO UPDATE
            SET consented = excluded.consented, updated_at = excluded.updated_at
        """
        params = (author_ref, int(bool(consented)), self._clock())
        await self._apply("set_consent", ops.change(sql, params))

    async def hold(
        self, author_ref: str, message_id: int, event: str, dests: Sequence[str]
    ) -> None:
        """Keep a message back until its author answers the consent question."""
        sql = """
            INSERT INTO held (author_ref, message_id, event, dests, created_at)
            VALUES (?, ?, ?, ?, ?)
        """
        params = (author_ref, message_id, event, json.dumps(list(dests)), self._clock())
        await self._apply("hold", ops.change(sql, params))

    async def held(self, author_ref: str) -> list[HeldMessage]:
        """The author's held messages, oldest first."""
        sql = (
            "SELECT id, author_ref, message_id, event, dests FROM held "
            "WHERE author_ref = ? ORDER BY id"
        )
        rows = await self._call("held", ops.fetch_all, sql, (author_ref,))
        return [HeldMessage(i, a, m, e, tuple(json.loads(d))) for i, a, m, e, d in rows]

    async def release_held(self, author_ref: str) -> int:
        """Forget the author's held messages (sent or refused); return how many."""
        sql = "DELETE FROM held WHERE author_ref = ?"
        return int(await self._apply("release_held", ops.change(sql, (author_ref,))))

    async def consent_asked(self, author_ref: str, room: str) -> bool:
        """Record that the author was told how consent works; False if they already were."""
        sql = "INSERT OR IGNORE INTO consent_asked (author_ref, room, asked_at) VALUES (?, ?, ?)"
        params = (author_ref, room, self._clock())
        return bool(await self._apply("consent_asked", ops.change(sql, params)))

    async def messages_by(self, author_ref: str) -> list[tuple[int, str, str]]:
        """Every accepted message by ``author_ref`` as (message id, room, remote id)."""
        sql = "SELECT id, room, remote_id FROM messages WHERE author_ref = ? ORDER BY id"
        rows = await self._call("messages_by", ops.fetch_all, sql, (author_ref,))
        return [(int(i), str(r), str(x)) for i, r, x in rows]

    # -- audit, overrides, cursors ------------------------------------------------------

    async def audit(self, actor: str, action: str, detail: str, room: str | None = None) -> None:
        """Append an entry to the audit log."""
        sql = "INSERT INTO audit (ts, actor, room, action, detail) VALUES (?, ?, ?, ?, ?)"
        await self._apply("audit", ops.change(sql, (self._clock(), actor, room, action, detail)))

    async def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        """The latest audit entries, newest first."""
        sql = "SELECT id, ts, actor, room, action, detail FROM audit ORDER BY id DESC LIMIT ?"
        rows = await self._call("audit_log", ops.fetch_all, sql, (max(0, limit),))
        return [AuditEntry(*r) for r in rows]

    async def set_override(self, room: str, key: str, value: str, actor: str) -> None:
        """Set a room setting made by chat command; ``value`` is JSON text."""
        sql = """
            INSERT INTO overrides (room, key, value, actor, ts) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (room, key) DO UPDATE
            SET value = excluded.value, actor = excluded.actor, ts = excluded.ts
        """
        await self._apply(
            "set_override", ops.change(sql, (room, key, value, actor, self._clock()))
        )

    async def delete_override(self, room: str, key: str) -> None:
        """Remove a room setting override (no-op if absent)."""
        sql = "DELETE FROM overrides WHERE room = ? AND key = ?"
        await self._apply("delete_override", ops.change(sql, (room, key)))

    async def overrides(self) -> list[tuple[str, str, str, str, float]]:
        """Every override as (room, key, value, actor, ts), by room and key."""
        sql = "SELECT room, key, value, actor, ts FROM overrides ORDER BY room, key"
        rows = await self._call("overrides", ops.fetch_all, sql, ())
        return [(str(r[0]), str(r[1]), str(r[2]), str(r[3]), float(r[4])) for r in rows]

    async def get_cursor(self, key: str) -> str | None:
        """A value stored by :meth:`set_cursor`, or None."""
        sql = "SELECT value FROM cursors WHERE key = ?"
        found = await self._call("get_cursor", ops.fetch_one, sql, (key,))
        return None if found is None else str(found)

    async def set_cursor(self, key: str, value: str) -> None:
        """Persist a small value (sync token, update offset, status snapshot)."""
        sql = """
            INSERT INTO cursors (key, value) VALUES (?, ?)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value
        """
        await self._apply("set_cursor", ops.change(sql, (key, value)))

    # -- retention ----------------------------------------------------------------------

    async def prune(self, keep_days: float, held_days: float, batch: int = 500) -> Pruned:
        """Forget messages accepted more than ``keep_days`` ago (their copies and
        follow-ups too, unless a queued delivery, a dead letter, a hold or an announcement
        still needs them), and drop holds older than ``held_days``. 0 keeps for ever.

        Runs as batches of ``batch`` messages, each one transaction.
        """
        now = self._clock()
        before = now - keep_days * DAY if keep_days > 0 else None
        held_before = now - held_days * DAY if held_days > 0 else None
        messages, held = 0, Counter[str]()
        while True:
            got = await self._write("prune", prune_batch, before, held_before, batch)
            messages += got.messages
            held.update(got.held)
            held_before = None  # all of them went in the first batch
            if before is None or got.messages < batch:
                return Pruned(messages, held)
