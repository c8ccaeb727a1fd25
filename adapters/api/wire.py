"""matterbridge's API wire format, both ways, with no I/O.

Field names and shapes follow matterbridge's ``config.Message`` (``bridge/config/config.go``):
``text, channel, username, userid, avatar, account, event, protocol, gateway, parent_id,
timestamp, id, Extra``. Like Go's ``encoding/json``, inbound keys match case-insensitively and
unknown keys are ignored; ``null`` counts as an empty value.
"""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
from datetime import UTC, datetime
from typing import Any, TypedDict

from bridgebot.model import Attachment, Author, Event, EventKind, Outbound, RoomRef

__all__ = [
    "EVENT_API_CONNECTED",
    "EVENT_MSG_DELETE",
    "FileInfo",
    "WireError",
    "WireMessage",
    "go_time",
    "greeting",
    "parse_post",
    "render_delete",
    "render_outbound",
    "render_reply",
]

EVENT_MSG_DELETE = "msg_delete"
EVENT_API_CONNECTED = "api_connected"
EVENT_USER_ACTION = "user_action"
#: What matterbridge puts in ``parent_id`` when the parent is unknown; it means "no parent".
PARENT_NOT_FOUND = "msg-parent-not-found"

_STRING_FIELDS = ("text", "username", "userid", "avatar", "gateway", "parent_id", "event", "id")


class FileInfo(TypedDict):
    """One entry of ``Extra["file"]``: Go's ``config.FileInfo`` has no JSON tags."""

    Name: str
    Data: str | None
    Comment: str
    URL: str
    Size: int
    Avatar: bool
    SHA: str
    NativeID: str


class WireMessage(TypedDict):
    """matterbridge's ``config.Message`` as JSON (key order as Go writes it)."""

    text: str
    channel: str
    username: str
    userid: str
    avatar: str
    account: str
    event: str
    protocol: str
    gateway: str
    parent_id: str
    timestamp: str
    id: str
    Extra: dict[str, list[FileInfo]] | None


class WireError(ValueError):
    """A client payload we refuse; ``status`` is the HTTP status to answer with."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def go_time(ts: float) -> str:
    """``ts`` as Go's ``time.Time`` JSON (RFC 3339, nanosecond form with zeros trimmed), UTC."""
    moment = datetime.fromtimestamp(ts, UTC)
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{fraction}Z" if fraction else f"{stamp}Z"


def _message(**fields: Any) -> WireMessage:
    message: WireMessage = {
        "text": "",
        "channel": "",
        "username": "",
        "userid": "",
        "avatar": "",
        "account": "",
        "event": "",
        "protocol": "",
        "gateway": "",
        "parent_id": "",
        "timestamp": "",
        "id": "",
        "Extra": None,
    }
    message.update(fields)  # type: ignore[typeddict-item]
    return message


def _dumps(message: WireMessage) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def greeting(now: float) -> str:
    """The first line/frame of a stream or websocket, as matterbridge's ``getGreeting``."""
    return _dumps(_message(event=EVENT_API_CONNECTED, timestamp=go_time(now)))


def _file_info(attachment: Attachment) -> FileInfo:
    data = attachment.data
    return {
        "Name": attachment.filename,
        "Data": base64.b64encode(data).decode("ascii") if data is not None else None,
        "Comment": "",
        "URL": attachment.url or "",
        "Size": attachment.size,
        "Avatar": False,
        "SHA": "",
        "NativeID": "",
    }


def render_outbound(out: Outbound, remote_id: str, now: float) -> str:
    """The JSON line for a message (or an edit: same shape, the edited copy's ``id``).

    The label goes in ``username`` (the API has per-message identity), not in the text.
    """
    extra: dict[str, list[FileInfo]] = {}
    if out.attachments:
        extra["file"] = [_file_info(a) for a in out.attachments]
    return _dumps(
        _message(
            text=out.text,
            channel=out.origin.room_id,
            username=out.label,
            userid=out.author_id,
            avatar=out.avatar_url or "",
            account=out.origin.account,
            protocol=out.origin.network,
            gateway=out.bridge,
            parent_id=out.reply_to or "",
            timestamp=go_time(out.ts or now),
            id=remote_id,
            Extra=extra,
        )
    )


def render_delete(remote_id: str, now: float) -> str:
    """The JSON line telling clients that our copy ``remote_id`` was deleted."""
    return _dumps(_message(event=EVENT_MSG_DELETE, id=remote_id, timestamp=go_time(now), Extra={}))


def render_reply(event: Event, event_name: str, message_id: str) -> str:
    """The body answering a POST: the message as accepted, matterbridge's fixed fields set."""
    return _dumps(
        _message(
            text=event.text,
            channel=event.room.room_id,
            username=event.author.display_name,
            userid=event.author.user_id,
            avatar=event.author.avatar_url or "",
            account=event.room.account,
            event=event_name,
            protocol=event.room.network,
            gateway=event.bridge or "",
            parent_id=event.reply_to or "",
            timestamp=go_time(event.ts),
            id=message_id,
            Extra={},
        )
    )


def _fields(obj: object) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise WireError(f"the body must be a JSON object, not {type(obj).__name__}")
    # Go's encoding/json matches keys case-insensitively; an exact lowercase key wins.
    fields = {str(k).lower(): v for k, v in obj.items() if str(k).lower() != k}
    fields.update(obj)
    return fields


def _string(fields: dict[str, Any], key: str) -> str:
    value = fields.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise WireError(f"field {key!r} must be a string, not {type(value).__name__}")
    return value


def _attachments(extra: object) -> tuple[Attachment, ...]:
    if extra is None:
        return ()
    if not isinstance(extra, dict):
        raise WireError("field 'Extra' must be an object")
    files = extra.get("file")
    if files is None:
        return ()
    if not isinstance(files, list):
        raise WireError("field 'Extra.file' must be a list")
    return tuple(_attachment(i, f) for i, f in enumerate(files))


def _attachment(index: int, info: object) -> Attachment:
    where = f"Extra.file[{index}]"
    if not isinstance(info, dict):
        raise WireError(f"{where} must be an object")
    name, url, data = info.get("Name"), info.get("URL") or None, info.get("Data")
    if not isinstance(name, str) or not name:
        raise WireError(f"{where}.Name must be a non-empty string")
    if url is not None and not isinstance(url, str):
        raise WireError(f"{where}.URL must be a string")
    raw: bytes | None = None
    if data is not None:
        if not isinstance(data, str):
            raise WireError(f"{where}.Data must be a base64 string")
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise WireError(f"{where}.Data is not valid base64") from None
    if raw is None and url is None:
        raise WireError(f"{where} needs Data or URL")
    size = info.get("Size")
    if raw is not None:
        size = len(raw)
    elif not isinstance(size, int) or isinstance(size, bool) or size < 0:
        size = 0
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Attachment(filename=name, mime_type=mime, size=size, url=url, data=raw)


def parse_post(obj: object, room: RoomRef, new_id: str, now: float) -> tuple[Event, str]:
    """A client's message (POST body or websocket frame) → ``(Event, event name)``.

    A post carrying the ``id`` of an earlier message edits it (``target``); ``event:
    "msg_delete"`` with an ``id`` deletes it; anything else is a new message. Messages and
    edits get ``new_id`` as their remote id, a delete the deleted message's id.
    (matterbridge itself blanks ``id`` on input, so its clients cannot edit or delete; this
    is our extension, and plain matterbridge clients, which send no ``id``, are unaffected.)
    Raises :class:`WireError` with a reason fit to show the client.
    """
    fields = _fields(obj)
    values = {key: _string(fields, key) for key in _STRING_FIELDS}
    attachments = _attachments(fields.get("extra"))
    event_name, target = values["event"], values["id"]
    if event_name == EVENT_MSG_DELETE:
        if not target:
            raise WireError("msg_delete needs the id of the message to delete")
        kind = EventKind.DELETE
    elif event_name in ("", EVENT_USER_ACTION):
        kind = EventKind.EDIT if target else EventKind.MESSAGE
        if not values["text"].strip() and not attachments:
            raise WireError("empty message: text is empty and there is no file")
    else:
        raise WireError(f"event {event_name!r} is not supported; send '' or 'msg_delete'")
    username, userid = values["username"], values["userid"]
    parent = values["parent_id"]
    event = Event(
        kind=kind,
        room=room,
        # Each edit is an event of its own (the core dedupes follow-ups on their remote id);
        # a delete can only happen once, so the deleted message's id serves.
        remote_id=target if kind is EventKind.DELETE else new_id,
        author=Author("api", userid or username, username or userid, values["avatar"] or None),
        text="" if kind is EventKind.DELETE else values["text"],
        attachments=attachments if kind is not EventKind.DELETE else (),
        reply_to=parent if parent and parent != PARENT_NOT_FOUND else None,
        target=target or None,
        ts=now,
        bridge=values["gateway"] or None,
    )
    return event, event_name
