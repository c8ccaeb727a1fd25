"""Table tests for parsing Slack events and rendering deliveries (pure, no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.slack.render import copy_with_key, render_post, render_update
from adapters.slack.translate import (
    MAX_TEXT_LENGTH,
    ORIGIN_EVENT_TYPE,
    Directory,
    Identity,
    MalformedEvent,
    UserInfo,
    needed_ids,
    parse_event,
)
from bridgebot.model import Attachment, EventKind, RoomRef

from .conftest import outbound

ME = Identity(user_id="UBOT", bot_id="BBOT")
WHERE = Directory(
    account="slack.work",
    me=ME,
    users={"U1": UserInfo("Alice", "https://a.example/alice.png")},
    channels={"C1": "general"},
    rooms={"C1": "#general"},
)
ROOM = RoomRef("slack.work", "#general")


def message(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "message",
        "channel": "C1",
        "user": "U1",
        "text": "hello",
        "ts": "1700000000.000100",
    }
    base.update(fields)
    return base


def test_plain_message() -> None:
    event = parse_event(message(), WHERE)
    assert event is not None
    assert event.kind == EventKind.MESSAGE
    assert event.room == ROOM
    assert event.remote_id == "1700000000.000100"
    assert event.author.display_name == "Alice"
    assert event.author.avatar_url == "https://a.example/alice.png"
    assert event.text == "hello"
    assert event.thread is None
    assert event.ts == pytest.approx(1700000000.0001)


def test_unconfigured_channel_is_reported_under_its_id() -> None:
    event = parse_event(message(channel="C9"), WHERE)
    assert event is not None and event.room == RoomRef("slack.work", "C9")


def test_thread_reply_names_its_parent() -> None:
    event = parse_event(message(thread_ts="1700000000.000001"), WHERE)
    assert event is not None and event.thread == "1700000000.000001"
    assert event.reply_to == "1700000000.000001"


def test_thread_parent_is_not_its_own_thread() -> None:
    event = parse_event(message(thread_ts="1700000000.000100"), WHERE)
    assert event is not None and event.thread is None and event.reply_to is None


def test_file_share_carries_attachments() -> None:
    files = [
        {
            "id": "F1",
            "name": "a.png",
            "mimetype": "image/png",
            "size": 3,
            "url_private": "http://f/a",
        },
        {"id": "F2", "mode": "hidden_by_limit"},
    ]
    event = parse_event(message(subtype="file_share", files=files, text=""), WHERE)
    assert event is not None
    assert event.attachments == (Attachment("a.png", "image/png", 3, url="http://f/a"),)


def test_other_bots_are_relayed_as_bots() -> None:
    event = parse_event(
        message(subtype="bot_message", user=None, bot_id="BOTHER", username="CI"), WHERE
    )
    assert event is not None
    assert event.author.is_bot and event.author.display_name == "CI"
    assert event.author.user_id == "BOTHER"


@pytest.mark.parametrize(
    "raw",
    [
        message(user="UBOT"),
        message(bot_id="BBOT", user="UBOT"),
        message(subtype="bot_message", bot_id="BBOT", user=None),
        message(metadata={"event_type": ORIGIN_EVENT_TYPE, "event_payload": {}}),
        message(subtype="channel_join"),
        message(subtype="message_changed", message=message(user="UBOT", text="new")),
        message(
            subtype="message_deleted", deleted_ts="1", previous_message=message(bot_id="BBOT")
        ),
        {
            "type": "reaction_added",
            "user": "UBOT",
            "reaction": "+1",
            "event_ts": "2",
            "item": {"type": "message", "channel": "C1", "ts": "1"},
        },
        {
            "type": "reaction_added",
            "user": "U1",
            "reaction": "+1",
            "event_ts": "2",
            "item": {"type": "file", "file": "F1"},
        },
        {"type": "user_typing"},
        message(
            subtype="message_changed",
            message=message(text="same", ts="1"),
            previous_message=message(text="same", ts="1"),
        ),
    ],
    ids=[
        "own-user",
        "own-bot",
        "own-bot-message",
        "origin-marker",
        "join",
        "own-edit",
        "own-delete",
        "own-reaction",
        "file-reaction",
        "typing",
        "unfurl-only-change",
    ],
)
def test_dropped(raw: dict[str, Any]) -> None:
    assert parse_event(raw, WHERE) is None


def test_edit() -> None:
    raw = message(
        subtype="message_changed",
        ts="1700000001.000000",
        message=message(text="new *text*", ts="1700000000.000100"),
        previous_message=message(text="old"),
    )
    event = parse_event(raw, WHERE)
    assert event is not None
    assert (event.kind, event.target, event.text) == (
        EventKind.EDIT,
        "1700000000.000100",
        "new **text**",
    )


def test_delete() -> None:
    raw = message(
        subtype="message_deleted", ts="2.0", deleted_ts="1.0", previous_message=message()
    )
    event = parse_event(raw, WHERE)
    assert event is not None
    assert (event.kind, event.target, event.author.user_id) == (EventKind.DELETE, "1.0", "U1")


def test_reaction() -> None:
    raw = {
        "type": "reaction_added",
        "user": "U1",
        "reaction": "tada",
        "event_ts": "3.0",
        "item": {"type": "message", "channel": "C1", "ts": "1.0"},
    }
    event = parse_event(raw, WHERE)
    assert event is not None
    assert (event.kind, event.target, event.emoji, event.room) == (
        EventKind.REACTION,
        "1.0",
        "🎉",
        ROOM,
    )


@pytest.mark.parametrize(
    "raw",
    [
        message(ts=None),
        message(channel=5),
        message(text=["x"]),
        message(ts="not-a-ts"),
        message(files="x"),
        message(subtype="message_changed", message="x"),
        message(subtype="message_deleted", deleted_ts=None),
        {"type": "reaction_added", "user": "U1", "reaction": "x", "event_ts": "1"},
    ],
)
def test_malformed_raises(raw: dict[str, Any]) -> None:
    with pytest.raises(MalformedEvent):
        parse_event(raw, WHERE)


def test_needed_ids() -> None:
    raw = message(text="<@U2> in <#C3>", subtype="message_changed", message=message(user="U4"))
    assert needed_ids(raw) == ({"U1", "U2", "U4"}, {"C3"})


def test_render_with_custom_identity() -> None:
    args = render_post(outbound("hi **there**", thread="1.0"), "C1", customize=True)
    assert args["text"] == "hi *there*"
    assert args["username"] == "Alice · matrix"
    assert args["icon_url"] == "https://example.org/alice.png"
    assert args["thread_ts"] == "1.0"
    assert args["link_names"] is False
    assert args["metadata"]["event_type"] == ORIGIN_EVENT_TYPE
    assert args["metadata"]["event_payload"]["key"] == "k1"


def test_render_without_custom_identity_puts_the_label_in_the_text() -> None:
    args = render_post(outbound("hi", label="<!channel> Mallory"), "C1", customize=False)
    assert args["text"] == "*&lt;!channel&gt; Mallory:* hi"
    assert "username" not in args and "icon_url" not in args


def test_render_reply_becomes_a_thread_reply() -> None:
    assert render_post(outbound("x", reply_to="5.0"), "C1", customize=True)["thread_ts"] == "5.0"


def test_render_files_as_links_or_notes() -> None:
    files = (
        Attachment("small.txt", "text/plain", 2, data=b"hi"),
        Attachment("big.bin", "application/octet-stream", 9, url="https://files.example/big"),
        Attachment("huge.bin", "application/octet-stream", 9, data=b"123456789"),
    )
    args = render_post(outbound("see", attachments=files), "C1", customize=True, upload_limit=5)
    assert args["text"] == (
        "see\nbig.bin (<https://files.example/big>)\n(file huge.bin could not be relayed)"
    )


def test_render_empty_text_is_never_empty() -> None:
    assert render_post(outbound(""), "C1", customize=True)["text"]


def test_render_truncates_to_slack_limit() -> None:
    args = render_post(outbound("<" * 50_000), "C1", customize=True)
    assert len(args["text"]) <= MAX_TEXT_LENGTH
    assert args["text"].endswith("[…]")
    assert "<" not in args["text"]


def test_render_update() -> None:
    args = render_update(outbound("fixed"), "C1", "1.0", customize=False)
    assert (args["channel"], args["ts"], args["text"]) == ("C1", "1.0", "*Alice · matrix:* fixed")


def test_copy_with_key_finds_only_our_marked_copy() -> None:
    ours = {"event_type": ORIGIN_EVENT_TYPE, "event_payload": {"key": "k1"}}
    theirs = {"event_type": "something_else", "event_payload": {"key": "k1"}}
    messages = [
        {"ts": "3.0", "metadata": theirs},
        {"ts": "2.0", "metadata": {"event_type": ORIGIN_EVENT_TYPE, "event_payload": {}}},
        {"ts": "1.0", "metadata": ours},
        "junk",
    ]
    assert copy_with_key(messages, "k1") == "1.0"
    assert copy_with_key(messages, "k2") is None
