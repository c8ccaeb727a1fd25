"""Telegram's ``parse_mode=HTML`` as the lab server applies it: markup in, text + entities out.

Written from the Bot API documentation, "Formatting options" → "HTML style": the supported
tags are b/strong, i/em, u/ins, s/strike/del, span class="tg-spoiler"/tg-spoiler, a href,
code, pre (optionally with an inner code class="language-…"), blockquote (optionally
expandable) and tg-emoji; every ``<``, ``>`` and ``&`` that is not part of a tag or entity
must be escaped; numeric entities and the named entities lt, gt, amp and quot are
understood. Anything else is refused with "can't parse entities", as the real API does,
which is what lets a test prove that relayed hostile HTML was escaped by the adapter.

Entity offsets and lengths count UTF-16 code units, as in the real API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HtmlParseError", "parse_html", "utf16_len"]

_TAG = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)\s*>"
)
_ATTR = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+)))?")
_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]+);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}


class HtmlParseError(ValueError):
    """The markup is not valid Telegram HTML; ``str()`` is the API's description tail."""


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (Telegram's unit for entity offsets)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    tag: str
    entity: dict[str, Any] | None
    start: int
    byte_offset: int


@dataclass
class _State:
    parts: list[str] = field(default_factory=list)
    length: int = 0
    entities: list[dict[str, Any]] = field(default_factory=list)
    stack: list[_Open] = field(default_factory=list)

    def add_text(self, text: str) -> None:
        self.parts.append(text)
        self.length += utf16_len(text)


def _entity_for(tag: str, attrs: dict[str, str], state: _State, at: int) -> dict[str, Any] | None:
    if tag in _SIMPLE:
        kind = _SIMPLE[tag]
        if tag == "blockquote" and "expandable" in attrs:
            kind = "expandable_blockquote"
        if tag == "code" and state.stack and state.stack[-1].tag == "pre":
            # <pre><code class="language-x"> only sets the pre block's language
            lang = attrs.get("class", "")
            pre = state.stack[-1].entity
            if pre is not None and lang.startswith("language-"):
                pre["language"] = lang.removeprefix("language-")
            return None
        return {"type": kind}
    if tag == "span":
        if attrs.get("class") != "tg-spoiler":
            raise HtmlParseError(f'Unsupported start tag "span" at byte offset {at}')
        return {"type": "spoiler"}
    if tag == "a":
        href = attrs.get("href")
        if not href:
            # the real API silently drops an <a> without href; keep the text
            return None
        if href.startswith("tg://user?id="):
            user_id = href.removeprefix("tg://user?id=")
            if user_id.isdigit():
                return {"type": "text_mention", "user": {"id": int(user_id)}}
        return {"type": "text_link", "url": href}
    if tag == "tg-emoji":
        return {"type": "custom_emoji", "custom_emoji_id": attrs.get("emoji-id", "")}
    raise HtmlParseError(f'Unsupported start tag "{tag}" at byte offset {at}')


def _decode_entity(match: re.Match[str], at: int) -> str:
    name = match.group(1)
    if name.startswith(("#x", "#X")):
        code = int(name[2:], 16)
    elif name.startswith("#"):
        code = int(name[1:])
    elif name in _NAMED:
        return _NAMED[name]
    else:
        raise HtmlParseError(f'Unsupported HTML entity "&{name};" at byte offset {at}')
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise HtmlParseError(f"Invalid character code at byte offset {at}")
    return chr(code)


def parse_html(markup: str) -> tuple[str, list[dict[str, Any]]]:
    """Apply Telegram HTML: return the visible text and its ``MessageEntity`` dicts."""
    state = _State()
    pos = 0
    while pos < len(markup):
        at = len(markup[:pos].encode())
        char = markup[pos]
        if char == "<":
            match = _TAG.match(markup, pos)
            if match is None:
                raise HtmlParseError(f"Unclosed start tag at byte offset {at}")
            closing, tag, raw_attrs = match.group(1), match.group(2).lower(), match.group(3)
            if closing:
                if not state.stack or state.stack[-1].tag != tag:
                    raise HtmlParseError(
                        f'Unmatched end tag at byte offset {at}, expected "</'
                        f'{state.stack[-1].tag if state.stack else ""}>", found "</{tag}>"'
                    )
                opened = state.stack.pop()
                # an empty entity is dropped: "length" stays unset and it is filtered below
                if opened.entity is not None and state.length > opened.start:
                    opened.entity["offset"] = opened.start
                    opened.entity["length"] = state.length - opened.start
            else:
                attrs = {
                    m.group(1).lower(): _ENTITY.sub(
                        lambda e, at=at: _decode_entity(e, at),
                        m.group(2) or m.group(3) or m.group(4) or "",
                    )
                    for m in _ATTR.finditer(raw_attrs)
                }
                entity = _entity_for(tag, attrs, state, at)
                if entity is not None:
                    # listed in opening order, so an outer entity precedes an inner one
                    state.entities.append(entity)
                state.stack.append(_Open(tag, entity, state.length, at))
            pos = match.end()
        elif char == "&":
            match = _ENTITY.match(markup, pos)
            if match is None:
                # a bare ampersand is tolerated by the real API and kept as text
                state.add_text("&")
                pos += 1
            else:
                state.add_text(_decode_entity(match, at))
                pos = match.end()
        elif char == ">":
            raise HtmlParseError(f"Unexpected end tag at byte offset {at}")
        else:
            end = pos
            while end < len(markup) and markup[end] not in "<&>":
                end += 1
            state.add_text(markup[pos:end])
            pos = end
    if state.stack:
        opened = state.stack[-1]
        raise HtmlParseError(
            f'Can\'t find end tag corresponding to start tag "{opened.tag}"'
            f" at byte offset {opened.byte_offset}"
        )
    entities = [e for e in state.entities if "length" in e]
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(state.parts), entities
