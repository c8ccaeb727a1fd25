"""What only the HTTP API shows, with a real bridge between API rooms: matterbridge's
websocket fields, privacy between rooms, refusals with reasons, hostile and huge input,
one slow client, and many posts in flight.

Relaying both ways with the label, replies and files are the contract suite's
(tests/contract), which runs the API as one network among the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bridgebot.lab.relay import (
    ApiClient,
    Relay,
    api_table,
    bridge_config,
    free_port,
    running_relay,
)


class Rooms:
    """API rooms ``api.NAME:api`` on free ports, one person (a client) in each."""

    def __init__(self, *rooms: str | tuple[str, str], buffer: int = 10_000) -> None:
        specs = [(r, "public") if isinstance(r, str) else r for r in rooms]
        self.privacy = dict(specs)
        self.ports = {name: free_port() for name, _ in specs}
        self.buffer = buffer
        self.clients: dict[str, ApiClient] = {}

    def config(self) -> str:
        tables = [api_table(n, port, buffer=self.buffer) for n, port in self.ports.items()]
        return bridge_config(
            *tables, rooms=[(f"api.{n}:api", level) for n, level in self.privacy.items()]
        )

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @asynccontextmanager
    async def running(self, workdir: Path) -> AsyncIterator[tuple[Relay, dict[str, ApiClient]]]:
        """The bridge, and an ``alice`` client per room (keyed by room name)."""
        first = next(iter(self.ports))
        async with running_relay(
            self.config(), workdir, api_port=self.ports[first], api_user="alice"
        ) as relay:
            await relay.up(*(f"api.{name}" for name in self.ports))
            clients = {
                name: ApiClient(self.url(name), relay.api.http, user="alice")
                for name in self.ports
            }
            yield relay, clients


async def test_a_websocket_client_gets_each_message_with_matterbridges_fields(
    tmp_path: Path,
) -> None:
    rooms = Rooms("a", "b")
    async with rooms.running(tmp_path) as (_, clients):
        http = clients["b"].http
        async with http.ws_connect(f"{rooms.url('b')}/api/websocket") as ws:
            greeting = json.loads((await ws.receive(timeout=5)).data)
            assert greeting["event"] == "api_connected"
            await clients["a"].post(text="hello from a")
            msg = json.loads((await ws.receive(timeout=5)).data)
    assert msg["text"] == "hello from a"
    assert msg["username"] == "alice · api"
    assert msg["gateway"] == "khub"
    assert msg["account"] == "api.a"
    assert msg["protocol"] == "api"


async def test_closed_room_never_reaches_a_public_room(tmp_path: Path) -> None:
    rooms = Rooms(("c", "closed"), ("d", "closed"), ("p", "public"))
    async with rooms.running(tmp_path) as (relay, clients):
        await clients["c"].post(text="secret plans")
        await clients["p"].post(text="open news")
        await relay.delivered()
        got_public = await clients["p"].drain()
        got_closed2 = await clients["d"].drain()
        got_closed = await clients["c"].drain()
        withheld = relay.bridge.status()["withheld"]
    assert got_public == []
    assert [m["text"] for m in got_closed2] == ["secret plans", "open news"]
    assert [m["text"] for m in got_closed] == ["open news"]
    assert withheld == 1


async def test_unknown_gateway_and_empty_text_get_a_reason(tmp_path: Path) -> None:
    rooms = Rooms("a", "b")
    async with rooms.running(tmp_path) as (_, clients):
        status, body = await clients["a"].post_raw(text="hi", gateway="nosuch")
        assert 400 <= status < 500
        assert "nosuch" in body
        status, body = await clients["a"].post_raw(text="   ")
        assert 400 <= status < 500
        assert "empty" in body.lower()


async def test_large_and_hostile_messages_relay_and_the_bridge_keeps_going(
    tmp_path: Path,
) -> None:
    rooms = Rooms("a", "b")
    big = "x" * 100_000
    hostile = "@everyone <!channel> <script>alert(1)</script> \x00\u202e"
    async with rooms.running(tmp_path) as (_, clients):
        for text in (big, hostile, "after"):
            await clients["a"].post(text=text)
        async with clients["a"].http.post(
            f"{rooms.url('a')}/api/message",
            data=b"{not json",
            headers={"Content-Type": "application/json"},
        ) as resp:
            assert resp.status == 400
        await clients["b"].wait_text("after")
        # one more after the bad body: the bridge kept going, and nothing else came
        await clients["a"].post(text="last")
        texts = [m["text"] for m in await clients["b"].wait_for(4)]
    assert texts[0] == big
    assert texts[2:] == ["after", "last"]
    assert len(texts) == 4


async def test_an_outage_delays_one_room_without_slowing_the_others(tmp_path: Path) -> None:
    n = 20
    # `s` keeps only 2 messages and nobody reads it until later: its deliveries fail
    # transiently ("buffer full") and wait in the outbox; `f` must not wait for it.
    rooms = Rooms("a", "s", "f", buffer=2)
    async with rooms.running(tmp_path) as (relay, clients):
        for i in range(n):
            await clients["a"].post(text=f"m{i:02d}")
        got_fine = await clients["f"].wait_for(n, within=10)
        depths = await relay.bridge.store.queue_depths()
        assert depths.get("api.s:api", 0) >= n - 2 - 1  # still waiting while `f` is done
        got_stuck = await clients["s"].wait_for(n, within=60)
    assert [m["text"] for m in got_fine] == [f"m{i:02d}" for i in range(n)]
    assert [m["text"] for m in got_stuck] == [f"m{i:02d}" for i in range(n)]


async def test_many_posts_in_flight_arrive_once_each_in_order(tmp_path: Path) -> None:
    # One websocket client keeps 16 posts in flight: inbound handling overlaps and
    # completions are pipelined, and still every message arrives exactly once, in order.
    rooms = Rooms("a", "b")
    n = 400
    async with rooms.running(tmp_path) as (_, clients):
        http = clients["a"].http
        async with (
            http.ws_connect(f"{rooms.url('a')}/api/websocket") as wa,
            http.ws_connect(f"{rooms.url('b')}/api/websocket") as wb,
        ):
            await wa.receive(timeout=5)
            await wb.receive(timeout=5)
            window = asyncio.Semaphore(16)
            got: list[str] = []

            async def receive() -> None:
                while len(got) < n + 1:
                    got.append(json.loads((await wb.receive(timeout=10)).data)["text"])
                    window.release()

            receiver = asyncio.create_task(receive())
            try:
                async with asyncio.timeout(60):
                    for i in range(n):
                        await window.acquire()
                        frame = {"text": f"m{i:04d}", "username": "u", "gateway": "khub"}
                        await wa.send_str(json.dumps(frame))
                    # a duplicate would arrive before a message sent after every other one
                    await window.acquire()
                    end = {"text": "end", "username": "u", "gateway": "khub"}
                    await wa.send_str(json.dumps(end))
                    await receiver
            finally:
                # a receiver that gave up leaves the sender waiting for a slot: say why
                receiver.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await receiver
    assert got == [*(f"m{i:04d}" for i in range(n)), "end"]
