"""HTML mail bodies to plain text, and plain text to a sanitised HTML part (pure)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import nh3

__all__ = ["html_to_text", "text_to_html"]

_BLOCK = frozenset(
    {"p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr"}
)
#: content never shown to a reader
_SKIP = frozenset({"script", "style", "head", "title", "template"})
#: quoted earlier mail: a reply's HTML quotes the whole thread in a blockquote
_QUOTE = frozenset({"blockquote"})


class _TextExtractor(HTMLParser):
    """Collects the visible text; skips scripts, styles and quoted blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = " ".join(v or "" for k, v in attrs if k == "class")
        if tag in _SKIP or tag in _QUOTE or "gmail_quote" in classes:
            if tag not in ("br", "hr"):
                self._hidden += 1
            return
        if self._hidden:
            if tag not in ("br", "hr", "img", "meta", "link", "input"):
                self._hidden += 1
            return
        if tag in _BLOCK:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self._hidden and tag in ("br", "hr"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._hidden:
            if tag not in ("br", "hr", "img", "meta", "link", "input"):
                self._hidden -= 1
            return
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(markup: str) -> str:
    """The readable text of an HTML body, without quoted blocks."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def text_to_html(text: str) -> str:
    """A sanitised HTML rendering of plain text: paragraphs and line breaks, nothing active."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    body = "".join(
        "<p>" + "<br>".join(html.escape(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )
    # escaping already made it inert; nh3 is the belt to those braces
    cleaned: str = nh3.clean(body, tags={"p", "br"}, attributes={})
    return f"<!DOCTYPE html><html><body>{cleaned}</body></html>"
