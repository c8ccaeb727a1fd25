"""`bridgebot rules show` and `bridgebot audit`: what is in force, and who changed what."""

from __future__ import annotations

import json
import time

from bridgebot.config import Config, RoomConfig
from bridgebot.model import RoomRef
from bridgebot.store import Store

__all__ = ["print_audit", "print_rules"]

_KEYS = ("privacy", "sends", "receives", "networks", "consent", "delete_on_consent_no",
         "attribution", "redact", "ignore_authors", "ignore_text", "tags")  # fmt: skip


def _file_value(room: RoomConfig, key: str) -> object:
    value = getattr(room, key)
    if key == "redact":
        return [r.name or r.pattern for r in value]
    if isinstance(value, tuple):
        return list(value)
    return value


async def print_rules(config: Config, store: Store) -> None:
    """Every room's effective rules, each value with its source (bot.toml, chat/web, or
    the default for a room linked in chat), and the rooms linked or unlinked in chat."""
    overrides: dict[tuple[str, str], tuple[str, str]] = {}
    for room_key, key, value, actor, _ts in await store.overrides():
        overrides[(room_key, key)] = (value, actor)
    links = {(k.bridge, k.room): k for k in await store.links()}
    for bridge in config.bridges:
        print(f"bridge {bridge.name}  (label {bridge.label!r})")
        rooms = [(room, config.source) for room in bridge.rooms]
        present = {str(room.room) for room in bridge.rooms}
        rooms += [
            (RoomConfig(room=RoomRef.parse(k.room)), "default")
            for (name, room_id), k in links.items()
            if name == bridge.name and k.linked and room_id not in present
        ]
        for room, source in rooms:
            link = links.get((bridge.name, str(room.room)))
            if link is not None and not link.linked:
                print(f"  {room.room}  (unlinked in chat by {link.actor}; not in force)")
                continue
            linked = f"  (linked in chat by {link.actor})" if link is not None else ""
            print(f"  {room.room}{linked}")
            for key in _KEYS:
                found = overrides.get((str(room.room), key))
                if found is not None:
                    print(f"    {key:<21} {found[0]:<30} set by {found[1]} (overrides bot.toml)")
                else:
                    shown = json.dumps(_file_value(room, key))
                    print(f"    {key:<21} {shown:<30} {source}")


async def print_audit(store: Store, limit: int) -> None:
    """The audit log, newest first."""
    entries = await store.audit_log(limit)
    if not entries:
        print("the audit log is empty")
    for e in entries:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.ts))
        where = f" in {e.room}" if e.room else ""
        print(f"{when}  {e.actor}{where}: {e.action} {e.detail}")
