"""Every network at once for the announcement tests: one bridge over the Slack, Discord and
Telegram labs, a real Synapse and a real Dovecot behind the lab list server.

Synapse and Dovecot are started once for this folder (they are the slow parts); the lab
servers, the people, the rooms and the Hub are fresh for every test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bridgebot.app import Bridge
from bridgebot.lab.discord import DiscordLab
from bridgebot.lab.harness import running_hub
from bridgebot.lab.mail import Dovecot, MailLab
from bridgebot.lab.slack import SlackLab
from bridgebot.lab.synapse import Synapse
from bridgebot.lab.telegram import TelegramLab
from tests.email.conftest import until
from tests.matrix.conftest import Human, unique

WAIT = 60.0  # seconds: the upper bound of every wait here (Synapse on 2 busy cores)
LABEL = "{author} · {network}"


@dataclass
class Networks:
    """The labs, the people on them and one room per network, all in bridge "khub"."""

    slack: SlackLab
    discord: DiscordLab
    telegram: TelegramLab
    mail: MailLab
    synapse: Synapse
    dana: Human  # a person in the Matrix room
    fran: str  # Slack user id of the facilitator
    gus: str  # Slack user id of someone who is not one
    discord_channel: str
    telegram_chat: int
    matrix_room: str
    mail_list: str
    mail_bot: str  # the bridge's own address, subscribed to the list
    reader: str  # a person subscribed to the list (a Dovecot mailbox)
    env: dict[str, str] = field(default_factory=dict)
    extra_rooms: list[str] = field(default_factory=list)  # ACCOUNT:ROOM

    @property
    def origin(self) -> str:
        return "slack.lab:#general"

    @property
    def destinations(self) -> list[str]:
        """Every room an announcement from #general should be queued for."""
        return [
            f"discord.lab:{self.discord_channel}",
            f"telegram.lab:{self.telegram_chat}",
            f"matrix.lab:{self.matrix_room}",
            f"email.lab:{self.mail_list}",
            *self.extra_rooms,
        ]

    def config(self) -> str:
        """bot.toml: Fran is a facilitator; every room is public, so nothing is withheld."""
        rooms = "".join(
            f'  [[bridges.rooms]]\n  room = "{room}"\n  privacy = "public"\n'
            for room in (self.origin, *self.destinations)
        )
        bot = self.mail_bot
        return f"""
[store]
path = "bridgebot.db"

[roles]
facilitators = ["slack.lab:{self.fran}"]

{self.slack.account_toml(ping_interval=0.5)}
{self.discord.account_toml(guild_ready_timeout=0.05)}
{self.telegram.account_toml(poll_timeout=1)}
[networks.matrix.lab]
homeserver = "{self.synapse.url}"
user_id = "{self.env["MATRIX_USER"]}"
access_token = "${{MATRIX_TOKEN}}"
sync_timeout = 1.0

[networks.email.lab]
address = "{bot}"
smtp = "smtp://127.0.0.1:{self.mail.smtp_port}"
imap = "imap://{bot}:${{IMAP_PASSWORD}}@127.0.0.1:{self.mail.imap_port}"
timeout = 5

[[bridges]]
name = "khub"
label = "{LABEL}"
{rooms}"""

    def slack_answers(self) -> list[str]:
        """What the bot said in #general, oldest first."""
        bot = self.slack.bot.id
        return [str(m["text"]) for m in self.slack.history("#general") if m.get("user") == bot]

    async def wait_answers(self, count: int) -> list[str]:
        """Wait until the bot has said ``count`` things in #general; return them all."""
        await until(lambda: len(self.slack_answers()) >= count, WAIT)
        return self.slack_answers()

    def add_discord_channel_without_permissions(self) -> str:
        """A channel in the bridge where the bot may neither post nor make a webhook."""
        channel = self.discord.create_channel("closed-door")
        self.discord.deny(channel, "SEND_MESSAGES")
        self.discord.deny(channel, "MANAGE_WEBHOOKS")
        self.extra_rooms.append(f"discord.lab:{channel}")
        return channel


@pytest.fixture
async def networks(synapse: Synapse, dovecot: Dovecot) -> AsyncIterator[Networks]:
    slack, discord, telegram = SlackLab(), DiscordLab(), TelegramLab()
    mail = MailLab(dovecot)
    for lab in (slack, discord, telegram, mail):
        await lab.start()
    try:
        fran = slack.add_user("fran", display_name="Fran")
        gus = slack.add_user("gus", display_name="Gus")
        slack.add_channel("general", members=(fran, gus))

        tg_bot = telegram.create_bot("bridgebot")
        chidi = telegram.create_user("Chidi")
        chat = telegram.create_chat("Residents", members=(chidi["id"],), admins=(tg_bot.id,))

        name = unique("announce")
        bot_address = mail.create_user(f"bridge-{name}@bot.example", "pw")
        reader = mail.create_user(f"eve-{name}@people.example", "pw")
        mail_list = f"{name}@lists.example"
        mail.create_list(mail_list, [bot_address, reader])

        matrix_bot, dana_user = await asyncio.gather(
            asyncio.to_thread(synapse.register, unique("bridgebot")),
            asyncio.to_thread(synapse.register, unique("dana")),
        )
        dana = Human(synapse, dana_user)
        try:
            room = await dana.create_room()
            yield Networks(
                slack=slack,
                discord=discord,
                telegram=telegram,
                mail=mail,
                synapse=synapse,
                dana=dana,
                fran=fran,
                gus=gus,
                discord_channel=discord.create_channel("residents"),
                telegram_chat=chat.id,
                matrix_room=room,
                mail_list=mail_list,
                mail_bot=bot_address,
                reader=reader,
                env={
                    "SLACK_BOT_TOKEN": slack.bot_token,
                    "SLACK_APP_TOKEN": slack.app_token,
                    "DISCORD_TOKEN": discord.bot.token,
                    "TELEGRAM_TOKEN": tg_bot.token,
                    "MATRIX_TOKEN": matrix_bot.access_token,
                    "MATRIX_USER": matrix_bot.user_id,
                    "IMAP_PASSWORD": "pw",
                },
            )
        finally:
            await dana.close()
    finally:
        for lab in (slack, discord, telegram, mail):
            await lab.stop()


@asynccontextmanager
async def bridged(networks: Networks, workdir: Path) -> AsyncIterator[Bridge]:
    """A Hub on ``networks``, once every adapter is up; bot.toml is also written to
    ``workdir``, for the command line."""
    text = networks.config()
    (workdir / "bot.toml").write_text(text)
    async with running_hub(text, workdir, env=networks.env) as hub:
        await until(lambda: all(hub.states.is_up(a) for a in hub.adapters), WAIT)
        yield hub
