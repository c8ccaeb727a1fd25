"""Pure rendering of canonical deliveries as Telegram HTML and sendMessage fields (no I/O).

Everything a user typed is escaped before the small CommonMark subset (bold, italic,
strike, code, http(s) links) is turned into tags, so relayed text can never become markup;
``@name`` is broken with an invisible word joiner so a relayed message never notifies
anyone. A bot cannot post as someone else, so the author label goes in the text, in bold.
"""

from __future__ import annotations

import html
import re
from typing import TypedDict

from adapters.telegram.translate import parse_room
from bridgebot.model import Outbound

__all__ = ["MAX_CAPTION", "MAX_TEXT", "SendRequest", "markdown_to_html", "render", "render_text"]

MAX_TEXT = 4096
MAX_CAPTION = 1024
#: U+2060 WORD JOINER: invisible, and stops Telegram from seeing ``@name`` as a mention
_JOINER = "\u2060"


class SendRequest(TypedDict):
    """What ``render`` asks the client to send: sendMessage fields, HTML text."""

    chat_id: int | str
    text: str
    message_thread_id: int | None
    reply_to_message_id: int | None


_CODE = re.compile(r"```(?:[\w+-]*\n)?(.*?)\n?```|`([^`\n]+)`", re.S)
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")
_BOLD = re.compile(r"\*\*([^<>*\x00]+?)\*\*")
_ITALIC = re.compile(r"(?<![\w*])([*_])(?=\S)([^<>*_\x00]+?)(?<=\S)\1(?![\w*])")
_STRIKE = re.compile(r"~~([^<>~\x00]+?)~~")
_MENTION = re.compile(r"@(?=\w)")


def _neutralise(text: str) -> str:
    return _MENTION.sub("@" + _JOINER, text)


def markdown_to_html(text: str) -> str:
    """Canonical CommonMark subset → Telegram HTML; every character of ``text`` is escaped."""
    saved: list[str] = []

    def keep(fragment: str) -> str:
        saved.append(fragment)
        return f"\x00{len(saved) - 1}\x00"

    def code(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return keep(f"<pre>{html.escape(match.group(1), quote=False)}</pre>")
        return keep(f"<code>{html.escape(match.group(2), quote=False)}</code>")

    def link(match: re.Match[str]) -> str:
        label = _neutralise(html.escape(match.group(1), quote=False))
        return keep(f'<a href="{html.escape(match.group(2))}">{label}</a>')

    text = text.replace("\x00", "")
    text = _CODE.sub(code, text)
    text = _LINK.sub(link, text)
    text = _neutralise(html.escape(text, quote=False))
    text = _BOLD.sub(r"<b>\1</b>", text)
    text = _ITALIC.sub(r"<i>\2</i>", text)
    text = _STRIKE.sub(r"<s>\1</s>", text)
    return re.sub(r"\x00(\d+)\x00", lambda m: saved[int(m.group(1))], text)


def render_text(out: Outbound, limit: int = MAX_TEXT) -> str:
    """The HTML for ``out``: the label in bold (a bot cannot post as someone else), then text.

    Truncates the canonical text so the visible result stays within ``limit`` characters.
    """
    label = out.label.strip()
    room = limit - (len(label) + 2 if label else 0)
    body = out.text
    if len(body) > room:
        body = body[: max(0, room - 1)].rstrip() + "…"
    rendered = markdown_to_html(body)
    if not label:
        return rendered
    head = f"<b>{_neutralise(html.escape(label, quote=False))}</b>"
    return f"{head}: {rendered}" if body else head


def render(out: Outbound, room_id: str, *, is_forum: bool, limit: int = MAX_TEXT) -> SendRequest:
    """sendMessage fields for ``out`` in ``room_id``.

    In a forum, ``thread`` names the topic; elsewhere a thread is Telegram's reply chain,
    so a threaded message with no explicit reply replies to the thread's first message.
    """
    chat_id, topic = parse_room(room_id)
    reply_to = _as_int(out.reply_to)
    thread = _as_int(out.thread)
    if topic is None and is_forum:
        topic = thread
    elif topic is None and reply_to is None:
        reply_to = thread
    return SendRequest(
        chat_id=chat_id,
        text=render_text(out, limit),
        message_thread_id=topic,
        reply_to_message_id=reply_to,
    )


def _as_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None
