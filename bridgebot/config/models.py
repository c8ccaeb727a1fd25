"""The typed, frozen objects ``bot.toml`` validates into (bot.example.toml documents each).

Key names are a public contract. Checks that need only one value (enums, regexes, label
fields) live here; checks across sections (does a room's account exist?) live in
``config_checks``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    SecretStr,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from bridgebot.config.problems import did_you_mean
from bridgebot.model import RoomRef

__all__ = [
    "BUILTIN_REDACTIONS",
    "DEFAULT_RATES",
    "LABEL_FIELDS",
    "BridgeConfig",
    "Config",
    "DispatchConfig",
    "LogConfig",
    "RateConfig",
    "RedactConfig",
    "ReloadConfig",
    "RoleRef",
    "RolesConfig",
    "RoomConfig",
    "StoreConfig",
    "WebConfig",
    "check_label",
]

#: The placeholders a bridge's ``label`` template may use.
LABEL_FIELDS = ("author", "network", "account", "room", "bridge")
#: Redactions the rules engine knows by name.
BUILTIN_REDACTIONS = ("email", "phone", "uk_ni_number", "uk_postcode", "postcode")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- single-value checks -----------------------------------------------------------------


def _check_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(
            f"{pattern!r} is not a valid regular expression ({exc}); fix it, "
            "or put a backslash before characters meant literally"
        ) from None
    return pattern


def check_label(label: str) -> str:
    """Return ``label`` if it is a valid template over LABEL_FIELDS; else ValueError."""
    allowed = ", ".join("{" + f + "}" for f in LABEL_FIELDS)
    try:
        parts = list(string.Formatter().parse(label))
    except ValueError as exc:
        raise ValueError(
            f"label {label!r} is not a valid template ({exc}); write {{{{ and }}}} "
            "for a literal brace"
        ) from None
    for _text, name, _spec, _conversion in parts:
        if name is None or name in LABEL_FIELDS:
            continue
        what = "{" + name + "}" if name else "an empty {}"
        raise ValueError(
            f"label {label!r} uses {what}, which is not a label field"
            f"{did_you_mean(name, LABEL_FIELDS)}; use {allowed} "
            "(write {{ and }} for a literal brace)"
        )
    try:
        label.format(**{f: "x" for f in LABEL_FIELDS})
    except (ValueError, IndexError, KeyError) as exc:
        raise ValueError(f"label {label!r} cannot be rendered ({exc}); use {allowed}") from None
    return label


def _parse_room(value: object) -> RoomRef:
    if isinstance(value, RoomRef):
        return value
    if not isinstance(value, str):
        raise ValueError(f'{value!r} is not a room; write "ACCOUNT:ROOM", e.g. "slack.work:C0123"')
    return RoomRef.parse(value)


def _check_role(ref: str) -> str:
    account, sep, user = ref.partition(":")
    if not sep or not user or "." not in account:
        raise ValueError(
            f'{ref!r} is not ACCOUNT:USER; write e.g. "matrix.home:@alice:example.org" '
            "(the account as in [networks.TYPE.NAME], a colon, then the user id)"
        )
    return ref


def _check_tag(value: str) -> str:
    tag = value.strip().lstrip("#").lower()
    if not tag or any(c.isspace() for c in tag):
        raise ValueError(f'{value!r} is not a tag; write one word, e.g. "khub"')
    return tag


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError(f"{value!r} is empty; write a value")
    return value


Regex = Annotated[str, AfterValidator(_check_regex)]
Tag = Annotated[str, AfterValidator(_check_tag)]
RoleRef = Annotated[str, AfterValidator(_check_role)]
RoomField = Annotated[RoomRef, PlainValidator(_parse_room), PlainSerializer(str)]
Rate = Annotated[float, Field(ge=0, strict=True)]


# -- sections ----------------------------------------------------------------------------


class StoreConfig(_Frozen):
    """``[store]``: where bridgebot keeps its state."""

    path: Annotated[str, AfterValidator(_non_empty)] = Field(
        default="bridgebot.db", examples=['"bridgebot.db"']
    )
    #: Days the id map remembers a relayed message, so its edits, deletes, replies and
    #: reactions can follow it; then it is forgotten (0: never). Also how long who wrote
    #: what is kept.
    keep_days: Rate = 90.0
    #: Days a message held for consent (opt-in rooms) waits for its author's answer; then
    #: it is dropped unsent (0: it waits for ever).
    held_days: Rate = 14.0


class LogConfig(_Frozen):
    """``[log]``: how much to log, and in which shape."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"

    @field_validator("level", "format", mode="before")
    @classmethod
    def _lowercase(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


class WebConfig(_Frozen):
    """``[web]``: the admin page, /metrics and /health (off by default in ``run``)."""

    enabled: bool = False
    bind: str = Field(default="127.0.0.1:8480", examples=['"127.0.0.1:8480"'])
    token: SecretStr | None = None

    @field_validator("bind")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError(f'{value!r} is not HOST:PORT, e.g. "127.0.0.1:8480"')
        return value


class ReloadConfig(_Frozen):
    """``[reload]``: how a running bot notices that bot.toml changed (SIGHUP always works)."""

    #: Reload the rules when the file changes on disk (read once, at start).
    watch: StrictBool = True


class RolesConfig(_Frozen):
    """``[roles]``: who may run admin commands and announcements (``ACCOUNT:USER``)."""

    admins: tuple[RoleRef, ...] = ()
    facilitators: tuple[RoleRef, ...] = ()


class RateConfig(_Frozen):
    """``[dispatch.rate.TYPE]``: token buckets for one network type; None means unlimited."""

    per_room: Rate | None = None
    room_burst: StrictInt = Field(default=1, ge=1)
    per_network: Rate | None = None
    network_burst: StrictInt = Field(default=1, ge=1)
    #: At most COUNT messages into one room in any SECONDS, on top of per_room.
    room_window: tuple[StrictInt, float] | None = Field(default=None, examples=["[20, 60]"])

    @field_validator("room_window")
    @classmethod
    def _window(cls, value: tuple[int, float] | None) -> tuple[int, float] | None:
        if value is None:
            return None
        count, seconds = value
        if count == 0:
            return None  # as with the rates, 0 means no limit
        if count < 0 or seconds <= 0:
            raise ValueError("write [COUNT, SECONDS] with both above 0, e.g. [20, 60]")
        return value

    @field_validator("per_room", "per_network")
    @classmethod
    def _zero_is_unlimited(cls, value: float | None) -> float | None:
        # TOML has no null, so 0 is how a table says "no limit".
        return value or None


#: Each network's published rate limits; a user table overrides them key by key.
DEFAULT_RATES: Mapping[str, RateConfig] = {
    # Each network's published limit. The dispatcher spends a room's token when the send
    # has completed (the server has counted it by then), so pacing at the limit itself
    # never runs ahead of the server's count. Slack: about 1 message/s per channel, short
    # bursts allowed.
    "slack": RateConfig(per_room=1.0, room_burst=2),
    # Telegram: 1 message/s per chat, 20 a minute per group, 30/s per bot.
    "telegram": RateConfig(
        per_room=1.0, room_burst=1, room_window=(20, 60.0), per_network=30.0, network_burst=30
    ),
    # Discord: 5 per 5 s per webhook, which discord.py also follows from the X-RateLimit
    # headers, and 50 requests/s per bot. A channel's first send also looks up and makes
    # its webhook (two requests the dispatcher does not see): 12 + 12 + 20 set-up calls
    # for ten new channels stay within 50 in any second, with room for jitter.
    "discord": RateConfig(per_room=5.0, room_burst=5, per_network=12.0, network_burst=12),
    "matrix": RateConfig(per_network=10.0, network_burst=20),
    "email": RateConfig(per_room=1.0, room_burst=5),
    "api": RateConfig(),
}


class DispatchConfig(_Frozen):
    """``[dispatch]``: how long and how often deliveries are tried, and how fast."""

    deadline: float = Field(default=86400.0, gt=0, strict=True)
    max_attempts: StrictInt = Field(default=100, ge=1)
    rate: dict[str, RateConfig] = Field(default_factory=lambda: dict(DEFAULT_RATES))

    @field_validator("rate", mode="before")
    @classmethod
    def _merge_defaults(cls, value: object) -> object:
        if not isinstance(value, Mapping):
            return value
        merged: dict[str, Any] = {k: v.model_dump() for k, v in DEFAULT_RATES.items()}
        for network, table in value.items():
            base = merged.get(network, {})
            merged[network] = {**base, **table} if isinstance(table, Mapping) else table
        return merged


class RedactConfig(_Frozen):
    """One redaction: a built-in ``name``, or a custom ``pattern`` and its ``replace``."""

    #: What to write when an item has the wrong shape (see config_problems).
    toml_hint: ClassVar[str] = (
        'write a built-in name such as "email", or a table {pattern = "REGEX", '
        'replace = "[redacted]"}'
    )

    name: str = ""
    pattern: str = ""
    replace: str = "[redacted]"

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: object) -> object:
        return {"name": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _check(self) -> RedactConfig:
        builtins = ", ".join(BUILTIN_REDACTIONS)
        if bool(self.name) == bool(self.pattern):
            raise ValueError(
                f'write a built-in name ({builtins}) or a table {{pattern = "REGEX", '
                'replace = "[redacted]"}, not both'
            )
        if self.name and self.name not in BUILTIN_REDACTIONS:
            raise ValueError(
                f"{self.name!r} is not a built-in redaction"
                f"{did_you_mean(self.name, BUILTIN_REDACTIONS)}; use one of: {builtins}, "
                'or a table {pattern = "REGEX", replace = "[redacted]"}'
            )
        if self.pattern:
            _check_regex(self.pattern)
        return self


class RoomConfig(_Frozen):
    """``[[bridges.rooms]]``: one room in a bridge and its relay rules."""

    room: RoomField = Field(examples=['"slack.work:C0123"'])
    name: str = ""
    privacy: Literal["public", "internal", "closed"] = "internal"
    sends: StrictBool = True
    receives: StrictBool = True
    networks: tuple[str, ...] | None = Field(default=None, examples=['["matrix", "email"]'])
    consent: Literal["implied", "opt-in"] = "implied"
    delete_on_consent_no: StrictBool = False
    attribution: Literal["name", "pseudonym", "none"] = "name"
    redact: tuple[RedactConfig, ...] = ()
    ignore_authors: tuple[Regex, ...] = ()
    ignore_text: tuple[Regex, ...] = ()
    tags: tuple[Tag, ...] = ()


class BridgeConfig(_Frozen):
    """``[[bridges]]``: rooms linked so that messages cross between them."""

    name: Annotated[str, AfterValidator(_non_empty)] = Field(examples=['"khub"'])
    label: Annotated[str, AfterValidator(check_label)] = "{author} · {network}"
    #: Admins and facilitators of this bridge only, on top of the global [roles].
    roles: RolesConfig = RolesConfig()
    rooms: tuple[RoomConfig, ...] = ()


class Config(_Frozen):
    """The whole validated ``bot.toml``."""

    source: str
    store: StoreConfig = StoreConfig()
    log: LogConfig = LogConfig()
    web: WebConfig = WebConfig()
    reload: ReloadConfig = ReloadConfig()
    #: Account name ("slack.work") → that network's validated settings model.
    networks: dict[str, BaseModel] = Field(default_factory=dict)
    roles: RolesConfig = RolesConfig()
    dispatch: DispatchConfig = DispatchConfig()
    bridges: tuple[BridgeConfig, ...] = ()

    def accounts_rooms(self) -> dict[str, tuple[str, ...]]:
        """Account → the room ids any bridge uses on it (first-seen order, no repeats)."""
        rooms: dict[str, dict[str, None]] = {account: {} for account in self.networks}
        for bridge in self.bridges:
            for room in bridge.rooms:
                rooms.setdefault(room.room.account, {})[room.room.room_id] = None
        return {account: tuple(ids) for account, ids in rooms.items()}
