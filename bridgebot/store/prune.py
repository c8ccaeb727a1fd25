"""Forgetting what the bridge no longer needs: old id-map entries and unanswered holds.

Runs on the store's worker thread (see :meth:`bridgebot.store.Store.prune`), in bounded
batches so the relay's own writes are never held up for long.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field

from bridgebot.store.ops import atomic

__all__ = ["Pruned", "prune_batch"]

#: A message is kept while anything still refers to it: a delivery waiting in the outbox,
#: a dead letter an admin may retry, a held message, an announcement's report.
_PRUNABLE = """
    SELECT id FROM messages AS m
    WHERE accepted_at < ?
      AND NOT EXISTS (SELECT 1 FROM outbox AS o WHERE o.message_id = m.id)
      AND NOT EXISTS (SELECT 1 FROM dead_letters AS d WHERE d.message_id = m.id)
      AND NOT EXISTS (SELECT 1 FROM held AS h WHERE h.message_id = m.id)
      AND NOT EXISTS (SELECT 1 FROM announcements AS a WHERE a.message_id = m.id)
    ORDER BY id
    LIMIT ?
"""


@dataclass
class Pruned:
    """What one pruning pass forgot."""

    messages: int = 0
    #: author ref → held messages dropped because they never answered
    held: Counter[str] = field(default_factory=Counter)


def prune_batch(
    conn: sqlite3.Connection, before: float | None, held_before: float | None, limit: int
) -> Pruned:
    """Drop holds older than ``held_before``, then up to ``limit`` messages accepted before
    ``before`` with their copies and follow-ups; in one transaction. None skips either."""
    pruned = Pruned()
    with atomic(conn):
        if held_before is not None:
            rows = conn.execute(
                "SELECT author_ref, count(*) FROM held WHERE created_at < ? GROUP BY author_ref",
                (held_before,),
            ).fetchall()
            pruned.held.update({str(author): int(n) for author, n in rows})
            conn.execute("DELETE FROM held WHERE created_at < ?", (held_before,))
        if before is not None:
            ids = [(row[0],) for row in conn.execute(_PRUNABLE, (before, limit))]
            conn.executemany("DELETE FROM copies WHERE message_id = ?", ids)
            conn.executemany("DELETE FROM followups WHERE message_id = ?", ids)
            conn.executemany("DELETE FROM messages WHERE id = ?", ids)
            pruned.messages = len(ids)
    return pruned
