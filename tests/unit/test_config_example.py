"""bot.example.toml stays valid and documents every key the models accept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from adapters.settings import (
    ApiSettings,
    DiscordSettings,
    EmailSettings,
    MatrixSettings,
    SlackSettings,
    TelegramSettings,
)
from bridgebot.config import (
    BridgeConfig,
    Config,
    DispatchConfig,
    LogConfig,
    RateConfig,
    RedactConfig,
    ReloadConfig,
    RolesConfig,
    RoomConfig,
    StoreConfig,
    WebConfig,
    load_config,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "bot.example.toml"
NETWORKS: dict[str, type[BaseModel]] = {
    "api": ApiSettings,
    "matrix": MatrixSettings,
    "slack": SlackSettings,
    "discord": DiscordSettings,
    "telegram": TelegramSettings,
    "email": EmailSettings,
}
CONFIG_MODELS: list[type[BaseModel]] = [
    Config,
    StoreConfig,
    LogConfig,
    WebConfig,
    ReloadConfig,
    RolesConfig,
    DispatchConfig,
    RateConfig,
    BridgeConfig,
    RoomConfig,
    RedactConfig,
]
#: Fields that are not TOML keys.
NOT_KEYS = {(Config, "source")}


def _text() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


def _documented_keys(text: str) -> set[str]:
    """Keys assigned anywhere (commented-out lines too) or named in a table header."""
    assigned = set(re.findall(r"(?:^|[\s{,#])([A-Za-z_][A-Za-z0-9_]*)\s*=", text, re.M))
    headers = re.findall(r"^\s*\[\[?([^\]]+)\]\]?", text, re.M)
    return assigned | {part for header in headers for part in header.split(".")}


def test_example_parses_with_dummy_environment() -> None:
    text = _text()
    env = {name: "dummy" for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text)}
    assert "SLACK_BOT_TOKEN" in env
    config = load_config(EXAMPLE, NETWORKS, env)
    assert {a.split(".")[0] for a in config.networks} == set(NETWORKS)
    assert [b.name for b in config.bridges] == ["khub"]
    assert {r.room.network for r in config.bridges[0].rooms} == set(NETWORKS)


@pytest.mark.parametrize("model", [*NETWORKS.values(), *CONFIG_MODELS], ids=lambda m: m.__name__)
def test_every_field_is_documented_in_the_example(model: type[BaseModel]) -> None:
    documented = _documented_keys(_text())
    missing = [
        name
        for name, field in model.model_fields.items()
        if (model, name) not in NOT_KEYS and (field.alias or name) not in documented
    ]
    assert not missing, f"document {model.__name__} keys in bot.example.toml: {missing}"


def test_every_key_line_has_a_comment() -> None:
    previous = ""
    undocumented: list[str] = []
    for line in _text().splitlines():
        stripped = line.strip()
        is_key = "=" in stripped and not stripped.startswith(("#", "["))
        if is_key and "#" not in stripped and not previous.startswith("#"):
            undocumented.append(stripped)
        if stripped:
            previous = stripped
    assert not undocumented
