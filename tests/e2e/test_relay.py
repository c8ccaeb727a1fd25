"""End to end: a real Hub relays between API rooms over real HTTP and websockets."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import aiohttp

from bridgebot.lab.harness import running_hub
from tests.e2e.conftest import api_rooms, config_for


async def post(session: aiohttp.ClientSession, url: str, **fields: Any) -> aiohttp.ClientResponse:
    body = {"username": "alice", "userid": "alice", "gateway": "khub", **fields}
    return await session.post(f"{url}/api/message", json=body)


async def drain(session: aiohttp.ClientSession, url: str) -> list[dict[str, Any]]:
    async with session.get(f"{url}/api/messages") as resp:
        assert resp.status == 200
        data: list[dict[str, Any]] = await resp.json()
        return data


async def test_post_in_one_room_arrives_in_the_other_over_websocket_with_label(
    tmp_path: Path,
) -> None:
    a, b = api_rooms("a", "b")
    async with (
        running_hub(config_for([a, b]), tmp_path),
        aiohttp.ClientSession() as s,
        s.ws_connect(f"{b.url}/api/websocket") as ws,
    ):
        greeting = json.loads((await ws.receive(timeout=5)).data)
        assert greeting["event"] == "api_connected"
        resp = await post(s, a.url, text="hello from a")
        assert resp.status == 200, await resp.text()
        msg = json.loads((await ws.receive(timeout=5)).data)
    assert msg["text"] == "hello from a"
    assert msg["username"] == "alice · api"
    assert msg["gateway"] == "khub"
    assert msg["account"] == "api.a"
    assert msg["protocol"] == "api"


async def test_relay_goes_both_ways_and_never_back_to_the_origin(tmp_path: Path) -> None:
    a, b = api_rooms("a", "b")
    async with running_hub(config_for([a, b]), tmp_path) as hub, aiohttp.ClientSession() as s:
        assert (await post(s, a.url, text="one")).status == 200
        assert (await post(s, b.url, text="two", username="bob", userid="bob")).status == 200
        assert hub.dispatcher is not None
        await hub.dispatcher.idle()
        got_a, got_b = await drain(s, a.url), await drain(s, b.url)
    assert [m["text"] for m in got_b] == ["one"]
    assert [(m["text"], m["username"]) for m in got_a] == [("two", "bob · api")]


async def test_closed_room_never_reaches_a_public_room(tmp_path: Path) -> None:
    closed, closed2, public = api_rooms(("c", "closed"), ("d", "closed"), ("p", "public"))
    cfg = config_for([closed, closed2, public])
    async with running_hub(cfg, tmp_path) as hub, aiohttp.ClientSession() as s:
        assert (await post(s, closed.url, text="secret plans")).status == 200
        assert (await post(s, public.url, text="open news")).status == 200
        assert hub.dispatcher is not None
        await hub.dispatcher.idle()
        got_public = await drain(s, public.url)
        got_closed2 = await drain(s, closed2.url)
        got_closed = await drain(s, closed.url)
    assert got_public == []
    assert [m["text"] for m in got_closed2] == ["secret plans", "open news"]
    assert [m["text"] for m in got_closed] == ["open news"]
    assert hub.withheld == 1


async def test_unknown_gateway_and_empty_text_get_a_reason(tmp_path: Path) -> None:
    a, b = api_rooms("a", "b")
    async with running_hub(config_for([a, b]), tmp_path), aiohttp.ClientSession() as s:
        resp = await post(s, a.url, text="hi", gateway="nosuch")
        assert 400 <= resp.status < 500
        assert "nosuch" in await resp.text()
        resp = await post(s, a.url, text="   ")
        assert 400 <= resp.status < 500
        assert "empty" in (await resp.text()).lower()


async def test_large_and_hostile_messages_relay_and_the_bridge_keeps_going(
    tmp_path: Path,
) -> None:
    a, b = api_rooms("a", "b")
    big = "x" * 100_000
    hostile = "@everyone <!channel> <script>alert(1)</script> \x00\u202e"
    async with running_hub(config_for([a, b]), tmp_path) as hub, aiohttp.ClientSession() as s:
        for text in (big, hostile, "after"):
            assert (await post(s, a.url, text=text)).status == 200
        resp = await s.post(
            f"{a.url}/api/message", data=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert resp.status == 400
        assert hub.dispatcher is not None
        await hub.dispatcher.idle()
        texts = [m["text"] for m in await drain(s, b.url)]
    assert texts[0] == big
    assert texts[2] == "after"
    assert len(texts) == 3


async def test_replies_follow_the_id_map_into_the_other_room(tmp_path: Path) -> None:
    a, b = api_rooms("a", "b")
    async with running_hub(config_for([a, b]), tmp_path) as hub, aiohttp.ClientSession() as s:
        first = await (await post(s, a.url, text="question")).json()
        assert hub.dispatcher is not None
        await hub.dispatcher.idle()
        copy = (await drain(s, b.url))[0]
        # b answers its copy; a must see the reply pointing at a's original
        resp = await post(s, b.url, text="answer", parent_id=copy["id"], username="bob")
        assert resp.status == 200
        await hub.dispatcher.idle()
        reply = (await drain(s, a.url))[0]
    assert reply["text"] == "answer"
    assert reply["parent_id"] == first["id"]


async def test_an_outage_delays_one_room_without_slowing_the_others(tmp_path: Path) -> None:
    a, stuck, fine = api_rooms("a", "s", "f")
    n = 20
    # `stuck` keeps only 2 messages and nobody reads it until later: its deliveries fail
    # transiently ("buffer full") and wait in the outbox; `fine` must not wait for it.
    cfg = config_for([a, stuck, fine], buffer=2)
    async with running_hub(cfg, tmp_path) as hub, aiohttp.ClientSession() as s:
        for i in range(n):
            assert (await post(s, a.url, text=f"m{i:02d}")).status == 200
        got_fine: list[str] = []
        async with asyncio.timeout(10):
            while len(got_fine) < n:
                got_fine += [m["text"] for m in await drain(s, fine.url)]
                await asyncio.sleep(0.02)
        depths = await hub.store.queue_depths()
        assert depths.get(stuck.ref, 0) >= n - 2 - 1  # still waiting while `fine` is done
        got_stuck: list[str] = []
        async with asyncio.timeout(60):
            while len(got_stuck) < n:
                got_stuck += [m["text"] for m in await drain(s, stuck.url)]
                await asyncio.sleep(0.05)
    assert got_fine == [f"m{i:02d}" for i in range(n)]
    assert got_stuck == [f"m{i:02d}" for i in range(n)]


async def test_a_file_crosses_with_its_bytes(tmp_path: Path) -> None:
    a, b = api_rooms("a", "b")
    data = base64.b64encode(b"minutes of the meeting\n").decode()
    extra = {"file": [{"Name": "minutes.txt", "Data": data, "Size": 23}]}
    async with running_hub(config_for([a, b]), tmp_path) as hub, aiohttp.ClientSession() as s:
        assert (await post(s, a.url, text="see attached", Extra=extra)).status == 200
        assert hub.dispatcher is not None
        await hub.dispatcher.idle()
        got = (await drain(s, b.url))[0]
    assert got["text"] == "see attached"
    files = got["Extra"]["file"]
    assert [f["Name"] for f in files] == ["minutes.txt"]
    assert base64.b64decode(files[0]["Data"]) == b"minutes of the meeting\n"


async def test_many_posts_in_flight_arrive_once_each_in_order(tmp_path: Path) -> None:
    # One websocket client keeps 16 posts in flight: inbound handling overlaps and
    # completions are pipelined, and still every message arrives exactly once, in order.
    a, b = api_rooms("a", "b")
    n = 400
    async with (
        running_hub(config_for([a, b]), tmp_path),
        aiohttp.ClientSession() as s,
        s.ws_connect(f"{a.url}/api/websocket") as wa,
        s.ws_connect(f"{b.url}/api/websocket") as wb,
    ):
        await wa.receive(timeout=5)
        await wb.receive(timeout=5)
        window = asyncio.Semaphore(16)
        got: list[str] = []

        async def receive() -> None:
            while len(got) < n:
                got.append(json.loads((await wb.receive(timeout=10)).data)["text"])
                window.release()

        receiver = asyncio.create_task(receive())
        for i in range(n):
            await window.acquire()
            await wa.send_str(
                json.dumps({"text": f"m{i:04d}", "username": "u", "gateway": "khub"})
            )
        async with asyncio.timeout(30):
            await receiver
        try:  # a duplicate would arrive just after
            extra: str | None = (await wb.receive(timeout=0.5)).data
        except TimeoutError:
            extra = None
    assert got == [f"m{i:04d}" for i in range(n)]
    assert extra is None
