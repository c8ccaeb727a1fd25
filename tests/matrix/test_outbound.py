"""Deliveries from the core land in Matrix exactly as intended, and only once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from adapters.matrix import ORIGIN_KEY
from bridgebot.model import Attachment
from tests.matrix.conftest import BotFactory, Human, MemoryContext, outbound

People = Callable[..., Awaitable[Human]]


async def test_send_labels_marks_and_mentions_nobody(bot: BotFactory, people: People) -> None:
    alice = await people("alice")
    room = await alice.create_room()
    adapter, _ = await bot.start((room,), MemoryContext())
    ref = adapter.room_ref(room)

    event_id = await adapter.send(ref, outbound("k1", "hi **all**"))
    (event,) = [e for e in await alice.messages(room) if e["event_id"] == event_id]
    content = event["content"]
    assert event["sender"] == bot.user.user_id
    assert content["body"] == "Ann · api: hi **all**"
    assert content["formatted_body"] == "<strong>Ann · api</strong>: hi <strong>all</strong>"
    assert content["m.mentions"] == {}
    assert content[ORIGIN_KEY] == "api.one:api"
    assert content["msgtype"] == "m.text"


async def test_hostile_text_is_neutralised(bot: BotFactory, people: People) -> None:
    alice = await people("alice")
    room = await alice.create_room()
    adapter, _ = await bot.start((room,), MemoryContext())
    ref = adapter.room_ref(room)
    hostile = '@room <script>alert(1)</script><img src=x onerror="alert(2)"> @ROOM'
    event_id = await adapter.send(ref, outbound("k1", hostile, label="<b>@room</b>"))
    (event,) = [e for e in await alice.messages(room) if e["event_id"] == event_id]
    content = event["content"]
    for field in ("body", "formatted_body"):
        assert "@room" not in content[field].lower(), field
    html = content["formatted_body"]
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html  # shown as text, not run

    # 64 kB of text: trimmed to what Matrix takes instead of being refused.
    big = await adapter.send(ref, outbound("k2", "x" * 65536))
    (event,) = [e for e in await alice.messages(room) if e["event_id"] == big]
    assert 30000 <= len(event["content"]["body"]) < 30100
    assert event["content"]["body"].endswith("…")


async def test_reply_thread_edit_delete_react(bot: BotFactory, people: People) -> None:
    alice = await people("alice")
    room = await alice.create_room()
    adapter, _ = await bot.start((room,), MemoryContext())
    ref = adapter.room_ref(room)
    root = await alice.say(room, "root")

    reply = await adapter.send(ref, outbound("r", "a reply", reply_to=root))
    threaded = await adapter.send(ref, outbound("t", "in thread", thread=root))
    thread_reply = await adapter.send(ref, outbound("tr", "x", thread=root, reply_to=threaded))
    await adapter.edit(ref, reply, outbound("e", "edited reply"))
    doomed = await adapter.send(ref, outbound("d", "to be deleted"))
    await adapter.delete(ref, doomed)
    await adapter.delete(ref, doomed)  # twice: harmless
    await adapter.react(ref, root, "🎉")
    await adapter.react(ref, root, "🎉")  # twice: one reaction

    history = await alice.history(room)
    by_id = {e["event_id"]: e for e in history}
    assert by_id[reply]["content"]["m.relates_to"] == {"m.in_reply_to": {"event_id": root}}
    assert by_id[threaded]["content"]["m.relates_to"] == {
        "rel_type": "m.thread",
        "event_id": root,
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": root},
    }
    relation = by_id[thread_reply]["content"]["m.relates_to"]
    assert (relation["is_falling_back"], relation["m.in_reply_to"]) == (
        False,
        {"event_id": threaded},
    )
    (edit,) = [
        e for e in history if e["content"].get("m.relates_to", {}).get("rel_type") == "m.replace"
    ]
    assert edit["content"]["m.relates_to"]["event_id"] == reply
    assert edit["content"]["m.new_content"]["body"] == "Ann · api: edited reply"
    assert edit["content"]["m.new_content"]["m.mentions"] == {}
    assert by_id[doomed]["content"] == {}  # redacted
    reactions = [e for e in history if e["type"] == "m.reaction"]
    assert [r["content"]["m.relates_to"]["key"] for r in reactions] == ["🎉"]


async def test_files_upload_or_link(bot: BotFactory, people: People) -> None:
    alice = await people("alice")
    room = await alice.create_room()
    adapter, _ = await bot.start((room,), MemoryContext(), max_upload_bytes=1000)
    ref = adapter.room_ref(room)
    small = Attachment("cat.png", "image/png", 4, data=b"\x89PNG")
    big = Attachment("big.bin", "application/octet-stream", 5000, data=b"0" * 5000)
    remote = Attachment("doc.pdf", "application/pdf", 10, url="https://files.example/doc.pdf")
    first = await adapter.send(ref, outbound("f", "files", attachments=(small, big, remote)))
    only_file = await adapter.send(ref, outbound("g", "", label="", attachments=(small,)))

    messages = await alice.messages(room)
    by_id = {e["event_id"]: e for e in messages}
    text = by_id[first]["content"]["body"]
    assert "doc.pdf: https://files.example/doc.pdf" in text
    assert "big.bin" in text and "not relayed" in text
    images = [e for e in messages if e["content"].get("msgtype") == "m.image"]
    assert len(images) == 2
    assert images[0]["content"]["url"].startswith("mxc://localhost/")
    assert images[0]["content"]["info"] == {"mimetype": "image/png", "size": 4}
    assert by_id[only_file]["content"]["msgtype"] == "m.image"


async def test_a_retried_send_posts_once(bot: BotFactory, people: People) -> None:
    """The txn id comes from the delivery key: the homeserver returns the first event."""
    alice = await people("alice")
    room = await alice.create_room()
    context = MemoryContext()
    adapter, _ = await bot.start((room,), context)
    ref = adapter.room_ref(room)
    first = await adapter.send(ref, outbound("same-key", "once"))
    assert await adapter.send(ref, outbound("same-key", "once")) == first
    await adapter.stop()
    # A restart logs in again with the stored device, so deduplication still holds.
    again, _ = await bot.start((room,), context)
    assert await again.send(ref, outbound("same-key", "once")) == first
    bodies = [e["content"]["body"] for e in await alice.messages(room)]
    assert bodies.count("Ann · api: once") == 1
