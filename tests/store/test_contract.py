"""The store's contract: dedupe, FIFO outbox, id map, dead letters, small state tables.

Written against the Store protocol only; every test runs on every back end (conftest.py).
"""

from __future__ import annotations

import asyncio
import math
import random
import struct

import pytest

from bridgebot.errors import StoreError
from bridgebot.store import AuditEntry, NewDelivery, OutboxItem, Store
from tests.store.conftest import Backend
from tests.store.rows import DISCORD, MATRIX, SLACK, accept, to
from tests.support import Clock


async def test_accept_message_writes_message_and_outbox_rows(store: Store, clock: Clock) -> None:
    message_id = await store.accept_message(
        SLACK,
        "1.0001",
        "slack.work:U1",
        "khub",
        5.0,
        [to(MATRIX, n=1), to(DISCORD, n=2, deadline=9e9)],
    )
    assert message_id is not None
    assert await store.message_origin(message_id) == (SLACK, "1.0001", "slack.work:U1")
    [m] = await store.next_batch(MATRIX)
    assert m == OutboxItem(
        m.id, message_id, MATRIX, "message", '{"n": 1}', 0, 0.0, None, clock.now
    )
    [d] = await store.next_batch(DISCORD)
    assert (d.payload, d.deadline) == ('{"n": 2}', 9e9)
    assert await store.outbox_size() == 2


async def test_duplicate_message_is_refused_and_writes_nothing(store: Store) -> None:
    first = await accept(store, "1.0001", MATRIX)
    again = await store.accept_message(SLACK, "1.0001", "slack.work:U1", None, 5.0, [to(DISCORD)])
    assert again is None
    assert await store.queue_depths() == {MATRIX: 1}
    # Same remote id in another room is a different message.
    other = await accept(store, "1.0001", MATRIX, room=DISCORD)
    assert other != first


async def test_message_without_deliveries_is_still_known(store: Store) -> None:
    message_id = await accept(store, "m1")
    assert await store.find_message(SLACK, "m1") == message_id
    assert await store.outbox_size() == 0
    assert await store.pending_rooms() == []


async def test_deliveries_come_back_exactly_as_written(store: Store) -> None:
    rng = random.Random(1)
    deadlines: list[float | None] = [None, 0.0, 0.1, 1e-300, 5e-324, 1.7976931348623157e308]
    deadlines += [rng.uniform(1.6e9, 1.9e9) for _ in range(300)]
    deadlines += [struct.unpack("<d", rng.randbytes(8))[0] for _ in range(300)]
    deadlines = [d for d in deadlines if d is None or math.isfinite(d)]
    payloads = [
        '{"text": "héllo \\u00e9 \\"q\\" ☃ 🎉"}',
        "",
        "[]",
        "\\",
        "'; DROP TABLE outbox; --",
    ]
    deliveries = [
        NewDelivery(MATRIX, "message", payloads[i % len(payloads)], d)
        for i, d in enumerate(deadlines)
    ]
    message_id = await store.accept_message(SLACK, "m1", "u", None, 5.0, deliveries)
    assert message_id is not None
    items = await store.next_batch(MATRIX, limit=len(deliveries) + 1)
    assert [(i.payload, i.deadline) for i in items] == [
        (d.payload, d.deadline) for d in deliveries
    ]
    assert all(isinstance(i.deadline, float) for i in items if i.deadline is not None)


async def test_followups_dedupe_per_kind_room_and_remote_id(store: Store) -> None:
    message_id = await accept(store, "m1")
    edit = [to(MATRIX, "edit")]
    assert await store.accept_followup("edit", SLACK, "e1", message_id, edit)
    assert not await store.accept_followup("edit", SLACK, "e1", message_id, edit)
    # Slack reuses the edited message's ts for a delete: a different kind is not a duplicate.
    assert await store.accept_followup("delete", SLACK, "e1", message_id, [to(MATRIX, "delete")])
    kinds = [item.kind for item in await store.next_batch(MATRIX)]
    assert kinds == ["edit", "delete"]


async def test_bad_input_becomes_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="unknown kind 'poke'"):
        await store.accept_message(SLACK, "m1", "u", None, 1.0, [to(MATRIX, "poke")])
    with pytest.raises(StoreError, match="unknown kind 'message'"):
        await store.accept_followup("message", SLACK, "x", 1, [])
    with pytest.raises(StoreError, match="JSON text"):
        await store.add_deliveries(1, [NewDelivery(MATRIX, "message", b"{}", None)])  # type: ignore[arg-type]
    # A follow-up or an announcement of a message that does not exist: the foreign key.
    # (The words after "failed:" are the database's; test_sqlite.py checks SQLite's.)
    with pytest.raises(StoreError, match=r"add_deliveries failed: .*(?i:foreign key)"):
        await store.add_deliveries(999, [to(MATRIX)])
    with pytest.raises(StoreError, match="accept_followup failed"):
        await store.accept_followup("edit", SLACK, "e1", 999, [to(MATRIX, "edit")])
    # Nothing half-written by the failed transactions.
    assert await store.outbox_size() == 0
    assert await store.find_message(SLACK, "m1") is None


async def test_outbox_is_fifo_per_room_and_batches(store: Store) -> None:
    for i in range(10):
        # Interleave rooms, so order per room cannot come from insertion order alone.
        await accept(store, f"m{i}", MATRIX, DISCORD) if i % 2 else await accept(
            store, f"m{i}", DISCORD
        )
    assert await store.queue_depths() == {MATRIX: 5, DISCORD: 10}
    assert await store.pending_rooms() == sorted([MATRIX, DISCORD])
    seen: list[int] = []
    while batch := await store.next_batch(DISCORD, limit=3):
        assert len(batch) <= 3
        seen.extend(item.message_id for item in batch)
        for item in batch:
            await store.complete(item, f"d-{item.message_id}")
    assert seen == sorted(seen) and len(seen) == 10
    assert await store.pending_rooms() == [MATRIX]
    assert await store.next_batch(MATRIX, limit=0) == []


async def test_rooms_that_ask_together_share_one_read(store: Store) -> None:
    """Fifty rooms woken by one fan-out read their queues in one trip, each its own rows."""
    rooms = [f"slack.work:C{i}" for i in range(50)]
    first = await accept(store, "a", *rooms)
    second = await accept(store, "b", *rooms[::2])
    trips = store.read_trips
    batches = await asyncio.gather(*(store.next_batch(room, limit=5) for room in rooms))
    assert store.read_trips == trips + 1
    for i, (room, batch) in enumerate(zip(rooms, batches, strict=True)):
        assert {item.dest_room for item in batch} == {room}
        expected = [first, second] if i % 2 == 0 else [first]
        assert [item.message_id for item in batch] == expected
    # one asking alone still gets its answer, in a trip of its own
    assert [item.message_id for item in await store.next_batch(rooms[0])] == [first, second]
    assert store.read_trips == trips + 2


async def test_a_room_asking_twice_in_one_group_gets_both_answers(store: Store) -> None:
    ids = [await accept(store, f"m{i}", MATRIX) for i in range(3)]
    one, all_of_them, other = await asyncio.gather(
        store.next_batch(MATRIX, limit=1), store.next_batch(MATRIX), store.next_batch(SLACK)
    )
    assert [item.message_id for item in one] == ids[:1]
    assert [item.message_id for item in all_of_them] == ids
    assert other == []


async def test_an_echo_of_our_own_copy_is_not_accepted(store: Store) -> None:
    message_id = await accept(store, "m1", MATRIX)
    [item] = await store.next_batch(MATRIX)
    await store.complete(item, "$copy")
    echo = await store.accept_message(MATRIX, "$copy", "matrix.home:@bot", None, 6.0, [to(SLACK)])
    assert echo is None
    assert await store.outbox_size() == 0
    assert await store.find_message(MATRIX, "$copy") == message_id
    assert await store.messages_by("matrix.home:@bot") == []


async def test_complete_can_read_the_rooms_next_rows(store: Store) -> None:
    ids = [await accept(store, f"m{i}", MATRIX) for i in range(4)]
    [first] = await store.next_batch(MATRIX, 1)
    following = await store.complete(first, "$1", next_limit=2)
    assert [item.message_id for item in following] == ids[1:3]
    assert await store.complete(following[0], "$2") == []
    assert [item.message_id for item in await store.next_batch(MATRIX)] == ids[2:]


async def test_complete_soon_commits_in_call_order(store: Store) -> None:
    ids = [await accept(store, f"m{i}", MATRIX) for i in range(3)]
    batch = await store.next_batch(MATRIX)
    settled = [store.complete_soon(item, f"$c{item.message_id}") for item in batch]
    assert not any(future.done() for future in settled)  # queued, not yet committed
    await store.set_cursor("after", "them")  # queued after them: commits after them
    assert all(future.done() for future in settled)
    assert await asyncio.gather(*settled) == [[], [], []]
    assert await store.outbox_size() == 0
    assert [await store.remote_id_in(i, MATRIX) for i in ids] == [f"$c{i}" for i in ids]


async def test_complete_records_copy_and_feeds_the_id_map(store: Store) -> None:
    message_id = await accept(store, "m1", MATRIX, DISCORD)
    for room in (MATRIX, DISCORD):
        [item] = await store.next_batch(room)
        await store.complete(item, f"$copy-in-{room}")
    assert await store.outbox_size() == 0
    assert await store.copies_of(message_id) == sorted(
        [(MATRIX, f"$copy-in-{MATRIX}"), (DISCORD, f"$copy-in-{DISCORD}")]
    )
    # find_message answers for the origin and for every copy.
    assert await store.find_message(SLACK, "m1") == message_id
    assert await store.find_message(MATRIX, f"$copy-in-{MATRIX}") == message_id
    assert await store.find_message(MATRIX, "m1") is None
    # remote_id_in: the origin id in the origin room, the copy's elsewhere.
    assert await store.remote_id_in(message_id, SLACK) == "m1"
    assert await store.remote_id_in(message_id, DISCORD) == f"$copy-in-{DISCORD}"
    assert await store.remote_id_in(message_id, "telegram.bot:-1") is None
    assert await store.is_copy(MATRIX, f"$copy-in-{MATRIX}")
    assert not await store.is_copy(SLACK, "m1")  # the origin is not an echo
    assert await store.message_origin(message_id + 1) is None


async def test_complete_without_remote_id_and_followup_kinds(store: Store) -> None:
    message_id = await accept(store, "m1", MATRIX)
    [item] = await store.next_batch(MATRIX)
    await store.complete(item, "$c1")
    await store.accept_followup("edit", SLACK, "e1", message_id, [to(MATRIX, "edit")])
    [edit] = await store.next_batch(MATRIX)
    await store.complete(edit, "$c1")  # the dispatcher passes the target id back
    assert await store.copies_of(message_id) == [(MATRIX, "$c1")]
    await store.accept_followup("delete", SLACK, "d1", message_id, [to(MATRIX, "delete")])
    [delete] = await store.next_batch(MATRIX)
    await store.complete(delete, "$c1")
    assert await store.copies_of(message_id) == []
    assert not await store.is_copy(MATRIX, "$c1")
    # A skipped message (no remote id) records no copy.
    second = await accept(store, "m2", MATRIX)
    [skipped] = await store.next_batch(MATRIX)
    await store.complete(skipped, None)
    assert await store.copies_of(second) == []


async def test_a_reused_remote_id_moves_to_the_newer_copy(store: Store) -> None:
    first = await accept(store, "m1", MATRIX)
    second = await accept(store, "m2", MATRIX)
    one, two = await store.next_batch(MATRIX)
    await store.complete(one, "7")
    await store.complete(two, "7")
    assert await store.find_message(MATRIX, "7") == second
    assert await store.copies_of(first) == []


async def test_postpone_keeps_the_row_at_the_head(store: Store) -> None:
    await accept(store, "m1", MATRIX)
    await accept(store, "m2", MATRIX)
    head, _ = await store.next_batch(MATRIX)
    await store.postpone(head.id, 3, 2_000.5)
    again, _ = await store.next_batch(MATRIX)
    assert (again.id, again.attempts, again.not_before) == (head.id, 3, 2_000.5)


async def test_dead_letter_and_retry_round_trip(store: Store, clock: Clock) -> None:
    ids = [await accept(store, f"m{i}", MATRIX) for i in range(3)]
    await store.add_deliveries(ids[0], [to(MATRIX, deadline=clock.now + 60)])
    items = await store.next_batch(MATRIX)
    assert [i.message_id for i in items] == [*ids, ids[0]]
    clock.now += 100
    await store.dead_letter(items[3], "deadline passed")
    await store.dead_letter(items[0], "forbidden")
    await store.dead_letter(items[0], "twice")  # already settled: no second record
    letters = await store.dead_letters()
    assert [(d.id, d.message_id, d.reason) for d in letters] == [
        (letters[0].id, ids[0], "forbidden"),
        (letters[1].id, ids[0], "deadline passed"),
    ]
    assert letters[0].failed_at == clock.now and letters[0].kind == "message"
    assert await store.outbox_size() == 2
    clock.now += 5
    assert await store.retry_dead_letters([letters[1].id, 12345]) == 1
    tail = (await store.next_batch(MATRIX))[-1]
    # Back at the tail, attempts reset, the same 60 s of grace counted from now.
    assert (tail.message_id, tail.attempts, tail.created_at) == (ids[0], 0, clock.now)
    assert tail.deadline == clock.now + 60
    assert await store.retry_dead_letters() == 1
    assert await store.dead_letters() == []
    assert await store.retry_dead_letters() == 0
    assert await store.outbox_size() == 4
    assert await store.dead_letters(limit=0) == []


async def test_audit_log_is_newest_first(store: Store, clock: Clock) -> None:
    await store.audit("matrix.home:@alice:example.org", "bridge.link", "linked C1", room=SLACK)
    clock.now += 1
    await store.audit("cli", "announce", "to every bridge")
    log = await store.audit_log()
    assert [e.action for e in log] == ["announce", "bridge.link"]
    assert log[0] == AuditEntry(log[0].id, clock.now, "cli", None, "announce", "to every bridge")
    assert log[1].room == SLACK
    assert len(await store.audit_log(limit=1)) == 1


async def test_consent_overrides_and_cursors_upsert(store: Store, clock: Clock) -> None:
    assert await store.get_consent("slack.work:U1") is None
    await store.set_consent("slack.work:U1", True)
    assert await store.get_consent("slack.work:U1") is True
    await store.set_consent("slack.work:U1", False)
    assert await store.get_consent("slack.work:U1") is False

    await store.set_override(SLACK, "privacy", '"closed"', "alice")
    clock.now += 1
    await store.set_override(SLACK, "privacy", '"public"', "bob")
    await store.set_override(MATRIX, "sends", "false", "alice")
    assert await store.overrides() == sorted(
        [
            (SLACK, "privacy", '"public"', "bob", clock.now),
            (MATRIX, "sends", "false", "alice", clock.now),
        ]
    )
    await store.delete_override(SLACK, "privacy")
    await store.delete_override(SLACK, "absent")
    assert [o[0] for o in await store.overrides()] == [MATRIX]

    assert await store.get_cursor("telegram.bot:offset") is None
    await store.set_cursor("telegram.bot:offset", "41")
    await store.set_cursor("telegram.bot:offset", "42")
    assert await store.get_cursor("telegram.bot:offset") == "42"


async def test_state_survives_reopen(backend: Backend) -> None:
    first = await backend.open()
    message_id = await accept(first, "m1", MATRIX)
    [item] = await first.next_batch(MATRIX)
    await first.complete(item, "$c")
    await first.set_cursor("k", "v")
    await first.close()
    await first.close()  # idempotent
    second = await backend.open()
    try:
        assert await second.find_message(MATRIX, "$c") == message_id
        assert await second.get_cursor("k") == "v"
    finally:
        await second.close()


async def test_use_after_close_is_a_store_error(backend: Backend) -> None:
    closed = await backend.open()
    await closed.close()
    with pytest.raises(StoreError, match="outbox_size called after close"):
        await closed.outbox_size()
    with pytest.raises(StoreError, match="next_batch called after close"):
        await closed.next_batch(MATRIX)
    with pytest.raises(StoreError, match="set_cursor called after close"):
        await closed.set_cursor("k", "v")
