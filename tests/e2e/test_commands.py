"""Chat commands through a real Bridge: roles, overrides with audit, consent, announcements."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from bridgebot.app import Bridge
from bridgebot.lab.harness import running_hub
from tests.e2e.conftest import ApiRoom, api_rooms, config_for

ROLES = """
[roles]
admins = ["api.a:root"]
facilitators = ["api.a:fac"]
"""


async def say(s: aiohttp.ClientSession, room: ApiRoom, user: str, text: str) -> None:
    body = {"text": text, "username": user, "userid": user, "gateway": "khub"}
    async with s.post(f"{room.url}/api/message", json=body) as resp:
        assert resp.status == 200, await resp.text()


async def settle(hub: Bridge, s: aiohttp.ClientSession, room: ApiRoom) -> list[dict[str, Any]]:
    await hub.dispatcher.idle()
    async with s.get(f"{room.url}/api/messages") as resp:
        data: list[dict[str, Any]] = await resp.json()
        return data


async def test_non_admin_is_refused_and_admin_change_takes_effect_and_is_audited(
    tmp_path: Path,
) -> None:
    a, b = api_rooms("a", "b")
    async with running_hub(config_for([a, b], head=ROLES), tmp_path) as hub:
        async with aiohttp.ClientSession() as s:
            await say(s, a, "mallory", "!bridge set sends no")
            answer = await settle(hub, s, a)
            assert "only admins" in answer[0]["text"]
            assert await settle(hub, s, b) == []  # commands are never relayed

            await say(s, a, "root", "!bridge set sends no")
            answer = await settle(hub, s, a)
            assert "sends is now no" in answer[0]["text"]
            await say(s, a, "alice", "this stays here")
            assert await settle(hub, s, b) == []

            await say(s, a, "root", "!bridge unset sends")
            await settle(hub, s, a)
            await say(s, a, "alice", "this crosses")
            assert [m["text"] for m in await settle(hub, s, b)] == ["this crosses"]
        log = await hub.store.audit_log()
    assert [(e.actor, e.action) for e in reversed(log)] == [
        ("api.a:root", "set"),
        ("api.a:root", "unset"),
    ]


async def test_opt_in_room_holds_messages_until_consent(tmp_path: Path) -> None:
    a, b = api_rooms("a", "b")
    a = ApiRoom(a.account, a.port, "public", 'consent = "opt-in"')
    async with running_hub(config_for([a, b]), tmp_path) as hub, aiohttp.ClientSession() as s:
        await say(s, a, "carol", "before consent")
        assert await settle(hub, s, b) == []
        assert "this room is bridged" in (await settle(hub, s, a))[0]["text"]
        await say(s, a, "carol", "!bridge consent yes")
        assert "will now cross" in (await settle(hub, s, a))[0]["text"]
        assert [m["text"] for m in await settle(hub, s, b)] == ["before consent"]
        await say(s, a, "carol", "after consent")
        assert [m["text"] for m in await settle(hub, s, b)] == ["after consent"]


async def test_announce_reaches_every_room_but_respects_privacy(tmp_path: Path) -> None:
    a, b, c = api_rooms(("a", "internal"), ("b", "internal"), ("c", "public"))
    cfg = config_for([a, b, c], head=ROLES)
    async with running_hub(cfg, tmp_path) as hub, aiohttp.ClientSession() as s:
        await say(s, a, "alice", "!announce not allowed")
        assert "only facilitators" in (await settle(hub, s, a))[0]["text"]
        await say(s, a, "fac", "!announce meeting at 10")
        answer = (await settle(hub, s, a))[0]["text"]
        got_b = await settle(hub, s, b)
        got_c = await settle(hub, s, c)
    assert answer == "announcement 1 queued for 1 rooms: api.b:api"
    assert [m["text"] for m in got_b] == ["meeting at 10"]
    assert got_c == []  # an internal room's announcement does not reach a public room


async def test_cli_shows_overrides_with_their_source_and_the_audit_log(tmp_path: Path) -> None:
    import subprocess
    import sys

    a, b = api_rooms("a", "b")
    (tmp_path / "bot.toml").write_text(config_for([a, b], head=ROLES))
    cfg = config_for([a, b], head=ROLES)
    async with running_hub(cfg, tmp_path) as hub, aiohttp.ClientSession() as s:
        await say(s, a, "root", "!bridge set privacy closed")
        await settle(hub, s, a)

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "bridgebot.cli", *args, "--config", str(tmp_path / "bot.toml")],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    rules = cli("rules", "show")
    assert '"closed"' in rules and "set by api.a:root" in rules
    assert '"public"' in rules  # room b still from bot.toml
    audit = cli("audit")
    assert "api.a:root in api.a:api: set" in audit and "closed" in audit
