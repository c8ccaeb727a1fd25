"""The real adapter and python-telegram-bot against the lab server over loopback."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bridgebot.errors import PermanentError, RejectedEvent, TransientError
from bridgebot.model import Attachment, EventKind
from tests.support import send_paced

from .conftest import ACCOUNT, Collector, World
from .helpers import outbound


async def test_inbound_message_with_entities(world: World, collector: Collector) -> None:
    adapter = world.adapter()
    await adapter.start(collector)
    bold = [{"type": "bold", "offset": 6, "length": 5}]
    sent = world.lab.post_as_user(world.group, world.alice["id"], "hello world", entities=bold)
    (event,) = await collector.wait_for(1)
    assert event.kind is EventKind.MESSAGE
    assert event.room == world.room()
    assert event.remote_id == str(sent["message_id"])
    assert event.text == "hello **world**"
    assert event.author.display_name == "Alice Smith"
    assert event.author.user_id == str(world.alice["id"])
    assert world.context.cursors["update_offset"] == "2"


async def test_copies_are_not_relayed_back(world: World, collector: Collector) -> None:
    adapter = world.adapter()
    await adapter.start(collector)
    copy = world.lab.post_as_user(world.group, world.alice["id"], "a copy")
    world.context.copies.add((world.room(), str(copy["message_id"])))
    world.lab.post_as_user(world.group, world.bob["id"], "an original")
    (event,) = await collector.wait_for(1)
    assert event.text == "an original"


async def test_send_escapes_hostile_html_and_mentions(world: World) -> None:
    adapter = world.adapter()
    await adapter.start(Collector())
    hostile = '<script>alert(1)</script> & <b>x</b> <a href="tg://user?id=1">y</a> @alice'
    remote_id = await send_paced(adapter, world.room(), outbound(hostile, label="<i>Ann</i>"))
    (message,) = world.lab.history(world.group)
    assert str(message["message_id"]) == remote_id
    # the lab applied parse_mode=HTML: only the label's bold survived as markup
    assert message["text"] == "<i>Ann</i>: " + hostile.replace("@alice", "@\u2060alice")
    assert message["entities"] == [{"type": "bold", "offset": 0, "length": 10}]
    method, params = world.lab.requests[-1]
    assert method == "sendMessage" and params["parse_mode"] == "HTML"


async def test_send_renders_markdown_subset(world: World) -> None:
    adapter = world.adapter()
    await adapter.start(Collector())
    await send_paced(
        adapter, world.room(), outbound("**b** _i_ `c<d>` [site](https://e.org/?a=1&b=2)")
    )
    (message,) = world.lab.history(world.group)
    assert message["text"] == "Ann · api: b i c<d> site"
    kinds = [(e["type"], e.get("url")) for e in message["entities"]]
    assert kinds == [
        ("bold", None),
        ("bold", None),
        ("italic", None),
        ("code", None),
        ("text_link", "https://e.org/?a=1&b=2"),
    ]


async def test_long_text_is_cut_to_telegram_limit(world: World) -> None:
    adapter = world.adapter()
    await adapter.start(Collector())
    await send_paced(adapter, world.room(), outbound("x" * 5000))
    (message,) = world.lab.history(world.group)
    assert len(message["text"]) == 4096
    assert message["text"].endswith("…")


async def test_replies_both_ways(world: World, collector: Collector) -> None:
    adapter = world.adapter()
    await adapter.start(collector)
    first = world.lab.post_as_user(world.group, world.alice["id"], "question")
    world.lab.post_as_user(world.group, world.bob["id"], "answer", reply_to=first["message_id"])
    events = await collector.wait_for(2)
    assert events[1].reply_to == str(first["message_id"])
    copy_id = await send_paced(
        adapter, world.room(), outbound("reply", reply_to=events[1].remote_id)
    )
    copy = world.lab.history(world.group)[-1]
    assert str(copy["message_id"]) == copy_id
    assert copy["reply_to_message"]["message_id"] == int(events[1].remote_id)
    # a reply to a message that is gone still goes out, without the reply
    await send_paced(adapter, world.room(), outbound("orphan", reply_to="999"))
    assert "reply_to_message" not in world.lab.history(world.group)[-1]


async def test_forum_topics_as_threads_and_as_rooms(world: World, collector: Collector) -> None:
    lab = world.lab
    forum = lab.create_chat("Forum", is_forum=True, admins=(world.bot.id,))
    forum.members[world.alice["id"]] = "member"
    general = lab.create_topic(forum.id, "General", world.alice["id"])
    events_topic = lab.create_topic(forum.id, "Events", world.alice["id"])
    topic_room = f"{forum.id}/{events_topic}"
    adapter = world.adapter([str(forum.id), topic_room])
    await adapter.start(collector)
    lab.post_as_user(f"{forum.id}/{general}", world.alice["id"], "in general")
    lab.post_as_user(topic_room, world.alice["id"], "in events")
    first, second = await collector.wait_for(2)
    # the whole forum is a room: its topics are threads; a configured topic is its own room
    assert (first.room.room_id, first.thread, first.reply_to) == (
        str(forum.id),
        str(general),
        None,
    )
    assert (second.room.room_id, second.thread) == (topic_room, None)
    # two sends into one forum back to back: the lab's flood control may ask for a pause
    await send_paced(adapter, world.room(forum.id), outbound("to general", thread=str(general)))
    await send_paced(adapter, world.room(topic_room), outbound("to events"))
    history = lab.history(forum.id)
    assert history[-2]["message_thread_id"] == general
    assert history[-1]["message_thread_id"] == events_topic
    assert history[-1]["text"] == "Ann · api: to events"


async def test_thread_in_plain_group_becomes_reply(world: World) -> None:
    adapter = world.adapter()
    await adapter.start(Collector())
    root = world.lab.post_as_user(world.group, world.alice["id"], "root")
    await send_paced(adapter, world.room(), outbound("in thread", thread=str(root["message_id"])))
    message = world.lab.history(world.group)[-1]
    assert message["reply_to_message"]["message_id"] == root["message_id"]
    assert "message_thread_id" not in message


async def test_edits_both_ways(world: World, collector: Collector) -> None:
    adapter = world.adapter()
    await adapter.start(collector)
    original = world.lab.post_as_user(world.group, world.alice["id"], "teh plan")
    world.lab.edit_as_user(world.group, original["message_id"], "the plan")
    _, edit = await collector.wait_for(2)
    assert (edit.kind, edit.target, edit.text) == (
        EventKind.EDIT,
        str(original["message_id"]),
        "the plan",
    )
    copy_id = await send_paced(adapter, world.room(), outbound("draft"))
    await adapter.edit(world.room(), copy_id, outbound("final <b>"))
    await adapter.edit(world.room(), copy_id, outbound("final <b>"))  # a retry: no error
    assert world.lab.history(world.group)[-1]["text"] == "Ann · api: final <b>"
    file_copy = await send_paced(
        adapter,
        world.room(),
        outbound("with file", attachments=(Attachment("a.txt", "text/plain", 3, data=b"abc"),)),
    )
    await adapter.edit(world.room(), file_copy, outbound("file, edited"))
    assert world.lab.history(world.group)[-1]["caption"] == "Ann · api: file, edited"


async def test_deletes_and_the_48_hour_window(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = world.adapter()
    await adapter.start(Collector())
    fresh = await send_paced(adapter, world.room(), outbound("fresh"))
    old = await send_paced(adapter, world.room(), outbound("old"))
    await adapter.delete(world.room(), fresh)
    await adapter.delete(world.room(), fresh)  # already gone: fine
    world.lab.set_message_date(world.group, int(old), int(time.time()) - 49 * 3600)
    with pytest.raises(PermanentError, match="can't be deleted"):
        await adapter.delete(world.room(), old)
    assert "less than 48 hours old" in caplog.text
    assert [m["text"] for m in world.lab.history(world.group)] == ["Ann · api: old"]


async def test_reactions_both_ways(world: World, collector: Collector) -> None:
    adapter = world.adapter()
    await adapter.start(collector)
    message = world.lab.post_as_user(world.group, world.alice["id"], "vote")
    # allowed_updates (asking for reactions) takes effect with the first getUpdates
    await collector.wait_for(1)
    world.lab.react_as_user(world.group, message["message_id"], world.bob["id"], "👍")
    _, reaction = await collector.wait_for(2)
    assert (reaction.kind, reaction.target, reaction.emoji) == (
        EventKind.REACTION,
        str(message["message_id"]),
        "👍",
    )
    assert reaction.author.user_id == str(world.bob["id"])
    await adapter.react(world.room(), str(message["message_id"]), "❤️")
    stored = world.lab.history(world.group)[0]["_reactions"][str(world.bot.id)]
    assert stored == ["❤"]
    with pytest.raises(PermanentError, match="REACTION_INVALID"):
        await adapter.react(world.room(), str(message["message_id"]), ":custom:")


async def test_files_both_ways(world: World, collector: Collector) -> None:
    adapter = world.adapter()
    await adapter.start(collector)
    world.lab.post_as_user(
        world.group,
        world.alice["id"],
        "minutes",
        document=("minutes.pdf", b"%PDF-1.4 lab", "application/pdf"),
    )
    world.lab.post_as_user(world.group, world.alice["id"], photo=b"\xff\xd8jpeg")
    doc, photo = await collector.wait_for(2)
    assert doc.text == "minutes"
    (attachment,) = doc.attachments
    assert (attachment.filename, attachment.mime_type, attachment.data) == (
        "minutes.pdf",
        "application/pdf",
        b"%PDF-1.4 lab",
    )
    assert photo.attachments[0].data == b"\xff\xd8jpeg"
    files = (
        Attachment("plan.png", "image/png", 4, data=b"\x89PNG"),
        Attachment("notes.txt", "text/plain", 5, data=b"notes"),
        Attachment("big.iso", "application/octet-stream", 10**9, url="https://files.example/big"),
    )
    await send_paced(adapter, world.room(), outbound("see <these>", attachments=files))
    sent = world.lab.history(world.group)[-2:]
    assert "photo" in sent[0] and sent[0]["caption"] == "Ann · api: see <these>\nbig.iso"
    assert sent[1]["document"]["file_name"] == "notes.txt"
    stored = world.lab.files[sent[1]["document"]["file_id"]]
    assert stored.data == b"notes"


async def test_too_large_inbound_file_is_named_not_fetched(
    world: World, collector: Collector
) -> None:
    adapter = world.adapter(max_download_bytes=4)
    await adapter.start(collector)
    world.lab.post_as_user(
        world.group, world.alice["id"], "", document=("huge.bin", b"12345", "application/x")
    )
    (event,) = await collector.wait_for(1)
    assert event.attachments == ()
    assert event.text == "[file not relayed, too large: huge.bin]"
    assert not any(method == "getFile" for method, _ in world.lab.requests)


async def test_catch_up_after_restart(world: World, collector: Collector) -> None:
    adapter = world.adapter()
    await adapter.start(collector)
    world.lab.post_as_user(world.group, world.alice["id"], "before")
    await collector.wait_for(1)
    await adapter.stop()
    for n in range(3):
        world.lab.post_as_user(world.group, world.bob["id"], f"while down {n}")
    later = Collector()
    await world.adapter().start(later)
    events = await later.wait_for(3)
    assert [e.text for e in events] == ["while down 0", "while down 1", "while down 2"]
    assert world.context.cursors["update_offset"] == "5"


async def test_polling_survives_server_errors(world: World, collector: Collector) -> None:
    adapter = world.adapter()
    world.lab.inject_error("getUpdates", 502, "Bad Gateway")
    await adapter.start(collector)
    world.lab.post_as_user(world.group, world.alice["id"], "after a 502")
    (event,) = await collector.wait_for(1, within=10)
    assert event.text == "after a 502"


async def test_malformed_and_rejected_updates_are_dropped(
    world: World, collector: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = world.adapter()
    bad = {"message_id": 1, "from": world.alice, "chat": {"id": "not a number"}, "date": 0}
    world.bot.enqueue("message", bad)
    world.lab.post_as_user(world.group, world.alice["id"], "refused")
    world.lab.post_as_user(world.group, world.alice["id"], "fine")

    def reject(event: object) -> Exception | None:
        refused = getattr(event, "text", "") == "refused"
        return RejectedEvent("room is in no bridge") if refused else None

    collector.reject = reject
    with caplog.at_level(logging.INFO):
        await adapter.start(collector)
        (event,) = await collector.wait_for(1)
    assert event.text == "fine"
    assert "dropped malformed telegram update 1 (ValueError)" in caplog.text
    assert "room is in no bridge" in caplog.text
    assert "not a number" not in caplog.text


async def test_bad_token_is_permanent_and_dead_server_transient(world: World) -> None:
    world.bot.token = world.bot.token[:-3] + "xyz"
    with pytest.raises(PermanentError, match="token was rejected"):
        await world.adapter().start(Collector())
    url = world.lab.api_url
    await world.lab.stop()
    adapter = world.adapter()
    assert url == world.lab.api_url
    with pytest.raises(TransientError) as dead:
        await adapter.start(Collector())
    assert "network error" in str(dead.value)
    assert world.bot.token not in _chain_text(dead.value)


async def test_a_server_that_never_answers_times_out_as_transient(world: World) -> None:
    """A Bot API that accepts the connection and then says nothing: the call gives up after
    ``request_timeout`` and the adapter reports a transient error, without the token."""
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # read nothing, answer nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    adapter = world.adapter(request_timeout=0.3)
    adapter._settings = adapter._settings.model_copy(
        update={"base_url": f"http://127.0.0.1:{port}/bot"}
    )
    try:
        async with asyncio.timeout(30):  # a hang guard, not a timing assertion
            with pytest.raises(TransientError) as hung:
                await adapter.start(Collector())
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
    assert "getMe timed out" in str(hung.value)
    assert held, "the adapter never reached the silent server"
    assert world.bot.token not in _chain_text(hung.value)


def _chain_text(exc: BaseException) -> str:
    """The text of an exception and of every exception behind it."""
    parts: list[str] = []
    current: BaseException | None = exc
    while current is not None:
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


async def test_privacy_mode_warning(world: World, caplog: pytest.LogCaptureFixture) -> None:
    shy = world.lab.create_bot("shybot", can_read_all_group_messages=False)
    world.lab.chats[world.group].members[shy.id] = "member"
    await world.adapter(bot=shy).start(Collector())
    assert f"cannot read messages in {world.group}: privacy mode is on" in caplog.text


async def test_unknown_room_is_permanent(world: World) -> None:
    adapter = world.adapter()
    await adapter.start(Collector())
    with pytest.raises(PermanentError, match=r"(?i)chat not found") as missing:
        await send_paced(adapter, world.room("-100999"), outbound("x"))
    assert f"telegram account {ACCOUNT}, room -100999" in str(missing.value)
    with pytest.raises(PermanentError, match="not a chat id"):
        await send_paced(adapter, world.room("general"), outbound("x"))
