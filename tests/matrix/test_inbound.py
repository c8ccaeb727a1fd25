"""Events made by people on Matrix reach the core as canonical events."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable

import pytest

from adapters.matrix import ORIGIN_KEY
from bridgebot.errors import RejectedEvent
from bridgebot.model import Event, EventKind
from tests.matrix.conftest import WAIT, BotFactory, Collector, Human, MemoryContext, outbound

People = Callable[..., Awaitable[Human]]


async def test_text_html_emote_notice_arrive_in_order(bot: BotFactory, people: People) -> None:
    alice = await people("alice", "Alice")
    room = await alice.create_room()
    _, got = await bot.start((room,), MemoryContext())

    first = await alice.say(room, "hello")
    await alice.send(
        room,
        {
            "msgtype": "m.text",
            "body": "bold",
            "format": "org.matrix.custom.html",
            "formatted_body": "<b>bold</b> <script>alert(1)</script>",
        },
    )
    await alice.send(room, {"msgtype": "m.emote", "body": "waves"})
    await alice.send(room, {"msgtype": "m.notice", "body": "fyi"})

    events = await got.wait_for(4)
    assert [e.text for e in events] == ["hello", "**bold**", "_waves_", "fyi"]
    assert events[0].remote_id == first
    assert events[0].kind is EventKind.MESSAGE
    assert events[0].author.user_id == alice.user.user_id
    assert events[0].author.display_name == "Alice"
    assert str(events[0].room) == f"matrix.home:{room}"
    assert [e.is_notice for e in events] == [False, False, False, True]


async def test_reply_thread_edit_redaction_reaction(bot: BotFactory, people: People) -> None:
    alice = await people("alice")
    room = await alice.create_room()
    _, got = await bot.start((room,), MemoryContext())

    root = await alice.say(room, "root")
    reply = await alice.send(
        room,
        {
            "msgtype": "m.text",
            "body": "> <@x:localhost> root\n\nthe reply",
            "format": "org.matrix.custom.html",
            "formatted_body": "<mx-reply><blockquote>root</blockquote></mx-reply>the reply",
            "m.relates_to": {"m.in_reply_to": {"event_id": root}},
        },
    )
    in_thread = await alice.send(
        room,
        {
            "msgtype": "m.text",
            "body": "threaded",
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": root,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": root},
            },
        },
    )
    await alice.send(
        room,
        {
            "msgtype": "m.text",
            "body": "* root!",
            "m.new_content": {"msgtype": "m.text", "body": "root!"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": root},
        },
    )
    await alice.send(
        room,
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": root, "key": "👍"}},
        etype="m.reaction",
    )
    await alice.client.room_redact(room, reply)

    events = await got.wait_for(6)
    kinds = [e.kind for e in events]
    assert kinds == [
        EventKind.MESSAGE,
        EventKind.MESSAGE,
        EventKind.MESSAGE,
        EventKind.EDIT,
        EventKind.REACTION,
        EventKind.DELETE,
    ]
    assert (events[1].text, events[1].reply_to, events[1].thread) == ("the reply", root, None)
    assert (events[2].text, events[2].reply_to, events[2].thread) == ("threaded", None, root)
    assert events[2].remote_id == in_thread
    assert (events[3].target, events[3].text) == (root, "root!")
    assert (events[4].target, events[4].emoji) == (root, "👍")
    assert events[5].target == reply


async def test_file_arrives_as_attachment(bot: BotFactory, people: People) -> None:
    alice = await people("alice")
    room = await alice.create_room()
    _, got = await bot.start((room,), MemoryContext())
    await alice.send(
        room,
        {
            "msgtype": "m.image",
            "body": "cat.png",
            "url": "mxc://localhost/abcdef",
            "info": {"mimetype": "image/png", "size": 1234},
        },
    )
    (event,) = await got.wait_for(1)
    (attachment,) = event.attachments
    assert (attachment.filename, attachment.mime_type, attachment.size) == (
        "cat.png",
        "image/png",
        1234,
    )
    assert attachment.url == f"{bot.synapse.url}/_matrix/client/v1/media/download/localhost/abcdef"
    assert attachment.data is None  # no such media on the server: the link is relayed
    assert event.text == ""

    # A real upload, small enough: the bytes come along.
    data = b"GIF89a" + bytes(range(256))
    upload, _ = await alice.client.upload(
        lambda *_: io.BytesIO(data), content_type="image/gif", filesize=len(data)
    )
    await alice.send(
        room,
        {
            "msgtype": "m.image",
            "body": "look at this",
            "filename": "anim.gif",
            "url": upload.content_uri,
            "info": {"mimetype": "image/gif", "size": len(data)},
        },
    )
    event = (await got.wait_for(2))[1]
    (attachment,) = event.attachments
    assert (attachment.filename, attachment.data, event.text) == ("anim.gif", data, "look at this")


async def test_same_display_names_are_disambiguated(bot: BotFactory, people: People) -> None:
    one = await people("sam", "Sam")
    two = await people("sam", "Sam")
    room = await one.create_room()
    assert (await two.client.join(room)).room_id == room
    _, got = await bot.start((room,), MemoryContext())
    await one.say(room, "a")
    await two.say(room, "b")
    events = await got.wait_for(2)
    names = [e.author.display_name for e in events]
    assert names == [f"Sam ({one.user.user_id})", f"Sam ({two.user.user_id})"]


async def test_echoes_are_dropped(bot: BotFactory, people: People) -> None:
    """Own events, origin-marked events and known copies never reach the core."""
    alice = await people("alice")
    room = await alice.create_room()
    context = MemoryContext()
    adapter, got = await bot.start((room,), context)
    ref = adapter.room_ref(room)

    await adapter.send(ref, outbound("k1", "from the bot"))
    await alice.send(room, {"msgtype": "m.text", "body": "peer copy", ORIGIN_KEY: "slack.x:C1"})
    # A known copy: the core recorded this id (as if posted by another of our accounts).
    copy_id = await alice.say(room, "recorded copy")
    context.copies.add((str(ref), copy_id))
    await alice.say(room, "real")
    events = await got.wait_for(1)
    assert [e.text for e in await got.quiet(1.0)] == ["real"]
    assert events[0].author.user_id == alice.user.user_id


async def test_malformed_and_unknown_events_never_stop_the_adapter(
    bot: BotFactory, people: People, caplog: pytest.LogCaptureFixture
) -> None:
    alice = await people("alice")
    room = await alice.create_room()
    _, got = await bot.start((room,), MemoryContext())
    secret = "do-not-log-this"
    root = await alice.say(room, "root")
    html = "org.matrix.custom.html"
    # Synapse itself refuses a missing body or a non-string msgtype; these it lets through.
    await alice.send(
        room, {"msgtype": "m.text", "body": "fallback", "format": html, "formatted_body": 7}
    )
    await alice.send(room, {"body": secret}, etype="m.reaction")  # reaction without relation
    await alice.send(room, {"msgtype": "m.image", "body": secret})  # media without url
    await alice.send(
        room,
        {
            "msgtype": "m.text",
            "body": secret,
            "m.relates_to": {"rel_type": "m.replace", "event_id": root},
        },
    )
    await alice.send(room, {"msgtype": "m.text", "body": "odd relation", "m.relates_to": "x"})
    await alice.send(room, {"msgtype": "org.example.poll", "body": "poll: lunch?"})
    await alice.say(room, "still here")
    events = await got.wait_for(5)
    texts = [e.text for e in await got.quiet(0.5)]
    assert texts == ["root", "fallback", "odd relation", "poll: lunch?", "still here"]
    dropped = [r for r in caplog.records if "dropped an event" in r.getMessage()]
    assert len(dropped) == 3
    assert [r.getMessage() for r in caplog.records if secret in r.getMessage()] == []
    assert events[0].remote_id


async def test_invites_from_admins_only(bot: BotFactory, people: People) -> None:
    admin = await people("admin")
    stranger = await people("stranger")
    context = MemoryContext(admins={f"matrix.home:{admin.user.user_id}"})
    adapter, got = await bot.start((), context)
    bot_id = bot.user.user_id
    wanted = await admin.create_room(invite=(bot_id,))
    unwanted = await stranger.create_room(invite=(bot_id,))

    async def membership(human: Human, room: str) -> str | None:
        last: str | None = None
        for event in await human.history(room):
            if event["type"] == "m.room.member" and event["state_key"] == bot_id:
                last = str(event["content"]["membership"])
        return last

    async with asyncio.timeout(WAIT):
        while (await membership(admin, wanted), await membership(stranger, unwanted)) != (
            "join",
            "leave",
        ):
            await asyncio.sleep(0.2)
    await admin.say(wanted, "welcome")
    (event,) = await got.wait_for(1)
    assert event.room == adapter.room_ref(wanted)


async def test_an_event_the_core_refuses_is_logged_and_skipped(
    bot: BotFactory, people: People, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="test.matrix")
    alice = await people("alice")
    room = await alice.create_room()
    seen = Collector()

    async def picky(event: Event) -> None:
        if event.text == "refuse me":
            raise RejectedEvent("room is in no bridge")
        await seen(event)

    adapter, _ = await bot.start((room,), MemoryContext(), emit=picky)
    await alice.say(room, "refuse me")
    await alice.say(room, "accept me")
    await seen.wait_for(1)
    assert [e.text for e in await seen.quiet(0.3)] == ["accept me"]
    (record,) = [r for r in caplog.records if "core refused" in r.getMessage()]
    assert "refuse me" not in record.getMessage()
    assert adapter.room_ref(room).room_id in record.getMessage()
