"""``bridgebot rules export``: bot.toml with the rule changes made in chat written into it.

It works on the file's *text* (with tomlkit), not on the validated Config: the admin's
comments and layout survive, and secrets stay ``${ENV}`` references where the Config holds
their resolved values. Chat-made values are literal, so every ``${`` in them is written as
``$${`` (the loader's escape) and comes back unchanged.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Array, InlineTable, Item, Table

from bridgebot.config.models import BUILTIN_REDACTIONS
from bridgebot.core.topology import OVERRIDABLE_KEYS
from bridgebot.errors import BridgeError, ConfigError
from bridgebot.model import RoomRef

if TYPE_CHECKING:
    from bridgebot.store import Store

__all__ = [
    "HEADER_MARK",
    "Exported",
    "LinkRow",
    "OverrideRow",
    "export_store",
    "export_toml",
    "write_atomically",
]

#: What ``store.overrides()`` returns: (room, key, JSON value, actor, ts).
OverrideRow = tuple[str, str, str, str, float]
#: What ``store.links()`` returns: (bridge, room, linked, actor, ts).
LinkRow = tuple[str, str, bool, str, float]

#: The first words of an exported file; a second export replaces the old header.
HEADER_MARK = "# Exported by `bridgebot rules export`"

# Keys of a linked room, in the order bot.example.toml documents them.
_KEY_ORDER = ("name", "privacy", "sends", "receives", "networks", "consent",
              "delete_on_consent_no", "attribution", "redact", "ignore_authors", "ignore_text",
              "tags")  # fmt: skip
_SHOWN = 60  # longest value quoted in a comment

Room = Table | InlineTable


@dataclass(frozen=True, slots=True)
class Exported:
    """The exported TOML text, and what was and was not written into it (for the admin)."""

    text: str
    applied: tuple[str, ...]
    skipped: tuple[str, ...]


def export_toml(
    source_text: str,
    overrides: Iterable[OverrideRow],
    links: Iterable[LinkRow] = (),
    *,
    source: str = "bot.toml",
    now: float | None = None,
) -> Exported:
    """Write ``overrides`` and ``links`` (rows as the store gives them) into ``source_text``.

    Every override lands in each ``[[bridges.rooms]]`` entry of its room; a linked room is
    appended to its bridge with its overrides; an unlinked room's entries are removed (a
    bridge left with no room is left out). Raises ConfigError if the text is not TOML.
    """
    try:
        doc = tomlkit.parse(_without_old_header(source_text))
    except TOMLKitError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc}); run `bridgebot check`") from None
    writer = _Writer(doc)
    writer.apply_links(links)
    writer.apply_overrides(overrides)
    stamp = _when(time.time() if now is None else now)
    header = _header(source, stamp, writer.applied, writer.skipped)
    return Exported(header + tomlkit.dumps(doc), tuple(writer.applied), tuple(writer.skipped))


async def export_store(source: Path, store: Store) -> Exported:
    """Export ``source`` (a bot.toml path) with the overrides and links kept in ``store``."""
    text = (await asyncio.to_thread(source.read_bytes)).decode("utf-8-sig")
    links = [(k.bridge, k.room, k.linked, k.actor, k.ts) for k in await store.links()]
    return export_toml(text, await store.overrides(), links, source=str(source))


def write_atomically(path: Path, text: str, *, source: Path, force: bool = False) -> None:
    """Replace ``path`` with ``text`` in one rename (a reader sees the old or the new file,
    never half of one). Refuses to overwrite ``source`` itself unless ``force``."""
    if path.exists() and os.path.samefile(path, source) and not force:
        raise BridgeError(
            f"{path} is the config file the export was made from; write elsewhere "
            f"(-o {path.with_suffix('.exported.toml').name}), check it, then move it over, "
            "or pass --force to overwrite it"
        )
    # The export says as much as the file it came from: give it the same permissions.
    mode = (path if path.exists() else source).stat().st_mode & 0o777
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise BridgeError(f"cannot write {path}: {exc.strerror}; check the folder") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# -- the document ------------------------------------------------------------------------


@dataclass
class _Writer:
    doc: tomlkit.TOMLDocument
    applied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def bridges(self) -> list[Room]:
        found = self.doc.get("bridges")
        if isinstance(found, AoT | Array):
            return [b for b in found if isinstance(b, Table | InlineTable)]
        return []

    def rooms_of(self, bridge: Room) -> AoT | Array | None:
        found = bridge.get("rooms")
        return found if isinstance(found, AoT | Array) else None

    def bridge_named(self, name: str) -> Room | None:
        return next((b for b in self.bridges() if str(b.get("name", "")) == name), None)

    def apply_links(self, links: Iterable[LinkRow]) -> None:
        # As topology.apply_links does: a repeated (bridge, room) keeps its first place
        # and its last state, so that rooms come out in the order the running bot has them.
        latest: dict[tuple[str, str], LinkRow] = {}
        for row in links:
            latest[(row[0], _canonical(row[1]) or row[1])] = row
        for (name, room), (_b, _r, linked, actor, ts) in latest.items():
            by = f"by {_plain(actor)}, {_when(ts)}"
            bridge = self.bridge_named(name)
            what = f"{_plain(name)}: {_plain(room)} {'linked' if linked else 'unlinked'} ({by})"
            if bridge is None:
                self.skipped.append(f"{what}: the file has no bridge named {_plain(name)!r}")
            elif linked:
                self.link(bridge, room, f"linked in chat {by}", what)
            else:
                self.unlink(bridge, room, what)

    def link(self, bridge: Room, room: str, note: str, what: str) -> None:
        rooms = self.rooms_of(bridge)
        if rooms is None:  # the loader refuses such a file; `bridgebot check` says why
            self.skipped.append(f"{what}: that bridge has no rooms list in the file")
            return
        if any(_room_of(r) == room for r in rooms):
            self.skipped.append(f"{what}: the room is already in that bridge")
            return
        if isinstance(rooms, Array):
            entry = tomlkit.inline_table()
            entry["room"] = _string(room)
            rooms.append(entry)
        else:
            rooms.append(_new_table(rooms, room, note))
        self.applied.append(what)

    def unlink(self, bridge: Room, room: str, what: str) -> None:
        rooms = self.rooms_of(bridge)
        places = [i for i, r in enumerate(rooms or ()) if _room_of(r) == room]
        if rooms is None or not places:
            self.skipped.append(f"{what}: the room is not in that bridge in the file")
            return
        for i in reversed(places):
            del rooms[i]
        self.applied.append(what)
        if len(rooms) == 0:
            self.drop_bridge(bridge)

    def drop_bridge(self, bridge: Room) -> None:
        container = self.doc.get("bridges")
        assert isinstance(container, AoT | Array)
        for i, item in enumerate(container):
            if item is bridge:
                del container[i]
                break
        name = _plain(str(bridge.get("name", "")))
        self.applied.append(f"{name}: no room is left after that, so the bridge is left out")

    def apply_overrides(self, rows: Iterable[OverrideRow]) -> None:
        by_room: dict[str, list[OverrideRow]] = {}
        for row in rows:
            by_room.setdefault(_canonical(row[0]) or row[0], []).append(row)
        for room, found in by_room.items():
            found.sort(key=lambda r: _KEY_ORDER.index(r[1]) if r[1] in _KEY_ORDER else 99)
            targets = self.room_places(room)
            for _room, key, raw, actor, ts in found:
                note = f"set in chat by {_plain(actor)}, {_when(ts)}"
                self.apply_override(room, key, raw, note, targets)

    def room_places(self, room: str) -> list[tuple[AoT | Array, int]]:
        places: list[tuple[AoT | Array, int]] = []
        for bridge in self.bridges():
            rooms = self.rooms_of(bridge)
            if rooms is not None:
                places += [(rooms, i) for i, entry in enumerate(rooms) if _room_of(entry) == room]
        return places

    def apply_override(
        self, room: str, key: str, raw: str, note: str, places: list[tuple[AoT | Array, int]]
    ) -> None:
        what = f"{_plain(room)}: {_plain(key)}"
        if key not in OVERRIDABLE_KEYS:
            self.skipped.append(f"{what} ({note}): not a room key that chat may change")
            return
        try:
            value = json.loads(raw)
            item = _value_item(key, value)
        except (ValueError, TypeError) as exc:
            self.skipped.append(f"{what} ({note}): cannot be written as TOML ({_plain(str(exc))})")
            return
        if not places:
            self.skipped.append(f"{what} ({note}): the room is in no bridge of the file")
            return
        for rooms, i in places:
            entry = rooms[i]
            fresh = _value_item(key, value)  # an item is one place in the document
            if isinstance(entry, InlineTable):
                rooms[i] = _with_inline(entry, key, fresh)
            elif isinstance(entry, Table):
                _set_in_table(entry, key, fresh, note)
        shown = "the default" if item is None else _shorten(item.as_string())
        self.applied.append(f"{what} = {shown} ({note})")


def _set_in_table(table: Table, key: str, item: Item | None, note: str) -> None:
    old = table.item(key) if key in table else None
    was = f"; {_shorten(old.as_string())} before" if isinstance(old, Item) else ""
    if item is None:
        if key in table:
            del table[key]
        return
    indent = _key_indent(table, key)
    table[key] = item
    written = table.item(key)
    if isinstance(written, Item):
        # tomlkit adds the table's indent to the item's own; lay it out like its neighbours.
        written.trivia.indent = indent
        written.comment(f"{note}{was}")


def _key_indent(table: Table, but: str) -> str:
    for name, value in table.value.body:
        if name is not None and name.key != but:
            return value.trivia.indent
    return table.trivia.indent.lstrip("\n")


def _with_inline(entry: InlineTable, key: str, item: Item | None) -> InlineTable:
    """A fresh inline table: tomlkit loses the comma spacing when one is edited in place."""
    fresh = tomlkit.inline_table()
    for name, value in entry.value.body:
        if name is not None and name.key != key:
            fresh[name.key] = value
    if item is not None:
        fresh[key] = item
    return fresh


def _new_table(rooms: AoT | Array, room: str, note: str) -> Table:
    """A ``[[bridges.rooms]]`` table laid out like the bridge's others."""
    last = rooms[-1] if len(rooms) else None
    indent = last.trivia.indent.lstrip("\n") if isinstance(last, Table) else ""
    blank = isinstance(last, Table) and not last.as_string().endswith("\n\n")
    table = tomlkit.table()
    table.trivia.indent = ("\n" if blank else "") + indent
    table.add(tomlkit.comment(note))
    table["room"] = _string(room)
    for _key, item in table.value.body:
        item.indent(len(indent))
    return table


# -- values ------------------------------------------------------------------------------


def _value_item(key: str, value: object) -> Item | None:
    """The TOML item for a chat-made ``value`` of ``key``; None means "back to the default"."""
    if value is None:
        return None
    if isinstance(value, bool):
        return tomlkit.item(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        items = tomlkit.array()
        for v in value:
            items.append(_redaction(v) if key == "redact" else _string(_text(v)))
        return items
    raise TypeError(f"{type(value).__name__} {value!r} is not a value bot.toml takes for {key}")


def _redaction(value: object) -> Item:
    """A built-in name stays a string; a regex becomes ``{pattern = …}`` as the loader wants."""
    if isinstance(value, str):
        if value in BUILTIN_REDACTIONS:
            return _string(value)
        table = tomlkit.inline_table()
        table["pattern"] = _string(value)
        return table
    if isinstance(value, dict):
        table = tomlkit.inline_table()
        for name in ("name", "pattern", "replace"):
            if name in value:
                table[name] = _string(_text(value[name]))
        return table
    raise TypeError(f"{value!r} is not a redaction")


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not text")
    return value


def _string(value: str) -> Item:
    # The loader fills ${NAME} from the environment in every string; a chat value is literal.
    return tomlkit.string(value.replace("${", "$${"))


# -- helpers -----------------------------------------------------------------------------


def _canonical(room: str) -> str | None:
    try:
        return str(RoomRef.parse(room))
    except ValueError:
        return None


def _room_of(entry: object) -> str | None:
    if not isinstance(entry, Table | InlineTable):
        return None
    raw = entry.get("room")
    return _canonical(str(raw)) if isinstance(raw, str) else None


def _plain(text: str) -> str:
    """``text`` safe inside a TOML comment: line breaks and control characters escaped
    (an actor's name comes from chat and must not be able to start a new line of TOML)."""
    return "".join(
        f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c
        for c in text
    )


def _shorten(text: str) -> str:
    text = _plain(text)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def _without_old_header(text: str) -> str:
    """Drop the header of an earlier export (down to its blank line), so they do not pile up."""
    if not text.startswith(HEADER_MARK):
        return text
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if not line.strip():
            return "".join(lines[i + 1 :])
    return ""


def _header(source: str, stamp: str, applied: Sequence[str], skipped: Sequence[str]) -> str:
    lines = [
        f"{HEADER_MARK} from {_plain(source)} on {stamp}.",
        "# It is that file with the rule changes made in chat (or on the admin page) written",
        "# in; its comments and ${ENV} references are kept as they were.",
    ]
    if applied:
        lines.append("# Changes written in:")
        lines += [f"#   {line}" for line in applied]
    else:
        lines.append("# No rule was changed in chat: the rules are as in the file.")
    if skipped:
        lines.append("# Not written (see why):")
        lines += [f"#   {line}" for line in skipped]
    return "\n".join(lines) + "\n\n"
