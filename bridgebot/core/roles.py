"""Who may do what: global ``[roles]`` plus each bridge's own ``[bridges.roles]``.

Membership comes from the compiled Topology, so a room linked in chat counts as a member
of its bridge exactly like a room of bot.toml.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridgebot.config import Config
from bridgebot.model import RoomRef
from rules import Topology

__all__ = ["Roles"]


@dataclass(frozen=True, slots=True)
class Roles:
    """Answers role questions for one user reference (``ACCOUNT:USER``)."""

    config: Config
    topology: Topology

    def _bridge_roles(self, bridge: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        for b in self.config.bridges:
            if b.name == bridge:
                return b.roles.admins, b.roles.facilitators
        return (), ()

    def is_global_admin(self, ref: str) -> bool:
        return ref in self.config.roles.admins

    def is_any_admin(self, ref: str) -> bool:
        """An admin anywhere: globally or of at least one bridge."""
        return self.is_global_admin(ref) or any(ref in b.roles.admins for b in self.config.bridges)

    def admin_of_bridge(self, ref: str, bridge: str) -> bool:
        return self.is_global_admin(ref) or ref in self._bridge_roles(bridge)[0]

    def bridges_of(self, room: RoomRef) -> list[str]:
        return [b.name for b, _ in self.topology.memberships(room)]

    def admin_of_room(self, ref: str, room: RoomRef) -> tuple[bool, str]:
        """May ``ref`` change ``room``'s rules? A room's rules apply in every bridge it is
        in, so a bridge admin needs to be admin of all of them. Returns (ok, why not)."""
        if self.is_global_admin(ref):
            return True, ""
        bridges = self.bridges_of(room)
        missing = [b for b in bridges if ref not in self._bridge_roles(b)[0]]
        if bridges and not missing:
            return True, ""
        if missing and len(missing) < len(bridges):
            return False, (
                f"{ref} is not an admin of bridge {', '.join(missing)}, which {room} is also "
                "in; a global admin ([roles] admins) or an admin of every one of its bridges "
                "may change it"
            )
        where = ", ".join(f"[bridges.roles] of {b}" for b in bridges) or "[bridges.roles]"
        return False, f"{ref} is not in [roles] admins nor in {where}"

    def facilitator_bridges(self, ref: str, room: RoomRef) -> list[str]:
        """The bridges of ``room`` that ``ref`` may announce to (admins may too)."""
        bridges = self.bridges_of(room)
        roles = self.config.roles
        if ref in roles.facilitators or ref in roles.admins:
            return bridges
        return [
            b for b in bridges if ref in self._bridge_roles(b)[1] or self.admin_of_bridge(ref, b)
        ]
