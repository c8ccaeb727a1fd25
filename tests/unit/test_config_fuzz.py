"""Whatever the file holds, loading it yields a Config or a ConfigError: never a crash."""

from __future__ import annotations

import json
import string

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from adapters.settings import (
    ApiSettings,
    DiscordSettings,
    EmailSettings,
    MatrixSettings,
    SlackSettings,
    TelegramSettings,
)
from bridgebot.config import Config, RoomConfig, format_problems, parse_config, summary
from bridgebot.errors import ConfigError

NETWORKS: dict[str, type[BaseModel]] = {
    "api": ApiSettings,
    "matrix": MatrixSettings,
    "slack": SlackSettings,
    "discord": DiscordSettings,
    "telegram": TelegramSettings,
    "email": EmailSettings,
}
# Real key names make the generated documents reach deep into the schema.
KEYS = [
    *("store", "log", "networks", "roles", "dispatch", "bridges", "rooms", "rate"),
    *("api", "slack", "matrix", "one", "work", "path", "level", "format", "admins"),
    *("name", "label", "room", "privacy", "sends", "networks", "redact", "pattern"),
    *("replace", "tags", "ignore_text", "per_room", "room_burst", "deadline", "token"),
]
SCALARS = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["api.one:api", "slack.work:C1", "{author}", "(", "public", "${X}", "$${"]),
    st.text(string.printable, max_size=12),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    ),
    max_leaves=20,
)


ROOM_KEYS = [*RoomConfig.model_fields, "nope"]
ROOMS = st.dictionaries(
    st.sampled_from(ROOM_KEYS), st.one_of(SCALARS, st.lists(SCALARS, max_size=3)), max_size=6
)
BRIDGES = st.fixed_dictionaries(
    {"name": SCALARS, "rooms": st.lists(ROOMS, max_size=3)}, optional={"label": SCALARS}
)
SHAPED = st.fixed_dictionaries(
    {"bridges": st.lists(BRIDGES, max_size=3)},
    optional={
        "networks": st.fixed_dictionaries(
            {"api": st.dictionaries(st.sampled_from(["one", "two", "a b"]), VALUES, max_size=2)}
        ),
        "roles": st.dictionaries(st.sampled_from(["admins", "facilitators"]), VALUES),
        "dispatch": st.dictionaries(st.sampled_from(["rate", "deadline", "x"]), VALUES),
    },
)


def _toml(value: object) -> str:
    """A TOML inline value; json.dumps quoting is valid for TOML basic strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6), SHAPED))
def test_any_document_gives_config_or_config_error(document: dict[str, object]) -> None:
    text = "\n".join(f"{key} = {_toml(value)}" for key, value in document.items())
    try:
        config = parse_config(text, "bot.toml", NETWORKS, {"X": "x"})
    except ConfigError as exc:
        assert exc.problems
        assert all(p.startswith("bot.toml: ") and "\n" not in p for p in exc.problems)
        assert format_problems(exc)
    else:
        assert isinstance(config, Config)
        assert summary(config)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_config_or_config_error(text: str) -> None:
    try:
        parse_config(text, "bot.toml", NETWORKS, {})
    except ConfigError as exc:
        assert exc.problems
