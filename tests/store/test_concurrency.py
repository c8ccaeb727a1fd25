"""Crash safety with a real SIGKILLed process, and concurrent use from many tasks and from
two stores on one database.

Part of the contract: the child opens the store with ``open_store(target)``, as
``bridgebot run`` does, so every back end is killed the same way.
"""

from __future__ import annotations

import asyncio
import sys

from bridgebot.errors import StoreError
from bridgebot.store import NewDelivery, OutboxItem
from tests.store.conftest import Backend

A = "slack.work:C1"
B = "matrix.home:!b:example.org"
C = "discord.guild:3"

# The child accepts messages (two deliveries each) and completes A's deliveries as it goes;
# it prints a line only after the awaited call returned, so every printed line is a promise
# of durability that the parent checks after killing it mid-stream.
CHILD = """
import asyncio, sys
from bridgebot.store import NewDelivery, open_store

async def main(target):
    store = await open_store(target)
    n = 0
    while True:
        n += 1
        dests = [NewDelivery("slack.work:C1", "message", "{}", None),
                 NewDelivery("matrix.home:!b:example.org", "message", "{}", None)]
        mid = await store.accept_message("api.one:api", f"r{n}", "api.one:u", None, 0.0, dests)
        print("accepted", mid, flush=True)
        if n % 2:
            [item] = await store.next_batch("slack.work:C1", 1)
            await store.complete(item, f"copy{item.message_id}")
            print("completed", item.message_id, flush=True)

asyncio.run(main(sys.argv[1]))
"""


async def run_and_kill(target: str, lines_before_kill: int) -> list[tuple[str, int]]:
    """Run CHILD until it has printed enough, SIGKILL it, and return what it promised."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, target, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    promised: list[tuple[str, int]] = []
    try:
        async with asyncio.timeout(30):
            while len(promised) < lines_before_kill:
                line = await proc.stdout.readline()
                assert line, "the child exited before it was killed"
                word, number = line.decode().split()
                promised.append((word, int(number)))
    finally:
        proc.kill()  # SIGKILL: no close(), no checkpoint, no atexit
        async with asyncio.timeout(10):
            await proc.wait()
    return promised


async def test_accepted_and_completed_survive_sigkill(backend: Backend) -> None:
    promised = await run_and_kill(backend.target, 300)
    accepted = {n for word, n in promised if word == "accepted"}
    completed = {n for word, n in promised if word == "completed"}
    store = await backend.open()
    try:
        pending_b = {item.message_id for item in await store.next_batch(B, 100_000)}
        pending_a = {item.message_id for item in await store.next_batch(A, 100_000)}
        # Every message the child was told was accepted still has its undelivered row...
        assert accepted <= pending_b
        # ...and every completion it was told about is durable: row gone, copy remembered.
        assert not completed & pending_a
        for message_id in completed:
            assert await store.remote_id_in(message_id, A) == f"copy{message_id}"
        # The child ran on past the last line read, so the rest is checked as invariants:
        # whatever it accepted is whole (message and rows in one transaction)...
        last = max(pending_b)
        assert pending_b == set(range(1, last + 1))
        assert await store.find_message("api.one:api", f"r{last}") == last
        assert await store.find_message("api.one:api", f"r{last + 1}") is None
        # ...and each delivery to A is either still queued or done with its copy, never both
        # nor neither (complete() is one transaction).
        for message_id in range(1, last + 1):
            copy = await store.remote_id_in(message_id, A)
            assert (message_id in pending_a) != (copy == f"copy{message_id}"), message_id
    finally:
        await store.close()


async def test_many_tasks_share_one_store(backend: Backend) -> None:
    store = await backend.open()
    producers, per_producer = 8, 60
    total = producers * per_producer
    delivered: dict[str, list[int]] = {A: [], B: [], C: []}

    async def produce(p: int) -> None:
        for i in range(per_producer):
            dests = [NewDelivery(r, "message", "{}", None) for r in (A, B, C)]
            assert await store.accept_message("api.one:api", f"{p}-{i}", "u", None, 0, dests)
            await asyncio.sleep(0)

    async def consume(room: str) -> None:
        while len(delivered[room]) < total:
            batch = await store.next_batch(room, 16)
            if not batch:
                await asyncio.sleep(0.001)
                continue
            for item in batch:
                await store.complete(item, f"{room}/{item.id}")
                delivered[room].append(item.id)

    try:
        async with asyncio.timeout(30):
            await asyncio.gather(
                *(produce(p) for p in range(producers)), *(consume(r) for r in delivered)
            )
        for ids in delivered.values():
            assert len(ids) == total and ids == sorted(ids)  # FIFO under concurrency
        assert await store.outbox_size() == 0
        first = await store.find_message("api.one:api", "0-0")
        assert first is not None and len(await store.copies_of(first)) == 3
    finally:
        await store.close()


async def test_racing_duplicates_are_accepted_once(backend: Backend) -> None:
    store = await backend.open()
    try:
        dests = [NewDelivery(B, "message", "{}", None)]
        async with asyncio.timeout(10):
            results = await asyncio.gather(
                *(store.accept_message(A, "same", "u", None, 0, dests) for _ in range(20))
            )
        assert sum(r is not None for r in results) == 1
        assert await store.outbox_size() == 1
    finally:
        await store.close()


async def test_two_stores_on_one_database(backend: Backend) -> None:
    # Another process (the CLI) may use the database too: writers wait for each other.
    bot, cli = await backend.open(), await backend.open()
    try:
        async with asyncio.timeout(20):
            await asyncio.gather(
                *(
                    bot.accept_message(
                        A, f"m{i}", "u", None, 0, [NewDelivery(B, "message", "{}", None)]
                    )
                    for i in range(50)
                ),
                *(cli.audit("cli", "rules", f"check {i}") for i in range(50)),
            )
        assert await cli.outbox_size() == 50
        assert len(await bot.audit_log(limit=1000)) == 50
        [item] = await cli.next_batch(B, 1)
        assert isinstance(item, OutboxItem)
    finally:
        await bot.close()
        await cli.close()


async def test_a_failing_write_does_not_sink_its_group_commit(backend: Backend) -> None:
    store = await backend.open()
    try:
        message_id = await store.accept_message(A, "m1", "u", None, 0, [])
        assert message_id is not None
        good = [NewDelivery(B, "message", "{}", None)]
        commits_before = store.commits
        async with asyncio.timeout(10):
            # Started together, all but the first share one commit.
            results = await asyncio.gather(
                store.audit("cli", "first", "leads its own group"),
                store.add_deliveries(message_id, good),
                store.add_deliveries(message_id + 99, good),  # foreign key: fails alone
                store.set_cursor("k", "v"),
                store.accept_message(A, "m2", "u", None, 0, good),
                return_exceptions=True,
            )
        assert store.commits - commits_before < 5  # they did share commits
        assert isinstance(results[2], StoreError)
        assert "add_deliveries failed: " in str(results[2])
        assert "foreign key" in str(results[2]).lower()
        assert [r for i, r in enumerate(results) if i != 2 and isinstance(r, BaseException)] == []
        assert await store.outbox_size() == 2
        assert await store.get_cursor("k") == "v"
        assert await store.find_message(A, "m2") == results[4]
    finally:
        await store.close()


async def test_close_commits_writes_already_queued(backend: Backend) -> None:
    store = await backend.open()
    async with asyncio.timeout(10):
        writes = [asyncio.create_task(store.set_cursor(f"k{i}", "v")) for i in range(20)]
        await asyncio.sleep(0)  # let them queue
        await store.close()
        await asyncio.gather(*writes)
    reopened = await backend.open()
    try:
        assert [await reopened.get_cursor(f"k{i}") for i in range(20)] == ["v"] * 20
    finally:
        await reopened.close()


async def test_a_failing_write_of_several_statements_is_undone_alone(backend: Backend) -> None:
    store = await backend.open()
    try:
        ann_id = await store.add_announcement(
            author_ref="cli", author_name="cli", text="hi", bridge=None, origin_room="cli"
        )
        good = [NewDelivery(B, "message", "{}", None)]
        commits_before = store.commits
        async with asyncio.timeout(10):
            results = await asyncio.gather(
                store.set_cursor("k0", "leads its own group"),
                store.set_cursor("k1", "v"),
                # marks the announcement queued, then its delivery fails the foreign key
                store.queue_announcement(ann_id, 999, good),
                store.audit("cli", "after", "it"),
                return_exceptions=True,
            )
        assert store.commits - commits_before < 4  # they did share commits
        assert isinstance(results[2], StoreError), results
        assert "queue_announcement failed: " in str(results[2])
        assert [r for i, r in enumerate(results) if i != 2 and isinstance(r, BaseException)] == []
        announcement = await store.announcement(ann_id)
        assert announcement is not None and announcement.state == "scheduled"  # undone whole
        assert await store.outbox_size() == 0
        assert await store.get_cursor("k1") == "v"
        assert [e.action for e in await store.audit_log()] == ["after"]
    finally:
        await store.close()


async def test_writes_made_together_apply_in_call_order(backend: Backend) -> None:
    """A copy recorded by a settlement is known to an accept called after it, even when
    the two commit together: the echo of our own copy is refused, not relayed back."""
    store = await backend.open()
    try:
        to_b = [NewDelivery(B, "message", "{}", None)]
        message_id = await store.accept_message(A, "m1", "u", None, 0, to_b)
        assert message_id is not None
        [item] = await store.next_batch(B)
        to_a = [NewDelivery(A, "message", "{}", None)]
        async with asyncio.timeout(10):
            settled, echo, fresh = await asyncio.gather(
                store.complete(item, "$copy"),
                store.accept_message(B, "$copy", "bot", None, 0, to_a),
                store.accept_message(B, "$other", "u", None, 0, []),
            )
        assert (settled, echo) == ([], None)
        assert fresh is not None and fresh > message_id
        assert await store.outbox_size() == 0
        assert await store.find_message(B, "$copy") == message_id
    finally:
        await store.close()
