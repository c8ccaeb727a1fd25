"""Typed settings for each network's ``[networks.TYPE.ACCOUNT]`` table.

Key names are a public contract (bot.example.toml documents each). Each model forbids
unknown keys so that ``bridgebot check`` catches typos. An adapter may add keys to its own
model; secrets arrive here already resolved from ``${ENV}`` references.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = [
    "ApiSettings",
    "DiscordSettings",
    "EmailListSettings",
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
    client_queue: int = Field(
        10_000, gt=0, description="messages a stream/websocket client may fall behind by"
    )


class MatrixSettings(NetworkSettings):
    """A Matrix account on a homeserver."""

    homeserver: str
    user_id: str
    access_token: SecretStr | None = None
    password: SecretStr | None = None
    device_name: str = "bridgebot"
    sync_timeout: float = Field(30.0, gt=0, description="long-poll seconds per /sync")
    request_timeout: float = Field(60.0, gt=0, description="seconds before a call is a timeout")
    timeline_limit: int = Field(100, gt=0, description="events per room in one /sync response")
    catchup_limit: int = Field(
        1000, ge=0, description="events paged back per room after a gap (limited timeline)"
    )
    max_upload_bytes: int = Field(
        10_000_000, ge=0, description="larger attachments are sent as a link instead"
    )


class SlackSettings(NetworkSettings):
    """A Slack app in one workspace, using Socket Mode."""

    bot_token: SecretStr
    app_token: SecretStr
    base_url: str = "https://slack.com/api/"
    ping_interval: float = Field(10.0, gt=0, description="Socket Mode ping period, seconds")
    connect_timeout: float = Field(30.0, gt=0, description="give up connecting after, seconds")
    max_upload_bytes: int = Field(
        50_000_000, ge=0, description="larger files are relayed as links, not uploaded"
    )
    max_inline_bytes: int = Field(
        5_000_000, ge=0, description="Slack files up to this size are fetched and relayed inline"
    )


class DiscordSettings(NetworkSettings):
    """A Discord bot in one or more guilds."""

    token: SecretStr
    base_url: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg"
    webhooks: bool = Field(
        True, description="relay through a channel webhook, showing each author's name"
    )
    webhook_name: str = Field(
        "bridgebot", min_length=1, max_length=80, description="name of the webhook we create"
    )
    webhook_urls: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="channel id → webhook URL an admin made, for bots without Manage Webhooks",
    )
    max_upload_bytes: int = Field(
        10 * 1024 * 1024, gt=0, description="larger attachments are relayed as links"
    )
    max_ratelimit_wait: float = Field(
        30.0, ge=30, description="discord.py waits out shorter 429s; longer go to the dispatcher"
    )
    guild_ready_timeout: float = Field(
        2.0, ge=0, description="seconds to wait for guild data at connect (tests use less)"
    )


class TelegramSettings(NetworkSettings):
    """A Telegram bot using long polling."""

    token: SecretStr
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = Field(
        "https://api.telegram.org/file/bot", description="file downloads; the token is appended"
    )
    poll_timeout: int = Field(30, ge=0, le=50, description="getUpdates long-poll seconds")
    request_timeout: float = Field(
        10.0, gt=0, le=300, description="seconds a Bot API call may take before it is retried"
    )
    max_download_bytes: int = Field(
        20_000_000, ge=0, description="larger inbound files are named in the text, not relayed"
    )


class EmailListSettings(NetworkSettings):
    """Options for one bridged list, under ``[networks.email.NAME.lists."LIST@ADDRESS"]``."""

    mode: Literal["each", "digest"] = Field(
        "each",
        description='"each": one mail per chat message; "digest": one per thread per period',
    )
    digest_period: float = Field(
        900.0, gt=0, description="seconds a digest gathers messages before it is sent"
    )
    senders: Literal["list-members", "anyone"] | list[str] = Field(
        "list-members",
        description='"list-members": only mail the list distributed (List-Post names this list); '
        '"anyone"; or a list of allowed sender addresses (an entry "@domain" allows a domain)',
    )
    require_auth: Literal["none", "dkim", "spf", "dkim-or-spf"] = Field(
        "none", description="relay only mail whose Authentication-Results show this pass"
    )
    subject_tag: str | None = Field(
        None, description="prefix of bridged subjects, default the bridge name in brackets"
    )


class EmailSettings(NetworkSettings):
    """The bot's mailbox, subscribed to each bridged list (a room is the list's posting address).

    Mail goes out through ``smtp`` (``smtp+starttls://USER:PASS@HOST:PORT``, ``smtps://...``,
    or plain ``smtp://HOST:PORT``). Mail comes in either over ``imap`` (``imaps://USER:PASS@
    HOST:PORT/FOLDER`` or ``imap://...``: IDLE, or polling every ``poll_interval`` where IDLE
    is missing) or through ``listen`` (``HOST:PORT``, an SMTP or LMTP server per
    ``listen_protocol`` that the list delivers to). Per-list options live in ``lists``, keyed
    by the list address; a list without an entry uses :class:`EmailListSettings` defaults.
    """

    address: str
    smtp: SecretStr
    imap: SecretStr | None = None
    listen: str | None = None
    listen_protocol: Literal["smtp", "lmtp"] = Field(
        "smtp", description="protocol of the listen server"
    )
    lists: dict[str, EmailListSettings] = Field(
        default_factory=dict, description="per-list options keyed by list address"
    )
    idle: bool = Field(True, description="use IMAP IDLE when the server offers it")
    poll_interval: float = Field(
        60.0, gt=0, description="seconds between IMAP checks without IDLE"
    )
    idle_timeout: float = Field(
        1500.0, gt=0, description="seconds before IDLE is renewed (RFC 2177: under 29 min)"
    )
    timeout: float = Field(30.0, gt=0, description="seconds before an SMTP/IMAP call times out")
    max_attachment_bytes: int = Field(
        10_000_000, ge=0, description="larger inbound attachments are named in the text only"
    )
    trusted_authserv_id: str | None = Field(
        None, description="only Authentication-Results from this server id count (require_auth)"
    )
