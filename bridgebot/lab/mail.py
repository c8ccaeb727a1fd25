"""A small real mailing-list server on loopback, for tests and ``bridgebot demo``.

Two real parts (see docs/architecture.md, "Testing with real parts"):

- :class:`Dovecot`: a standalone Dovecot (``dovecot -F -c FILE``) serving IMAP and LMTP on
  free loopback ports, with passwd-file users and maildirs under a ``mktemp -d`` in /tmp that
  the ``dovecot`` user can read. Synchronous, so one instance can serve a whole test session.
- :class:`MailLab`: an aiosmtpd SMTP server acting as the lists' posting addresses. A posted
  message gets ``List-Id``/``List-Post`` headers, as a list server adds them, is kept in the
  list's history and is delivered over LMTP into every subscriber's mailbox.

The control surface (``post_as_user``, ``history``) is also served over HTTP under ``/_lab/``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any, cast

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = ["Dovecot", "MailLab", "MailList"]

_MAIL_ID = 65534  # Dovecot refuses mail uid 0; nobody/nogroup owns the maildirs


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_CONFIG = """\
base_dir = {base}/run
instance_name = lab-{tag}
state_dir = {base}/state
log_path = {base}/dovecot.log
listen = 127.0.0.1
protocols = imap lmtp
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
postmaster_address = postmaster@lab.invalid
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {base}/users/%Lu
}}
userdb {{
  driver = passwd-file
  args = {base}/users/%Lu
  default_fields = uid={mail_id} gid={mail_id} home={base}/home/%Lu
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
"""


class Dovecot:
    """A standalone Dovecot with IMAP and LMTP on free loopback ports."""

    def __init__(self) -> None:
        self.base = Path()
        self.imap_port = 0
        self.lmtp_port = 0
        self.users: dict[str, str] = {}
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Write the config, start ``dovecot -F`` and wait until IMAP and LMTP answer."""
        if shutil.which("dovecot") is None:
            raise RuntimeError(
                "dovecot is not installed: apt-get install dovecot-imapd dovecot-lmtpd"
            )
        self.base = Path(tempfile.mkdtemp(prefix="bridgebot-dovecot-"))
        # the auth process runs as user dovecot and mail as nobody: both must reach in here
        self.base.chmod(0o755)
        (self.base / "home").mkdir(mode=0o777)
        (self.base / "home").chmod(0o777)
        self._write_passwd()
        self.imap_port, self.lmtp_port = _free_port(), _free_port()
        conf = self.base / "dovecot.conf"
        conf.write_text(
            _CONFIG.format(
                base=self.base,
                tag=uuid.uuid4().hex[:8],
                mail_id=_MAIL_ID,
                imap_port=self.imap_port,
                lmtp_port=self.lmtp_port,
            )
        )
        with open(self.base / "stderr.log", "wb") as stderr:
            # the child keeps its own copy of the descriptor
            self._proc = subprocess.Popen(
                ["dovecot", "-F", "-c", str(conf)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 15
        for port in (self.imap_port, self.lmtp_port):
            while True:
                if self._proc is not None and self._proc.poll() is not None:
                    raise RuntimeError(f"dovecot exited: {self.log_tail()}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                        if sock.recv(100):
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"dovecot did not answer on {port}: {self.log_tail()}")
                time.sleep(0.05)

    def log_tail(self) -> str:
        """The end of Dovecot's logs, for error messages."""
        text = ""
        for name in ("dovecot.log", "stderr.log"):
            path = self.base / name
            if path.exists():
                text += path.read_text(errors="replace")[-2000:]
        return text

    def add_user(self, address: str, password: str = "secret") -> None:
        """Create a mailbox; Dovecot re-reads the passwd file when it changes."""
        if any(c in address + password for c in ":\r\n"):
            raise ValueError("user names and passwords may not contain ':' or line breaks")
        self.users[address.lower()] = password
        self._write_passwd()

    def _write_passwd(self) -> None:
        # one passwd file per user: Dovecot notices a new file at once, whereas a rewritten
        # shared file of the same size within the same second looks unchanged to it
        users = self.base / "users"
        users.mkdir(mode=0o755, exist_ok=True)
        for user, password in self.users.items():
            path = users / user
            if not path.exists():
                tmp = users / f".{user}.new"
                tmp.write_text(f"{user}:{{PLAIN}}{password}::::::\n")
                tmp.chmod(0o644)
                tmp.replace(path)

    def kick(self, user: str) -> None:
        """Drop every IMAP connection of ``user`` (as an admin or a flaky network would)."""
        subprocess.run(
            ["doveadm", "-c", str(self.base / "dovecot.conf"), "kick", user.lower()],
            check=True,
            capture_output=True,
            timeout=10,
        )

    def deliver(self, recipients: list[str], data: bytes, sender: str = "") -> None:
        """Deliver one message into local mailboxes over LMTP (blocking)."""
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=10) as lmtp:
            # LMTP answers DATA once per recipient; smtplib reads one answer per sendmail
            for rcpt in recipients:
                lmtp.sendmail(sender, [rcpt], data)

    def stop(self) -> None:
        """Stop Dovecot and remove its directory; safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        if self.base != Path() and self.base.exists():
            shutil.rmtree(self.base, ignore_errors=True)


@dataclass
class MailList:
    """A list: its posting address, subscribers and every message it distributed."""

    address: str
    subscribers: list[str] = field(default_factory=list)
    members_only: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def list_id(self) -> str:
        """The RFC 2919 List-Id: the address with the ``@`` made a dot."""
        return self.address.replace("@", ".")


class _PostingHandler:
    """aiosmtpd handler for the posting addresses."""

    def __init__(self, lab: MailLab) -> None:
        self._lab = lab

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() not in self._lab.lists:
            return "550 5.1.1 no such list"
        envelope.rcpt_tos.append(address.lower())
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or envelope.content
        if not isinstance(data, bytes):
            return "554 5.6.0 no message"
        if self._lab.fail_next:
            return self._lab.fail_next.pop(0)
        try:
            for rcpt in envelope.rcpt_tos:
                await self._lab.distribute(rcpt, data, str(envelope.mail_from or ""))
        except PermissionError as exc:
            return f"550 5.7.1 {exc}"
        return "250 OK"


class MailLab:
    """Mailing lists on loopback: post over SMTP, read over IMAP from Dovecot."""

    def __init__(self, dovecot: Dovecot | None = None, domain: str = "lists.lab.example") -> None:
        self.dovecot = dovecot or Dovecot()
        self._own_dovecot = dovecot is None
        self.domain = domain
        self.lists: dict[str, MailList] = {}
        #: SMTP replies to give instead of accepting the next posts, e.g. "451 4.7.1 rate limited"
        self.fail_next: list[str] = []
        #: seconds an idle SMTP client may stay connected (aiosmtpd's timeout)
        self.smtp_idle_timeout = 300.0
        self.smtp_port = 0
        self.port = 0
        self.url = ""
        self._smtp: asyncio.Server | None = None
        self._runner: web.AppRunner | None = None

    @property
    def imap_port(self) -> int:
        """Dovecot's IMAP port."""
        return self.dovecot.imap_port

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start Dovecot (unless shared), the posting SMTP server and the ``/_lab/`` API."""
        if self._own_dovecot:
            await asyncio.to_thread(self.dovecot.start)
        loop = asyncio.get_running_loop()
        handler = _PostingHandler(self)
        self._smtp = await loop.create_server(
            lambda: SMTP(handler, hostname="lab", loop=loop, timeout=self.smtp_idle_timeout),
            host,
            0,
        )
        self.smtp_port = int(self._smtp.sockets[0].getsockname()[1])
        app = web.Application()
        app.router.add_post("/_lab/post", self._http_post)
        app.router.add_get("/_lab/history", self._http_history)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = cast(asyncio.Server, site._server)
        self.port = int(server.sockets[0].getsockname()[1])
        self.url = f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Stop everything this lab started; safe to call twice."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()
            await smtp.wait_closed()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        if self._own_dovecot:
            await asyncio.to_thread(self.dovecot.stop)

    # ---- setup -------------------------------------------------------------------------

    def create_user(self, address: str, password: str = "secret") -> str:
        """Create a mailbox (IMAP login = the address); return the address."""
        self.dovecot.add_user(address, password)
        return address.lower()

    def create_list(
        self,
        address: str,
        subscribers: list[str] | tuple[str, ...] = (),
        members_only: bool = False,
    ) -> MailList:
        """Create a list; each subscriber gets a mailbox if it has none yet."""
        for sub in subscribers:
            if sub.lower() not in self.dovecot.users:
                self.create_user(sub)
        mlist = MailList(address.lower(), [s.lower() for s in subscribers], members_only)
        self.lists[mlist.address] = mlist
        return mlist

    # ---- the list server ---------------------------------------------------------------

    async def distribute(self, list_address: str, data: bytes, sender: str = "") -> dict[str, Any]:
        """Add list headers, record the message and deliver it to every subscriber.

        The parsing and the LMTP delivery run on a worker thread, as a real list server
        does them outside its SMTP front end: the ``email`` package's parse and flatten take
        milliseconds a mail, and on this loop they would delay the other labs that share it.
        """
        mlist = self.lists[list_address.lower()]
        record = await asyncio.to_thread(self._list_copy, mlist, data, sender)
        mlist.messages.append(record)
        if mlist.subscribers:
            await asyncio.to_thread(
                self.dovecot.deliver, list(mlist.subscribers), record["raw"], sender
            )
        return record

    def _list_copy(self, mlist: MailList, data: bytes, sender: str) -> dict[str, Any]:
        """The list's copy of a posted mail, as its history record (``raw`` is the copy)."""
        msg = message_from_bytes(data, policy=policy.default)
        author = parseaddr(str(msg.get("From", "")))[1].lower()
        if mlist.members_only and author not in mlist.subscribers:
            raise PermissionError(f"{author} is not a member of {mlist.address}")
        # a list replaces these with its own, as Mailman does
        for name in ("List-Id", "List-Post"):
            del msg[name]
        msg["List-Id"] = f"<{mlist.list_id}>"
        msg["List-Post"] = f"<mailto:{mlist.address}>"
        if msg.get("Message-ID") is None:
            msg["Message-ID"] = make_msgid(domain=self.domain)
        body = msg.get_body(preferencelist=("plain", "html"))
        return {
            "message_id": str(msg["Message-ID"]),
            "from": str(msg.get("From", "")),
            "subject": str(msg.get("Subject", "")),
            "text": body.get_content().replace("\r\n", "\n") if body is not None else "",
            "headers": {k: str(v) for k, v in msg.items()},
            "raw": msg.as_bytes(),
            "sender": sender,
        }

    async def post_as_user(
        self, list_address: str, from_address: str, subject: str, text: str, **headers: str
    ) -> dict[str, Any]:
        """Post ``text`` to a list as a person; extra headers by keyword (``in_reply_to=``).

        ``from_address`` may be ``"Name <addr>"``; keyword ``in_reply_to`` becomes header
        ``In-Reply-To``. Returns the history record of the distributed message.
        """
        msg = EmailMessage()
        name, addr = parseaddr(from_address)
        msg["From"] = Address(display_name=name, addr_spec=addr)
        msg["To"] = list_address
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=addr.rpartition("@")[2] or self.domain)
        for key, value in headers.items():
            header = "-".join(part.capitalize() for part in key.split("_"))
            header = "Message-ID" if header == "Message-Id" else header
            del msg[header]
            msg[header] = value
        msg.set_content(text)
        return await self.distribute(list_address, msg.as_bytes(), addr)

    def history(self, list_address: str) -> list[dict[str, Any]]:
        """Every message the list distributed, oldest first."""
        return list(self.lists[list_address.lower()].messages)

    # ---- HTTP control surface ----------------------------------------------------------

    async def _http_post(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            record = await self.post_as_user(
                str(body["list"]),
                str(body["from"]),
                str(body.get("subject", "")),
                str(body["text"]),
            )
        except (ValueError, KeyError, TypeError, PermissionError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(_public(record))

    async def _http_history(self, request: web.Request) -> web.Response:
        address = request.query.get("list", "")
        if address.lower() not in self.lists:
            return web.json_response({"error": "no such list"}, status=404)
        return web.json_response([_public(r) for r in self.history(address)])


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "raw"}
