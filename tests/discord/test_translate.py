"""Table tests for the pure Discord translation: no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.discord import translate as t
from bridgebot.model import Attachment, EventKind, RoomRef

from .conftest import outbound

ROOM = RoomRef("discord.lab", "100")
ME = t.Identity(user_id="1", application_id="2", webhook_ids=frozenset({"3"}))


class Names:
    def user_name(self, user_id: str) -> str | None:
        return {"10": "Bob"}.get(user_id)

    def role_name(self, role_id: str) -> str | None:
        return {"20": "officers"}.get(role_id)

    def channel_name(self, channel_id: str) -> str | None:
        return {"30": "general"}.get(channel_id)


def message(**extra: Any) -> t.RawMessage:
    raw: dict[str, Any] = {
        "id": "175928847299117063",
        "channel_id": "100",
        "type": 0,
        "author": {"id": "50", "username": "alice", "global_name": "Alice", "avatar": "abc"},
        "content": "hello",
        "edited_timestamp": None,
        "mentions": [],
        "attachments": [],
    }
    raw.update(extra)
    return raw  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("content", "mentions", "expected"),
    [
        ("plain **bold** _it_", [], "plain **bold** _it_"),
        ("hi <@10> and <@!10>", [], "hi @Bob and @Bob"),
        ("hi <@77>", [{"id": "77", "username": "zed", "global_name": None}], "hi @zed"),
        ("hi <@88>", [], "hi @88"),
        ("<@&20> <@&21>", [], "@officers @21"),
        ("see <#30> or <#31>", [], "see #general or #31"),
        ("<:party:123> <a:wave:456>", [], ":party: :wave:"),
        ("at <t:0:R>", [], "at 1970-01-01 00:00 UTC"),
        ("use </help:99>", [], "use /help"),
        ("@everyone stays text", [], "@everyone stays text"),
    ],
)
def test_text_from_discord(content: str, mentions: list[Any], expected: str) -> None:
    assert t.text_from_discord(content, mentions, Names()) == expected


def test_parse_message_fields() -> None:
    raw = message(
        type=19,
        message_reference={"type": 0, "message_id": "999"},
        attachments=[{"filename": "a.png", "content_type": "image/png", "size": 3, "url": "u"}],
        sticker_items=[{"name": "wave"}],
    )
    event = t.parse_message(raw, ROOM, "555", ME, Names())
    assert event is not None
    assert event.kind is EventKind.MESSAGE and event.room == ROOM
    assert event.remote_id == "175928847299117063" and event.thread == "555"
    assert event.reply_to == "999"
    assert event.text == "hello\n[sticker: wave]"
    assert event.attachments == (Attachment("a.png", "image/png", 3, url="u"),)
    assert event.author.display_name == "Alice"
    assert event.author.avatar_url == "https://cdn.discordapp.com/avatars/50/abc.png"
    assert event.ts == pytest.approx(1462015105.796)


@pytest.mark.parametrize(
    ("extra", "relayed"),
    [
        ({}, True),
        ({"author": {"id": "1", "username": "us"}}, False),  # our bot
        ({"webhook_id": "3", "author": {"id": "3", "username": "x"}}, False),  # our webhook
        ({"webhook_id": "4", "application_id": "2", "author": {"id": "4"}}, False),  # our app's
        ({"webhook_id": "4", "author": {"id": "4", "username": "other hook"}}, True),
        ({"type": 7}, False),  # member joined
        ({"type": 18}, False),  # thread created notice
        ({"type": 0, "message_reference": {"type": 1, "message_id": "5"}}, True),  # forward
    ],
)
def test_parse_message_echoes_and_system_messages(extra: dict[str, Any], relayed: bool) -> None:
    event = t.parse_message(message(**extra), ROOM, None, ME, Names())
    assert (event is not None) is relayed
    if event is not None:
        assert event.reply_to is None


@pytest.mark.parametrize(
    "raw",
    [
        {"channel_id": "100"},
        {"id": "x1", "author": {"id": "5"}},
        {"id": "12", "author": "nobody"},
        {"id": "12", "author": {"id": "5"}, "content": 42},
    ],
)
def test_malformed_messages_raise_value_error(raw: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        t.parse_message(raw, ROOM, None, ME, Names())  # type: ignore[arg-type]


def test_parse_edit_only_for_real_edits() -> None:
    unfurl = message(content="hello", edited_timestamp=None, embeds=[{}])
    assert t.parse_edit(unfurl, ROOM, None, ME, Names()) is None
    partial = {"id": "12", "channel_id": "100", "edited_timestamp": "2024-01-01T00:00:00+00:00"}
    assert t.parse_edit(partial, ROOM, None, ME, Names()) is None  # type: ignore[arg-type]
    edit = t.parse_edit(
        message(content="<@10> new", edited_timestamp="2024-01-01T00:00:00+00:00"),
        ROOM,
        None,
        ME,
        Names(),
    )
    assert edit is not None and edit.kind is EventKind.EDIT
    assert edit.target == "175928847299117063" and edit.text == "@Bob new"
    assert edit.ts == 1704067200.0


def test_parse_delete_and_reaction() -> None:
    delete = t.parse_delete({"id": "12", "channel_id": "100"}, ROOM, None)
    assert delete.kind is EventKind.DELETE and delete.target == "12"
    with pytest.raises(ValueError):
        t.parse_delete({"channel_id": "100"}, ROOM, None)
    react = t.parse_reaction(
        {"user_id": "10", "message_id": "12", "emoji": {"id": None, "name": "👍"}},
        ROOM,
        None,
        ME,
        Names(),
    )
    assert react is not None and react.emoji == "👍" and react.author.display_name == "Bob"
    custom = t.parse_reaction(
        {"user_id": "10", "message_id": "12", "emoji": {"id": "9", "name": "party"}},
        ROOM,
        None,
        ME,
        Names(),
    )
    assert custom is not None and custom.emoji == ":party:"
    ours = {"user_id": "1", "message_id": "12", "emoji": {"id": None, "name": "👍"}}
    assert t.parse_reaction(ours, ROOM, None, ME, Names()) is None  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        t.parse_reaction({"user_id": "10", "message_id": "12"}, ROOM, None, ME, Names())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@everyone look", "@\u200beveryone look"),
        ("@HERE and @here", "@\u200bHERE and @\u200bhere"),
        ("<@123> <@&456> <#789>", "<\u200b@123> <\u200b@&456> <#789>"),
        ("mail me at a@b.org", "mail me at a@b.org"),
    ],
)
def test_neutralise(text: str, expected: str) -> None:
    assert t.neutralise(text) == expected


@pytest.mark.parametrize(
    ("label", "fallback", "expected"),
    [
        ("Alice · matrix", "", "Alice · matrix"),
        ("Discord fan", "", "Disc*rd fan"),
        ("the CLYDE bot", "", "the CL*DE bot"),
        ("everyone", "", "everyone (relayed)"),
        ("   ", "Bob", "Bob"),
        ("", "", "bridge"),
        ("a\n b\tc", "", "a b c"),
        ("x" * 100, "", "x" * 79 + "…"),
    ],
)
def test_webhook_username(label: str, fallback: str, expected: str) -> None:
    assert t.webhook_username(label, fallback) == expected


def test_render_through_a_webhook() -> None:
    post = t.render(
        outbound("hi @everyone", reply_to="5"),
        via_webhook=True,
        max_upload_bytes=100,
        reply_quote="Bob: earlier",
    )
    assert post.content == "> ↪ Bob: earlier\nhi @\u200beveryone"
    assert post.username == "Alice · matrix" and post.avatar_url == "https://example.org/alice.png"
    assert post.reply_to is None  # webhooks cannot reply


def test_render_as_the_bot_puts_the_label_in_the_text() -> None:
    post = t.render(outbound("hi", reply_to="5"), via_webhook=False, max_upload_bytes=100)
    assert post.content == "Alice · matrix: hi"
    assert post.username is None and post.reply_to == "5"


def test_render_truncates_to_2000_and_keeps_file_links() -> None:
    big = Attachment("big.iso", "application/octet-stream", 10**9, url="https://x/big.iso")
    small = Attachment("a.txt", "text/plain", 2, data=b"hi")
    toobig = Attachment("b.bin", "application/octet-stream", 200, data=b"x" * 200)
    post = t.render(
        outbound("y" * 3000, attachments=(big, small, toobig)),
        via_webhook=True,
        max_upload_bytes=100,
    )
    assert len(post.content) == 2000
    assert post.content.endswith("📎 big.iso: <https://x/big.iso>\n📎 b.bin (too large to relay)")
    assert "…\n📎" in post.content
    assert post.uploads == (small,)


def test_render_never_empty() -> None:
    assert t.render(outbound(""), via_webhook=True, max_upload_bytes=1).content == "\u200b"


def test_quote_line() -> None:
    assert t.quote_line("Bob", "a\nlong   text", "L") == "Bob: a long text"
    assert t.quote_line("Bob", "x" * 200, "L").endswith("…")
    assert t.quote_line(None, None, "https://discord.com/channels/1/2/3") == (
        "<https://discord.com/channels/1/2/3>"
    )
