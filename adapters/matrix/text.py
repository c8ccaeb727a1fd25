"""Text conversions for Matrix: HTML ``formatted_body`` ↔ canonical text, and neutralising.

Pure functions, no I/O. Canonical text is a CommonMark subset (``**bold**``, ``_italic_``,
`` `code` ``, fenced code, ``[text](url)``, ``> quotes``, ``- lists``).
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import nh3

__all__ = [
    "html_to_text",
    "neutralise",
    "sanitise_html",
    "strip_reply_fallback",
    "text_to_html",
]

#: The tags the Matrix spec recommends clients render (client-server API, m.room.message).
ALLOWED_TAGS = frozenset(
    {
        "del", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "p", "a", "ul", "ol",
        "sup", "sub", "li", "b", "i", "u", "strong", "em", "s", "code", "hr", "br", "div",
        "table", "thead", "tbody", "tr", "th", "td", "caption", "pre", "span",
    }
)  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": {"href"}, "ol": {"start"}, "code": {"class"}}
_URL_SCHEMES = {"http", "https", "mailto", "matrix"}

# A word joiner after the "@" keeps "@room" readable while no client or server matches it
# as the room-wide mention keyword any more.
_ROOM_PING = re.compile(r"@(room)\b", re.IGNORECASE)


def neutralise(text: str) -> str:
    """Make ``@room`` in relayed text harmless: it must never ping a whole room."""
    return _ROOM_PING.sub("@\u2060\\1", text)


def sanitise_html(fragment: str) -> str:
    """Keep only the tags and attributes Matrix clients render; drop scripts and handlers."""
    return nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in _ALLOWED_ATTRIBUTES.items()},
        url_schemes=_URL_SCHEMES,
        link_rel=None,
        strip_comments=True,
    )


# -- canonical text → HTML --------------------------------------------------------------

_INLINE = re.compile(
    r"`(?P<code>[^`\n]+)`"
    r"|\*\*(?P<bold>[^*\n]+)\*\*"
    r"|(?<![\w*])[*_](?P<italic>[^*_\n]+)[*_](?![\w*])"
    r"|\[(?P<ltext>[^\]\n]+)\]\((?P<href>https?://[^)\s]+)\)"
)


def _inline(text: str) -> str:
    out: list[str] = []
    pos = 0
    for match in _INLINE.finditer(text):
        out.append(html.escape(text[pos : match.start()], quote=False))
        if match["code"] is not None:
            out.append(f"<code>{html.escape(match['code'], quote=False)}</code>")
        elif match["bold"] is not None:
            out.append(f"<strong>{html.escape(match['bold'], quote=False)}</strong>")
        elif match["italic"] is not None:
            out.append(f"<em>{html.escape(match['italic'], quote=False)}</em>")
        else:
            href = html.escape(match["href"], quote=True)
            out.append(f'<a href="{href}">{html.escape(match["ltext"], quote=False)}</a>')
        pos = match.end()
    out.append(html.escape(text[pos:], quote=False))
    return "".join(out)


def text_to_html(text: str) -> str:
    """Render canonical text as a Matrix ``formatted_body`` fragment (not yet sanitised)."""
    parts: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            block: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                block.append(lines[i])
                i += 1
            parts.append(
                f"<pre><code>{html.escape(chr(10).join(block), quote=False)}</code></pre>"
            )
            i += 1
            continue
        if line.startswith("> ") or line == ">":
            quote: list[str] = []
            while i < len(lines) and (lines[i].startswith("> ") or lines[i] == ">"):
                quote.append(_inline(lines[i][2:]))
                i += 1
            parts.append(f"<blockquote>{'<br>'.join(quote)}</blockquote>")
            continue
        parts.append(_inline(line) + ("<br>" if i < len(lines) - 1 else ""))
        i += 1
    return "".join(parts)


# -- HTML → canonical text --------------------------------------------------------------

_BLOCK = {"p", "div", "pre", "blockquote", "ul", "ol", "table", "tr", "h1", "h2", "h3"}
_BLOCK |= {"h4", "h5", "h6", "hr"}
_SKIP = {"script", "style", "mx-reply", "head", "title"}
_MARKS = {"b": "**", "strong": "**", "i": "_", "em": "_", "del": "~~", "s": "~~"}


class _Flattener(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.quote = 0
        self.pre = 0
        self.links: list[str | None] = []

    def _newline(self) -> None:
        if self.out and not self.out[-1].endswith("\n"):
            self.out.append("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif self.skip:
            return
        elif tag == "br":
            self.out.append("\n")
        elif tag in _MARKS:
            self.out.append(_MARKS[tag])
        elif tag == "code" and not self.pre:
            self.out.append("`")
        elif tag == "pre":
            self._newline()
            self.out.append("```\n")
            self.pre += 1
        elif tag == "li":
            self._newline()
            self.out.append("- ")
        elif tag == "blockquote":
            self._newline()
            self.quote += 1
        elif tag == "a":
            href = dict(attrs).get("href")
            self.links.append(href if href and href.startswith(("http", "mailto")) else None)
            if self.links[-1]:
                self.out.append("[")
        elif tag in _BLOCK:
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif self.skip:
            return
        elif tag in _MARKS:
            self.out.append(_MARKS[tag])
        elif tag == "code" and not self.pre:
            self.out.append("`")
        elif tag == "pre":
            self._newline()
            self.out.append("```\n")
            self.pre = max(0, self.pre - 1)
        elif tag == "blockquote":
            self.quote = max(0, self.quote - 1)
            self._newline()
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href:
                self.out.append(f"]({href})")
        elif tag in _BLOCK:
            self._newline()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.quote and (not self.out or self.out[-1].endswith("\n")):
            data = "> " * self.quote + data
        self.out.append(data)


def html_to_text(fragment: str) -> str:
    """Flatten a ``formatted_body`` into canonical text; scripts and reply quotes vanish."""
    parser = _Flattener()
    parser.feed(fragment)
    parser.close()
    text = "".join(parser.out)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def strip_reply_fallback(body: str) -> str:
    """Drop the ``> <@user> quoted text`` lines clients put in front of a reply's body."""
    lines = body.split("\n")
    i = 0
    while i < len(lines) and lines[i].startswith(">"):
        i += 1
    if i and i < len(lines) and lines[i] == "":
        i += 1
    return "\n".join(lines[i:]) if i else body
