"""Human-readable output for ``bridgebot check``: the problems, or a short summary."""

from __future__ import annotations

from bridgebot.config.models import Config, RoomConfig
from bridgebot.errors import ConfigError

__all__ = ["format_problems", "summary"]


def format_problems(err: ConfigError) -> str:
    """Every problem of ``err`` on its own line, under a count, for the terminal or a log."""
    count = len(err.problems)
    head = "1 problem" if count == 1 else f"{count} problems"
    lines = [f"{head} in the configuration:"]
    lines += [f"  {problem}" for problem in err.problems]
    lines.append("Fix them and run `bridgebot check` again.")
    return "\n".join(lines)


def _direction(room: RoomConfig) -> str:
    if room.sends and room.receives:
        return "sends+receives"
    if room.sends:
        return "sends only"
    return "receives only" if room.receives else "muted"


def _room_notes(room: RoomConfig) -> str:
    notes: list[str] = []
    if room.name:
        notes.append(f"name {room.name!r}")
    if room.networks is not None:
        notes.append("to " + (", ".join(room.networks) or "no network"))
    if room.consent != "implied":
        notes.append(f"consent {room.consent}")
    if room.attribution != "name":
        notes.append(f"attribution {room.attribution}")
    if room.redact:
        notes.append("redacts " + ", ".join(r.name or "custom" for r in room.redact))
    if room.ignore_authors or room.ignore_text:
        notes.append(f"{len(room.ignore_authors) + len(room.ignore_text)} ignore rules")
    if room.tags:
        notes.append("tags " + " ".join("#" + t for t in room.tags))
    return "; ".join(notes)


def summary(config: Config) -> str:
    """A few lines describing ``config``: accounts, bridges, and each room's privacy."""
    accounts = ", ".join(f"{a} ({a.split('.', 1)[0]})" for a in config.networks) or "none"
    roles = config.roles
    lines = [
        f"accounts ({len(config.networks)}): {accounts}",
        f"roles: {len(roles.admins)} admin(s), {len(roles.facilitators)} facilitator(s)",
        f"store: {config.store.path}; log: {config.log.level}, {config.log.format}",
        f"dispatch: deadline {config.dispatch.deadline:g}s, "
        f"at most {config.dispatch.max_attempts} attempts",
    ]
    if not config.bridges:
        lines.append("bridges: none; add a [[bridges]] table to relay anything")
    for bridge in config.bridges:
        count = len(bridge.rooms)
        lines.append(
            f"bridge {bridge.name!r} ({count} room{'s' if count != 1 else ''}, "
            f"label {bridge.label!r}):"
        )
        width = max((len(str(r.room)) for r in bridge.rooms), default=0)
        for room in bridge.rooms:
            row = f"  {room.room!s:<{width}}  {room.privacy:<8}  {_direction(room)}"
            notes = _room_notes(room)
            lines.append(f"{row}  ({notes})" if notes else row)
    idle = [a for a, rooms in config.accounts_rooms().items() if not rooms]
    if idle:
        lines.append("accounts in no bridge: " + ", ".join(idle))
    return "\n".join(lines)
