"""Forgetting what the bridge no longer needs: old id-map entries and unanswered holds.

One batch is one queued write of :meth:`bridgebot.store.SQLiteStore.prune`, so the relay's
own writes are never held up for long.
"""

from __future__ import annotations

from collections import Counter

import aiosqlite

from bridgebot.store.records import Pruned
from bridgebot.store.sqlite_tx import atomic

__all__ = ["prune_batch"]

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


async def prune_batch(
    db: aiosqlite.Connection, before: float | None, held_before: float | None, limit: int
) -> Pruned:
    """Drop holds older than ``held_before``, then up to ``limit`` messages accepted before
    ``before`` with their copies and follow-ups; in one transaction. None skips either."""
    held: Counter[str] = Counter()
    messages = 0
    async with atomic(db):
        if held_before is not None:
            rows = await db.execute_fetchall(
                "SELECT author_ref, count(*) FROM held WHERE created_at < ? GROUP BY author_ref",
                (held_before,),
            )
            held.update({str(author): int(n) for author, n in rows})
            await db.execute("DELETE FROM held WHERE created_at < ?", (held_before,))
        if before is not None:
            ids = [(row[0],) for row in await db.execute_fetchall(_PRUNABLE, (before, limit))]
            if ids:
                await db.executemany("DELETE FROM copies WHERE message_id = ?", ids)
                await db.executemany("DELETE FROM followups WHERE message_id = ?", ids)
                await db.executemany("DELETE FROM messages WHERE id = ?", ids)
            messages = len(ids)
    return Pruned(messages, held)
