"""Table tests for adapters.telegram.translate: no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.telegram.render import markdown_to_html, render, render_text
from adapters.telegram.translate import (
    ParseContext,
    entities_to_markdown,
    parse_room,
    parse_update,
)
from bridgebot.model import EventKind

from .helpers import outbound

J = "\u2060"
CTX = ParseContext("telegram.bot", bot_id=42, rooms=frozenset({"-1001", "-1002/7"}))
ALICE = {"id": 5, "is_bot": False, "first_name": "Alice", "last_name": "Smith"}
GROUP = {"id": -1001, "type": "supergroup", "title": "G"}
FORUM = {"id": -1002, "type": "supergroup", "title": "F", "is_forum": True}


def _message(**fields: Any) -> dict[str, Any]:
    return {"message_id": 10, "from": ALICE, "chat": GROUP, "date": 1700000000, **fields}


@pytest.mark.parametrize(
    ("text", "entities", "expected"),
    [
        ("plain", None, "plain"),
        ("bold", [{"type": "bold", "offset": 0, "length": 4}], "**bold**"),
        ("a b c", [{"type": "italic", "offset": 2, "length": 1}], "a _b_ c"),
        # offsets count UTF-16 units: the emoji is two
        ("😀 hi", [{"type": "bold", "offset": 3, "length": 2}], "😀 **hi**"),
        ("x = 1", [{"type": "code", "offset": 0, "length": 5}], "`x = 1`"),
        ("f()", [{"type": "pre", "offset": 0, "length": 3, "language": "py"}], "```py\nf()\n```"),
        (
            "see site",
            [{"type": "text_link", "offset": 4, "length": 4, "url": "https://e.org"}],
            "see [site](https://e.org)",
        ),
        (
            "nested",
            [
                {"type": "italic", "offset": 0, "length": 6},
                {"type": "bold", "offset": 0, "length": 3},
            ],
            "_**nes**ted_",
        ),
        ("@alice hi", [{"type": "mention", "offset": 0, "length": 6}], "@alice hi"),
        ("old", [{"type": "strikethrough", "offset": 0, "length": 3}], "~~old~~"),
        # entities that do not fit the text are ignored, not a crash
        ("short", [{"type": "bold", "offset": 3, "length": 10}], "short"),
        ("short", [{"type": "bold", "offset": "x", "length": 1}, "junk"], "short"),
    ],
)
def test_entities_to_markdown(text: str, entities: list[Any] | None, expected: str) -> None:
    assert entities_to_markdown(text, entities) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("<script>x</script>", "&lt;script&gt;x&lt;/script&gt;"),
        ("**bold** and _it_ and *it*", "<b>bold</b> and <i>it</i> and <i>it</i>"),
        ("`a<b>` **x**", "<code>a&lt;b&gt;</code> <b>x</b>"),
        ("```py\nx = '<'\n```", "<pre>x = '&lt;'</pre>"),
        (
            '[a](https://e.org/?q=1&r="2")',
            '<a href="https://e.org/?q=1&amp;r=&quot;2&quot;">a</a>',
        ),
        ("[a](tg://user?id=1)", "[a](tg://user?id=1)"),
        ("[a](javascript:alert(1))", "[a](javascript:alert(1))"),
        ("ping @everyone and @alice", f"ping @{J}everyone and @{J}alice"),
        ("mail me@x.org", f"mail me@{J}x.org"),
        ("**a *b** c*", "**a *b** c*"),  # overlapping markers stay literal, never bad HTML
        ("snake_case_name", "snake_case_name"),
        ("~~gone~~", "<s>gone</s>"),
        ("nul\x00byte", "nulbyte"),
    ],
)
def test_markdown_to_html(text: str, expected: str) -> None:
    assert markdown_to_html(text) == expected


def test_render_text_label_and_truncation() -> None:
    assert render_text(outbound("hi", label="<b>Eve</b> @x")) == (
        f"<b>&lt;b&gt;Eve&lt;/b&gt; @{J}x</b>: hi"
    )
    assert render_text(outbound("hi", label="")) == "hi"
    assert render_text(outbound("", label="Ann")) == "<b>Ann</b>"
    long = render_text(outbound("y" * 100, label="Ann"), limit=20)
    assert long == "<b>Ann</b>: " + "y" * 14 + "…"


@pytest.mark.parametrize(
    ("room", "expected"),
    [("-1001", (-1001, None)), ("-1002/7", (-1002, 7)), ("@channel", ("@channel", None))],
)
def test_parse_room(room: str, expected: tuple[int | str, int | None]) -> None:
    assert parse_room(room) == expected


@pytest.mark.parametrize("room", ["general", "-1/x", "", "@"])
def test_parse_room_refuses(room: str) -> None:
    with pytest.raises(ValueError):
        parse_room(room)


def test_render_threads_replies_and_topics() -> None:
    out = outbound("x", thread="7", reply_to="9")
    assert render(out, "-1002", is_forum=True)["message_thread_id"] == 7
    assert render(out, "-1002", is_forum=True)["reply_to_message_id"] == 9
    plain = render(outbound("x", thread="7"), "-1001", is_forum=False)
    assert (plain["message_thread_id"], plain["reply_to_message_id"]) == (None, 7)
    topic = render(outbound("x", thread="3"), "-1002/7", is_forum=True)
    assert (topic["chat_id"], topic["message_thread_id"]) == (-1002, 7)
    assert (
        render(outbound("x", reply_to="abc"), "-1001", is_forum=False)["reply_to_message_id"]
        is None
    )


def test_parse_message_reply_and_author() -> None:
    update = {
        "update_id": 1,
        "message": _message(text="hi", reply_to_message=_message(message_id=3)),
    }
    (inbound,) = parse_update(CTX, update)
    event = inbound.event
    assert (event.kind, event.remote_id, event.reply_to, event.thread) == (
        EventKind.MESSAGE,
        "10",
        "3",
        None,
    )
    assert (event.author.display_name, event.author.user_id, event.ts) == (
        "Alice Smith",
        "5",
        1700000000.0,
    )


def test_parse_topics() -> None:
    in_topic = _message(
        chat=FORUM,
        text="t",
        message_thread_id=7,
        is_topic_message=True,
        reply_to_message=_message(message_id=7, chat=FORUM),
    )
    (configured,) = parse_update(CTX, {"update_id": 1, "message": in_topic})
    assert (configured.event.room.room_id, configured.event.thread) == ("-1002/7", None)
    assert configured.event.reply_to is None  # the topic's root is not a reply
    assert configured.topic == (-1002, 10, 7)
    other = {**in_topic, "message_thread_id": 8, "reply_to_message": _message(message_id=8)}
    (whole,) = parse_update(CTX, {"update_id": 2, "message": other})
    assert (whole.event.room.room_id, whole.event.thread, whole.event.reply_to) == (
        "-1002",
        "8",
        None,
    )


@pytest.mark.parametrize(
    "update",
    [
        {
            "update_id": 1,
            "message": _message(
                text="mine", **{"from": {"id": 42, "is_bot": True, "first_name": "me"}}
            ),
        },
        {"update_id": 1, "message": _message(new_chat_members=[ALICE])},
        {"update_id": 1, "callback_query": {"id": "1"}},
        {
            "update_id": 1,
            "message_reaction": {
                "chat": GROUP,
                "message_id": 1,
                "date": 0,
                "user": {"id": 42, "first_name": "me"},
                "old_reaction": [],
                "new_reaction": [{"type": "emoji", "emoji": "👍"}],
            },
        },
    ],
)
def test_parse_ignores(update: dict[str, Any]) -> None:
    assert parse_update(CTX, update) == []


def test_parse_edit_reaction_files_channel() -> None:
    (edit,) = parse_update(
        CTX, {"update_id": 1, "edited_message": _message(text="new", edit_date=5)}
    )
    assert (edit.event.kind, edit.event.target, edit.event.remote_id) == (
        EventKind.EDIT,
        "10",
        "10@5",
    )
    reaction = {
        "chat": GROUP,
        "message_id": 10,
        "date": 1,
        "user": ALICE,
        "old_reaction": [{"type": "emoji", "emoji": "👍"}],
        "new_reaction": [
            {"type": "emoji", "emoji": "👍"},
            {"type": "emoji", "emoji": "🔥"},
            {"type": "custom_emoji", "custom_emoji_id": "1"},
        ],
    }
    (added,) = parse_update(CTX, {"update_id": 2, "message_reaction": reaction})
    assert (added.event.kind, added.event.emoji, added.event.target) == (
        EventKind.REACTION,
        "🔥",
        "10",
    )
    photo = [
        {"file_id": "s", "file_unique_id": "u1", "width": 1, "height": 1},
        {"file_id": "L", "file_unique_id": "u2", "width": 9, "height": 9, "file_size": 99},
    ]
    (pic,) = parse_update(CTX, {"update_id": 3, "message": _message(photo=photo, caption="c")})
    assert pic.event.text == "c"
    assert [(f.file_id, f.mime_type, f.size) for f in pic.files] == [("L", "image/jpeg", 99)]
    post = {
        "message_id": 4,
        "chat": {"id": -1003, "type": "channel", "title": "News"},
        "sender_chat": {"id": -1003, "type": "channel", "title": "News"},
        "date": 1,
        "text": "n",
    }
    (channel,) = parse_update(CTX, {"update_id": 4, "channel_post": post})
    assert (channel.event.author.display_name, channel.event.room.room_id) == ("News", "-1003")


@pytest.mark.parametrize(
    "update",
    [
        {
            "update_id": 1,
            "message": {"message_id": 1, "from": ALICE, "chat": {"id": "x"}, "date": 0},
        },
        {"update_id": 1, "message": {"from": ALICE, "chat": GROUP, "date": 0, "text": "t"}},
        {"update_id": 1, "message": "not an object"},
    ],
)
def test_parse_malformed_raises_for_the_client_to_log(update: dict[str, Any]) -> None:
    with pytest.raises((KeyError, TypeError, ValueError, AttributeError)):
        parse_update(CTX, update)
