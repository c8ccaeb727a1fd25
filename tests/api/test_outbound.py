"""The core sending through the real adapter; clients polling, streaming and on websockets."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from adapters.api import ApiAdapter
from bridgebot.errors import PermanentError, TransientError
from bridgebot.model import RoomRef

from .conftest import ROOM, Start, outbound

WS_TIMEOUT = aiohttp.ClientWSTimeout(ws_receive=5)


async def poll(http: aiohttp.ClientSession, api: ApiAdapter) -> list[dict[str, Any]]:
    async with http.get(f"{api.url}/api/messages") as resp:
        assert resp.status == 200
        messages: list[dict[str, Any]] = await resp.json()
        return messages


async def until(predicate: Any, within: float = 5.0) -> None:
    """Wait (at most ``within`` seconds) until ``predicate()`` holds."""
    async with asyncio.timeout(within):
        # Polling: the adapter state and the readers expose no event to wait on.
        while not predicate():
            await asyncio.sleep(0.005)


class StreamReader:
    """A client of GET /api/stream collecting decoded lines."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.lines: list[dict[str, Any]] = []

    async def run(self) -> None:
        async for raw in self.response.content:
            self.lines.append(json.loads(raw))


@asynccontextmanager
async def streaming(http: aiohttp.ClientSession, api: ApiAdapter) -> AsyncIterator[StreamReader]:
    async with http.get(f"{api.url}/api/stream") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/json"
        reader = StreamReader(resp)
        task = asyncio.create_task(reader.run())
        try:
            await until(lambda: len(reader.lines) >= 1)
            yield reader
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_send_then_poll_drains_in_order(
    start_api: Start, http: aiohttp.ClientSession
) -> None:
    api, _ = await start_api()
    ids = [await api.send(ROOM, outbound(f"m{i}")) for i in range(3)]
    assert len(set(ids)) == 3
    async with http.head(f"{api.url}/api/messages") as resp:
        assert resp.status == 405  # a HEAD must not drain
    messages = await poll(http, api)
    assert [(m["text"], m["id"]) for m in messages] == [(f"m{i}", ids[i]) for i in range(3)]
    assert messages[0]["username"] == "Alice · slack" and messages[0]["protocol"] == "slack"
    assert await poll(http, api) == []


async def test_edit_and_delete_shapes(start_api: Start, http: aiohttp.ClientSession) -> None:
    api, _ = await start_api()
    copy = await api.send(ROOM, outbound("v1"))
    await api.edit(ROOM, copy, outbound("v2"))
    await api.delete(ROOM, copy)
    sent, edited, deleted = await poll(http, api)
    assert (edited["event"], edited["id"], edited["text"]) == ("", copy, "v2")
    assert edited["username"] == sent["username"]
    assert (deleted["event"], deleted["id"], deleted["text"]) == ("msg_delete", copy, "")


async def test_wrong_room_and_reactions_are_permanent(start_api: Start) -> None:
    api, _ = await start_api()
    with pytest.raises(PermanentError, match=r"only room is api\.one:api"):
        await api.send(RoomRef("api.one", "other"), outbound())
    with pytest.raises(PermanentError, match="reactions"):
        await api.react(ROOM, "x", "👍")


async def test_full_buffer_raises_transient_error_and_loses_nothing(
    start_api: Start, http: aiohttp.ClientSession
) -> None:
    api, _ = await start_api(buffer=3)
    for i in range(3):
        await api.send(ROOM, outbound(f"m{i}"))
    with pytest.raises(TransientError, match="api buffer full"):
        await api.send(ROOM, outbound("m3"))
    assert [m["text"] for m in await poll(http, api)] == ["m0", "m1", "m2"]
    await api.send(ROOM, outbound("m3"))
    assert [m["text"] for m in await poll(http, api)] == ["m3"]


async def test_stream_greets_then_relays_each_message(
    start_api: Start, http: aiohttp.ClientSession
) -> None:
    api, _ = await start_api()
    await api.send(ROOM, outbound("before"))  # buffered: the next client gets it first
    async with streaming(http, api) as reader:
        await until(lambda: api.streaming_clients == 1)
        ids = [await api.send(ROOM, outbound(f"s{i}")) for i in range(3)]
        await until(lambda: len(reader.lines) == 5)
        await api.delete(ROOM, ids[0])
        await until(lambda: len(reader.lines) == 6)
    hello, *rest = reader.lines
    assert hello["event"] == "api_connected" and hello["text"] == ""
    assert [m["text"] for m in rest] == ["before", "s0", "s1", "s2", ""]
    assert [m["id"] for m in rest[1:4]] == ids and rest[4]["event"] == "msg_delete"
    assert await poll(http, api) == []


async def test_websocket_greets_then_relays_each_message(
    start_api: Start, http: aiohttp.ClientSession
) -> None:
    api, _ = await start_api()
    big = "ü" * 100_000
    async with http.ws_connect(f"{api.url}/api/websocket", timeout=WS_TIMEOUT) as ws:
        assert (await ws.receive_json(timeout=5))["event"] == "api_connected"
        await until(lambda: api.streaming_clients == 1)
        remote_id = await api.send(ROOM, outbound(big))
        await api.send(ROOM, outbound("second"))
        first = await ws.receive_json(timeout=5)
        second = await ws.receive_json(timeout=5)
    assert (first["text"], first["id"]) == (big, remote_id)
    assert second["text"] == "second"
    await until(lambda: api.streaming_clients == 0)
    assert await poll(http, api) == []


async def test_every_client_gets_every_message(
    start_api: Start, http: aiohttp.ClientSession
) -> None:
    api, _ = await start_api()
    async with (
        streaming(http, api) as reader,
        http.ws_connect(f"{api.url}/api/websocket", timeout=WS_TIMEOUT) as ws,
    ):
        assert (await ws.receive_json(timeout=5))["event"] == "api_connected"
        await until(lambda: api.streaming_clients == 2)
        for i in range(50):
            await api.send(ROOM, outbound(f"m{i}"))
        frames = [(await ws.receive_json(timeout=5))["text"] for _ in range(50)]
        await until(lambda: len(reader.lines) == 51)
    expected = [f"m{i}" for i in range(50)]
    assert frames == expected
    assert [m["text"] for m in reader.lines[1:]] == expected


SLOW_REQUESTS = {
    "stream": b"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "websocket": (
        b"GET /api/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    ),
}


def _slow_client(port: int, route: str = "stream") -> socket.socket:
    """A raw client that opens a stream or websocket and never reads: tiny receive window."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(SLOW_REQUESTS[route])
    sock.setblocking(False)
    return sock


@pytest.mark.parametrize("route", ["stream", "websocket"])
async def test_slow_client_is_disconnected_and_others_still_receive(
    start_api: Start, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture, route: str
) -> None:
    api, _ = await start_api(client_queue=4)
    caplog.set_level(logging.INFO)
    async with streaming(http, api) as reader:
        slow = _slow_client(api.bound_port, route)
        try:
            await until(lambda: api.streaming_clients == 2)
            text = "x" * 100_000
            sent = 0
            while api.streaming_clients == 2:
                assert sent < 400, "the slow client was never disconnected"
                await api.send(ROOM, outbound(text, key=str(sent)))
                sent += 1
                await until(lambda n=sent: len(reader.lines) == n + 1)
            await api.send(ROOM, outbound("after"))
            await until(lambda: len(reader.lines) == sent + 2)
        finally:
            slow.close()
    assert reader.lines[-1]["text"] == "after"
    assert all(m["text"] == text for m in reader.lines[1:-1])
    dropped = [r.getMessage() for r in caplog.records if "disconnecting client" in r.getMessage()]
    assert len(dropped) == 1 and "127.0.0.1" in dropped[0] and "slow reader" in dropped[0]
    assert text not in caplog.text


async def test_undelivered_messages_return_to_the_buffer_when_the_last_client_goes(
    start_api: Start, http: aiohttp.ClientSession
) -> None:
    api, _ = await start_api(client_queue=2)
    slow = _slow_client(api.bound_port)
    try:
        await until(lambda: api.streaming_clients == 1)
        ids: list[str] = []
        while api.streaming_clients == 1:
            assert len(ids) < 400, "the slow client was never disconnected"
            ids.append(await api.send(ROOM, outbound("y" * 100_000, key=str(len(ids)))))
            await asyncio.sleep(0.001)
    finally:
        slow.close()
    # What the dropped client had not been handed is buffered again, in order, so a
    # poller gets it; nothing the core was told was sent is silently gone.
    buffered = [m["id"] for m in await poll(http, api)]
    assert len(buffered) > 2  # the queue, the batch in flight and the message that overflowed
    assert buffered == ids[-len(buffered) :]


async def test_a_stream_client_that_leaves_is_noticed_and_nothing_is_lost(
    start_api: Start, http: aiohttp.ClientSession
) -> None:
    api, _ = await start_api()
    async with http.get(f"{api.url}/api/stream") as resp:
        await resp.content.readline()
        await until(lambda: api.streaming_clients == 1)
        resp.connection.transport.abort()  # type: ignore[union-attr]
    await until(lambda: api.streaming_clients == 0)
    await api.send(ROOM, outbound("later"))
    assert [m["text"] for m in await poll(http, api)] == ["later"]


async def test_stop_ends_streams_and_websockets(
    start_api: Start, http: aiohttp.ClientSession
) -> None:
    api, _ = await start_api()
    async with (
        http.get(f"{api.url}/api/stream") as resp,
        http.ws_connect(f"{api.url}/api/websocket", timeout=WS_TIMEOUT) as ws,
    ):
        assert (await ws.receive_json(timeout=5))["event"] == "api_connected"
        await until(lambda: api.streaming_clients == 2)
        async with asyncio.timeout(5):
            await api.stop()
            rest = await resp.content.read()
            closing = await ws.receive(timeout=5)
    assert json.loads(rest.splitlines()[0])["event"] == "api_connected"
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert api.streaming_clients == 0
    await api.stop()  # twice is fine
