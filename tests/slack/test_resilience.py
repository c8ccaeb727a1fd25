"""Dropped sockets, reconnect requests, failing consumers and bursts against the limit."""

from __future__ import annotations

import asyncio
import time

from bridgebot.errors import RateLimited
from bridgebot.lab.slack import SlackLab
from bridgebot.model import Event, RoomRef
from bridgebot.pacing import TokenBucket

from .conftest import ACCOUNT, AdapterFactory, make_started_adapter, outbound


def first_seen(events: list[Event]) -> list[str]:
    """Remote ids in the order first emitted (redelivery may repeat an event)."""
    seen: list[str] = []
    for event in events:
        if event.remote_id not in seen:
            seen.append(event.remote_id)
    return seen


async def test_socket_drop_in_a_burst_loses_nothing(
    lab: SlackLab, make_adapter: AdapterFactory
) -> None:
    alice = lab.add_user("alice")
    general = lab.add_channel("general", members=(alice,))
    _, events = await make_adapter((general,))
    sent = [lab.post_as_user(general, alice, f"m{n}")["ts"] for n in range(30)]
    await events.wait_count(10)
    await lab.drop_sockets()
    sent += [lab.post_as_user(general, alice, f"m{n}")["ts"] for n in range(30, 60)]
    await events.wait_for(lambda evs: set(sent) <= {e.remote_id for e in evs}, within=15)
    assert first_seen(events.events) == sent
    assert lab.sockets.connects >= 2
    async with asyncio.timeout(10):
        await lab.wait_acked()


async def test_reconnect_request_mid_burst_loses_nothing(
    lab: SlackLab, make_adapter: AdapterFactory
) -> None:
    alice = lab.add_user("alice")
    general = lab.add_channel("general", members=(alice,))
    _, events = await make_adapter((general,))
    sent = [lab.post_as_user(general, alice, f"m{n}")["ts"] for n in range(20)]
    await lab.request_reconnect()
    sent += [lab.post_as_user(general, alice, f"m{n}")["ts"] for n in range(20, 40)]
    await events.wait_for(lambda evs: set(sent) <= {e.remote_id for e in evs}, within=15)
    assert first_seen(events.events) == sent
    async with asyncio.timeout(10):
        await lab.wait_acked()
        while lab.sockets.connects < 2 or len(lab.sockets.connections) != 1:
            await asyncio.sleep(0.02)  # polling the lab's state; it has no event for this


async def test_an_event_the_core_did_not_accept_is_redelivered(
    lab: SlackLab, make_adapter: AdapterFactory
) -> None:
    alice = lab.add_user("alice")
    general = lab.add_channel("general", members=(alice,))
    adapter, events = await make_adapter((general,))
    failed = asyncio.Event()
    accepted: list[Event] = []

    async def flaky_emit(event: Event) -> None:
        if not failed.is_set():
            failed.set()
            raise RuntimeError("store unavailable")
        accepted.append(event)
        await events(event)

    adapter._emit = flaky_emit  # the core's emit failing once, as a full disk would
    ts = lab.post_as_user(general, alice, "important")["ts"]
    async with asyncio.timeout(5):
        await failed.wait()
        await asyncio.sleep(0.1)  # let a (wrong) ack reach the lab if one were sent
    assert lab.sockets.unacked == 1  # not acknowledged: Slack will send it again
    await lab.drop_sockets()
    await events.wait_for(lambda evs: any(e.remote_id == ts for e in evs), within=10)
    assert [e.remote_id for e in accepted] == [ts]


async def test_paced_burst_of_60_meets_the_limit_without_429() -> None:
    """60 sends into one channel paced by a token bucket at the server's limit."""
    rate, burst = 20.0, 3
    server = SlackLab(post_rate=rate, post_burst=burst)
    await server.start()
    try:
        general = server.add_channel("general")
        adapter = await make_started_adapter(server, (general,))
        room = RoomRef(ACCOUNT, general)
        # Paced as the dispatcher paces a room: at the documented limit itself, with the
        # token spent when the send is over (the server has counted it by then), so
        # network jitter cannot tip a send over the limit.
        bucket = TokenBucket(rate, burst)
        limited = 0
        start = time.monotonic()
        async with asyncio.timeout(30):
            for n in range(60):
                while (wait := bucket.delay()) > 0:
                    await asyncio.sleep(wait)
                try:
                    await adapter.send(room, outbound(f"burst {n}", key=f"k{n}"))
                except RateLimited as exc:
                    limited += 1
                    await asyncio.sleep(exc.retry_after)
                finally:
                    bucket.take()
        elapsed = time.monotonic() - start
        await adapter.stop()
    finally:
        await server.stop()
    ideal = (60 - burst) / rate
    print(
        f"slack burst: 60 messages in {elapsed:.2f}s, ideal {ideal:.2f}s, "
        f"ratio {elapsed / ideal:.2f}, 429s {limited}"
    )
    assert limited == 0 and server.api.rate_limited == 0
    # The time is printed, not asserted: speed is measured in bench/announce.py.
    assert [m["text"] for m in server.history(general)] == [f"burst {n}" for n in range(60)]
