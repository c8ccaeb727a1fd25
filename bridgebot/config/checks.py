"""Checks across config sections: references between rooms, accounts, roles and types.

They run on whatever parts validated on their own, so that one bad room does not hide
the problems of the others.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from bridgebot.config.models import DEFAULT_RATES, BridgeConfig, RoomConfig
from bridgebot.config.problems import Loc, did_you_mean, format_path
from bridgebot.model import RoomRef

__all__ = ["ParsedBridge", "check_bridges", "check_rate_types", "check_roles"]


@dataclass
class ParsedBridge:
    """One ``[[bridges]]`` entry as far as it validated; rooms keep their file index."""

    index: int
    bridge: BridgeConfig | None = None
    rooms: list[tuple[int, RoomConfig]] = field(default_factory=list)


def _problem(loc: Loc, text: str) -> str:
    return f"{format_path(loc)}: {text}"


def _unknown_type(name: str, types: Collection[str]) -> str:
    return (
        f"network type {name!r} is unknown{did_you_mean(name, types)}; "
        f"use one of: {', '.join(sorted(types))}"
    )


def _account_problem(
    ref: str, account: str, accounts: Collection[str], types: Collection[str]
) -> str:
    network, _, name = account.partition(".")
    if network not in types:
        return f"{ref!r}: {_unknown_type(network, types)}"
    known = ", ".join(sorted(accounts)) or "none yet"
    return (
        f"{ref!r}: account {account!r} is not configured{did_you_mean(account, accounts)}; "
        f"add a [networks.{network}.{name}] table, or use a configured account ({known})"
    )


def _check_room(
    loc: Loc, room: RoomConfig, accounts: Collection[str], types: Collection[str]
) -> list[str]:
    problems: list[str] = []
    ref = room.room
    if ref.account not in accounts:
        problems.append(
            _problem((*loc, "room"), _account_problem(str(ref), ref.account, accounts, types))
        )
    if ref.network == "api" and ref.room_id != "api":
        problems.append(
            _problem(
                (*loc, "room"),
                f'{str(ref)!r}: an API account has one room, named api; write "{ref.account}:api"',
            )
        )
    for k, network in enumerate(room.networks or ()):
        if network not in types:
            problems.append(_problem((*loc, "networks", k), _unknown_type(network, types)))
    return problems


def check_bridges(
    bridges: Sequence[ParsedBridge], accounts: Collection[str], types: Collection[str]
) -> list[str]:
    """Rooms name configured accounts, appear once per bridge; bridge names are unique."""
    problems: list[str] = []
    names: dict[str, int] = {}
    for parsed in bridges:
        bridge_loc: Loc = ("bridges", parsed.index)
        if parsed.bridge is not None:
            name = parsed.bridge.name
            if name in names:
                problems.append(
                    _problem(
                        (*bridge_loc, "name"),
                        f"{name!r} is already the name of bridges[{names[name]}]; "
                        "give each bridge its own name",
                    )
                )
            else:
                names[name] = parsed.index
        seen: dict[RoomRef, int] = {}
        for j, room in parsed.rooms:
            loc: Loc = (*bridge_loc, "rooms", j)
            problems += _check_room(loc, room, accounts, types)
            first = seen.get(room.room)
            if first is not None:
                problems.append(
                    _problem(
                        (*loc, "room"),
                        f"{str(room.room)!r} is already in this bridge as rooms[{first}]; "
                        "list each room once per bridge",
                    )
                )
            else:
                seen[room.room] = j
    return problems


def check_roles(
    raw: object, accounts: Collection[str], types: Collection[str], loc: Loc = ("roles",)
) -> list[str]:
    """Every well-formed ``ACCOUNT:USER`` in ``[roles]`` (or a bridge's ``roles``, at
    ``loc``) names a configured account.

    Works on the raw table: malformed entries are reported by validation already.
    """
    if not isinstance(raw, dict):
        return []
    problems: list[str] = []
    for key in ("admins", "facilitators"):
        items = raw.get(key)
        if not isinstance(items, list):
            continue
        for i, item in enumerate(items):
            if not isinstance(item, str):
                continue
            account, sep, user = item.partition(":")
            if sep and user and "." in account and account not in accounts:
                problems.append(
                    _problem((*loc, key, i), _account_problem(item, account, accounts, types))
                )
    return problems


def check_rate_types(raw: object, types: Collection[str]) -> list[str]:
    """Every ``[dispatch.rate.TYPE]`` names a known network type."""
    if not isinstance(raw, dict) or not isinstance(raw.get("rate"), dict):
        return []
    known = set(types) | set(DEFAULT_RATES)
    return [
        _problem(("dispatch", "rate", name), _unknown_type(name, known))
        for name in raw["rate"]
        if name not in known
    ]
