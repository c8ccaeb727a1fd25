"""Demo columns for the networks that need installed servers: Matrix (Synapse) and email
(Dovecot plus the lab list server). Each is left out, with a note, when missing."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote

from bridgebot.demo.columns import Line

__all__ = ["EmailColumn", "MatrixColumn", "email_missing", "matrix_missing"]


def matrix_missing() -> str | None:
    """Why Matrix cannot be in the demo, or None."""
    if importlib.util.find_spec("synapse") is None:
        return (
            "Matrix is left out: Synapse is not installed. Add it with "
            "`.venv/bin/pip install -e '.[lab]'` (about 240 MB) and run the demo again."
        )
    return None


def email_missing() -> str | None:
    """Why email cannot be in the demo, or None."""
    if shutil.which("dovecot") is None:
        return (
            "Email is left out: Dovecot is not installed. Add it with "
            "`sudo bash scripts/install-services.sh` and run the demo again."
        )
    return None


@dataclass
class MatrixColumn:
    privacy: str = "closed"
    network: str = "matrix"
    title: str = "Matrix: Officers (closed)"
    person: str = "Dana"
    room: str = ""
    env: dict[str, str] = field(default_factory=dict)
    _synapse: object = None
    _user_token: str = ""
    _user_id: str = ""
    _room_id: str = ""
    _bot_id: str = ""
    _bot_token: str = ""

    async def start(self) -> None:
        from bridgebot.lab.synapse import Synapse

        synapse = Synapse()
        self._synapse = synapse
        await asyncio.to_thread(synapse.start)
        dana = await asyncio.to_thread(synapse.register, "dana")
        bot = await asyncio.to_thread(synapse.register, "bridgebot")
        self._user_token, self._user_id = dana.access_token, dana.user_id
        self._bot_id, self._bot_token = bot.user_id, bot.access_token
        created = await asyncio.to_thread(
            synapse.request,
            "POST",
            "/_matrix/client/v3/createRoom",
            {"name": "Officers", "preset": "public_chat"},
            dana.access_token,
        )
        self._room_id = str(created["room_id"])
        self.room = f"matrix.lab:{self._room_id}"
        self.env = {"MATRIX_TOKEN": bot.access_token}

    def toml(self) -> str:
        from bridgebot.lab.synapse import Synapse

        assert isinstance(self._synapse, Synapse)
        return (
            f'[networks.matrix.lab]\nhomeserver = "{self._synapse.url}"\n'
            f'user_id = "{self._bot_id}"\naccess_token = "${{MATRIX_TOKEN}}"\n'
            "sync_timeout = 1.0\n"
        )

    async def stop(self) -> None:
        from bridgebot.lab.synapse import Synapse

        if isinstance(self._synapse, Synapse):
            await asyncio.to_thread(self._synapse.stop)

    async def post(self, text: str) -> None:
        from bridgebot.lab.synapse import Synapse

        assert isinstance(self._synapse, Synapse)
        path = (
            f"/_matrix/client/v3/rooms/{quote(self._room_id)}/send/m.room.message/"
            f"{uuid.uuid4().hex}"
        )
        body = {"msgtype": "m.text", "body": text}
        await asyncio.to_thread(self._synapse.request, "PUT", path, body, self._user_token)

    async def messages(self) -> list[Line]:
        from bridgebot.lab.synapse import Synapse

        assert isinstance(self._synapse, Synapse)
        path = f"/_matrix/client/v3/rooms/{quote(self._room_id)}/messages?dir=b&limit=100"
        result = await asyncio.to_thread(self._synapse.request, "GET", path, None,
                                         self._user_token)  # fmt: skip
        lines = []
        for e in reversed(result.get("chunk", [])):
            if e.get("type") != "m.room.message":
                continue
            mine = e.get("sender") == self._user_id
            author = self.person if mine else "bridgebot"
            lines.append(Line(author, str(e.get("content", {}).get("body", "")), not mine))
        return lines


@dataclass
class EmailColumn:
    privacy: str = "internal"
    network: str = "email"
    title: str = "Email list khub@lists.lab.example"
    person: str = "Eve"
    room: str = ""
    env: dict[str, str] = field(default_factory=dict)
    _lab: object = None
    _list: str = "khub@lists.lab.example"
    _eve: str = "eve@people.example"

    async def start(self) -> None:
        from bridgebot.lab.mail import MailLab

        lab = MailLab()
        self._lab = lab
        await lab.start()
        bot = lab.create_user("bridge@bot.lab.example", "pw")
        lab.create_user(self._eve, "pw")
        lab.create_list(self._list, [bot, self._eve])
        self.room = f"email.lab:{self._list}"
        self.env = {"IMAP_PASSWORD": "pw"}

    def toml(self) -> str:
        from bridgebot.lab.mail import MailLab

        assert isinstance(self._lab, MailLab)
        return (
            '[networks.email.lab]\naddress = "bridge@bot.lab.example"\n'
            f'smtp = "smtp://127.0.0.1:{self._lab.smtp_port}"\n'
            f'imap = "imap://bridge@bot.lab.example:${{IMAP_PASSWORD}}@127.0.0.1:'
            f'{self._lab.imap_port}"\n'
        )

    async def stop(self) -> None:
        from bridgebot.lab.mail import MailLab

        if isinstance(self._lab, MailLab):
            await self._lab.stop()

    async def post(self, text: str) -> None:
        from bridgebot.lab.mail import MailLab

        assert isinstance(self._lab, MailLab)
        subject = text.splitlines()[0][:60] if text.strip() else "(no subject)"
        await self._lab.post_as_user(self._list, self._eve, subject, text)

    async def messages(self) -> list[Line]:
        from bridgebot.lab.mail import MailLab

        assert isinstance(self._lab, MailLab)
        lines = []
        for record in self._lab.history(self._list):
            sender = str(record.get("from", ""))
            mine = self._eve in sender
            author = self.person if mine else sender.split("<")[0].strip().strip('"') or sender
            lines.append(Line(author, str(record.get("text", "")).strip(), not mine))
        return lines
