"""The email-list adapter's I/O: aiosmtplib out; IMAP (aioimaplib) or SMTP/LMTP (aiosmtpd) in.

Pure parts: :mod:`.translate` (mail → event), :mod:`.render` (delivery → mail),
:mod:`.defence` (what not to relay), :mod:`.threads` (References chains). Errors are
translated in :func:`adapters.email.errors.map_errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import cast

import aiosmtplib

from adapters.base import AdapterSetup, Emit
from adapters.email.digest import Digest, DigestEntry
from adapters.email.errors import ServerUrl, map_errors, parse_server_url
from adapters.email.imap import ImapWatcher
from adapters.email.listen import Listener
from adapters.email.render import (
    MailParts,
    clean_header_text,
    delivery_subject,
    digest_message_id,
    first_line,
    message_id_for,
    render_mail,
)
from adapters.email.threads import ThreadBook
from adapters.email.translate import NETWORK, Dropped, ParseContext, parse_mail
from adapters.settings import EmailListSettings, EmailSettings
from bridgebot.errors import AdapterError, PermanentError, RejectedEvent, TransientError
from bridgebot.model import Attachment, Capabilities, Event, EventKind, Outbound, RoomRef

__all__ = ["MAX_TEXT", "EmailAdapter"]

MAX_TEXT = 100_000
_SEEN = 20_000
_DEFAULT_LIST = EmailListSettings.model_validate({})


class EmailAdapter:
    """One mailbox subscribed to lists; each room is a list's posting address."""

    network = NETWORK
    capabilities = Capabilities(
        edits=False,
        deletes=False,
        reactions=False,
        threads=True,
        replies=True,
        per_message_identity=True,
        attachments=True,
        max_text_length=MAX_TEXT,
    )

    def __init__(self, setup: AdapterSetup) -> None:
        self.account = setup.account
        self._settings = cast(EmailSettings, setup.settings)
        self._address = self._settings.address.strip().lower()
        self._id_domain = self._address.rpartition("@")[2] or "bridgebot.invalid"
        self._rooms = frozenset(r.strip().lower() for r in setup.rooms)
        self._lists = {k.strip().lower(): v for k, v in self._settings.lists.items()}
        self._context = setup.context
        self._log = setup.log
        self._emit: Emit | None = None
        self._smtp: aiosmtplib.SMTP | None = None
        self._smtp_url: ServerUrl | None = None
        self._smtp_lock = asyncio.Lock()
        self._inbound: ImapWatcher | Listener | None = None
        self._book = ThreadBook()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._digest = Digest(setup.context, self._send_digest, self._digest_period, setup.log)
        self._parse_ctx = ParseContext(
            address=self._address,
            id_domain=self._id_domain,
            rooms=self._rooms,
            list_settings=self.list_settings,
            max_attachment_bytes=self._settings.max_attachment_bytes,
            trusted_authserv_id=self._settings.trusted_authserv_id,
        )

    def list_settings(self, room_id: str) -> EmailListSettings:
        """The options of one list (defaults when it has no ``lists`` entry)."""
        return self._lists.get(room_id.lower()) or _DEFAULT_LIST

    def _digest_period(self, room_id: str) -> float:
        return self.list_settings(room_id).digest_period

    @property
    def listen_port(self) -> int:
        """The bound port of the ``listen`` server (0 when reading over IMAP)."""
        return self._inbound.port if isinstance(self._inbound, Listener) else 0

    # ---- lifecycle ---------------------------------------------------------------------

    async def start(self, emit: Emit) -> None:
        """Check SMTP (connect and log in), then start IMAP watching or the listener."""
        settings = self._settings
        imap_url = (
            parse_server_url(settings.imap.get_secret_value(), ("imap", "imaps"), "imap")
            if settings.imap is not None
            else None
        )
        self._emit = emit
        try:
            self._smtp_url = parse_server_url(
                settings.smtp.get_secret_value(), ("smtp", "smtp+starttls", "smtps"), "smtp"
            )
            await self._smtp_connect(self._smtp_url)
            for room_id in self._rooms:
                await self._digest.load(room_id)
            if imap_url is not None:
                self._inbound = ImapWatcher(
                    self.account,
                    imap_url,
                    context=self._context,
                    on_mail=self._on_mail,
                    log=self._log,
                    timeout=settings.timeout,
                    idle=settings.idle,
                    idle_timeout=settings.idle_timeout,
                    poll_interval=settings.poll_interval,
                )
            elif settings.listen is not None:
                self._inbound = Listener(
                    settings.listen,
                    settings.listen_protocol,
                    self._address,
                    self._on_mail,
                    self._log,
                )
            else:
                self._log.warning(
                    "email account %s has neither imap nor listen: it only sends", self.account
                )
            if self._inbound is not None:
                await self._inbound.start()
        except BaseException:
            await self.stop()
            raise
        self._log.info("email account %s connected as %s", self.account, self._address)

    async def stop(self) -> None:
        """Stop reading mail, stop digests (pending ones stay persisted), close SMTP."""
        await self._digest.stop()
        inbound, self._inbound = self._inbound, None
        if inbound is not None:
            await inbound.stop()
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(Exception):
                if smtp.is_connected:
                    await asyncio.wait_for(smtp.quit(), 2)
            smtp.close()

    # ---- outbound ----------------------------------------------------------------------

    async def _smtp_connect(self, url: ServerUrl | None) -> aiosmtplib.SMTP:
        if url is None:
            raise TransientError(f"email account {self.account} is not started")
        smtp = aiosmtplib.SMTP(
            hostname=url.host,
            port=url.port,
            username=url.username,
            password=url.password,
            use_tls=url.tls,
            start_tls=url.starttls,
            timeout=self._settings.timeout,
        )
        with map_errors(self.account, "SMTP connect"):
            await smtp.connect()
        self._smtp = smtp
        return smtp

    async def _deliver(self, room_id: str, mail: bytes | Callable[[], bytes]) -> None:
        """Submit one mail to the list, on a fresh connection if the server had hung up.

        ``mail`` may be a function that builds it: it then runs on a worker thread once
        this mail's turn has come, so mails go out in the order they were handed over
        (the lock is first come, first served) while the event loop stays free.

        An idle connection the server dropped is only noticed when used, so a reused one is
        probed with NOOP first. The mail itself is never re-submitted here: a server that
        hangs up after DATA may already have taken it, and sending again would duplicate
        it (the dispatcher decides about retries).
        """
        async with self._smtp_lock:
            if callable(mail):
                mail = await asyncio.to_thread(mail)
            smtp = self._smtp
            if smtp is not None and smtp.is_connected:
                try:
                    await smtp.noop()
                except (aiosmtplib.SMTPException, OSError):
                    smtp.close()
                    smtp = self._smtp = None
            if smtp is None or not smtp.is_connected:
                smtp = await self._smtp_connect(self._smtp_url)
            try:
                with map_errors(self.account, "send mail", room_id):
                    await smtp.sendmail(self._address, [room_id], mail)
            except AdapterError:
                # after a refusal the session state is unknown: start the next one afresh
                smtp.close()
                self._smtp = None
                raise

    def _subject_tag(self, room_id: str, bridge: str) -> str:
        tag = self.list_settings(room_id).subject_tag
        return tag if tag is not None else f"[{bridge}]"

    def _room_id(self, room: RoomRef) -> str:
        room_id = room.room_id.strip().lower()
        if room_id not in self._rooms:
            raise PermanentError(
                f"email account {self.account}: {room_id} is not one of its lists in bot.toml"
            )
        return room_id

    async def send(self, room: RoomRef, out: Outbound) -> str:
        """Mail ``out`` to the list (or queue it for the digest); return its Message-ID."""
        room_id = self._room_id(room)
        settings = self.list_settings(room_id)
        if settings.mode == "digest":
            return await self._queue_digest(room_id, out)
        message_id = message_id_for(out.key, self._id_domain)
        plan = self._book.plan(out.thread, out.reply_to)
        tag = self._subject_tag(room_id, out.bridge)
        parts = MailParts(
            from_address=self._address,
            list_address=room_id,
            message_id=message_id,
            subject=delivery_subject(out, tag, plan.root_subject),
            in_reply_to=plan.in_reply_to,
            references=plan.references,
            origin=str(out.origin),
            ts=out.ts,
        )
        # Building and flattening a MIME mail takes milliseconds of the email package's
        # time: on a worker thread, so the other rooms' sends need not wait behind it.
        name = out.label or out.author_name
        await self._deliver(room_id, partial(_mail_bytes, parts, name, out.text, out.attachments))
        self._book.record(message_id, parts.subject, plan.references)
        return message_id

    async def _queue_digest(self, room_id: str, out: Outbound) -> str:
        thread = out.thread or out.reply_to or ""
        entry = DigestEntry(
            period=self._digest.period_now(room_id),
            thread=thread,
            label=clean_header_text(out.label or out.author_name, 100),
            text=out.text,
            ts=out.ts or time.time(),
            first_line=clean_header_text(first_line(out.text), 80),
            tag=self._subject_tag(room_id, out.bridge),
        )
        await self._digest.add(room_id, entry)
        return digest_message_id(room_id, thread, entry.period, self._id_domain)

    async def _send_digest(
        self, room_id: str, period: int, thread: str, entries: list[DigestEntry]
    ) -> None:
        message_id = digest_message_id(room_id, thread, period, self._id_domain)
        plan = self._book.plan(thread or None, None)
        tag = entries[0].tag
        if plan.root_subject:
            subject = f"Re: {plan.root_subject.removeprefix('Re: ')}"
        else:
            subject = f"{tag} {entries[0].first_line or '(messages)'}".strip()
            if len(entries) > 1:
                subject += f" (+{len(entries) - 1} more)"
        parts = MailParts(
            from_address=self._address,
            list_address=room_id,
            message_id=message_id,
            subject=subject,
            in_reply_to=plan.in_reply_to,
            references=plan.references,
            origin=f"{self.account}:{room_id}",
        )
        body = "\n\n".join(f"{e.label}:\n{e.text}" for e in entries)
        names = sorted({e.label for e in entries})
        sender = ", ".join(names) if len(names) <= 3 else f"{len(names)} people"
        mail = render_mail(parts, f"{sender} (digest)", body)
        await self._deliver(room_id, mail.as_bytes())
        self._book.record(message_id, subject, plan.references)

    async def edit(self, room: RoomRef, remote_id: str, out: Outbound) -> None:
        """Mail cannot be changed once sent (capabilities say so); always refused."""
        raise PermanentError(f"email account {self.account}: mail cannot be edited")

    async def delete(self, room: RoomRef, remote_id: str) -> None:
        """Mail cannot be recalled once sent (capabilities say so); always refused."""
        raise PermanentError(f"email account {self.account}: mail cannot be deleted")

    async def react(self, room: RoomRef, remote_id: str, emoji: str) -> None:
        """Mail has no reactions (capabilities say so); always refused."""
        raise PermanentError(f"email account {self.account}: mail has no reactions")

    # ---- inbound -----------------------------------------------------------------------

    async def _on_mail(self, raw: bytes) -> None:
        """Relay one incoming mail, or log why not; raises only if ``emit`` failed."""
        parsed = parse_mail(raw, self._parse_ctx)
        if isinstance(parsed, Dropped):
            self._log.info(
                "email account %s: mail %s not relayed: %s",
                self.account,
                parsed.message_id or "(no id)",
                parsed.reason,
            )
            return
        room = RoomRef(self.account, parsed.room_id)
        if parsed.message_id in self._seen:
            self._log.info("mail %s not relayed: duplicate Message-ID", parsed.message_id)
            return
        if await self._context.is_copy(room, parsed.message_id):
            self._log.debug("mail %s not relayed: our own copy", parsed.message_id)
            return
        self._book.record(parsed.message_id, parsed.subject, parsed.references)
        event = Event(
            kind=EventKind.MESSAGE,
            room=room,
            remote_id=parsed.message_id,
            author=parsed.author,
            text=parsed.text[:MAX_TEXT],
            attachments=parsed.attachments,
            reply_to=parsed.reply_to,
            thread=parsed.thread,
            ts=parsed.ts or time.time(),
        )
        assert self._emit is not None
        try:
            await self._emit(event)
        except RejectedEvent as exc:
            self._log.info("mail %s refused by the core: %s", parsed.message_id, exc)
        self._seen[parsed.message_id] = None
        while len(self._seen) > _SEEN:
            self._seen.popitem(last=False)


def _mail_bytes(
    parts: MailParts, sender_name: str, text: str, files: tuple[Attachment, ...]
) -> bytes:
    return render_mail(parts, sender_name, text, files).as_bytes()
