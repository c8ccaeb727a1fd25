"""Table tests for mrkdwn ↔ canonical text and the emoji table (pure, no I/O)."""

from __future__ import annotations

import pytest

from adapters.slack import mrkdwn
from adapters.slack.emoji import from_slack, to_slack
from bridgebot.lab.slack import broadcast_mentions, user_mentions

USERS = {"U1": "Alice", "U2": "bob_smith"}
CHANNELS = {"C1": "general"}


def canonical(text: str) -> str:
    return mrkdwn.to_canonical(text, USERS.get, CHANNELS)


@pytest.mark.parametrize(
    ("slack", "expected"),
    [
        ("plain words", "plain words"),
        ("*bold* and _it_ and ~gone~", "**bold** and _it_ and ~~gone~~"),
        ("hi <@U1>", "hi @Alice"),
        ("hi <@U2>", r"hi @bob\_smith"),
        ("hi <@U9|carol>", "hi @carol"),
        ("hi <@U9>", "hi @U9"),
        ("see <#C1>", "see #general"),
        ("see <#C9|random>", "see #random"),
        ("<!here> <!channel> <!everyone>", "@here @channel @everyone"),
        ("<!subteam^S1|@leads> ping", "@leads ping"),
        ("<!date^1392734382^{date}|Feb 18, 2014>", "Feb 18, 2014"),
        ("<https://example.org>", "<https://example.org>"),
        ("<https://example.org|site>", "[site](https://example.org)"),
        (
            "<https://evil.example|https://trusted.example>",
            "[https://trusted.example](https://evil.example)",
        ),
        ("<javascript:alert(1)|click>", "click"),
        ("a &lt;b&gt; &amp; c", r"a \<b> & c"),
        ("&gt; quoted", "> quoted"),
        ("[x](https://evil.example)", r"\[x\](https://evil.example)"),
        ("`*not bold*` *bold*", "`*not bold*` **bold**"),
        ("```a &lt; b```", "```a < b```"),
        ("2*3*4", "2*3*4"),
    ],
)
def test_to_canonical(slack: str, expected: str) -> None:
    assert canonical(slack) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("**bold** and *it* and _it_ and ~~gone~~", "*bold* and _it_ and _it_ and ~gone~"),
        ("# Title", "*Title*"),
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        (
            "<!channel> <!here|here> <!everyone>",
            "&lt;!channel&gt; &lt;!here|here&gt; &lt;!everyone&gt;",
        ),
        ("<@U123> hi", "&lt;@U123&gt; hi"),
        ("&lt;!channel&gt;", "&amp;lt;!channel&amp;gt;"),
        ("[site](https://example.org)", "<https://example.org|site>"),
        ("[https://example.org](https://example.org)", "<https://example.org>"),
        (
            "[https://trusted.example](https://evil.example)",
            "https://trusted.example (<https://evil.example>)",
        ),
        ("[trusted.example](https://evil.example)", "trusted.example (<https://evil.example>)"),
        ("[click](javascript:alert)", "click"),
        ("[a|b>c](https://example.org/x|y)", "<https://example.org/x%7Cy|a|b&gt;c>"),
        ("<https://example.org>", "<https://example.org>"),
        (r"\*not italic\* \<!channel\>", "*not italic* &lt;!channel&gt;"),
        ("`<!channel>` ok", "`&lt;!channel&gt;` ok"),
        ("```\n<!here>\n```", "```\n&lt;!here&gt;\n```"),
        ("\ue0000\ue001 placeholder", "0 placeholder"),
    ],
)
def test_from_canonical(text: str, expected: str) -> None:
    assert mrkdwn.from_canonical(text) == expected


@pytest.mark.parametrize(
    "hostile",
    [
        "<!channel>",
        "<!here>",
        "<!everyone>",
        "<!channel|channel>",
        "<@U0000001>",
        "&lt;!channel&gt;",
        "[<!channel>](https://x.example)",
        "[x](https://x.example|<!channel>)",
        "`<!here>`",
        r"\<!here\>",
        "**<!here>**",
        "<https://x.example|<!channel>>",
    ],
)
def test_relayed_text_can_never_ping(hostile: str) -> None:
    rendered = mrkdwn.from_canonical(hostile)
    assert broadcast_mentions(rendered) == []
    assert user_mentions(rendered) == []


def test_slack_text_round_trip_keeps_link_honest() -> None:
    rendered = mrkdwn.from_canonical(canonical("<https://evil.example|https://trusted.example>"))
    assert "|https://trusted.example>" not in rendered
    assert "<https://evil.example>" in rendered


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("a" * 20, 10, "a" * 6 + " […]"),
        ("aaaa &amp; b", 10, "aaaa  […]"),
        ("aa <https://example.org|x> b", 12, "aa  […]"),
    ],
)
def test_truncate(text: str, limit: int, expected: str) -> None:
    out = mrkdwn.truncate(text, limit)
    assert out == expected
    assert len(out) <= limit


@pytest.mark.parametrize(
    ("name", "char"),
    [("+1", "👍"), ("thumbsup", "👍"), ("+1::skin-tone-3", "👍"), ("tada", "🎉"), ("heart", "❤️")],
)
def test_emoji_from_slack(name: str, char: str) -> None:
    assert from_slack(name) == char


def test_emoji_unknown_name_stays_a_shortcode() -> None:
    assert from_slack("party_parrot") == ":party_parrot:"


@pytest.mark.parametrize(
    ("emoji", "name"),
    [
        ("👍", "+1"),
        ("❤️", "heart"),
        ("❤", "heart"),
        ("⚠", "warning"),
        (":party_parrot:", "party_parrot"),
        ("🦩", None),
    ],
)
def test_emoji_to_slack(emoji: str, name: str | None) -> None:
    assert to_slack(emoji) == name
