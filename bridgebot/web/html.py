"""A tiny HTML template helper: every interpolated value is escaped unless it is ``Safe``.

Room names, display names, reasons and audit details all come from users or networks, so
the only way to put text into a page is through :func:`esc` or :func:`fill`, which escape it
(quotes included, so values are safe inside double-quoted attributes too).
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable

__all__ = ["CSS", "Safe", "esc", "fill", "join", "page", "when"]


class Safe(str):
    """Markup that is already escaped (or written by us): inserted as is."""

    __slots__ = ()


def esc(value: object) -> Safe:
    """``value`` as text safe for element content and double-quoted attributes."""
    if isinstance(value, Safe):
        return value
    return Safe(html.escape(str(value), quote=True))


def fill(template: str, **values: object) -> Safe:
    """``template.format`` with every value escaped; the template itself must be ours."""
    return Safe(template.format_map({key: esc(value) for key, value in values.items()}))


def join(parts: Iterable[Safe], sep: str = "") -> Safe:
    """Concatenate already-safe fragments."""
    return Safe(sep.join(esc(p) for p in parts))


def when(ts: float | None) -> str:
    """A timestamp as UTC text, the way the page shows every time."""
    if not ts:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1d1d1f; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
pre { background: #f6f6f6; padding: .75rem; overflow-x: auto; }
.error { background: #fde8e8; border: 1px solid #c33; padding: .5rem; }
.notice { background: #e8f5e8; border: 1px solid #393; padding: .5rem; }
.up { color: #161; } .down { color: #a11; font-weight: bold; }
form.inline { display: inline; }
nav a, nav form { margin-right: 1rem; }
small { color: #555; }
"""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · bridgebot</title><link rel="stylesheet" href="/style.css"></head>
<body>{nav}<h1>{title}</h1>{body}</body></html>
"""


def page(title: str, body: Safe, nav: Safe | None = None) -> str:
    """A whole HTML document around ``body``."""
    return fill(_PAGE, title=title, nav=nav or Safe(""), body=body)
