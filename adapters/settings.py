"""Typed settings for each network's ``[networks.TYPE.ACCOUNT]`` table.

Key names are a public contract (DESIGN.md, "Config"). Each model forbids unknown keys so
that ``bridgebot check`` catches typos. An adapter may add keys to its own model; secrets
arrive here already resolved from ``${ENV}`` references.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = [
    "ApiSettings",
    "DiscordSettings",
    "EmailSettings",
    "MatrixSettings",
    "NetworkSettings",
    "SlackSettings",
    "TelegramSettings",
]


class NetworkSettings(BaseModel):
    """Common base: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiSettings(NetworkSettings):
    """A matterbridge-compatible HTTP API endpoint; its one room is ``api``."""

    bind: str = Field("127.0.0.1:4242", description="HOST:PORT to listen on")
    token: SecretStr | None = Field(None, description="bearer token clients must send")
    max_body_bytes: int = Field(1_000_000, gt=0, description="larger POST bodies get 413")
    buffer: int = Field(10_000, gt=0, description="messages kept for GET /api/messages")


class MatrixSettings(NetworkSettings):
    """A Matrix account on a homeserver."""

    homeserver: str
    user_id: str
    access_token: SecretStr | None = None
    password: SecretStr | None = None
    device_name: str = "bridgebot"


class SlackSettings(NetworkSettings):
    """A Slack app in one workspace, using Socket Mode."""

    bot_token: SecretStr
    app_token: SecretStr
    base_url: str = "https://slack.com/api/"


class DiscordSettings(NetworkSettings):
    """A Discord bot in one or more guilds."""

    token: SecretStr
    base_url: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg"


class TelegramSettings(NetworkSettings):
    """A Telegram bot using long polling."""

    token: SecretStr
    base_url: str = "https://api.telegram.org/bot"


class EmailSettings(NetworkSettings):
    """The bot's mailbox, subscribed to each bridged list."""

    address: str
    smtp: SecretStr
    imap: SecretStr | None = None
    listen: str | None = None
