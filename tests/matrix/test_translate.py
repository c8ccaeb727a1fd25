"""Table tests of the pure Matrix translation: no server, no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.matrix.errors import MatrixFailure, classify
from adapters.matrix.text import html_to_text, neutralise, strip_reply_fallback, text_to_html
from adapters.matrix.translate import (
    ORIGIN_KEY,
    Malformed,
    mxc_to_http,
    parse_event,
    render_edit,
    render_message,
    render_reaction,
    txn_id,
)
from bridgebot.errors import PermanentError, RateLimited, TransientError
from bridgebot.model import RoomRef
from tests.matrix.conftest import outbound

ROOM = RoomRef("matrix.home", "!r:localhost")
HS = "http://hs"


def parse(raw: dict[str, Any]) -> Any:
    base = {
        "event_id": "$e",
        "sender": "@a:hs",
        "origin_server_ts": 1500,
        "type": "m.room.message",
    }
    return parse_event(
        {**base, **raw},
        ROOM,
        own_user="@bot:hs",
        display_name=lambda user: user.upper(),
        homeserver=HS,
    )


def msg(**content: Any) -> dict[str, Any]:
    return {"content": {"msgtype": "m.text", "body": "hi", **content}}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (msg(), ("message", "hi", None, None, None)),
        (msg(msgtype="m.emote", body="waves"), ("message", "_waves_", None, None, None)),
        (msg(msgtype="org.x.custom", body="shown"), ("message", "shown", None, None, None)),
        (
            msg(format="org.matrix.custom.html", formatted_body="<em>a</em> <code>b</code>"),
            ("message", "_a_ `b`", None, None, None),
        ),
        (
            msg(
                body="> <@b:hs> q\n\nanswer",
                **{"m.relates_to": {"m.in_reply_to": {"event_id": "$q"}}},
            ),
            ("message", "answer", "$q", None, None),
        ),
        (
            msg(
                **{
                    "m.relates_to": {
                        "rel_type": "m.thread",
                        "event_id": "$t",
                        "is_falling_back": True,
                        "m.in_reply_to": {"event_id": "$t"},
                    }
                }
            ),
            ("message", "hi", None, "$t", None),
        ),
        (
            msg(
                **{
                    "m.relates_to": {
                        "rel_type": "m.thread",
                        "event_id": "$t",
                        "m.in_reply_to": {"event_id": "$x"},
                    }
                }
            ),
            ("message", "hi", "$x", "$t", None),
        ),
        (
            msg(
                body="* new",
                **{
                    "m.new_content": {"msgtype": "m.text", "body": "new"},
                    "m.relates_to": {"rel_type": "m.replace", "event_id": "$o"},
                },
            ),
            ("edit", "new", None, None, "$o"),
        ),
        (
            {"type": "m.room.redaction", "redacts": "$o", "content": {}},
            ("delete", "", None, None, "$o"),
        ),
        (
            {"type": "m.room.redaction", "content": {"redacts": "$o"}},
            ("delete", "", None, None, "$o"),
        ),
        (
            {
                "type": "m.reaction",
                "content": {
                    "m.relates_to": {"rel_type": "m.annotation", "event_id": "$o", "key": "👍"}
                },
            },
            ("reaction", "", None, None, "$o"),
        ),
    ],
)
def test_parse(raw: dict[str, Any], expected: tuple[Any, ...]) -> None:
    event = parse(raw)
    assert (event.kind, event.text, event.reply_to, event.thread, event.target) == expected
    assert (event.remote_id, event.ts, event.room) == ("$e", 1.5, ROOM)
    assert (event.author.user_id, event.author.display_name) == ("@a:hs", "@A:HS")


@pytest.mark.parametrize(
    "raw",
    [
        {"sender": "@bot:hs", **msg()},  # our own
        msg(**{ORIGIN_KEY: "slack.w:C1"}),  # a copy
        {"type": "m.room.member", "content": {"membership": "join"}},
        {"type": "m.sticker", "content": {}},
        {"content": {}, "unsigned": {"redacted_because": {}}},
    ],
)
def test_parse_ignores(raw: dict[str, Any]) -> None:
    assert parse(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        {"event_id": None, **msg()},
        {"content": "text"},
        {"content": {"body": "no msgtype"}},
        {"content": {"msgtype": "m.text"}},
        {"content": {"msgtype": "m.image", "body": "f"}},
        msg(**{"m.relates_to": {"rel_type": "m.replace", "event_id": "$o"}}),
        {"type": "m.reaction", "content": {"m.relates_to": {"event_id": "$o"}}},
        {"type": "m.room.redaction", "content": {}},
    ],
)
def test_parse_malformed(raw: dict[str, Any]) -> None:
    with pytest.raises(Malformed):
        parse(raw)


def test_parse_media() -> None:
    raw = msg(
        msgtype="m.file",
        body="a.pdf",
        url="mxc://hs/xyz",
        info={"mimetype": "application/pdf", "size": 9},
    )
    (attachment,) = parse(raw).attachments
    assert attachment.url == "http://hs/_matrix/client/v1/media/download/hs/xyz"
    assert (attachment.filename, attachment.mime_type, attachment.size) == (
        "a.pdf",
        "application/pdf",
        9,
    )


@pytest.mark.parametrize(
    ("mxc", "url"),
    [
        ("mxc://s/id", "http://hs/_matrix/client/v1/media/download/s/id"),
        ("http://x/y", None),
        ("mxc://s", None),
        ("mxc://s/a/b", None),
    ],
)
def test_mxc_to_http(mxc: str, url: str | None) -> None:
    assert mxc_to_http(HS, mxc) == url


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("a & b", "a &amp; b"),
        ("**b** _i_ `c<d>`", "<strong>b</strong> <em>i</em> <code>c&lt;d&gt;</code>"),
        ("1\n2", "1<br>2"),
        ("> q\n> r\nx", "<blockquote>q<br>r</blockquote>x"),
        ("```\n<b>\n```", "<pre><code>&lt;b&gt;</code></pre>"),
        ("[w](https://e.org/?a=1&b=2)", '<a href="https://e.org/?a=1&amp;b=2">w</a>'),
        ("[bad](javascript:alert(1))", "[bad](javascript:alert(1))"),
        ("snake_case_name", "snake_case_name"),
    ],
)
def test_text_to_html(text: str, html: str) -> None:
    assert text_to_html(text) == html


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<b>x</b><br>y", "**x**\ny"),
        ("<p>a</p><p>b</p>", "a\nb"),
        ("<ul><li>a</li><li>b</li></ul>", "- a\n- b"),
        ("<blockquote>q</blockquote>z", "> q\nz"),
        ('<a href="https://e.org">e</a>', "[e](https://e.org)"),
        ('<a href="javascript:x()">e</a>', "e"),
        ("<script>alert(1)</script><style>p{}</style>ok", "ok"),
        ("<mx-reply><blockquote>old</blockquote></mx-reply>new", "new"),
        ("<pre><code>a\nb</code></pre>", "```\na\nb\n```"),
        ("&lt;tag&gt; &amp;", "<tag> &"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("@room hi", "@\u2060room hi"),
        ("x @ROOM", "x @\u2060ROOM"),
        ("@roomy", "@roomy"),
        ("a@room.org", "a@\u2060room.org"),
    ],
)
def test_neutralise(text: str, safe: str) -> None:
    assert neutralise(text) == safe


def test_strip_reply_fallback() -> None:
    assert strip_reply_fallback("> <@a:hs> q\n> more\n\nanswer\n> kept") == "answer\n> kept"
    assert strip_reply_fallback("no quote") == "no quote"


def test_render_message_and_edit() -> None:
    content = render_message(outbound("k", "hey @room", reply_to="$r", is_announcement=True))
    assert content["msgtype"] == "m.notice"
    assert content["body"] == "Ann · api: hey @\u2060room"
    assert content["m.mentions"] == {}
    assert content["m.relates_to"] == {"m.in_reply_to": {"event_id": "$r"}}
    assert content[ORIGIN_KEY] == "api.one:api"
    edit = render_edit(outbound("k", "new"), "$o")
    assert edit["body"] == "* Ann · api: new"
    assert edit["m.new_content"]["body"] == "Ann · api: new"
    assert edit["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$o"}
    unlabelled = render_message(outbound("k", "t", label=""))
    assert (unlabelled["body"], unlabelled["formatted_body"]) == ("t", "t")
    assert render_reaction("$o", "👍")["m.relates_to"]["key"] == "👍"


def test_txn_ids_are_stable_and_distinct() -> None:
    assert txn_id("m", "k1") == txn_id("m", "k1")
    assert len({txn_id("m", "k1"), txn_id("m", "k2"), txn_id("e", "k1")}) == 3


@pytest.mark.parametrize(
    ("failure", "kind", "needle"),
    [
        (MatrixFailure("M_LIMIT_EXCEEDED", "slow", 429, 2500), RateLimited, "rate limited"),
        (MatrixFailure("", "", 429, None), RateLimited, "rate limited"),
        (MatrixFailure("M_UNKNOWN", "boom", 502, None), TransientError, "boom"),
        (MatrixFailure("", "unknown error", None, None), TransientError, "homeserver error"),
        (MatrixFailure("M_FORBIDDEN", "not in room", 403, None), PermanentError, "permission"),
        (MatrixFailure("M_UNKNOWN_TOKEN", "bad", 401, None), PermanentError, "access token"),
        (MatrixFailure("M_TOO_LARGE", "big", 413, None), PermanentError, "too large"),
        (MatrixFailure("M_BAD_JSON", "x", 400, None), PermanentError, "refused"),
    ],
)
def test_classify(failure: MatrixFailure, kind: type[Exception], needle: str) -> None:
    error = classify(failure, "matrix account matrix.home, room !r: send")
    assert type(error) is kind
    assert needle in str(error) and "!r" in str(error)
    if isinstance(error, RateLimited):
        assert error.retry_after == (failure.retry_after_ms or 1000) / 1000
