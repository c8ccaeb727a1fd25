"""Clients posting to the real adapter over HTTP and websockets."""

from __future__ import annotations

import asyncio
import json
import socket

import aiohttp
import pytest

from bridgebot.contract import Adapter
from bridgebot.errors import PermanentError
from bridgebot.model import EventKind

from .conftest import ROOM, MemoryContext, Start, outbound


async def test_post_emits_event_and_answers_in_matterbridge_shape(
    start_api: Start, http: aiohttp.ClientSession
) -> None:
    api, got = await start_api()
    body = {"text": "hi", "username": "Bob", "userid": "b1", "gateway": "khub", "parent_id": "p"}
    async with http.post(f"{api.url}/api/message", json=body) as resp:
        assert resp.status == 200
        answer = await resp.json()
    (event,) = await got.wait_for(1)
    assert event.kind is EventKind.MESSAGE and event.room == ROOM
    assert (event.text, event.bridge, event.reply_to) == ("hi", "khub", "p")
    assert (event.author.user_id, event.author.display_name) == ("b1", "Bob")
    assert event.remote_id and answer["id"] == event.remote_id
    assert (answer["channel"], answer["protocol"], answer["account"]) == ("api", "api", "api.one")
    assert (answer["text"], answer["username"], answer["gateway"]) == ("hi", "Bob", "khub")
    assert answer["timestamp"].endswith("Z")


async def test_each_post_gets_a_fresh_id(start_api: Start, http: aiohttp.ClientSession) -> None:
    api, got = await start_api()
    for _ in range(3):
        async with http.post(f"{api.url}/api/message", json={"text": "x"}) as resp:
            assert resp.status == 200
    events = await got.wait_for(3)
    assert len({e.remote_id for e in events}) == 3


async def test_edit_and_delete_posts(start_api: Start, http: aiohttp.ClientSession) -> None:
    api, got = await start_api()
    async with http.post(f"{api.url}/api/message", json={"text": "v1"}) as resp:
        first = (await resp.json())["id"]
    for text in ("v2", "v3"):
        body = {"text": text, "id": first}
        async with http.post(f"{api.url}/api/message", json=body) as resp:
            assert resp.status == 200
            assert (await resp.json())["id"] == first
    body = {"event": "msg_delete", "id": first}
    async with http.post(f"{api.url}/api/message", json=body) as resp:
        assert resp.status == 200
        assert (await resp.json())["event"] == "msg_delete"
    original, edit2, edit3, delete = await got.wait_for(4)
    assert (edit2.kind, edit2.target, edit2.text) == (EventKind.EDIT, first, "v2")
    assert (edit3.kind, edit3.target, edit3.text) == (EventKind.EDIT, first, "v3")
    # Each edit is its own event (the core dedupes follow-ups on remote id).
    assert len({original.remote_id, edit2.remote_id, edit3.remote_id}) == 3
    assert (delete.kind, delete.target, delete.remote_id) == (EventKind.DELETE, first, first)


async def test_posts_naming_a_bridge_copy_are_not_emitted(
    start_api: Start, http: aiohttp.ClientSession
) -> None:
    api, got = await start_api()
    copy = await api.send(ROOM, outbound("relayed"))
    assert isinstance(api.context, MemoryContext)
    api.context.copies.add((ROOM, copy))
    for body in ({"text": "relayed", "id": copy}, {"event": "msg_delete", "id": copy}):
        async with http.post(f"{api.url}/api/message", json=body) as resp:
            assert resp.status == 400
            assert "posted by the bridge" in (await resp.json())["message"]
    assert got.events == []


async def test_form_post_is_accepted(start_api: Start, http: aiohttp.ClientSession) -> None:
    api, got = await start_api()
    form = {"text": "from curl", "username": "c"}
    async with http.post(f"{api.url}/api/message", data=form) as resp:
        assert resp.status == 200
    (event,) = await got.wait_for(1)
    assert (event.text, event.author.display_name) == ("from curl", "c")


async def test_rejected_event_answers_400_with_the_core_reason(
    start_api: Start, http: aiohttp.ClientSession
) -> None:
    api, got = await start_api()
    body = {"text": "hi", "gateway": "nosuch"}
    async with http.post(f"{api.url}/api/message", json=body) as resp:
        assert resp.status == 400
        assert await resp.json() == {"message": "unknown bridge 'nosuch'"}
    assert got.events == []


async def test_core_failure_answers_503_and_the_server_keeps_serving(
    start_api: Start, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    api, got = await start_api()
    body = {"text": "secret words", "gateway": "broken"}
    async with http.post(f"{api.url}/api/message", json=body) as resp:
        assert resp.status == 503
        assert "could not accept" in (await resp.json())["message"]
    async with http.post(f"{api.url}/api/message", json={"text": "ok"}) as resp:
        assert resp.status == 200
    assert [e.text for e in await got.wait_for(1)] == ["ok"]
    assert "database is locked" in caplog.text and "secret words" not in caplog.text


@pytest.mark.parametrize(
    ("data", "headers", "status", "reason"),
    [
        (b"{not json", {}, 400, "malformed JSON"),
        (b"[1, 2]", {}, 400, "must be a JSON object"),
        (b'{"text": 3}', {}, 400, "'text' must be a string"),
        (b'{"text": ""}', {}, 400, "empty message"),
        (b'{"text": "\xff\xfe"}', {}, 400, "not valid UTF-8"),
        (b"", {}, 400, "malformed JSON"),
    ],
)
async def test_bad_bodies_get_400_and_the_server_keeps_serving(
    start_api: Start,
    http: aiohttp.ClientSession,
    data: bytes,
    headers: dict[str, str],
    status: int,
    reason: str,
) -> None:
    api, got = await start_api()
    hdrs = {"Content-Type": "application/json", **headers}
    async with http.post(f"{api.url}/api/message", data=data, headers=hdrs) as resp:
        assert resp.status == status
        assert reason in (await resp.json())["message"]
    async with http.post(f"{api.url}/api/message", json={"text": "still here"}) as resp:
        assert resp.status == 200
    assert [e.text for e in await got.wait_for(1)] == ["still here"]


async def test_oversized_body_gets_413(start_api: Start, http: aiohttp.ClientSession) -> None:
    api, got = await start_api(max_body_bytes=50_000)
    body = json.dumps({"text": "x" * 60_000})
    hdrs = {"Content-Type": "application/json"}
    async with http.post(f"{api.url}/api/message", data=body, headers=hdrs) as resp:
        assert resp.status == 413
        assert "larger than 50000" in (await resp.json())["message"]
    assert got.events == []


async def test_100kb_message_is_accepted(start_api: Start, http: aiohttp.ClientSession) -> None:
    api, got = await start_api()
    text = "é" * 50_000 + "z" * 100_000
    async with http.post(f"{api.url}/api/message", json={"text": text}) as resp:
        assert resp.status == 200
    (event,) = await got.wait_for(1)
    assert event.text == text


async def test_unknown_route_and_method(start_api: Start, http: aiohttp.ClientSession) -> None:
    api, _ = await start_api()
    async with http.get(f"{api.url}/api/nothing") as resp:
        assert resp.status == 404
        assert await resp.json() == {"message": "Not Found"}
    async with http.get(f"{api.url}/api/message") as resp:
        assert resp.status == 405
    async with http.get(f"{api.url}/api/websocket") as resp:  # no upgrade headers
        assert resp.status == 400
        assert "message" in await resp.json()
    async with http.get(f"{api.url}/api/health") as resp:
        assert (resp.status, await resp.text()) == (200, "OK")


@pytest.mark.parametrize(
    ("authorization", "status", "message"),
    [
        (None, 400, "missing key in request header"),
        ("Basic dXNlcjpwdw==", 400, "invalid key in the request header"),
        ("Bearer", 400, "invalid key in the request header"),
        ("Bearer wrong", 401, "Unauthorized"),
        ("Bearer s3cret", 200, None),
        ("bearer s3cret", 200, None),
    ],
)
async def test_bearer_token(
    start_api: Start,
    http: aiohttp.ClientSession,
    authorization: str | None,
    status: int,
    message: str | None,
) -> None:
    api, got = await start_api(token="s3cret")
    headers = {"Authorization": authorization} if authorization else {}
    async with http.post(f"{api.url}/api/message", json={"text": "t"}, headers=headers) as resp:
        assert resp.status == status
        if message is not None:
            assert await resp.json() == {"message": message}
    # As in matterbridge, the token guards every route, health included.
    async with http.get(f"{api.url}/api/health", headers=headers) as resp:
        assert resp.status == status
    assert len(got.events) == (1 if status == 200 else 0)


async def test_undecodable_authorization_header_is_a_plain_401(start_api: Start) -> None:
    api, _ = await start_api(token="s3cret")
    reader, writer = await asyncio.open_connection("127.0.0.1", api.bound_port)
    try:
        writer.write(
            b"GET /api/health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\n"
            b"Connection: close\r\n\r\n"
        )
        async with asyncio.timeout(5):
            status_line = await reader.readline()
    finally:
        writer.close()
    assert status_line.split()[1] == b"401"


async def test_websocket_frames_are_emitted_and_bad_frames_answered(
    start_api: Start, http: aiohttp.ClientSession
) -> None:
    api, got = await start_api()
    async with http.ws_connect(
        f"{api.url}/api/websocket", timeout=aiohttp.ClientWSTimeout(5)
    ) as ws:
        hello = await ws.receive_json(timeout=5)
        assert hello["event"] == "api_connected"
        await ws.send_str("{broken")
        error = await ws.receive_json(timeout=5)
        assert error["status"] == 400 and "malformed JSON" in error["message"]
        await ws.send_json({"text": "x", "gateway": "nosuch"})
        error = await ws.receive_json(timeout=5)
        assert error == {"event": "api_error", "status": 400, "message": "unknown bridge 'nosuch'"}
        await ws.send_bytes(b"\xff")
        assert "UTF-8" in (await ws.receive_json(timeout=5))["message"]
        await ws.send_json({"text": "over ws", "username": "W", "gateway": "khub"})
        (event,) = await got.wait_for(1)
    assert (event.text, event.author.display_name, event.bridge) == ("over ws", "W", "khub")
    assert event.kind is EventKind.MESSAGE and event.room == ROOM


async def test_oversized_websocket_frame_closes_that_socket_only(
    start_api: Start, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    api, got = await start_api(max_body_bytes=10_000)
    timeout = aiohttp.ClientWSTimeout(ws_receive=5)
    async with http.ws_connect(f"{api.url}/api/websocket", timeout=timeout) as ws:
        await ws.receive_json(timeout=5)
        await ws.send_json({"text": "z" * 20_000})
        closing = await ws.receive(timeout=5)
    assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 1009
    assert "websocket from 127.0.0.1 failed" in caplog.text and "zzz" not in caplog.text
    async with http.post(f"{api.url}/api/message", json={"text": "fine"}) as resp:
        assert resp.status == 200
    assert [e.text for e in await got.wait_for(1)] == ["fine"]


async def test_port_in_use_is_a_permanent_error(start_api: Start) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PermanentError) as caught:
            await start_api(bind=f"127.0.0.1:{port}")
    assert str(caught.value) == (
        f"api.one: cannot listen on 127.0.0.1:{port}: address in use; "
        "change bind in [networks.api.one]"
    )


async def test_bad_bind_is_a_permanent_error(start_api: Start) -> None:
    with pytest.raises(PermanentError, match="not HOST:PORT"):
        await start_api(bind="localhost")


async def test_adapter_meets_the_contract(start_api: Start) -> None:
    api, _ = await start_api()
    assert isinstance(api, Adapter)
    assert (api.network, api.account) == ("api", "api.one")
    caps = api.capabilities
    assert (caps.edits, caps.deletes, caps.reactions, caps.threads) == (True, True, False, False)
    assert caps.per_message_identity and caps.max_text_length == 1_000_000
