"""Pure translation between Matrix events and the canonical model (no I/O).

``parse_event`` turns one raw client-API event into an :class:`Event` (or ``None`` for
events that are not ours to relay, or raises :class:`Malformed` with a content-free
reason); the ``render_*`` functions build the JSON content of outgoing events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, TypedDict

from adapters.matrix.text import (
    html_to_text,
    neutralise,
    sanitise_html,
    strip_reply_fallback,
    text_to_html,
)
from bridgebot.model import Attachment, Author, Event, EventKind, Outbound, RoomRef

__all__ = [
    "BRIDGE_KEY",
    "MEDIA_MSGTYPES",
    "ORIGIN_KEY",
    "TEXT_MSGTYPES",
    "Malformed",
    "RawEvent",
    "mxc_to_http",
    "parse_event",
    "render_edit",
    "render_file",
    "render_message",
    "render_reaction",
    "txn_id",
]

NETWORK = "matrix"
#: Our origin marker in event content: a second bridge (or we) can tell a copy by it.
ORIGIN_KEY = "org.bridgebot.origin"
BRIDGE_KEY = "org.bridgebot.bridge"
TEXT_MSGTYPES = frozenset({"m.text", "m.notice", "m.emote"})
MEDIA_MSGTYPES = frozenset({"m.image", "m.file", "m.video", "m.audio"})
HTML_FORMAT = "org.matrix.custom.html"


class RawEvent(TypedDict, total=False):
    """A room event as the client-server API delivers it (sync timeline, /messages)."""

    type: str
    event_id: str
    sender: str
    origin_server_ts: int
    content: dict[str, Any]
    redacts: str
    state_key: str
    unsigned: dict[str, Any]


class Malformed(ValueError):
    """An inbound event that cannot be understood; the message says why, without content."""


def mxc_to_http(homeserver: str, mxc: str) -> str | None:
    """The (authenticated) client-API download URL of an ``mxc://server/id`` URI."""
    if not mxc.startswith("mxc://"):
        return None
    server, _, media_id = mxc[len("mxc://") :].partition("/")
    if not server or not media_id or "/" in media_id:
        return None
    return f"{homeserver.rstrip('/')}/_matrix/client/v1/media/download/{server}/{media_id}"


def _str(mapping: Mapping[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    return value if isinstance(value, str) else None


def _dict(mapping: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = mapping.get(key)
    return value if isinstance(value, dict) else {}


def _message_text(content: Mapping[str, Any], is_reply: bool) -> str:
    formatted = _str(content, "formatted_body")
    if formatted is not None and content.get("format") == HTML_FORMAT:
        return html_to_text(formatted)
    body = _str(content, "body") or ""
    return strip_reply_fallback(body) if is_reply else body


def _attachment(content: Mapping[str, Any], homeserver: str) -> Attachment:
    mxc = _str(content, "url")
    if mxc is None:
        raise Malformed("media event without a url (encrypted or broken)")
    info = _dict(content, "info")
    size = info.get("size")
    filename = _str(content, "filename") or _str(content, "body") or "file"
    return Attachment(
        filename=filename,
        mime_type=_str(info, "mimetype") or "application/octet-stream",
        size=size if isinstance(size, int) and size >= 0 else 0,
        url=mxc_to_http(homeserver, mxc),
    )


def parse_event(
    raw: Mapping[str, Any],
    room: RoomRef,
    *,
    own_user: str,
    display_name: Callable[[str], str],
    homeserver: str,
) -> Event | None:
    """Translate one raw room event; ``None`` for our own echoes and irrelevant types."""
    etype, event_id, sender = _str(raw, "type"), _str(raw, "event_id"), _str(raw, "sender")
    if etype is None or event_id is None or sender is None:
        raise Malformed("event without type, event_id or sender")
    if sender == own_user:
        return None
    content = raw.get("content")
    if not isinstance(content, dict):
        raise Malformed(f"{etype} {event_id}: content is not an object")
    if ORIGIN_KEY in content:
        return None  # a copy posted by a bridgebot (us under another account, or a peer)
    ts_ms = raw.get("origin_server_ts")
    ts = ts_ms / 1000 if isinstance(ts_ms, int | float) else 0.0
    author = Author(NETWORK, sender, display_name(sender))
    base: dict[str, Any] = {"room": room, "remote_id": event_id, "author": author, "ts": ts}
    relates = _dict(content, "m.relates_to")
    rel_type = _str(relates, "rel_type")
    related = _str(relates, "event_id")

    if etype == "m.room.redaction":
        target = _str(content, "redacts") or _str(raw, "redacts")
        if target is None:
            raise Malformed(f"redaction {event_id} names no event")
        return Event(EventKind.DELETE, target=target, **base)
    if etype == "m.reaction":
        emoji = _str(relates, "key")
        if rel_type != "m.annotation" or related is None or not emoji:
            raise Malformed(f"reaction {event_id} is not an m.annotation with a key")
        return Event(EventKind.REACTION, target=related, emoji=emoji, **base)
    if etype != "m.room.message":
        return None
    if not content and "redacted_because" in _dict(raw, "unsigned"):
        return None  # already redacted before we saw it
    msgtype = _str(content, "msgtype")
    if msgtype is None:
        raise Malformed(f"message {event_id} has no msgtype")

    if rel_type == "m.replace":
        new = _dict(content, "m.new_content")
        if related is None or not isinstance(new.get("body"), str):
            raise Malformed(f"edit {event_id} lacks m.new_content.body or its target")
        return Event(EventKind.EDIT, target=related, text=_message_text(new, False), **base)

    in_reply = _str(_dict(relates, "m.in_reply_to"), "event_id")
    thread = related if rel_type == "m.thread" else None
    if thread is not None and relates.get("is_falling_back") is True:
        in_reply = None  # the reply is only the fallback for thread-unaware clients
    base.update(reply_to=in_reply, thread=thread)
    if msgtype in MEDIA_MSGTYPES:
        attachment = _attachment(content, homeserver)
        caption = _message_text(content, in_reply is not None)
        text = "" if caption == attachment.filename else caption
        return Event(EventKind.MESSAGE, text=text, attachments=(attachment,), **base)
    body = _str(content, "body")
    if body is None:
        raise Malformed(f"{msgtype} message {event_id} has no body")
    text = _message_text(content, in_reply is not None)
    if msgtype == "m.emote":
        text = f"_{text}_"
    # Unknown msgtypes: the spec says to show the body, which we have; so relay it.
    return Event(EventKind.MESSAGE, text=text, is_notice=msgtype == "m.notice", **base)


# -- outbound ----------------------------------------------------------------------------


def txn_id(operation: str, key: str) -> str:
    """A transaction id derived from the delivery key: a retried send reuses it, so the
    homeserver returns the first event instead of posting a duplicate."""
    digest = hashlib.sha256(f"{operation}\0{key}".encode()).hexdigest()[:32]
    return f"bb{operation}.{digest}"


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bodies(out: Outbound, extra_lines: tuple[str, ...], limit: int) -> dict[str, Any]:
    text = "\n".join(part for part in (out.text, *extra_lines) if part)
    text = _truncate(text, limit)
    plain = neutralise(f"{out.label}: {text}" if out.label and text else out.label or text)
    formatted = sanitise_html(text_to_html(text))
    if out.label:
        label = sanitise_html(text_to_html(out.label))
        formatted = (
            f"<strong>{label}</strong>: {formatted}" if text else f"<strong>{label}</strong>"
        )
    return {
        "msgtype": "m.notice" if out.is_announcement else "m.text",
        "body": plain,
        "format": HTML_FORMAT,
        "formatted_body": neutralise(formatted),
    }


def _markers(out: Outbound) -> dict[str, Any]:
    # An empty m.mentions means "this event mentions nobody": clients then skip the
    # legacy body-matching push rules, so nothing relayed pings anyone.
    return {"m.mentions": {}, ORIGIN_KEY: str(out.origin), BRIDGE_KEY: out.bridge}


def _relation(out: Outbound) -> dict[str, Any] | None:
    if out.thread:
        return {
            "rel_type": "m.thread",
            "event_id": out.thread,
            "is_falling_back": out.reply_to is None,
            "m.in_reply_to": {"event_id": out.reply_to or out.thread},
        }
    if out.reply_to:
        return {"m.in_reply_to": {"event_id": out.reply_to}}
    return None


def render_message(
    out: Outbound, *, links: tuple[str, ...] = (), max_length: int = 30000
) -> dict[str, Any]:
    """The ``m.room.message`` content for a relayed message (label in bold, links below)."""
    content = {**_bodies(out, links, max_length), **_markers(out)}
    relation = _relation(out)
    if relation is not None:
        content["m.relates_to"] = relation
    return content


def render_file(out: Outbound, attachment: Attachment, mxc: str, msgtype: str) -> dict[str, Any]:
    """The content for one uploaded attachment, in the same reply/thread as its message."""
    content: dict[str, Any] = {
        "msgtype": msgtype,
        "body": neutralise(attachment.filename),
        "filename": neutralise(attachment.filename),
        "url": mxc,
        "info": {"mimetype": attachment.mime_type, "size": attachment.size},
        **_markers(out),
    }
    relation = _relation(out)
    if relation is not None:
        content["m.relates_to"] = relation
    return content


def render_edit(out: Outbound, target: str, *, max_length: int = 30000) -> dict[str, Any]:
    """An ``m.replace`` edit of our earlier copy ``target``."""
    new = {**_bodies(out, (), max_length), "m.mentions": {}}
    fallback = {**new, "body": f"* {new['body']}", "formatted_body": f"* {new['formatted_body']}"}
    return {
        **fallback,
        **_markers(out),
        "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": target},
    }


def render_reaction(target: str, emoji: str, origin: str = "") -> dict[str, Any]:
    """An ``m.annotation`` reaction to ``target``."""
    return {
        "m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": emoji},
        ORIGIN_KEY: origin,
    }


def msgtype_for(mime_type: str) -> str:
    """The media msgtype clients preview best for a MIME type."""
    major = mime_type.split("/", 1)[0]
    return {"image": "m.image", "video": "m.video", "audio": "m.audio"}.get(major, "m.file")
