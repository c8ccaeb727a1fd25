"""Canonical deliveries → Slack Web API arguments (``chat.postMessage``, ``chat.update``).

Pure: the client does the calls. Relayed text goes through :func:`mrkdwn.from_canonical`,
so it can never ping a room, and every copy carries the origin marker in its metadata.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from adapters.slack import mrkdwn
from adapters.slack.translate import MAX_TEXT_LENGTH, ORIGIN_EVENT_TYPE
from bridgebot.model import Outbound

__all__ = [
    "PostArgs",
    "UpdateArgs",
    "copy_with_key",
    "origin_metadata",
    "render_post",
    "render_update",
]


class PostArgs(TypedDict):
    """Arguments for ``chat.postMessage``."""

    channel: str
    text: str
    metadata: dict[str, Any]
    link_names: bool
    thread_ts: NotRequired[str]
    username: NotRequired[str]
    icon_url: NotRequired[str]


class UpdateArgs(TypedDict):
    """Arguments for ``chat.update``."""

    channel: str
    ts: str
    text: str
    metadata: dict[str, Any]
    link_names: bool


def origin_metadata(out: Outbound) -> dict[str, Any]:
    """The marker that tells any bridge (this one included) that a message is a copy."""
    return {
        "event_type": ORIGIN_EVENT_TYPE,
        "event_payload": {"key": out.key, "origin": str(out.origin), "bridge": out.bridge},
    }


def copy_with_key(messages: list[Any], key: str) -> str | None:
    """The ts of our copy for delivery ``key`` among ``messages`` (from history), if any."""
    for message in messages:
        metadata = message.get("metadata") if isinstance(message, dict) else None
        if not isinstance(metadata, dict) or metadata.get("event_type") != ORIGIN_EVENT_TYPE:
            continue
        payload = metadata.get("event_payload")
        if isinstance(payload, dict) and payload.get("key") == key and message.get("ts"):
            return str(message["ts"])
    return None


def _file_notes(out: Outbound, upload_limit: int) -> list[str]:
    """Files we will not upload (no bytes, or too big) travel as links or a note."""
    notes: list[str] = []
    for attachment in out.attachments:
        if attachment.data is not None and len(attachment.data) <= upload_limit:
            continue
        if attachment.url:
            notes.append(mrkdwn.link(attachment.url, attachment.filename))
        else:
            notes.append(f"(file {mrkdwn.escape(attachment.filename)} could not be relayed)")
    return notes


def _body(out: Outbound, customize: bool, upload_limit: int) -> str:
    text = mrkdwn.from_canonical(out.text)
    text = "\n".join(part for part in (text, *_file_notes(out, upload_limit)) if part)
    if not customize and out.label:
        label = mrkdwn.escape(out.label)
        text = f"*{label}:* {text}" if text else f"*{label}*"
    if not text:
        names = ", ".join(mrkdwn.escape(a.filename) for a in out.attachments)
        text = names or "\u200b"  # Slack refuses an empty text (no_text)
    return mrkdwn.truncate(text, MAX_TEXT_LENGTH)


def render_post(
    out: Outbound, channel: str, *, customize: bool, upload_limit: int = 0
) -> PostArgs:
    """``chat.postMessage`` arguments for ``out``.

    ``customize``: the app may set a sender name and icon (``chat:write.customize``).
    Attachments with bytes up to ``upload_limit`` are uploaded separately by the caller;
    the others are linked (or named) in the text.
    """
    args: PostArgs = {
        "channel": channel,
        "text": _body(out, customize, upload_limit),
        "metadata": origin_metadata(out),
        "link_names": False,
    }
    thread = out.thread or out.reply_to
    if thread:
        args["thread_ts"] = thread
    if customize and out.label:
        args["username"] = out.label[:80]
        if out.avatar_url:
            args["icon_url"] = out.avatar_url
    return args


def render_update(
    out: Outbound, channel: str, ts: str, *, customize: bool, upload_limit: int = 0
) -> UpdateArgs:
    """``chat.update`` arguments replacing our copy ``ts`` with ``out``."""
    return {
        "channel": channel,
        "ts": ts,
        "text": _body(out, customize, upload_limit),
        "metadata": origin_metadata(out),
        "link_names": False,
    }
