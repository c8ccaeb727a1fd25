"""The Discord lab server on the wire, with a plain aiohttp client: what bots rely on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bridgebot.lab.discord import DiscordLab, RateLimitConfig


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def bot_headers(lab: DiscordLab) -> dict[str, str]:
    return {"Authorization": f"Bot {lab.bot.token}"}


async def test_rest_answers_are_exactly_application_json(
    lab: DiscordLab, http: aiohttp.ClientSession
) -> None:
    async with http.get(lab.api_url + "/users/@me", headers=bot_headers(lab)) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/json"
        assert (await resp.json())["id"] == lab.bot.user["id"]
    async with http.get(lab.api_url + "/users/@me") as resp:
        assert resp.status == 401
        assert resp.headers["Content-Type"] == "application/json"


async def test_per_route_buckets_and_429(http: aiohttp.ClientSession) -> None:
    lab = DiscordLab(rate_limits=RateLimitConfig(per_route=2, window=0.5))
    await lab.start()
    try:
        one, two = lab.create_channel("one"), lab.create_channel("two")
        url = lab.api_url + "/channels/{}/messages"
        statuses = []
        for channel in (one, one, one, two):
            async with http.post(
                url.format(channel), json={"content": "x"}, headers=bot_headers(lab)
            ) as resp:
                statuses.append(resp.status)
                if resp.status == 200:
                    assert resp.headers["X-RateLimit-Limit"] == "2"
                    assert float(resp.headers["X-RateLimit-Reset-After"]) <= 0.5
                    assert resp.headers["X-RateLimit-Bucket"]
                else:
                    body = await resp.json()
                    assert body["global"] is False and 0 < body["retry_after"] <= 0.5
                    assert resp.headers["X-RateLimit-Remaining"] == "0"
                    assert resp.headers["Retry-After"] == "1"
                    assert resp.headers["Via"]
        assert statuses == [200, 200, 429, 200]  # the second channel has its own bucket
        await asyncio.sleep(0.5)
        async with http.post(
            url.format(one), json={"content": "x"}, headers=bot_headers(lab)
        ) as resp:
            assert resp.status == 200
    finally:
        await lab.stop()


async def _post(http: aiohttp.ClientSession, lab: DiscordLab, channel: str, body: Any) -> Any:
    async with http.post(
        f"{lab.api_url}/channels/{channel}/messages", json=body, headers=bot_headers(lab)
    ) as resp:
        return resp.status, await resp.json()


async def test_allowed_mentions_decide_who_is_pinged(
    lab: DiscordLab, http: aiohttp.ClientSession
) -> None:
    room = lab.create_channel("general")
    bob, carol = lab.create_user("Bob"), lab.create_user("Carol")
    role = lab.create_role("officers")
    text = f"@everyone <@{bob}> <@{carol}> <@&{role}>"
    status, msg = await _post(http, lab, room, {"content": text})
    assert status == 200 and msg["mention_everyone"]
    assert sorted((p.kind, p.target) for p in lab.pings) == sorted(
        [("everyone", "everyone"), ("user", bob), ("user", carol), ("role", role)]
    )
    before = len(lab.pings)
    _, msg = await _post(http, lab, room, {"content": text, "allowed_mentions": {"parse": []}})
    assert len(lab.pings) == before and msg["mentions"] == [] and not msg["mention_everyone"]
    body = {"content": text, "allowed_mentions": {"parse": [], "users": [carol]}}
    _, msg = await _post(http, lab, room, body)
    assert [(p.kind, p.target) for p in lab.pings[before:]] == [("user", carol)]


async def test_refusals_carry_discord_error_codes(
    lab: DiscordLab, http: aiohttp.ClientSession
) -> None:
    room = lab.create_channel("general")
    assert (await _post(http, lab, room, {"content": "x" * 2001}))[1]["code"] == 50035
    assert (await _post(http, lab, room, {"content": ""}))[1]["code"] == 50006
    assert (await _post(http, lab, "404", {"content": "x"}))[1]["code"] == 10003
    async with http.post(
        f"{lab.api_url}/channels/{room}/webhooks",
        json={"name": "my discord hook"},
        headers=bot_headers(lab),
    ) as resp:
        assert resp.status == 400
    lab.deny(room, "MANAGE_WEBHOOKS")
    async with http.get(
        f"{lab.api_url}/channels/{room}/webhooks", headers=bot_headers(lab)
    ) as resp:
        assert resp.status == 403 and (await resp.json())["code"] == 50013


async def test_webhook_execute_with_a_file(lab: DiscordLab, http: aiohttp.ClientSession) -> None:
    room = lab.create_channel("general")
    hook = lab.world.add_webhook(room, "relay", lab.bot)
    form = aiohttp.FormData()
    form.add_field("payload_json", json.dumps({"content": "file!", "username": "Ann"}))
    form.add_field("files[0]", b"abc", filename="a.txt", content_type="text/plain")
    url = f"{lab.api_url}/webhooks/{hook['id']}/{hook['token']}?wait=true"
    async with http.post(url, data=form) as resp:
        assert resp.status == 200
        msg = await resp.json()
    assert msg["author"]["username"] == "Ann" and msg["webhook_id"] == hook["id"]
    async with http.get(msg["attachments"][0]["url"]) as resp:
        assert await resp.read() == b"abc"
    async with http.post(url.replace(hook["token"], "bad"), json={"content": "x"}) as resp:
        assert resp.status == 404


async def test_control_surface_over_http(lab: DiscordLab, http: aiohttp.ClientSession) -> None:
    async with http.post(lab.url + "/_lab/users", json={"name": "Dora"}) as resp:
        dora = (await resp.json())["id"]
    async with http.post(lab.url + "/_lab/channels", json={"name": "town"}) as resp:
        town = (await resp.json())["id"]
    async with http.post(
        lab.url + "/_lab/post", json={"channel": town, "user": dora, "text": "@here hi"}
    ) as resp:
        assert resp.status == 200
    async with http.get(lab.url + "/_lab/history", params={"channel": town}) as resp:
        assert [m["content"] for m in await resp.json()] == ["@here hi"]
    async with http.get(lab.url + "/_lab/pings") as resp:
        assert [p["kind"] for p in await resp.json()] == ["here"]
    mid = lab.history(town)[0]["id"]
    base = {"channel": town, "message_id": mid}
    async with http.post(lab.url + "/_lab/edit", json={**base, "text": "edited"}) as resp:
        assert (await resp.json())["content"] == "edited"
    async with http.post(lab.url + "/_lab/react", json={**base, "user": dora, "emoji": "👍"}):
        assert lab.history(town)[0]["reactions"][0]["count"] == 1
    async with http.post(lab.url + "/_lab/delete", json=base) as resp:
        assert resp.status == 200 and lab.history(town) == []
    async with http.post(lab.url + "/_lab/delete", json=base) as resp:
        assert resp.status == 404
    async with http.post(lab.url + "/_lab/edit", json=base) as resp:
        assert resp.status == 400
    async with http.post(lab.url + "/_lab/post", json={"channel": town}) as resp:
        assert resp.status == 400
    async with http.post(lab.url + "/_lab/post", data=b"{nope") as resp:
        assert resp.status == 400
    async with http.post(lab.url + "/_lab/drop", json={"code": "x"}) as resp:
        assert resp.status == 400
    async with http.get(lab.url + "/_lab/state") as resp:
        assert "town" in [c["name"] for c in (await resp.json())["channels"]]


async def _gateway(
    http: aiohttp.ClientSession, lab: DiscordLab, first: dict[str, Any]
) -> tuple[list[Any], int | None]:
    frames: list[Any] = []
    async with asyncio.timeout(5), http.ws_connect(lab.ws_url) as ws:
        frames.append(json.loads((await ws.receive()).data))
        await ws.send_json(first)
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            frames.append(json.loads(msg.data))
            if frames[-1].get("op") == 9 or frames[-1].get("t") == "GUILD_CREATE":
                await ws.close()
        return frames, ws.close_code


async def test_gateway_identify_intents_and_resume(
    lab: DiscordLab, http: aiohttp.ClientSession
) -> None:
    ident = {"token": lab.bot.token, "intents": 1 | (1 << 9) | (1 << 15), "properties": {}}
    frames, _ = await _gateway(http, lab, {"op": 2, "d": ident})
    assert frames[0]["op"] == 10 and frames[0]["d"]["heartbeat_interval"] > 0
    assert [f.get("t") for f in frames[1:]] == ["READY", "GUILD_CREATE"]
    assert frames[1]["d"]["resume_gateway_url"] == lab.ws_url
    _, code = await _gateway(http, lab, {"op": 2, "d": {**ident, "token": "nope"}})
    assert code == 4004
    lab.bot.application["flags"] = 0
    _, code = await _gateway(http, lab, {"op": 2, "d": ident})
    assert code == 4014  # message content requested but not enabled for the app
    resume = {"token": lab.bot.token, "session_id": "unknown", "seq": 1}
    frames, _ = await _gateway(http, lab, {"op": 6, "d": resume})
    assert frames[-1] == {"op": 9, "d": False}
