"""Email: a list server on loopback (aiosmtpd) delivering into the session's real Dovecot,
which the adapter reads over IMAP; Dave writes to the list as a mail program would."""

from __future__ import annotations

import secrets
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from bridgebot.lab import account_table
from bridgebot.lab.mail import Dovecot, MailLab
from tests.contract.drivers.base import Driver, File, MentionSample, Seen

ORIGIN_HEADER = "X-Bridgebot-Origin"  # the marker every copy carries


class EmailDriver(Driver):
    """Lists with the bridge's address and Dave subscribed."""

    network = "email"
    account = "email.lab"
    human_name = "Dave Smith"
    # Mail, once sent, is neither edited nor unsent, and has no reactions.
    human_edits = False
    human_deletes = False
    human_reacts = False
    # the adapter stores the last IMAP UID it relayed; the mailbox keeps the rest
    catches_up = True
    # Mail has no mass mention; its hazard is a first line that list servers run as a
    # command: the copy's first word is kept from reading as one.
    mention = MentionSample("unsubscribe me, please", "\u200bunsubscribe me, please")

    def __init__(self, dovecot: Dovecot) -> None:
        self.lab = MailLab(dovecot)
        tag = secrets.token_hex(4)  # Dovecot's mailboxes outlive this test
        self.bridge = f"contract-bridge-{tag}@bot.example"
        self.dave = f"dave-{tag}@people.example"
        self.tag = tag
        self._lists = 0

    async def start(self) -> None:
        await self.lab.start()
        self.lab.create_user(self.bridge, "pw")

    async def stop(self) -> None:
        await self.lab.stop()

    async def make_room(self) -> str:
        self._lists += 1
        address = f"room{self._lists}-{self.tag}@lists.example"
        self.lab.create_list(address, [self.bridge, self.dave])
        return address

    def accounts_toml(self) -> str:
        return account_table(
            "email",
            "lab",
            address=self.bridge,
            smtp=f"smtp://127.0.0.1:{self.lab.smtp_port}",
            imap=f"imap://{self.bridge}:${{IMAP_PASSWORD}}@127.0.0.1:{self.lab.imap_port}",
            timeout=5,
        )

    def env(self) -> dict[str, str]:
        return {"IMAP_PASSWORD": "pw"}

    # ---- Dave ----------------------------------------------------------------------------

    @property
    def sender(self) -> str:
        return f"{self.human_name} <{self.dave}>"

    async def _mail(self, room: str, subject: str, body: str, **headers: str) -> str:
        record = await self.lab.post_as_user(room, self.sender, subject, body, **headers)
        return str(record["message_id"])

    async def post(self, room: str, text: str) -> str:
        # a new conversation: the subject says it all
        return await self._mail(room, text, "")

    async def post_markup(self, room: str) -> str:
        await self._mail(room, "Budget", "Figures are in.")
        return "Budget\n\nFigures are in."

    async def reply(self, room: str, to: str, text: str) -> str:
        # as a mail program answers: Re: subject, the thread's headers, the original quoted
        parent = next(r for r in self.lab.history(room) if r["message_id"] == to)
        subject = str(parent["subject"])
        references = " ".join(
            [*parent["headers"].get("References", "").split(), str(parent["message_id"])]
        )
        quoted = "\n".join(f"> {line}" for line in str(parent["text"]).splitlines())
        body = f"{text}\n\nOn Tue, {parent['from']} wrote:\n{quoted}\n"
        subject = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        return await self._mail(room, subject, body, in_reply_to=to, references=references)

    async def post_file(self, room: str, name: str, data: bytes, text: str) -> str:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = room
        msg["Subject"] = text
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain="people.example")
        msg.set_content("")
        msg.add_attachment(data, maintype="text", subtype="plain", filename=name)
        record = await self.lab.distribute(room, msg.as_bytes(), self.dave)
        return str(record["message_id"])

    # ---- the bot's mail ------------------------------------------------------------------

    async def copies(self, room: str) -> list[Seen]:
        return [
            _seen(record)
            for record in self.lab.history(room)
            if parseaddr(record["from"])[1].lower() == self.bridge
        ]

    def linked_file(self, text: str, name: str, url: str) -> str:
        return f"{text}\n\n[{name}: {url}]"

    async def ready(self, rooms: list[str]) -> None:
        """The adapter's IMAP position is taken before its account is up: nothing to wait."""

    def check_harmless(self, copy: Seen) -> None:
        """The zero-width space before ``unsubscribe`` (``mention.shown``) is the proof."""

    def check_marked(self, copy: Seen) -> None:
        assert copy.raw["headers"].get(ORIGIN_HEADER), copy.raw["headers"]


def _seen(record: dict[str, Any]) -> Seen:
    mail = message_from_bytes(record["raw"], policy=policy.default)
    assert isinstance(mail, EmailMessage)
    files = tuple(File(str(part.get_filename()), _data(part)) for part in mail.iter_attachments())
    in_reply_to = mail["In-Reply-To"]
    return Seen(
        id=str(record["message_id"]),
        label=mail["From"].addresses[0].display_name,
        text=str(record["text"]).rstrip("\n"),
        reply_to=str(in_reply_to) if in_reply_to else None,
        files=files,
        raw=record,
    )


def _data(part: object) -> bytes:
    """An attachment's bytes, whatever its type (a text part's get_content() is a str)."""
    assert isinstance(part, EmailMessage)
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes), type(data)
    return data
