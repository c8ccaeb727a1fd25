"""Inbound mail → canonical events (pure: bytes in, :class:`Inbound` or :class:`Dropped` out).

MIME is parsed by the standard library with ``policy.default`` (charsets, quoted-printable,
base64); HTML-only mail becomes text; quoted replies and signatures are cut by
``mail-parser-reply``. For email the remote id of a message is its Message-ID, brackets
included, so threading headers map through the core's id map unchanged.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from mailparser_reply import EmailReplyParser

from adapters.email.defence import auth_passes, automatic_reason, echo_reason, sender_allowed
from adapters.email.htmltext import html_to_text
from adapters.settings import EmailListSettings
from bridgebot.model import Attachment, Author

__all__ = [
    "NETWORK",
    "Dropped",
    "Inbound",
    "ParseContext",
    "message_ids",
    "parse_mail",
    "strip_reply",
]

NETWORK = "email"
_MSGID = re.compile(r"<[^<>\s]+>")
_LANGUAGES = ["en", "de", "fr", "es", "nl", "it", "da", "sv", "pl", "cs"]
_REPLY_PARSER = EmailReplyParser(languages=_LANGUAGES)
_SUBJECT_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|fw|fwd|wg)\s*(?:\[\d+\])?\s*:\s*)+", re.I)
_FILENAME_BAD = re.compile(r"[\x00-\x1f\x7f/\\]")


@dataclass(frozen=True, slots=True)
class ParseContext:
    """What parsing needs to know about this account."""

    address: str
    id_domain: str
    rooms: frozenset[str]
    list_settings: Callable[[str], EmailListSettings]
    max_attachment_bytes: int
    trusted_authserv_id: str | None = None


@dataclass(frozen=True, slots=True)
class Inbound:
    """A mail worth relaying, in canonical terms."""

    room_id: str
    message_id: str
    author: Author
    subject: str
    text: str
    references: tuple[str, ...]
    reply_to: str | None
    thread: str | None
    attachments: tuple[Attachment, ...]
    ts: float


@dataclass(frozen=True, slots=True)
class Dropped:
    """A mail not to relay, and why (the reason names no content)."""

    reason: str
    message_id: str = ""


def message_ids(value: object) -> list[str]:
    """The ``<id>`` tokens of a Message-ID, In-Reply-To or References header, in order."""
    return _MSGID.findall(str(value or ""))


def strip_reply(text: str) -> str:
    """The new part of a reply: quoted earlier mail and the signature removed."""
    if not text.strip():
        return ""
    parsed = _REPLY_PARSER.read(text)
    for reply in parsed.replies:
        body = str(reply.body).strip()
        if body:
            return body
    # the whole mail looked like quote or signature: relay it rather than lose it
    return text.strip()


def _list_post(msg: EmailMessage) -> str | None:
    match = re.search(r"<mailto:([^>?]+)", str(msg.get("List-Post", "")), re.I)
    return match.group(1).strip().lower() if match else None


def _room_of(msg: EmailMessage, rooms: frozenset[str]) -> str | None:
    list_post = _list_post(msg)
    if list_post in rooms:
        return list_post
    headers = [str(v) for name in ("To", "Cc") for v in msg.get_all(name, [])]
    for _, addr in getaddresses(headers):
        if addr.lower() in rooms:
            return addr.lower()
    return None


def _body_text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if not isinstance(part, EmailMessage):
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        # an unknown charset or a broken transfer encoding: decode what we can
        raw = part.get_payload(decode=True)
        content = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_type() == "text/html":
        return html_to_text(content)
    return content


def _attachments(msg: EmailMessage, limit: int) -> tuple[tuple[Attachment, ...], list[str]]:
    files: list[Attachment] = []
    notes: list[str] = []
    for part in msg.iter_attachments():
        if not isinstance(part, EmailMessage):
            continue
        name = _FILENAME_BAD.sub("_", part.get_filename() or "attachment")[:200]
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        if len(data) > limit:
            notes.append(f"[attachment {name} ({len(data)} bytes) not relayed: too large]")
            continue
        files.append(Attachment(name, part.get_content_type(), len(data), data=data))
    return tuple(files), notes


def _timestamp(msg: EmailMessage) -> float:
    try:
        return parsedate_to_datetime(str(msg.get("Date", ""))).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return 0.0


def _message_id(msg: EmailMessage, raw: bytes) -> str:
    ids = message_ids(msg.get("Message-ID"))
    if ids:
        return ids[0]
    # without one, the content's hash keeps duplicates recognisable
    return f"<{hashlib.sha256(raw).hexdigest()[:32]}@missing-id.invalid>"


def parse_mail(raw: bytes, ctx: ParseContext) -> Inbound | Dropped:
    """Parse one raw RFC 5322 message; decide whether and where to relay it.

    The headers alone say whether a mail is our own copy or automatic, and most mail the
    bot reads is its own copies coming back from the lists: those are dropped before the
    body (the costly part) is parsed.
    """
    try:
        head = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
        assert isinstance(head, EmailMessage)
        reason = echo_reason(head, ctx.address, ctx.id_domain) or automatic_reason(head)
        if reason:
            return Dropped(reason, _message_id(head, raw))
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(msg, EmailMessage)
        return _parse(msg, raw, ctx)
    except Exception as exc:  # malformed mail must never stop the inbox
        return Dropped(f"malformed mail ({type(exc).__name__})")


def _parse(msg: EmailMessage, raw: bytes, ctx: ParseContext) -> Inbound | Dropped:
    """A mail that is neither ours nor automatic (see parse_mail): relay it, or say why not."""
    message_id = _message_id(msg, raw)
    room_id = _room_of(msg, ctx.rooms)
    if room_id is None:
        return Dropped("addressed to no bridged list", message_id)
    settings = ctx.list_settings(room_id)
    name, sender = parseaddr(str(msg.get("From", "")))
    sender = sender.lower()
    if not sender or "@" not in sender:
        return Dropped("no sender address", message_id)
    if not sender_allowed(settings.senders, sender, _list_post(msg), room_id):
        return Dropped(f"sender not allowed by senders = {settings.senders!r}", message_id)
    if not auth_passes(msg, settings.require_auth, ctx.trusted_authserv_id):
        return Dropped(f"no {settings.require_auth} pass in Authentication-Results", message_id)

    references = tuple(message_ids(msg.get("References")))
    parents = message_ids(msg.get("In-Reply-To"))
    reply_to = parents[0] if parents else (references[-1] if references else None)
    thread = references[0] if references else reply_to
    subject = " ".join(str(msg.get("Subject", "")).split())
    body = strip_reply(_body_text(msg))
    files, notes = _attachments(msg, ctx.max_attachment_bytes)
    if thread is None:
        # a new conversation: the subject is its first line
        text = "\n\n".join(p for p in (_SUBJECT_PREFIX.sub("", subject), body) if p)
    else:
        text = body
    text = "\n".join([text, *notes]).strip()
    if not text and not files:
        return Dropped("empty after removing quotes and signature", message_id)
    author = Author(NETWORK, sender, " ".join(name.split()) or sender)
    return Inbound(
        room_id=room_id,
        message_id=message_id,
        author=author,
        subject=subject,
        text=text,
        references=references,
        reply_to=reply_to,
        thread=thread,
        attachments=files,
        ts=_timestamp(msg),
    )
