"""The pure wire translation: client posts → Events, Outbound → matterbridge JSON."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from adapters.api.wire import (
    WireError,
    go_time,
    greeting,
    parse_post,
    render_delete,
    render_outbound,
)
from bridgebot.model import Attachment, EventKind

from .conftest import ROOM, outbound

GO_KEYS = [
    "text",
    "channel",
    "username",
    "userid",
    "avatar",
    "account",
    "event",
    "protocol",
    "gateway",
    "parent_id",
    "timestamp",
    "id",
    "Extra",
]


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        (0.0, "1970-01-01T00:00:00Z"),
        (1_700_000_000.25, "2023-11-14T22:13:20.25Z"),
        (1_700_000_000.000001, "2023-11-14T22:13:20.000001Z"),
    ],
)
def test_go_time_matches_go_rfc3339nano(ts: float, expected: str) -> None:
    assert go_time(ts) == expected


def test_message_post_becomes_message_event() -> None:
    body = {
        "text": "hi all",
        "username": "Bob",
        "userid": "bob1",
        "avatar": "https://x/b.png",
        "gateway": "khub",
        "parent_id": "p1",
    }
    event, name = parse_post(body, ROOM, "new1", 12.5)
    assert name == ""
    assert event.kind is EventKind.MESSAGE
    assert event.room == ROOM and event.remote_id == "new1" and event.ts == 12.5
    assert event.text == "hi all" and event.bridge == "khub" and event.reply_to == "p1"
    assert (event.author.network, event.author.user_id) == ("api", "bob1")
    assert (event.author.display_name, event.author.avatar_url) == ("Bob", "https://x/b.png")
    assert event.target is None


@pytest.mark.parametrize(
    ("body", "kind", "remote_id", "target", "text"),
    [
        ({"text": "fixed", "id": "old1", "gateway": "g"}, EventKind.EDIT, "new1", "old1", "fixed"),
        ({"event": "msg_delete", "id": "old1", "text": "x"}, EventKind.DELETE, "old1", "old1", ""),
        ({"event": "user_action", "text": "waves"}, EventKind.MESSAGE, "new1", None, "waves"),
        ({"Text": "case", "UserName": "Bob"}, EventKind.MESSAGE, "new1", None, "case"),
        ({"text": "n", "avatar": None, "parent_id": "msg-parent-not-found"},
         EventKind.MESSAGE, "new1", None, "n"),
    ],
)  # fmt: skip
def test_post_kinds(
    body: dict[str, Any], kind: EventKind, remote_id: str, target: str | None, text: str
) -> None:
    event, _ = parse_post(body, ROOM, "new1", 1.0)
    assert (event.kind, event.remote_id, event.target, event.text) == (
        kind,
        remote_id,
        target,
        text,
    )
    assert event.reply_to is None


def test_username_only_author() -> None:
    event, _ = parse_post({"text": "t", "username": "Bob"}, ROOM, "n", 1.0)
    assert (event.author.user_id, event.author.display_name) == ("Bob", "Bob")
    assert event.bridge is None


def test_file_in_extra_becomes_attachment() -> None:
    data = base64.b64encode(b"hello").decode()
    body = {"text": "", "Extra": {"file": [{"Name": "a.txt", "Data": data}]}}
    event, _ = parse_post(body, ROOM, "n", 1.0)
    assert event.attachments == (Attachment("a.txt", "text/plain", 5, None, b"hello"),)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([1, 2], "must be a JSON object"),
        ("text", "must be a JSON object"),
        ({"text": 5}, "'text' must be a string"),
        ({"text": "x", "gateway": ["a"]}, "'gateway' must be a string"),
        ({"text": ""}, "empty message"),
        ({"text": "   "}, "empty message"),
        ({"event": "msg_delete"}, "needs the id"),
        ({"text": "x", "event": "join_leave"}, "not supported"),
        ({"text": "x", "Extra": 3}, "'Extra' must be an object"),
        ({"text": "x", "Extra": {"file": {}}}, "must be a list"),
        ({"text": "x", "Extra": {"file": [{"Name": "a"}]}}, "needs Data or URL"),
        ({"text": "x", "Extra": {"file": [{"Name": "a", "Data": "!!"}]}}, "not valid base64"),
        ({"text": "x", "Extra": {"file": [{"Data": "aGk="}]}}, "Name must be"),
    ],
)
def test_bad_posts_are_refused_with_a_reason(body: object, reason: str) -> None:
    with pytest.raises(WireError, match=reason) as caught:
        parse_post(body, ROOM, "n", 1.0)
    assert caught.value.status == 400


def test_outbound_shape_has_go_field_order_and_label_as_username() -> None:
    line = render_outbound(outbound("hi", reply_to="r9", avatar_url="https://a"), "id7", 5.0)
    message = json.loads(line)
    assert list(message) == GO_KEYS
    assert message == {
        "text": "hi",
        "channel": "C0123",
        "username": "Alice · slack",
        "userid": "U1",
        "avatar": "https://a",
        "account": "slack.work",
        "event": "",
        "protocol": "slack",
        "gateway": "khub",
        "parent_id": "r9",
        "timestamp": "2023-11-14T22:13:20.25Z",
        "id": "id7",
        "Extra": {},
    }
    assert "\n" not in line


def test_outbound_file_is_reported_in_extra() -> None:
    att = Attachment("p.png", "image/png", 3, "https://f/p.png", b"abc")
    message = json.loads(render_outbound(outbound(attachments=(att,)), "i", 5.0))
    (info,) = message["Extra"]["file"]
    assert (info["Name"], info["URL"], info["Size"]) == ("p.png", "https://f/p.png", 3)
    assert base64.b64decode(info["Data"]) == b"abc"


def test_delete_and_greeting_shapes() -> None:
    deleted = json.loads(render_delete("id7", 0.0))
    assert list(deleted) == GO_KEYS
    assert (deleted["event"], deleted["id"], deleted["text"]) == ("msg_delete", "id7", "")
    hello = json.loads(greeting(0.0))
    assert list(hello) == GO_KEYS
    assert hello["event"] == "api_connected" and hello["Extra"] is None
    assert hello["timestamp"] == "1970-01-01T00:00:00Z"
