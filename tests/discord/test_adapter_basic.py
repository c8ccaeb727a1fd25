"""The real adapter and discord.py against the lab: messages in, webhook posts out."""

from __future__ import annotations

import logging

import pytest

from adapters.discord import DiscordAdapter
from bridgebot.errors import PermanentError
from bridgebot.lab.discord import DiscordLab
from bridgebot.model import Attachment, EventKind, RoomRef

from .conftest import ACCOUNT, Start, outbound


async def test_start_connects_and_reports_capabilities(
    lab: DiscordLab, start_adapter: Start
) -> None:
    room = lab.create_channel("general")
    adapter, _, _ = await start_adapter(room)
    assert isinstance(adapter, DiscordAdapter)
    assert adapter.capabilities.per_message_identity
    assert adapter.capabilities.max_text_length == 2000
    assert lab.gateway.identifies == 1


async def test_bad_token_is_a_permanent_error(lab: DiscordLab, start_adapter: Start) -> None:
    room = lab.create_channel("general")
    with pytest.raises(PermanentError, match="token was refused"):
        await start_adapter(room, token="wrong")


async def test_human_message_is_emitted_with_mentions_resolved(
    lab: DiscordLab, start_adapter: Start
) -> None:
    room = lab.create_channel("general")
    other = lab.create_channel("random")
    alice = lab.create_user("Alice")
    bob = lab.create_user("Bob")
    role = lab.create_role("officers")
    _, events, _ = await start_adapter(room)
    posted = lab.post_as_user(
        room, alice, f"hi <@{bob}>, <@&{role}> see <#{other}> <:party:123> **now**"
    )
    lab.post_as_user(other, alice, "not bridged")
    [event] = await events.wait_for(1)
    assert event.kind is EventKind.MESSAGE
    assert event.room == RoomRef(ACCOUNT, room)
    assert event.remote_id == posted["id"]
    assert event.author.display_name == "Alice" and event.author.user_id == alice
    assert event.text == "hi @Bob, @officers see #random :party: **now**"
    assert await events.quiet() == [event]


async def test_send_goes_through_a_webhook_with_the_author_name_and_no_pings(
    lab: DiscordLab, start_adapter: Start
) -> None:
    room = lab.create_channel("general")
    bob = lab.create_user("Bob")
    role = lab.create_role("everyone-ish")
    adapter, events, _ = await start_adapter(room)
    hostile = f"@everyone @here <@{bob}> <@&{role}> look"
    remote_id = await adapter.send(RoomRef(ACCOUNT, room), outbound(hostile))
    [copy] = lab.history(room)
    assert copy["id"] == remote_id
    assert copy["webhook_id"] and copy["author"]["username"] == "Alice · matrix"
    assert copy["author"]["avatar"] == "https://example.org/alice.png"
    assert "@everyone" not in copy["content"] and "@here" not in copy["content"]
    assert lab.pings == []
    executes = [p for m, path, p in lab.received if "/webhooks/" in path and m == "POST"]
    assert executes[-1]["allowed_mentions"]["parse"] == []
    # the lab does record pings: the same text from a human pings
    lab.post_as_user(room, bob, hostile)
    assert {p.kind for p in lab.pings} == {"everyone", "here", "user", "role"}
    # our own webhook post never comes back as an event; the human's does
    [event] = await events.wait_for(1)
    assert event.author.user_id == bob
    assert await events.quiet() == [event]


async def test_refused_webhook_names_are_sanitised(lab: DiscordLab, start_adapter: Start) -> None:
    room = lab.create_channel("general")
    adapter, _, _ = await start_adapter(room)
    where = RoomRef(ACCOUNT, room)
    await adapter.send(where, outbound("one", label="Discord Clyde fan"))
    await adapter.send(where, outbound("two", label="x" * 120))
    await adapter.send(where, outbound("three", label="  "))
    names = [m["author"]["username"] for m in lab.history(room)]
    assert names[0] == "Disc*rd Cl*de fan"
    assert len(names[1]) == 80
    assert names[2] == "Alice"


async def test_without_webhook_permission_the_label_goes_in_the_text(
    lab: DiscordLab, start_adapter: Start, caplog: pytest.LogCaptureFixture
) -> None:
    room = lab.create_channel("general")
    alice = lab.create_user("Alice")
    lab.deny(room, "MANAGE_WEBHOOKS")
    adapter, events, _ = await start_adapter(room)
    original = lab.post_as_user(room, alice, "question?")
    await events.wait_for(1)
    with caplog.at_level(logging.WARNING):
        rid = await adapter.send(
            RoomRef(ACCOUNT, room), outbound("answer @everyone", reply_to=original["id"])
        )
    copy = lab.history(room)[-1]
    assert copy["id"] == rid and "webhook_id" not in copy
    assert copy["author"]["id"] == lab.bot.user["id"]
    assert copy["content"] == "Alice · matrix: answer @\u200beveryone"
    assert copy["message_reference"]["message_id"] == original["id"]
    assert lab.pings == []
    assert "Manage Webhooks" in caplog.text
    assert await events.quiet() == events.events[:1]  # the bot's own post is not emitted


async def test_files_are_uploaded_within_the_limit_else_linked(
    lab: DiscordLab, start_adapter: Start
) -> None:
    room = lab.create_channel("general")
    adapter, _, _ = await start_adapter(room, max_upload_bytes=1000)
    small = Attachment("notes.txt", "text/plain", 5, data=b"hello")
    big = Attachment(
        "big.bin",
        "application/octet-stream",
        5000,
        url="https://x.example/big.bin",
        data=b"x" * 5000,
    )
    await adapter.send(RoomRef(ACCOUNT, room), outbound("files", attachments=(small, big)))
    [copy] = lab.history(room)
    [uploaded] = copy["attachments"]
    assert uploaded["filename"] == "notes.txt" and uploaded["size"] == 5
    assert lab.world.files[uploaded["id"]][1] == b"hello"
    assert "big.bin: <https://x.example/big.bin>" in copy["content"]


async def test_inbound_attachments_and_stickers(lab: DiscordLab, start_adapter: Start) -> None:
    room = lab.create_channel("general")
    alice = lab.create_user("Alice")
    _, events, _ = await start_adapter(room)
    lab.post_as_user(
        room,
        alice,
        "",
        attachments=[("cat.png", "image/png", b"\x89PNG")],
        sticker_items=[{"id": "1", "name": "wave", "format_type": 1}],
    )
    [event] = await events.wait_for(1)
    assert event.text == "[sticker: wave]"
    [att] = event.attachments
    assert (att.filename, att.mime_type, att.size) == ("cat.png", "image/png", 4)
    assert att.url and att.url.startswith(lab.url)


async def test_a_configured_webhook_is_used_without_manage_webhooks(
    lab: DiscordLab, start_adapter: Start
) -> None:
    room = lab.create_channel("general")
    hook = lab.world.add_webhook(room, "made by an admin", None)
    lab.deny(room, "MANAGE_WEBHOOKS")
    url = f"{lab.api_url}/webhooks/{hook['id']}/{hook['token']}"
    adapter, events, _ = await start_adapter(room, webhook_urls={room: url})
    rid = await adapter.send(RoomRef(ACCOUNT, room), outbound("via the admin's hook"))
    [copy] = lab.history(room)
    assert copy["id"] == rid and copy["webhook_id"] == hook["id"]
    assert copy["author"]["username"] == "Alice · matrix"
    assert await events.quiet() == []  # its messages are recognised as ours
