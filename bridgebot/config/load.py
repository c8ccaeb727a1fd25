"""Load ``bot.toml`` once, at start, into typed frozen objects.

Every problem in the file is reported at once, each naming the file, the key path, the bad
value and what to write instead. ``${ENV}`` references in string values are filled from the
environment before validation, so secrets need not be in the file; ``$${`` writes ``${``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from bridgebot.config.checks import ParsedBridge, check_bridges, check_rate_types, check_roles
from bridgebot.config.env import interpolate
from bridgebot.config.models import (
    BridgeConfig,
    Config,
    DispatchConfig,
    LogConfig,
    ReloadConfig,
    RolesConfig,
    RoomConfig,
    StoreConfig,
    WebConfig,
)
from bridgebot.config.problems import Loc, did_you_mean, format_path, show_value, translate_errors
from bridgebot.errors import ConfigError

__all__ = ["SECTIONS", "load_config", "parse_config"]

#: The top-level tables of bot.toml.
SECTIONS = ("store", "log", "web", "reload", "networks", "roles", "dispatch", "bridges")

_ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_TOML_POSITION = re.compile(r"^(?P<msg>.*) \(at line (?P<line>\d+), column (?P<col>\d+)\)$")
_M = TypeVar("_M", bound=BaseModel)


def load_config(
    path: str | Path,
    networks: Mapping[str, type[BaseModel]],
    env: Mapping[str, str] | None = None,
) -> Config:
    """Read and validate the config file at ``path``; raise ConfigError listing every problem.

    ``networks`` maps a network type ("slack") to its settings model; ``env`` defaults to
    ``os.environ``. A relative ``[store] path`` is taken from the config file's folder.
    """
    file = Path(path)
    source = str(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{source}: no such file; copy bot.example.toml to {source} and edit it"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{source}: cannot read the file ({exc.strerror}); check the path and its permissions"
        ) from None
    try:
        # utf-8-sig: tolerate the byte-order mark some Windows editors write.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{source}: line {line}: byte {data[exc.start]:#04x} is not UTF-8 text; "
            "save the file with UTF-8 encoding"
        ) from None
    return parse_config(text, source, networks, env, base_dir=file.parent)


def parse_config(
    text: str,
    source: str,
    networks: Mapping[str, type[BaseModel]],
    env: Mapping[str, str] | None = None,
    *,
    base_dir: str | Path | None = None,
) -> Config:
    """Validate TOML ``text`` (named ``source`` in problems); raise ConfigError on any problem.

    With ``base_dir``, a relative ``[store] path`` is resolved against it.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_syntax_problem(source, exc)) from None
    filled = interpolate(document, os.environ if env is None else env)
    loader = _Loader(networks, filled.filled)
    config = loader.build(filled.data, source)
    problems = _in_file_order(filled.problems + loader.problems, list(document))
    if problems or config is None:
        raise ConfigError([f"{source}: {problem}" for problem in problems])
    store_path = config.store.path
    if base_dir is not None and store_path != ":memory:" and not Path(store_path).is_absolute():
        store = config.store.model_copy(
            update={"path": os.path.abspath(Path(base_dir) / store_path)}
        )
        config = config.model_copy(update={"store": store})
    return config


def _in_file_order(problems: list[str], sections: list[str]) -> list[str]:
    """Sort ``"path: detail"`` problems by section as the file orders them, then by path
    (indexes numerically), so that an admin reads them top to bottom."""

    def key(problem: str) -> tuple[int, list[tuple[int, str]]]:
        path = problem.split(": ", 1)[0]
        top = re.split(r"[.\[]", path, maxsplit=1)[0]
        rank = sections.index(top) if top in sections else len(sections)
        parts = re.split(r"(\d+)", path)
        return rank, [(int(p), "") if p.isdigit() else (-1, p) for p in parts]

    return sorted(problems, key=key)


def _syntax_problem(source: str, exc: tomllib.TOMLDecodeError) -> str:
    message = str(exc)
    match = _TOML_POSITION.match(message)
    if match:
        return f"{source}: line {match['line']}, column {match['col']}: {match['msg']}"
    return f"{source}: {message.replace('(at end of document)', 'at the end of the file')}"


class _Loader:
    """Validates each part on its own and collects every problem before giving up."""

    def __init__(self, models: Mapping[str, type[BaseModel]], hidden: set[Loc]) -> None:
        self.models = models
        self.hidden = hidden
        self.problems: list[str] = []
        #: Accounts declared in the file, even if their settings are invalid: a room on
        #: one is not also reported as "not configured".
        self.accounts: set[str] = set()

    def problem(self, loc: Loc, text: str) -> None:
        self.problems.append(f"{format_path(loc)}: {text}")

    def validate(self, model: type[_M], value: object, loc: Loc) -> _M | None:
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            self.problems += translate_errors(exc, model, loc, self.hidden)
            return None

    def build(self, data: object, source: str) -> Config | None:
        assert isinstance(data, dict)  # tomllib always returns a table at the top
        for key in data:
            if key not in SECTIONS:
                hint = did_you_mean(key, SECTIONS) or "; the top-level tables are: " + ", ".join(
                    SECTIONS
                )
                self.problem((key,), f"unknown key {key!r}{hint}")
        store = self.validate(StoreConfig, data.get("store", {}), ("store",))
        log = self.validate(LogConfig, data.get("log", {}), ("log",))
        web = self.validate(WebConfig, data.get("web", {}), ("web",))
        reload = self.validate(ReloadConfig, data.get("reload", {}), ("reload",))
        roles = self.validate(RolesConfig, data.get("roles", {}), ("roles",))
        dispatch = self.validate(DispatchConfig, data.get("dispatch", {}), ("dispatch",))
        networks = self.networks(data.get("networks", {}))
        bridges = self.bridges(data.get("bridges", []))
        types = set(self.models)
        self.problems += check_bridges(bridges, self.accounts, types)
        self.problems += check_roles(data.get("roles"), self.accounts, types)
        raw_bridges = data.get("bridges")
        for i, item in enumerate(raw_bridges if isinstance(raw_bridges, list) else []):
            if isinstance(item, dict):
                loc: Loc = ("bridges", i, "roles")
                self.problems += check_roles(item.get("roles"), self.accounts, types, loc)
        self.problems += check_rate_types(data.get("dispatch"), types)
        if (
            store is None
            or log is None
            or web is None
            or reload is None
            or roles is None
            or dispatch is None
            or self.problems
        ):
            return None
        return Config(
            source=source,
            store=store,
            log=log,
            web=web,
            reload=reload,
            networks=networks,
            roles=roles,
            dispatch=dispatch,
            bridges=tuple(b.bridge for b in bridges if b.bridge is not None),
        )

    def networks(self, raw: object) -> dict[str, BaseModel]:
        """``[networks.TYPE.NAME]`` tables → account "TYPE.NAME" → validated settings."""
        out: dict[str, BaseModel] = {}
        if not isinstance(raw, dict):
            self.problem(
                ("networks",),
                "is not a table; write one [networks.TYPE.NAME] table per account, "
                "e.g. [networks.slack.work]",
            )
            return out
        for network, accounts in raw.items():
            loc: Loc = ("networks", network)
            model = self.models.get(network)
            if model is None:
                known = ", ".join(sorted(self.models))
                self.problem(
                    loc,
                    f"network type {network!r} is unknown{did_you_mean(network, self.models)}; "
                    f"use one of: {known}",
                )
            if not isinstance(accounts, dict):
                self.problem(
                    loc,
                    f"{show_value(accounts)} is not a table; write [networks.{network}.NAME] "
                    f"tables, e.g. [networks.{network}.main]",
                )
                continue
            for name, settings in accounts.items():
                account_loc: Loc = (*loc, name)
                if not isinstance(settings, dict):
                    # Most likely keys written straight under [networks.TYPE]: never echo
                    # the value, it may be a token.
                    self.problem(
                        account_loc,
                        f"an account's keys go in a table of its own; write "
                        f"[networks.{network}.NAME] (e.g. [networks.{network}.main]) "
                        f"and put {name} under it",
                    )
                    continue
                if not _ACCOUNT_NAME.match(name):
                    self.problem(
                        account_loc,
                        f"account name {name!r} may only use letters, digits, _ and -; "
                        f"rename the table, e.g. [networks.{network}.main]",
                    )
                    continue
                if model is not None:
                    self.accounts.add(f"{network}.{name}")
                    settings_model = self.validate(model, settings, account_loc)
                    if settings_model is not None:
                        out[f"{network}.{name}"] = settings_model
        return out

    def bridges(self, raw: object) -> list[ParsedBridge]:
        """``[[bridges]]`` entries, each room validated on its own."""
        if isinstance(raw, dict):
            self.problem(
                ("bridges",), "is a single table; write [[bridges]] (double brackets) per bridge"
            )
            return []
        if not isinstance(raw, list):
            self.problem(
                ("bridges",), f"{show_value(raw)} is not a list; write one [[bridges]] per bridge"
            )
            return []
        parsed: list[ParsedBridge] = []
        for i, item in enumerate(raw):
            loc: Loc = ("bridges", i)
            if not isinstance(item, dict):
                self.problem(loc, f"{show_value(item)} is not a table; write a [[bridges]] table")
                continue
            bridge = ParsedBridge(i)
            rest = dict(item)
            raw_rooms = item.get("rooms", [])
            if isinstance(raw_rooms, list):
                rest["rooms"] = ()
                for j, raw_room in enumerate(raw_rooms):
                    room = self.validate(RoomConfig, raw_room, (*loc, "rooms", j))
                    if room is not None:
                        bridge.rooms.append((j, room))
                if not raw_rooms:
                    self.problem(
                        (*loc, "rooms"),
                        "the bridge has no rooms; add a [[bridges.rooms]] table with room = "
                        '"ACCOUNT:ROOM"',
                    )
            validated = self.validate(BridgeConfig, rest, loc)
            if validated is not None:
                rooms = tuple(room for _, room in bridge.rooms)
                bridge.bridge = validated.model_copy(update={"rooms": rooms})
            parsed.append(bridge)
        return parsed
