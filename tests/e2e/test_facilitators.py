"""Facilitators and admins through a real Hub and the API adapter: scheduled announcements
and their summaries, links made in chat, per-bridge roles, and the consent flow."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from bridgebot.app import Bridge
from bridgebot.lab.harness import running_hub
from bridgebot.model import RoomRef
from tests.e2e.conftest import ApiRoom, api_rooms, config_for
from tests.e2e.test_commands import say, settle

ROLES = """
[roles]
admins = ["api.a:root"]
facilitators = ["api.a:fac"]
"""


async def texts(hub: Bridge, s: aiohttp.ClientSession, room: ApiRoom) -> list[str]:
    return [m["text"] for m in await settle(hub, s, room)]


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float = 20.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


class Reader:
    """Everything one API room received so far (its buffer is emptied on each read)."""

    def __init__(self, hub: Bridge, s: aiohttp.ClientSession, room: ApiRoom) -> None:
        self.hub, self.s, self.room = hub, s, room
        self.got: list[dict[str, Any]] = []

    async def read(self) -> list[dict[str, Any]]:
        async with self.s.get(f"{self.room.url}/api/messages") as resp:
            self.got += await resp.json()
        return self.got

    def texts(self) -> list[str]:
        return [m["text"] for m in self.got]


async def say_all(s: aiohttp.ClientSession, room: ApiRoom, user: str, text: str) -> None:
    """Post with no gateway: to every bridge the room is in."""
    body = {"text": text, "username": user, "userid": user, "gateway": ""}
    async with s.post(f"{room.url}/api/message", json=body) as resp:
        assert resp.status == 200, await resp.text()


def local_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts).isoformat(timespec="seconds")


# -- announcements ------------------------------------------------------------------------


async def test_announcement_summary_follows_once_every_delivery_settled(tmp_path: Path) -> None:
    a, b, c = api_rooms("a", "b", "c")
    async with (
        running_hub(config_for([a, b, c], head=ROLES), tmp_path) as hub,
        aiohttp.ClientSession() as s,
    ):
        origin = Reader(hub, s, a)
        await say(s, a, "fac", "!announce Hall booked for Tuesday")

        async def summarised() -> bool:
            return any("landed in" in t for t in [m["text"] for m in await origin.read()])

        await eventually(summarised, what="the summary")
        assert await texts(hub, s, b) == ["Hall booked for Tuesday"]
        assert await texts(hub, s, c) == ["Hall booked for Tuesday"]
    queued, summary = origin.texts()
    ann_id = queued.split()[1]
    assert queued == f"announcement {ann_id} queued for 2 rooms: api.b:api, api.c:api"
    assert summary == f"announcement {ann_id}: landed in 2 of 2 rooms"
    assert [m["username"] for m in origin.got] == ["bridgebot", "bridgebot"]


async def test_scheduled_announcement_waits_for_its_time_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    a, b = api_rooms("a", "b")
    cfg = config_for([a, b], head=ROLES)
    async with running_hub(cfg, tmp_path) as hub, aiohttp.ClientSession() as s:
        due = time.time() + 3
        await say(s, a, "fac", f"!announce --at {local_iso(due)} Doors open at nine")
        answer = (await texts(hub, s, a))[0]
        assert answer.startswith("announcement 1 scheduled for ")
        assert "!announce --cancel 1" in answer
        assert await texts(hub, s, b) == []  # not before its time
    # The bridge is down when the time comes; the announcement is sent at the next start.
    await asyncio.sleep(max(0.0, due - time.time()) + 0.5)
    async with running_hub(cfg, tmp_path) as hub, aiohttp.ClientSession() as s:
        got = Reader(hub, s, b)

        async def arrived() -> bool:
            return len(await got.read()) > 0

        await eventually(arrived, what="the scheduled announcement")
        await asyncio.sleep(0.5)
        await got.read()
        ann = await hub.store.announcement(1)
    assert got.texts() == ["Doors open at nine"]  # once
    assert ann is not None and ann.state in ("queued", "reported")
    assert got.got[0]["username"].startswith("fac")


async def test_the_running_bridge_sends_a_scheduled_announcement_on_time(tmp_path: Path) -> None:
    a, b = api_rooms("a", "b")
    async with (
        running_hub(config_for([a, b], head=ROLES), tmp_path) as hub,
        aiohttp.ClientSession() as s,
    ):
        due = time.time() + 2
        await say(s, a, "fac", f"!announce --at {local_iso(due)} Lunch is served")
        await settle(hub, s, a)
        got = Reader(hub, s, b)

        async def arrived() -> bool:
            return len(await got.read()) > 0

        await eventually(arrived, what="the scheduled announcement")
        arrived_at = time.time()
        origin = Reader(hub, s, a)

        async def summarised() -> bool:
            return len(await origin.read()) > 0

        await eventually(summarised, what="the summary")
    assert got.texts() == ["Lunch is served"]
    assert arrived_at >= due - 1  # local_iso drops the fraction of a second
    assert origin.texts() == ["announcement 1: landed in 1 of 1 rooms"]


async def test_cli_schedules_lists_and_cancels_announcements(tmp_path: Path) -> None:
    from tests.e2e.test_cli import bridgebot

    a, b = api_rooms("a", "b")
    cfg = tmp_path / "bot.toml"
    cfg.write_text(config_for([a, b]))
    conf = ("--config", str(cfg))
    due = time.time() + 3
    later = bridgebot("announce", "--bridge", "khub", "--at", local_iso(due), "Fire drill", *conf)
    assert later.returncode == 0, later.stderr
    assert later.stdout.startswith("announcement 1 scheduled for ")
    gone = bridgebot("announce", "--all", "--at", local_iso(due + 3600), "never", *conf)
    assert gone.returncode == 0, gone.stderr
    listed = bridgebot("announce", "--list", *conf).stdout
    assert "    1  scheduled" in listed and "Fire drill" in listed and "    2  scheduled" in listed
    assert "is scheduled for" in bridgebot("announce", "--status", "1", *conf).stdout
    assert bridgebot("announce", "--cancel", "2", *conf).stdout == "announcement 2 cancelled\n"
    again = bridgebot("announce", "--cancel", "2", *conf)
    assert again.returncode == 1 and "is cancelled, not scheduled" in again.stderr
    past = bridgebot("announce", "--all", "--at", local_iso(due - 3600), "x", *conf)
    assert past.returncode == 1 and "is in the past" in past.stderr
    bad = bridgebot("announce", "--all", "--at", "next tuesday", "x", *conf)
    assert bad.returncode == 1 and "is not a date and time" in bad.stderr
    async with running_hub(cfg.read_text(), tmp_path) as hub, aiohttp.ClientSession() as s:
        got = [Reader(hub, s, a), Reader(hub, s, b)]

        async def arrived() -> bool:
            return all([len(await r.read()) > 0 for r in got])

        await eventually(arrived, what="the scheduled announcement")
    assert [r.texts() for r in got] == [["Fire drill"], ["Fire drill"]]
    status = bridgebot("announce", "--status", "1", *conf).stdout
    assert "announcement 1: 2 landed, 0 queued, 0 failed" in status
    assert "cancelled" in bridgebot("announce", "--list", *conf).stdout


async def test_a_cancelled_announcement_is_never_sent(tmp_path: Path) -> None:
    a, b = api_rooms("a", "b")
    async with (
        running_hub(config_for([a, b], head=ROLES), tmp_path) as hub,
        aiohttp.ClientSession() as s,
    ):
        due = time.time() + 1
        await say(s, a, "fac", f"!announce --at {local_iso(due)} Cancelled talk")
        await settle(hub, s, a)
        await say(s, a, "alice", "!announce --cancel 1")
        assert "only facilitators" in (await texts(hub, s, a))[0]
        await say(s, a, "fac", "!announce --cancel 1")
        assert (await texts(hub, s, a)) == ["announcement 1 cancelled"]
        await say(s, a, "fac", f"!announce --at {local_iso(due - 3600)} too late")
        assert "is in the past" in (await texts(hub, s, a))[0]
        await asyncio.sleep(max(0.0, due - time.time()) + 0.2)
        await hub.announcer.fire_due()  # what the bridge does every few seconds
        assert await texts(hub, s, b) == []
        ann = await hub.store.announcement(1)
    assert ann is not None and ann.state == "cancelled"


# -- links and roles ----------------------------------------------------------------------


def linked_config(a: ApiRoom, b: ApiRoom, c: ApiRoom, head: str = ROLES) -> str:
    """a and b bridged in khub; api.c is an account whose room is in no bridge yet."""
    text = config_for([a, b], head=head)
    account = f'[networks.api.c]\nbind = "127.0.0.1:{c.port}"\n'
    return text.replace("[[bridges]]", account + "[[bridges]]", 1)


async def test_admin_links_and_unlinks_a_room_in_chat(tmp_path: Path) -> None:
    a, b, c = api_rooms("a", "b", "c")
    cfg = linked_config(a, b, c)
    async with running_hub(cfg, tmp_path) as hub, aiohttp.ClientSession() as s:
        await say(s, a, "mallory", "!bridge link api.c:api public")
        assert "only admins of bridge khub" in (await texts(hub, s, a))[0]
        await say(s, a, "root", "!bridge link api.nope:api public")
        assert "api.nope is not an account" in (await texts(hub, s, a))[0]
        await say(s, a, "root", "!bridge link api.c:api")
        assert "usage: !bridge link" in (await texts(hub, s, a))[0]
        await say(s, a, "root", "!bridge link api.c:api public")
        assert "api.c:api is now in bridge khub as public" in (await texts(hub, s, a))[0]

        async def c_is_up() -> bool:
            return hub.states.is_up("api.c")

        await eventually(c_is_up, what="api.c to restart")
        await say(s, a, "alice", "hello c")
        assert await texts(hub, s, c) == ["hello c"]
        await say(s, c, "carl", "hello from c")
        assert await texts(hub, s, a) == ["hello from c"]
        assert await texts(hub, s, b) == ["hello c", "hello from c"]
    # `rules show` lists the linked room, with where each of its values comes from.
    from tests.e2e.test_cli import bridgebot

    (tmp_path / "bot.toml").write_text(cfg)
    shown = bridgebot("rules", "show", "--config", str(tmp_path / "bot.toml")).stdout
    linked = shown.split("api.c:api  (linked in chat by api.a:root)\n", 1)[1]
    assert linked.splitlines()[0].split() == ["privacy", '"public"', "set", "by", "api.a:root",
                                              "(overrides", "bot.toml)"]  # fmt: skip
    assert linked.splitlines()[1].split() == ["sends", "true", "default"]
    # Links are kept in the store: still there after a restart.
    async with running_hub(cfg, tmp_path) as hub, aiohttp.ClientSession() as s:
        await say(s, a, "alice", "still linked")
        assert await texts(hub, s, c) == ["still linked"]
        await say(s, a, "root", "!bridge unlink api.c:api")
        assert "no longer in bridge khub" in (await texts(hub, s, a))[0]
        await say(s, a, "alice", "after unlink")
        assert await texts(hub, s, c) == []
        assert await texts(hub, s, b) == ["still linked", "after unlink"]
        # A room of bot.toml can be unlinked too, and linked again.
        await say(s, a, "root", "!bridge unlink api.b:api")
        await settle(hub, s, a)
        await say(s, a, "alice", "b is out")
        assert await texts(hub, s, b) == []
        await say(s, a, "root", "!bridge link api.b:api public")
        await settle(hub, s, a)
        await say(s, a, "alice", "b is back")
        assert await texts(hub, s, b) == ["b is back"]
        log = [(e.action, json.loads(e.detail)["room"]) for e in await hub.store.audit_log()
               if e.action in ("link", "unlink")]  # fmt: skip
    assert list(reversed(log)) == [
        ("link", "api.c:api"),
        ("unlink", "api.c:api"),
        ("unlink", "api.b:api"),
        ("link", "api.b:api"),
    ]


BRIDGE_ROLES = """
[roles]
admins = ["api.a:root"]
"""


def two_bridges(a: ApiRoom, b: ApiRoom, c: ApiRoom) -> str:
    """khub = a + b (bridge admin api.a:kim, facilitator api.a:fay); other = a + c."""
    text = config_for([a, b], head=BRIDGE_ROLES)
    text = text.replace(
        'label = "{author} · {network}"\n',
        'label = "{author} · {network}"\n[bridges.roles]\nadmins = ["api.a:kim", "api.b:kim"]\n'
        'facilitators = ["api.a:fay"]\n',
        1,
    )
    account = f'[networks.api.c]\nbind = "127.0.0.1:{c.port}"\n'
    text = text.replace("[[bridges]]", account + "[[bridges]]", 1)
    return text + (
        '[[bridges]]\nname = "other"\n'
        f'[[bridges.rooms]]\nroom = "{a.ref}"\nprivacy = "public"\n'
        f'[[bridges.rooms]]\nroom = "{c.ref}"\nprivacy = "public"\n'
    )


async def test_bridge_roles_reach_only_their_own_bridge(tmp_path: Path) -> None:
    a, b, c = api_rooms("a", "b", "c")
    async with running_hub(two_bridges(a, b, c), tmp_path) as hub, aiohttp.ClientSession() as s:
        # Room a is in khub and other: a khub admin may not change it alone.
        await say_all(s, a, "kim", "!bridge set privacy closed")
        refusal = (await texts(hub, s, a))[0]
        assert "not an admin of bridge other" in refusal
        # Room b is only in khub: the khub admin may.
        await say_all(s, b, "kim", "!bridge set receives no")
        assert "receives is now no" in (await texts(hub, s, b))[0]
        await say_all(s, a, "alice", "to everyone")
        assert await texts(hub, s, b) == []  # b no longer receives
        assert await texts(hub, s, c) == ["to everyone"]
        await say_all(s, b, "kim", "!bridge unset receives")
        await settle(hub, s, b)
        # The khub facilitator's announcement goes to khub only.
        await say_all(s, a, "fay", "!announce khub meeting")
        answer = (await texts(hub, s, a))[0]
        assert await texts(hub, s, b) == ["khub meeting"]
        assert await texts(hub, s, c) == []
        # A global admin may do both.
        await say_all(s, a, "root", "!announce all hands")
        await settle(hub, s, a)
        assert await texts(hub, s, b) == ["all hands"]
        assert await texts(hub, s, c) == ["all hands"]
    assert "queued for 1 rooms: api.b:api" in answer


# -- consent ------------------------------------------------------------------------------


def opt_in(a: ApiRoom, extra: str = "") -> ApiRoom:
    return ApiRoom(a.account, a.port, "public", 'consent = "opt-in"\n' + extra)


async def test_new_author_is_held_told_once_and_released_on_yes(tmp_path: Path) -> None:
    a, b = api_rooms("a", "b")
    a = opt_in(a)
    async with running_hub(config_for([a, b]), tmp_path) as hub, aiohttp.ClientSession() as s:
        await say(s, a, "carol", "first, held")
        told = await settle(hub, s, a)
        assert len(told) == 1 and told[0]["username"] == "bridgebot"
        assert "carol, this room is bridged" in told[0]["text"]
        assert "!bridge consent yes" in told[0]["text"] and "api.b:api" in told[0]["text"]
        await say(s, a, "carol", "second, held too")
        assert await texts(hub, s, a) == []  # told once only
        assert await texts(hub, s, b) == []
        held = await hub.store.held("api.a:carol")
        assert len(held) == 2
        await say(s, a, "carol", "!bridge consent yes")
        answer = (await texts(hub, s, a))[0]
        assert "will now cross" in answer and "2 held messages are on their way" in answer
        assert await texts(hub, s, b) == ["first, held", "second, held too"]
        await say(s, a, "carol", "after consent")
        assert await texts(hub, s, b) == ["after consent"]
        assert await hub.store.held("api.a:carol") == []


async def test_consent_no_drops_held_messages_and_deletes_copies_if_configured(
    tmp_path: Path,
) -> None:
    a, b = api_rooms("a", "b")
    a = opt_in(a, "delete_on_consent_no = true")
    async with running_hub(config_for([a, b]), tmp_path) as hub, aiohttp.ClientSession() as s:
        await say(s, a, "dave", "!bridge consent yes")
        await settle(hub, s, a)
        await say(s, a, "dave", "relayed, then regretted")
        copies = await settle(hub, s, b)
        assert [m["text"] for m in copies] == ["relayed, then regretted"]
        await say(s, a, "erin", "erin's held message")
        await settle(hub, s, a)
        await say(s, a, "erin", "!bridge consent no")
        assert "1 held messages will not be sent" in (await texts(hub, s, a))[0]

        await say(s, a, "dave", "!bridge consent no")
        answer = (await texts(hub, s, a))[0]
        assert "copies of 1 earlier messages are being deleted" in answer
        deleted = await settle(hub, s, b)
        await say(s, a, "dave", "not relayed any more")
        assert await texts(hub, s, b) == []
    assert [m["event"] for m in deleted] == ["msg_delete"]
    assert deleted[0]["id"] == copies[0]["id"]


async def test_consent_no_keeps_copies_by_default(tmp_path: Path) -> None:
    a, b = api_rooms("a", "b")
    a = opt_in(a)
    async with running_hub(config_for([a, b]), tmp_path) as hub, aiohttp.ClientSession() as s:
        await say(s, a, "dave", "!bridge consent yes")
        await settle(hub, s, a)
        await say(s, a, "dave", "kept")
        assert await texts(hub, s, b) == ["kept"]
        await say(s, a, "dave", "!bridge consent no")
        assert "being deleted" not in (await texts(hub, s, a))[0]
        assert await settle(hub, s, b) == []


async def test_linking_cannot_lower_a_room_s_privacy_or_bypass_its_admins(tmp_path: Path) -> None:
    a, b, c = api_rooms("a", "b", "c")
    cfg = two_bridges(a, b, c).replace(
        f'room = "{c.ref}"\nprivacy = "public"', f'room = "{c.ref}"\nprivacy = "closed"'
    )
    async with running_hub(cfg, tmp_path) as hub, aiohttp.ClientSession() as s:
        # kim administers khub only; c belongs to bridge "other".
        await say_all(s, b, "kim", "!bridge link api.c:api closed")
        refusal = (await texts(hub, s, b))[0]
        assert "api.c:api is in other bridges" in refusal
        assert "not in [roles] admins" in refusal
        # A global admin may link it, but not as less private than it already is.
        await say_all(s, a, "root", "!bridge link api.c:api public")
        assert "name one at the end" in (await texts(hub, s, a))[0]  # a is in two bridges
        await say_all(s, a, "root", "!bridge link api.c:api public khub")
        lowered = (await texts(hub, s, a))[0]
        assert "already in bridge other as closed" in lowered
        await say_all(s, a, "root", "!bridge link api.c:api closed khub")
        assert "now in bridge khub as closed" in (await texts(hub, s, a))[0]
        assert hub.topology is not None
        privacies = {p.privacy.label for _, p in hub.topology.memberships(RoomRef.parse(c.ref))}
    assert privacies == {"closed"}
