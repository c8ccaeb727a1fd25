"""Turn validated config (plus chat-made overrides) into the rules engine's Topology.

Regexes and templates are compiled here, once, when the config loads or is reloaded, so
the per-message path only looks things up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from bridgebot.config import BridgeConfig, Config, RoomConfig
from bridgebot.errors import ConfigError
from bridgebot.model import RoomRef
from rules import (
    Attribution,
    BridgePolicy,
    Consent,
    Privacy,
    Redaction,
    RoomPolicy,
    Topology,
    builtin_redaction,
    custom_redaction,
)

__all__ = ["OVERRIDABLE_KEYS", "LinkChange", "apply_links", "build_topology"]

#: (bridge, room, linked): a room linked into (True) or unlinked from a bridge in chat.
LinkChange = tuple[str, str, bool]

#: Room keys that `!bridge set` may override at run time.
OVERRIDABLE_KEYS = frozenset(
    {
        "privacy",
        "sends",
        "receives",
        "networks",
        "consent",
        "delete_on_consent_no",
        "attribution",
        "redact",
        "ignore_authors",
        "ignore_text",
        "tags",
        "name",
    }
)


def _redactions(items: Iterable[Any]) -> tuple[Redaction, ...]:
    out: list[Redaction] = []
    for item in items:
        name = getattr(item, "name", None)
        pattern = getattr(item, "pattern", None)
        if isinstance(item, str):
            out.append(builtin_redaction(item))
        elif pattern:
            out.append(custom_redaction(pattern, getattr(item, "replace", None) or "[redacted]"))
        elif name:
            out.append(builtin_redaction(name))
    return tuple(out)


def _room_policy(room: RoomConfig, overrides: Mapping[str, Any]) -> RoomPolicy:
    def get(key: str) -> Any:
        return overrides.get(key, getattr(room, key))

    networks = get("networks")
    return RoomPolicy(
        room=room.room,
        name=get("name") or "",
        privacy=Privacy[str(get("privacy")).upper()],
        sends=bool(get("sends")),
        receives=bool(get("receives")),
        networks=frozenset(networks) if networks is not None else None,
        consent=Consent(get("consent")),
        delete_on_consent_no=bool(get("delete_on_consent_no")),
        attribution=Attribution(get("attribution")),
        redact=_redactions(get("redact")),
        ignore_authors=tuple(re.compile(p) for p in get("ignore_authors")),
        ignore_text=tuple(re.compile(p) for p in get("ignore_text")),
        tags=frozenset(t.lower().lstrip("#") for t in get("tags")),
    )


def _bridge_policy(
    bridge: BridgeConfig, overrides: Mapping[str, Mapping[str, Any]]
) -> BridgePolicy:
    rooms = tuple(_room_policy(r, overrides.get(str(r.room), {})) for r in bridge.rooms)
    return BridgePolicy(name=bridge.name, label=bridge.label, rooms=rooms)


def _strictest_privacy(bridges: tuple[BridgePolicy, ...]) -> tuple[BridgePolicy, ...]:
    """A room in several bridges is as private as its strictest membership.

    Otherwise a room marked closed in one bridge but public in another would send its
    closed content into the public rooms of the second bridge.
    """
    strictest: dict[RoomRef, Privacy] = {}
    for bridge in bridges:
        for room in bridge.rooms:
            strictest[room.room] = max(strictest.get(room.room, room.privacy), room.privacy)
    return tuple(
        replace(
            bridge,
            rooms=tuple(
                r if r.privacy == strictest[r.room] else replace(r, privacy=strictest[r.room])
                for r in bridge.rooms
            ),
        )
        for bridge in bridges
    )


def apply_links(config: Config, links: Iterable[LinkChange]) -> Config:
    """``config`` with chat-made links applied: a linked room joins its bridge with every
    key at its default (overrides set the rest), an unlinked room leaves it. A link to a
    bridge that no longer exists in bot.toml is ignored."""
    changes: dict[str, dict[str, bool]] = {}
    for name, room, linked in links:
        changes.setdefault(name, {})[room] = linked
    if not changes:
        return config
    bridges = []
    for bridge in config.bridges:
        wanted = changes.get(bridge.name, {})
        rooms = [r for r in bridge.rooms if wanted.get(str(r.room), True)]
        present = {str(r.room) for r in rooms}
        for room, linked in wanted.items():
            if linked and room not in present:
                rooms.append(RoomConfig(room=RoomRef.parse(room)))
        bridges.append(bridge.model_copy(update={"rooms": tuple(rooms)}))
    return config.model_copy(update={"bridges": tuple(bridges)})


def build_topology(
    config: Config,
    secret: bytes,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    links: Iterable[LinkChange] = (),
) -> Topology:
    """Compile ``config`` (with per-room ``overrides``: room → key → value, and chat-made
    ``links``) into a Topology.

    Raises ConfigError if an override no longer compiles (e.g. a bad regex set in chat).
    """
    config = apply_links(config, links)
    try:
        bridges = _strictest_privacy(
            tuple(_bridge_policy(b, overrides or {}) for b in config.bridges)
        )
    except (ValueError, KeyError, re.error) as exc:
        raise ConfigError(f"{config.source}: cannot compile the rules: {exc}") from exc
    return Topology(bridges=bridges, secret=secret)
