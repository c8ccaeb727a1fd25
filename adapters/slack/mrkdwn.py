"""Slack mrkdwn ↔ canonical text (a CommonMark subset). Pure functions, no I/O.

Outbound, the one rule that matters: relayed text is escaped (``&``, ``<``, ``>``) so it
can never produce ``<!channel>``, ``<!here>``, ``<!everyone>``, ``<@U…>`` or a link whose
label lies about its target. Only links we build ourselves use Slack's ``<…>`` syntax.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

__all__ = ["escape", "from_canonical", "link", "mentioned_ids", "to_canonical", "truncate"]

# Placeholder brackets from the Private Use Area; stripped from input before use.
_PH_OPEN, _PH_CLOSE = "\ue000", "\ue001"
_PLACEHOLDER = re.compile(f"{_PH_OPEN}(\\d+){_PH_CLOSE}")

_SLACK_CODE = re.compile(r"```.*?```|`[^`\n]+`", re.S)
_SLACK_TOKEN = re.compile(r"<([^<>\n]*)>")
_SLACK_BOLD = re.compile(r"(?<![\w*\\])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_SLACK_STRIKE = re.compile(r"(?<![\w~\\])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])")
_MD_SPECIAL = re.compile(r"([\\\[\]<*_~`])")

_MD_CODE = re.compile(r"```.*?```|`[^`\n]+`", re.S)
_MD_LINK = re.compile(r"\[((?:\\.|[^\]\\])*)\]\(\s*<?([^)\s>]+)>?\s*\)")
_MD_AUTOLINK = re.compile(r"<((?:https?://|mailto:)[^>\s]+)>")
_MD_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_MD_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_MD_ITALIC = re.compile(r"(?<![*\w])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![*\w])")
_MD_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_MD_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)

_SAFE_SCHEME = re.compile(r"(?i)^(?:https?://|mailto:)")
_URLISH = re.compile(r"(?i)(?:https?://|www\.|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b)")

_BROADCASTS = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn gives meaning to."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _md_escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def mentioned_ids(text: str) -> tuple[set[str], set[str]]:
    """The user ids and channel ids that ``<@U…>`` / ``<#C…>`` tokens in ``text`` name."""
    users: set[str] = set()
    channels: set[str] = set()
    for token in _SLACK_TOKEN.findall(text):
        target = token.split("|", 1)[0]
        if target.startswith("@"):
            users.add(target[1:])
        elif target.startswith("#"):
            channels.add(target[1:])
    return users, channels


# -- inbound ---------------------------------------------------------------------------------


def to_canonical(
    text: str, user_name: Callable[[str], str | None], channel_name: Mapping[str, str]
) -> str:
    """Slack mrkdwn → canonical text, with ``<@U…>`` and ``<#C…>`` resolved to names."""
    out: list[str] = []
    last = 0
    for match in _SLACK_CODE.finditer(text):
        out.append(_plain_to_canonical(text[last : match.start()], user_name, channel_name))
        out.append(_unescape(match.group(0)))
        last = match.end()
    out.append(_plain_to_canonical(text[last:], user_name, channel_name))
    return "".join(out)


def _plain_to_canonical(
    text: str, user_name: Callable[[str], str | None], channel_name: Mapping[str, str]
) -> str:
    pieces = _SLACK_TOKEN.split(text)
    out: list[str] = []
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            escaped = _MD_SPECIAL.sub(
                lambda m: m.group(1) if m.group(1) in "*_~`" else "\\" + m.group(1),
                _unescape(piece),
            )
            out.append(escaped)
        else:
            out.append(_token_to_canonical(piece, user_name, channel_name))
    joined = "".join(out)
    joined = _SLACK_BOLD.sub(r"**\1**", joined)
    return _SLACK_STRIKE.sub(r"~~\1~~", joined)


def _token_to_canonical(
    token: str, user_name: Callable[[str], str | None], channel_name: Mapping[str, str]
) -> str:
    target, _, label = token.partition("|")
    target, label = _unescape(target), _unescape(label)
    if target.startswith("@"):
        name = user_name(target[1:]) or label or target[1:]
        return "@" + _md_escape(name)
    if target.startswith("#"):
        name = channel_name.get(target[1:]) or label or target[1:]
        return "#" + _md_escape(name)
    if target.startswith("!"):
        keyword = target[1:].split("^", 1)[0]
        if keyword in _BROADCASTS:
            return _BROADCASTS[keyword]
        # <!subteam^S…|@team>, <!date^…|fallback>: the label is the readable form.
        return _md_escape(label or keyword)
    if not _SAFE_SCHEME.match(target):
        return _md_escape(label or target)
    url = target.replace("(", "%28").replace(")", "%29")
    if not label or label == target:
        return f"<{url}>"
    return f"[{_md_escape(label)}]({url})"


# -- outbound --------------------------------------------------------------------------------


def from_canonical(text: str) -> str:
    """Canonical text → Slack mrkdwn that cannot ping a room or disguise a link."""
    text = text.replace(_PH_OPEN, "").replace(_PH_CLOSE, "")
    out: list[str] = []
    last = 0
    for match in _MD_CODE.finditer(text):
        out.append(_plain_from_canonical(text[last : match.start()]))
        out.append(escape(match.group(0)))
        last = match.end()
    out.append(_plain_from_canonical(text[last:]))
    return "".join(out)


def _plain_from_canonical(text: str) -> str:
    held: list[str] = []

    def hold(rendered: str) -> str:
        held.append(rendered)
        return f"{_PH_OPEN}{len(held) - 1}{_PH_CLOSE}"

    text = _MD_LINK.sub(lambda m: hold(link(m.group(2), _MD_ESCAPED.sub(r"\1", m.group(1)))), text)
    text = _MD_AUTOLINK.sub(lambda m: hold(link(m.group(1), "")), text)
    text = _MD_ESCAPED.sub(lambda m: hold(escape(m.group(1))), text)
    text = escape(text)
    text = _MD_HEADING.sub(r"**\1**", text)
    text = _MD_ITALIC.sub(r"_\1_", text)
    text = _MD_BOLD.sub(r"*\2*", text)
    text = _MD_STRIKE.sub(r"~\1~", text)
    return _PLACEHOLDER.sub(lambda m: held[int(m.group(1))], text)


def link(url: str, label: str) -> str:
    """A link we build ourselves; the label never hides a different address."""
    if not _SAFE_SCHEME.match(url):
        return escape(label or url)
    target = escape(url).replace("|", "%7C")
    if not label or _same_address(label, url):
        return f"<{target}>"
    if _URLISH.search(label):
        # A label that looks like an address but differs from the target is a lure:
        # show both, so the reader sees where the link really goes.
        return f"{escape(label)} (<{target}>)"
    return f"<{target}|{escape(label)}>"


def _same_address(label: str, url: str) -> bool:
    def norm(value: str) -> str:
        return re.sub(r"(?i)^(?:https?://|mailto:)", "", value).rstrip("/").lower()

    return norm(label) == norm(url)


def truncate(text: str, limit: int, marker: str = " […]") -> str:
    """Cut rendered mrkdwn to ``limit`` characters without splitting an entity or link."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(marker))]
    cut = re.sub(r"&[a-z]{0,4}$", "", cut)
    if cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]
    return cut + marker
