"""Canonical deliveries → mail messages (pure).

Every header is set through the ``email`` package with ``policy.default``, after names and
subjects lose control characters, so CR/LF in a relayed name or subject cannot add a header
and non-ASCII is RFC 2047-encoded.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formatdate

from adapters.email.defence import ORIGIN_HEADER
from adapters.email.htmltext import text_to_html
from bridgebot.model import Attachment, Outbound

__all__ = [
    "MAIL_POLICY",
    "MailParts",
    "clean_header_text",
    "delivery_subject",
    "digest_message_id",
    "first_line",
    "format_datetime_or_now",
    "message_id_for",
    "neutralise",
    "render_mail",
]

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")
#: Mailman and friends treat these as commands when they open a mail or its subject
_COMMANDS = re.compile(
    r"^(\s*)(subscribe|unsubscribe|help|join|leave|remove|set|who|confirm|end)\b", re.I
)
_MAX_SUBJECT = 120
#: 7-bit bodies (quoted-printable/base64) and CRLF: what every list server accepts
MAIL_POLICY = policy.SMTP.clone(cte_type="7bit")
_MAX_NAME = 100


def clean_header_text(value: str, limit: int) -> str:
    """One line of text safe to put in a header: no control characters, bounded length."""
    text = " ".join(_CONTROL.sub(" ", value).split())
    # a literal "=?...?=" would be decoded by readers as an encoded word (and can then pose
    # as an address); a word joiner keeps it literal and makes the package encode it
    text = text.replace("=?", "=\u2060?")
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def first_line(text: str) -> str:
    """The first non-empty line of ``text``, for a subject."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def neutralise(text: str) -> str:
    """Keep a relayed body from reading as a list command or a signature cut.

    A line of ``-- `` would make readers' clients hide the rest as a signature, and a first
    line such as ``unsubscribe`` is held or executed by many list servers.
    """
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.rstrip() == "--":
            lines[i] = "\u2010\u2010"
    if lines and _COMMANDS.match(lines[0]):
        lines[0] = _COMMANDS.sub(lambda m: f"{m.group(1)}\u200b{m.group(2)}", lines[0], count=1)
    return "\n".join(lines)


def message_id_for(key: str, id_domain: str) -> str:
    """The Message-ID of one delivery: stable across retries of the same key."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<bridgebot.{digest}@{id_domain}>"


def digest_message_id(room_id: str, thread: str, period: int, id_domain: str) -> str:
    """The Message-ID of one digest mail (a thread's messages in one period)."""
    return message_id_for(f"digest\0{room_id}\0{thread}\0{period}", id_domain)


@dataclass(frozen=True, slots=True)
class MailParts:
    """Everything one outgoing mail needs besides the delivery itself."""

    from_address: str
    list_address: str
    message_id: str
    subject: str
    in_reply_to: str | None
    references: tuple[str, ...]
    origin: str
    ts: float = 0.0


def _attach(msg: EmailMessage, file: Attachment, data: bytes) -> None:
    maintype, _, subtype = file.mime_type.partition("/")
    if not subtype or _CONTROL.search(file.mime_type) or maintype == "multipart":
        maintype, subtype = "application", "octet-stream"
    name = clean_header_text(file.filename, 200) or "attachment"
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)


def render_mail(
    parts: MailParts, sender_name: str, text: str, files: tuple[Attachment, ...] = ()
) -> EmailMessage:
    """Build the mail: From the author via the bridge, to the list, threaded, marked as ours."""
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["From"] = Address(
        display_name=clean_header_text(sender_name, _MAX_NAME), addr_spec=parts.from_address
    )
    msg["To"] = Address(addr_spec=parts.list_address)
    msg["Reply-To"] = Address(addr_spec=parts.list_address)
    msg["Subject"] = clean_header_text(parts.subject, _MAX_SUBJECT) or "(no subject)"
    msg["Date"] = format_datetime_or_now(parts.ts)
    msg["Message-ID"] = parts.message_id
    if parts.in_reply_to:
        msg["In-Reply-To"] = parts.in_reply_to
    if parts.references:
        msg["References"] = " ".join(parts.references)
    # RFC 3834: tells auto-responders not to answer; X-Loop and our marker stop loops
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Loop"] = parts.from_address
    msg[ORIGIN_HEADER] = clean_header_text(parts.origin, 200)
    links = [
        f"[{clean_header_text(f.filename, 200) or 'attachment'}: {f.url}]"
        for f in files
        if f.data is None and f.url
    ]
    full = "\n\n".join(p for p in (neutralise(text), "\n".join(links)) if p)
    msg.set_content(full)
    msg.add_alternative(text_to_html(full), subtype="html")
    for file in files:
        if file.data is not None:
            _attach(msg, file, file.data)
    return msg


def format_datetime_or_now(ts: float) -> str:
    """An RFC 5322 date for ``ts``, or now when ``ts`` is unset."""
    if ts <= 0:
        return formatdate(localtime=False, usegmt=True)
    return format_datetime(datetime.fromtimestamp(ts, UTC), usegmt=True)


def delivery_subject(out: Outbound, tag: str, root_subject: str | None) -> str:
    """``[tag] first line`` for a new thread; ``Re: <root subject>`` inside one."""
    if root_subject:
        base = root_subject if root_subject.lower().startswith("re:") else f"Re: {root_subject}"
        return base
    line = clean_header_text(first_line(out.text), 80) or "(message)"
    return f"{tag} {line}".strip()
