"""Restarts, crashes, rate limits and refusals, against the real homeserver."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import pytest
from pydantic import SecretStr

from adapters.matrix import SYNC_CURSOR
from bridgebot.errors import PermanentError, RateLimited, TransientError
from tests.matrix.conftest import WAIT, BotFactory, Human, MemoryContext, outbound
from tests.matrix.proxy import FlakyProxy

People = Callable[..., Awaitable[Human]]


async def say_many(human: Human, room: str, count: int) -> None:
    """Post ``count`` messages, 8 in flight (the room's order is then the server's)."""
    lanes = asyncio.Semaphore(8)

    async def one(i: int) -> None:
        async with lanes:
            await human.say(room, f"m{i}")

    async with asyncio.timeout(60):
        await asyncio.gather(*(one(i) for i in range(count)))


async def test_catch_up_after_restart_relays_everything_once_in_order(
    bot: BotFactory, people: People
) -> None:
    alice = await people("alice")
    room = await alice.create_room()
    context = MemoryContext()
    adapter, _ = await bot.start((room,), context)
    await adapter.stop()
    assert context.cursors[SYNC_CURSOR]

    # 150 > one sync page (100): the timeline comes back limited and is paged back.
    await say_many(alice, room, 150)
    order = [e["event_id"] for e in await alice.messages(room)]
    _, got = await bot.start((room,), context)
    events = await got.wait_for(150)
    await alice.say(room, "live")
    await got.wait_for(151)
    events = await got.quiet(0.5)
    assert [e.remote_id for e in events[:150]] == order  # the room's order, each once
    assert sorted(e.text for e in events[:150]) == sorted(f"m{i}" for i in range(150))
    assert events[150].text == "live"


async def test_catch_up_stops_at_its_limit(
    bot: BotFactory, people: People, caplog: pytest.LogCaptureFixture
) -> None:
    alice = await people("alice")
    room = await alice.create_room()
    context = MemoryContext()
    adapter, _ = await bot.start((room,), context)
    await adapter.stop()
    await say_many(alice, room, 30)
    order = [e["event_id"] for e in await alice.messages(room)]
    _, got = await bot.start((room,), context, timeline_limit=10, catchup_limit=5)
    await got.wait_for(15)
    events = await got.quiet(0.5)
    # The newest 10 come with the sync, the 5 before them from paging back.
    assert [e.remote_id for e in events] == order[15:]
    assert any("raise catchup_limit" in r.getMessage() for r in caplog.records)


async def test_killed_while_sending_then_retried_posts_no_duplicates(
    bot: BotFactory, people: People
) -> None:
    alice = await people("alice")
    room = await alice.create_room()
    context = MemoryContext()
    adapter, _ = await bot.start((room,), context)
    ref = adapter.room_ref(room)
    done: set[int] = set()
    lanes = asyncio.Semaphore(8)

    async def deliver(i: int) -> None:
        async with lanes:
            await adapter.send(ref, outbound(f"d{i}", f"n{i}"))
            done.add(i)

    tasks = [asyncio.create_task(deliver(i)) for i in range(200)]
    async with asyncio.timeout(WAIT):
        while len(done) < 150:
            await asyncio.sleep(0.01)
    for task in tasks:  # the "kill": in-flight requests are cut off mid-way
        task.cancel()
    await asyncio.wait(tasks)
    await adapter.stop()
    assert 150 <= len(done) < 200

    # The dispatcher retries everything not acknowledged; in-flight ones included.
    again, _ = await bot.start((room,), context)
    lanes = asyncio.Semaphore(8)

    async def redeliver(i: int) -> None:
        async with lanes:
            await again.send(ref, outbound(f"d{i}", f"n{i}"))

    async with asyncio.timeout(60):
        await asyncio.gather(*(redeliver(i) for i in range(200) if i not in done))
    bodies = [e["content"]["body"] for e in await alice.messages(room)]
    mine = [b for b in bodies if b.startswith("Ann · api: n")]
    assert sorted(mine) == sorted(f"Ann · api: n{i}" for i in range(200))


async def test_rate_limits_surface_with_retry_after(bot: BotFactory, people: People) -> None:
    alice = await people("alice")
    room = await alice.create_room()
    adapter, _ = await bot.start((room,), MemoryContext())
    ref = adapter.room_ref(room)
    await asyncio.to_thread(bot.synapse.set_message_rate, bot.user.user_id, 5, 3)
    limited: list[RateLimited] = []

    async with asyncio.timeout(WAIT):
        for i in range(12):  # a burst, retried as the dispatcher would
            while True:
                try:
                    await adapter.send(ref, outbound(f"b{i}", f"burst {i}"))
                    break
                except RateLimited as exc:
                    limited.append(exc)
                    await asyncio.sleep(exc.retry_after)
    assert limited and all(0 < exc.retry_after <= 5 for exc in limited)
    assert "room" in str(limited[0]) and "matrix.home" in str(limited[0])
    bodies = [e["content"]["body"] for e in await alice.messages(room)]
    assert bodies == [f"Ann · api: burst {i}" for i in range(12)]


async def test_refusals_are_permanent_and_name_the_room(bot: BotFactory, people: People) -> None:
    alice = await people("alice")
    room = await alice.create_room()
    adapter, _ = await bot.start((room,), MemoryContext())
    ref = adapter.room_ref(room)
    # Only moderators may post now.
    levels = await alice.client.room_get_state_event(room, "m.room.power_levels")
    content = dict(levels.content)
    content["events_default"] = 50
    await alice.client.room_put_state(room, "m.room.power_levels", content)
    with pytest.raises(PermanentError) as refused:
        await adapter.send(ref, outbound("p1", "hello"))
    assert "M_FORBIDDEN" in str(refused.value) and room in str(refused.value)
    assert "permission" in str(refused.value)

    private = await alice.client.room_create()  # not public, bot not invited
    private_ref = adapter.room_ref(private.room_id)
    with pytest.raises(PermanentError, match="M_FORBIDDEN"):
        await adapter.send(private_ref, outbound("p2", "hello"))


async def test_login_failures(bot: BotFactory, people: People) -> None:
    with pytest.raises(PermanentError, match="M_UNKNOWN_TOKEN"):
        await bot.start((), MemoryContext(), password=None, access_token=SecretStr("nope"))
    with pytest.raises(PermanentError, match="M_FORBIDDEN"):
        await bot.start((), MemoryContext(), password=SecretStr("wrong"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(TransientError):
        await bot.start((), MemoryContext(), homeserver=closed)
    # The access token from registration works, and sets the device.
    context = MemoryContext()
    await bot.start((), context, password=None, access_token=SecretStr(bot.user.access_token))
    assert context.cursors["device_id"] == bot.user.device_id


@pytest.mark.parametrize("failure", ["502", "drop"])
async def test_sync_survives_an_outage_and_resumes(
    bot: BotFactory, people: People, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    alice = await people("alice")
    room = await alice.create_room()
    proxy = FlakyProxy(bot.synapse.url)
    await proxy.start()
    try:
        adapter, got = await bot.start((room,), MemoryContext(), homeserver=proxy.url)
        ref = adapter.room_ref(room)
        await alice.say(room, "before")
        await got.wait_for(1)

        proxy.mode = failure
        with pytest.raises(TransientError):
            await adapter.send(ref, outbound("o1", "while down"))
        await alice.say(room, "during 1")
        await alice.say(room, "during 2")
        async with asyncio.timeout(WAIT):
            while not any("sync failed" in r.getMessage() for r in caplog.records):
                await asyncio.sleep(0.1)

        proxy.mode = "up"
        await got.wait_for(3)
        assert [e.text for e in await got.quiet(0.5)] == ["before", "during 1", "during 2"]
        await adapter.send(ref, outbound("o1", "while down"))  # the retry now lands
    finally:
        await bot.stop_all()
        await proxy.stop()


async def test_a_room_the_bot_may_not_join_leaves_the_others_working(
    bot: BotFactory, people: People, caplog: pytest.LogCaptureFixture
) -> None:
    alice = await people("alice")
    open_room = await alice.create_room()
    closed = await alice.client.room_create()  # invite-only, bot not invited
    adapter, got = await bot.start((closed.room_id, open_room), MemoryContext())
    assert any("cannot join" in r.getMessage() and closed.room_id in r.getMessage()
               for r in caplog.records)  # fmt: skip
    await alice.say(open_room, "still relayed")
    (event,) = await got.wait_for(1)
    assert event.room == adapter.room_ref(open_room)
    with pytest.raises(PermanentError, match="M_FORBIDDEN"):
        await adapter.send(adapter.room_ref(closed.room_id), outbound("x", "hello"))
