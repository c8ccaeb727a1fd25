"""The SQLite store's writes on the relay's hot path: accepting a message or a follow-up
with its deliveries, and settling a delivery.

Every statement is a round trip to aiosqlite's worker thread, so each of these writes is
one row of an INSERT into the TEMP view ``relay_writes``, and the writes of one group
commit are one multi-row INSERT (:attr:`.sqlite_tx.Plan.merge`): one statement, hence one
round trip, one transaction, and atomic by itself with no savepoint. The view's INSTEAD OF
triggers hand each row to the trigger of its kind (``accepting``, ``following``,
``settled``), which does the work across the tables. The views and triggers are created on
every connection (:data:`CONNECTION_SETUP`): nothing of them is stored in the database
file, so its schema and version are untouched.

A duplicate is skipped, not refused: the kind's trigger ends with ``RAISE(IGNORE)``, which
abandons that row's insert only, and the rows after it go on. A new message or follow-up
leaves a mark in the TEMP table ``fresh`` under the row's nonce, which the statement's
RETURNING reads back: the new message id, or NULL for a duplicate. Any other failure (a
foreign key) undoes the whole statement; the group is then replayed write by write
(:func:`.sqlite_tx.run_group`), so it fails alone.

Deliveries travel as one JSON parameter (:func:`deliveries_json`) that the triggers unpack
with ``json_each``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from bridgebot.errors import StoreError
from bridgebot.store.records import NewDelivery, OutboxItem
from bridgebot.store.sqlite_tx import MERGE_AT_MOST, Outcome, Plan, Step

__all__ = ["CONNECTION_SETUP", "accept_followup", "accept_message", "complete"]

#: Marks of new rows kept at once in ``fresh`` (a ring: a nonce's mark is read back in
#: the statement that made it, and a statement has at most MERGE_AT_MOST rows).
_RING = 4096
assert _RING > MERGE_AT_MOST

# Outbox rows from the JSON array [[dest_room, kind, payload, deadline], ...], in order;
# {message_id}, {now} and {deliveries} are SQL expressions.
OUTBOX_FROM_JSON = """
    INSERT INTO outbox (message_id, dest_room, kind, payload, attempts, not_before,
                        deadline, created_at)
    SELECT {message_id}, json_extract(value, '$[0]'), json_extract(value, '$[1]'),
           json_extract(value, '$[2]'), 0, 0, json_extract(value, '$[3]'), {now}
    FROM json_each({deliveries}) ORDER BY key
"""

_MESSAGE_ID = "(SELECT id FROM messages WHERE room = NEW.room AND remote_id = NEW.remote_id)"
_MESSAGE_OUTBOX = OUTBOX_FROM_JSON.format(
    message_id=_MESSAGE_ID, now="NEW.accepted_at", deliveries="NEW.deliveries"
)
_FOLLOWUP_OUTBOX = OUTBOX_FROM_JSON.format(
    message_id="NEW.message_id", now="NEW.accepted_at", deliveries="NEW.deliveries"
)

CONNECTION_SETUP = (
    "CREATE TEMP TABLE fresh (slot INTEGER PRIMARY KEY, nonce INTEGER NOT NULL, value)",
    # accept_message: skip a message accepted before, or our own copy coming back (an
    # echo: checked here to save the Hub a trip); else the message and its deliveries.
    """
    CREATE TEMP VIEW accepting (nonce, room, remote_id, author_ref, bridge, ts, accepted_at,
                                deliveries)
    AS SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE 0
    """,
    f"""
    CREATE TEMP TRIGGER accept_message INSTEAD OF INSERT ON accepting
    BEGIN
        SELECT RAISE(IGNORE)
        WHERE EXISTS (SELECT 1 FROM messages WHERE room = NEW.room AND remote_id = NEW.remote_id)
           OR EXISTS (SELECT 1 FROM copies WHERE room = NEW.room AND remote_id = NEW.remote_id);
        INSERT INTO messages (room, remote_id, author_ref, bridge, ts, accepted_at)
        VALUES (NEW.room, NEW.remote_id, NEW.author_ref, NEW.bridge, NEW.ts, NEW.accepted_at);
        {_MESSAGE_OUTBOX};
        INSERT OR REPLACE INTO fresh (slot, nonce, value)
        VALUES (NEW.nonce % {_RING}, NEW.nonce, {_MESSAGE_ID});
    END
    """,
    # accept_followup: skip one seen before (kind, room, remote_id); else it and its
    # deliveries.
    """
    CREATE TEMP VIEW following (nonce, kind, room, remote_id, message_id, accepted_at,
                                deliveries)
    AS SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE 0
    """,
    f"""
    CREATE TEMP TRIGGER accept_followup INSTEAD OF INSERT ON following
    BEGIN
        SELECT RAISE(IGNORE)
        WHERE EXISTS (SELECT 1 FROM followups
                      WHERE kind = NEW.kind AND room = NEW.room AND remote_id = NEW.remote_id);
        INSERT INTO followups (kind, room, remote_id, message_id, accepted_at)
        VALUES (NEW.kind, NEW.room, NEW.remote_id, NEW.message_id, NEW.accepted_at);
        {_FOLLOWUP_OUTBOX};
        INSERT OR REPLACE INTO fresh (slot, nonce, value)
        VALUES (NEW.nonce % {_RING}, NEW.nonce, 1);
    END
    """,
    # complete: drop the settled row; record the copy of a sent message, forget the copy a
    # delete removed. INSERT OR REPLACE also drops another message's copy holding the same
    # remote id in that room: a network may reuse an id (a number freed by a delete), the
    # newest copy wins, and otherwise the unique (room, remote_id) index would refuse the
    # insert and stall that room's queue. A re-sent copy keeps its first created_at.
    """
    CREATE TEMP VIEW settled (item_id, message_id, room, remote_id, kind, at)
    AS SELECT NULL, NULL, NULL, NULL, NULL, NULL WHERE 0
    """,
    """
    CREATE TEMP TRIGGER settle_delivery INSTEAD OF INSERT ON settled
    BEGIN
        DELETE FROM outbox WHERE id = NEW.item_id;
        INSERT OR REPLACE INTO copies (message_id, room, remote_id, created_at)
        SELECT NEW.message_id, NEW.room, NEW.remote_id, coalesce(
            (SELECT created_at FROM copies WHERE message_id = NEW.message_id AND room = NEW.room),
            NEW.at)
        WHERE NEW.kind = 'message' AND NEW.remote_id IS NOT NULL;
        DELETE FROM copies
        WHERE NEW.kind = 'delete' AND message_id = NEW.message_id AND room = NEW.room;
    END
    """,
    # One row per write, handed to the trigger of its kind (a RAISE(IGNORE) there ends
    # only that inner insert; this trigger, and the rows after, go on).
    """
    CREATE TEMP VIEW relay_writes (op, nonce, c1, c2, c3, c4, c5, c6, c7)
    AS SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE 0
    """,
    """
    CREATE TEMP TRIGGER relay_accept INSTEAD OF INSERT ON relay_writes
    WHEN NEW.op = 'accept'
    BEGIN
        INSERT INTO accepting (nonce, room, remote_id, author_ref, bridge, ts, accepted_at,
                               deliveries)
        VALUES (NEW.nonce, NEW.c1, NEW.c2, NEW.c3, NEW.c4, NEW.c5, NEW.c6, NEW.c7);
    END
    """,
    """
    CREATE TEMP TRIGGER relay_followup INSTEAD OF INSERT ON relay_writes
    WHEN NEW.op = 'followup'
    BEGIN
        INSERT INTO following (nonce, kind, room, remote_id, message_id, accepted_at,
                               deliveries)
        VALUES (NEW.nonce, NEW.c1, NEW.c2, NEW.c3, NEW.c4, NEW.c5, NEW.c6);
    END
    """,
    """
    CREATE TEMP TRIGGER relay_settle INSTEAD OF INSERT ON relay_writes
    WHEN NEW.op = 'settle'
    BEGIN
        INSERT INTO settled (item_id, message_id, room, remote_id, kind, at)
        VALUES (NEW.c1, NEW.c2, NEW.c3, NEW.c4, NEW.c5, NEW.c6);
    END
    """,
)

_ITEM_COLUMNS = (
    "id, message_id, dest_room, kind, payload, attempts, not_before, deadline, created_at"
)
NEXT_BATCH = f"SELECT {_ITEM_COLUMNS} FROM outbox WHERE dest_room = ? ORDER BY id LIMIT ?"

_nonces = itertools.count(1)


@lru_cache(maxsize=MERGE_AT_MOST)
def relay_writes(rows: int) -> str:
    """The INSERT of ``rows`` writes; it returns (nonce, mark) for each."""
    return (
        "INSERT INTO relay_writes (op, nonce, c1, c2, c3, c4, c5, c6, c7) VALUES "
        + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * rows)
        + " RETURNING nonce,"
        f" (SELECT value FROM fresh WHERE slot = relay_writes.nonce % {_RING}"
        " AND nonce = relay_writes.nonce)"
    )


def _write(op: str, values: Sequence[Any]) -> tuple[int, Step]:
    nonce = next(_nonces)
    row = (op, nonce, *values, *([None] * (7 - len(values))))
    return nonce, Step(relay_writes(1), row, rows=True)


def _mark(outcomes: list[Outcome]) -> Any:
    """The write's mark (the new id, 1, or None for a duplicate), or its error."""
    for ok, value in outcomes:
        if not ok:
            raise value
    [(_nonce, mark)] = outcomes[0][1]
    return mark


def deliveries_json(deliveries: Sequence[NewDelivery]) -> str:
    """Deliveries as the one JSON parameter the outbox inserts unpack."""
    rows = [(d.dest_room, d.kind, d.payload, d.deadline) for d in deliveries]
    try:
        return json.dumps(rows, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise StoreError(f"deliveries {rows!r}: deadlines must be finite numbers") from exc


def _message_id(outcomes: list[Outcome]) -> int | None:
    mark = _mark(outcomes)
    return None if mark is None else int(mark)


def accept_message(
    row: tuple[str, str, str, str | None, float, float], deliveries: str
) -> Plan[int | None]:
    """Insert an origin message and its deliveries (JSON); None if it is a duplicate or
    one of our own copies coming back."""
    nonce, step = _write("accept", (*row, deliveries))
    return Plan((step,), _message_id, merge=relay_writes, key=nonce)


def _followed(outcomes: list[Outcome]) -> bool:
    return _mark(outcomes) is not None


def accept_followup(row: tuple[str, str, str, int, float], deliveries: str) -> Plan[bool]:
    """Insert an edit/delete/reaction and its deliveries (JSON); False if a duplicate."""
    nonce, step = _write("followup", (*row, deliveries))
    return Plan((step,), _followed, merge=relay_writes, key=nonce)


def _next_rows(outcomes: list[Outcome]) -> list[OutboxItem]:
    _mark(outcomes)  # raises if the settlement (or the read) failed
    return [OutboxItem(*row) for row in outcomes[1][1]] if len(outcomes) > 1 else []


def complete(
    item: OutboxItem, remote_id: str | None, now: float, next_limit: int = 0
) -> Plan[list[OutboxItem]]:
    """Drop a settled row and record (message) or forget (delete) the copy; with
    ``next_limit``, also read the room's next rows, sent with it in the same round trip."""
    values = (item.id, item.message_id, item.dest_room, remote_id, item.kind, now)
    nonce, step = _write("settle", values)
    if not next_limit:
        return Plan((step,), _next_rows, merge=relay_writes, key=nonce)
    read = Step(NEXT_BATCH, (item.dest_room, next_limit), rows=True)
    return Plan((step, read), _next_rows, merge=relay_writes, key=nonce)
