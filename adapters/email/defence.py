"""Which inbound mail must not be relayed: echoes, auto-replies, bounces, strangers (pure).

Each check returns a reason (for the log line; never the content) or ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import getaddresses

__all__ = [
    "ORIGIN_HEADER",
    "auth_passes",
    "automatic_reason",
    "echo_reason",
    "sender_allowed",
]

#: our origin marker on every mail we send; a second bridge must not loop it back either
ORIGIN_HEADER = "X-Bridgebot-Origin"

_DAEMONS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"})
_AUTO_PRECEDENCE = frozenset({"bulk", "junk", "auto_reply"})
#: out-of-office subjects in the languages our users write in; anchored at the start
_OUT_OF_OFFICE = re.compile(
    r"^\s*(?:(?:re|aw|fw|fwd)\s*:\s*)*(?:out of (?:the )?office|automatic reply|"
    r"auto(?:matic)?[- ]?(?:reply|response)|autoreply|away from (?:the|my) office|"
    r"on (?:annual )?leave|"
    r"abwesenheit|automatische antwort|absence|r[ée]ponse automatique|"
    r"respuesta autom[áa]tica|fuera de la oficina|afwezig|automatisch antwoord|"
    r"undeliverable|undelivered mail|delivery status notification|mail delivery failed)",
    re.IGNORECASE,
)
_AUTH_RESULT = re.compile(r"\b(dkim|spf)\s*=\s*([a-z]+)", re.IGNORECASE)


def _addresses(msg: EmailMessage, name: str) -> list[str]:
    values = [str(v) for v in msg.get_all(name, [])]
    return [addr.lower() for _, addr in getaddresses(values) if addr]


def echo_reason(msg: EmailMessage, own_address: str, own_id_domain: str) -> str | None:
    """Why this mail is our own (origin marker, X-Loop, From, Message-ID domain), if it is."""
    if msg.get(ORIGIN_HEADER) is not None:
        # Mailman's loop rule: our marker survives the list, whoever's From it shows
        return f"carries our {ORIGIN_HEADER} marker"
    loops = {str(v).strip().lower() for v in msg.get_all("X-Loop", [])}
    if own_address in loops:
        return "X-Loop names our address"
    if own_address in _addresses(msg, "From"):
        return "sent from our own address"
    message_id = str(msg.get("Message-ID", "")).strip().lower()
    if message_id.endswith(f"@{own_id_domain}>") and message_id.startswith("<bridgebot."):
        return "Message-ID is one of ours"
    return None


def automatic_reason(msg: EmailMessage) -> str | None:
    """Why this mail is an auto-reply or a bounce, if it is (RFC 3834, RFC 3464, habits)."""
    auto = str(msg.get("Auto-Submitted", "")).strip().lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto.split(';')[0].strip()[:40]}"
    precedence = str(msg.get("Precedence", "")).strip().lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    for header in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if msg.get(header) is not None:
            return f"{header} header"
    if msg.get_content_type() == "multipart/report":
        return "a delivery or disposition report"
    if str(msg.get("Return-Path", "")).strip() == "<>":
        return "empty Return-Path (a bounce)"
    for addr in _addresses(msg, "From") + _addresses(msg, "Sender"):
        if addr.partition("@")[0] in _DAEMONS:
            return "sent by a mail daemon"
    if _OUT_OF_OFFICE.match(str(msg.get("Subject", ""))):
        return "out-of-office or delivery-failure subject"
    return None


def sender_allowed(
    policy: str | Sequence[str], sender: str, list_post: str | None, room_id: str
) -> bool:
    """The ``senders`` setting: ``list-members``, ``anyone`` or an allow-list of addresses.

    ``list-members`` trusts the list to enforce membership: the mail must have come through
    it, i.e. carry a ``List-Post`` naming this list.
    """
    if policy == "anyone":
        return True
    if policy == "list-members":
        return list_post == room_id
    allowed = {entry.lower() for entry in policy}
    domain = "@" + sender.rpartition("@")[2]
    return sender in allowed or domain in allowed


def auth_passes(msg: EmailMessage, required: str, trusted_id: str | None) -> bool:
    """Whether ``Authentication-Results`` show the required DKIM/SPF pass (RFC 8601).

    Only the receiving server's header counts when ``trusted_id`` names it; otherwise any,
    which is only safe when the receiving server strips forged ones.
    """
    if required == "none":
        return True
    wanted = {"dkim", "spf"} if required == "dkim-or-spf" else {required}
    for value in msg.get_all("Authentication-Results", []):
        text = str(value)
        authserv = text.split(";", 1)[0].strip().split()[0].lower() if text.strip() else ""
        if trusted_id is not None and authserv != trusted_id.lower():
            continue
        for method, result in _AUTH_RESULT.findall(text):
            if method.lower() in wanted and result.lower() == "pass":
                return True
    return False
