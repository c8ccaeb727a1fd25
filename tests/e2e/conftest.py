"""Fixtures for end-to-end tests: real Hubs with API rooms on ephemeral loopback ports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bridgebot.lab.harness import free_port


@dataclass(frozen=True)
class ApiRoom:
    account: str  # "api.a"
    port: int
    privacy: str = "public"
    extra: str = ""  # more TOML lines for the room

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ref(self) -> str:
        return f"{self.account}:api"


def api_rooms(*specs: tuple[str, str] | str) -> list[ApiRoom]:
    """``api_rooms("a", ("b", "closed"))`` → rooms on free ports."""
    rooms = []
    for spec in specs:
        name, privacy = (spec, "public") if isinstance(spec, str) else spec
        rooms.append(ApiRoom(f"api.{name}", free_port(), privacy))
    return rooms


def config_for(
    rooms: Sequence[ApiRoom],
    *,
    bridge: str = "khub",
    label: str = "{author} · {network}",
    head: str = "",
    buffer: int = 10_000,
) -> str:
    """A bot.toml text with one API account per room, all in one bridge."""
    lines = [head, "[store]", 'path = "bridgebot.db"']
    for r in rooms:
        lines += [
            f"[networks.api.{r.account.split('.', 1)[1]}]",
            f'bind = "127.0.0.1:{r.port}"',
            f"buffer = {buffer}",
        ]
    lines += ["[[bridges]]", f'name = "{bridge}"', f'label = "{label}"']
    for r in rooms:
        lines += ["[[bridges.rooms]]", f'room = "{r.ref}"', f'privacy = "{r.privacy}"', r.extra]
    return "\n".join(lines) + "\n"
