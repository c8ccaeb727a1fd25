"""Configuration: ``bot.toml`` read once, at start, into typed frozen objects.

Holds: the pydantic models of every table (:mod:`.models`), ``${ENV}`` interpolation
(:mod:`.env`), cross-table checks (:mod:`.checks`), and the problem report that names the
file, the key and what to write instead (:mod:`.problems`, :mod:`.report`).

May import: :mod:`bridgebot.model`, :mod:`bridgebot.errors` and :mod:`rules` (for the names
of built-in redactions). Never the running core, the store or the adapters: config is read
by everything and depends on nothing that runs.
"""

from __future__ import annotations

from bridgebot.config.load import SECTIONS, load_config, parse_config
from bridgebot.config.models import (
    BUILTIN_REDACTIONS,
    DEFAULT_RATES,
    LABEL_FIELDS,
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
)
from bridgebot.config.report import format_problems, summary

__all__ = [
    "BUILTIN_REDACTIONS",
    "DEFAULT_RATES",
    "LABEL_FIELDS",
    "SECTIONS",
    "BridgeConfig",
    "Config",
    "DispatchConfig",
    "LogConfig",
    "RateConfig",
    "RedactConfig",
    "ReloadConfig",
    "RolesConfig",
    "RoomConfig",
    "StoreConfig",
    "WebConfig",
    "format_problems",
    "load_config",
    "parse_config",
    "summary",
]
