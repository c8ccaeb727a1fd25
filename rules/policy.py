"""The policy data: privacy levels, per-room rules, bridges, and the indexed topology."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from bridgebot.model import RoomRef
from rules.label import LabelPart, compile_label
from rules.redact import Redaction, normalise_redactions

__all__ = [
    "Attribution",
    "BridgePolicy",
    "Consent",
    "Membership",
    "Peer",
    "Privacy",
    "RoomPolicy",
    "Topology",
]


class Privacy(enum.IntEnum):
    """How closed a room is; content may only flow to a room at least as closed."""

    PUBLIC = 0
    INTERNAL = 1
    CLOSED = 2

    @classmethod
    def _missing_(cls, value: object) -> Privacy | None:
        # Lets Privacy("closed") work like the StrEnums below.
        if isinstance(value, str):
            return cls.__members__.get(value.strip().upper())
        return None

    @classmethod
    def parse(cls, text: str) -> Privacy:
        """``"public"``/``"internal"``/``"closed"`` (any case); ``ValueError`` otherwise."""
        found = cls.__members__.get(text.strip().upper()) if isinstance(text, str) else None
        if found is None:
            raise ValueError(f"privacy {text!r} is not one of: public, internal, closed")
        return found

    @property
    def label(self) -> str:
        """The lower-case name used in config and explanations."""
        return self.name.lower()


class Attribution(enum.StrEnum):
    """How a copy names its author, from most to least revealing."""

    NAME = "name"
    PSEUDONYM = "pseudonym"
    NONE = "none"

    @property
    def strictness(self) -> int:
        """0 for name, 1 for pseudonym, 2 for none."""
        return _STRICTNESS[self]


_STRICTNESS = {Attribution.NAME: 0, Attribution.PSEUDONYM: 1, Attribution.NONE: 2}


class Consent(enum.StrEnum):
    """Whether a room's messages may leave it by default or only for authors who opted in."""

    IMPLIED = "implied"
    OPT_IN = "opt-in"


@dataclass(frozen=True, slots=True)
class RoomPolicy:
    """One room's rules within one bridge.

    ``tags`` are stored lower-case without ``#``; ``redact`` is deduplicated and put in the
    order it is applied (built-ins first: email, NI number, phone, postcode; then custom).
    """

    room: RoomRef
    name: str = ""
    privacy: Privacy = Privacy.INTERNAL
    sends: bool = True
    receives: bool = True
    networks: frozenset[str] | None = None
    consent: Consent = Consent.IMPLIED
    #: On ``consent no``, also delete the copies of the author's earlier messages.
    delete_on_consent_no: bool = False
    attribution: Attribution = Attribution.NAME
    redact: tuple[Redaction, ...] = ()
    ignore_authors: tuple[re.Pattern[str], ...] = ()
    ignore_text: tuple[re.Pattern[str], ...] = ()
    tags: frozenset[str] = frozenset()
    #: Memo of per-destination facts (``rules.decide.Pair``, which this module cannot name
    #: without an import circle: decide reads policies); not part of the value.
    pair_cache: dict[int, object] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pair_cache", {})
        # Normalised here, once, so that the per-message code never has to.
        tags = frozenset(t.strip().lstrip("#").lower() for t in self.tags)
        object.__setattr__(self, "tags", frozenset(t for t in tags if t))
        object.__setattr__(self, "redact", normalise_redactions(self.redact))
        if self.networks is not None:
            object.__setattr__(self, "networks", frozenset(n.lower() for n in self.networks))

    @property
    def display_name(self) -> str:
        """``name``, or the room id when no name is set: what ``{room}`` shows."""
        return self.name or self.room.room_id


@dataclass(frozen=True, slots=True)
class BridgePolicy:
    """A named set of linked rooms and the label template its copies carry.

    Raises ``ValueError`` if ``label`` is not a valid template (see ``validate_label``).
    """

    name: str
    label: str
    rooms: tuple[RoomPolicy, ...]
    label_parts: tuple[LabelPart, ...] = field(init=False, repr=False, compare=False)
    #: Memo of the label split per origin policy (see ``rules.render``); not part of the value.
    label_cache: dict[int, tuple[RoomPolicy, tuple[str, ...], tuple[str, ...]]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "label_parts", compile_label(self.label))
        object.__setattr__(self, "label_cache", {})


#: A room's place in one bridge.
Membership = tuple[BridgePolicy, RoomPolicy]
#: A destination reachable from an origin by bridge membership, with every way to reach it:
#: (dest room, ((bridge, origin policy in it, dest policy in it), ...)) in config order.
Peer = tuple[RoomRef, tuple[tuple[BridgePolicy, RoomPolicy, RoomPolicy], ...]]


@dataclass(frozen=True, slots=True)
class Topology:
    """Every bridge, with indexes built once so that per-message lookups are O(1)."""

    bridges: tuple[BridgePolicy, ...]
    secret: bytes = field(repr=False)
    _by_name: dict[str, BridgePolicy] = field(init=False, repr=False, compare=False)
    _members: dict[RoomRef, tuple[Membership, ...]] = field(init=False, repr=False, compare=False)
    _peers: dict[RoomRef, tuple[Peer, ...]] = field(init=False, repr=False, compare=False)
    _tagged: tuple[Membership, ...] = field(init=False, repr=False, compare=False)
    _tags: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, BridgePolicy] = {}
        members: dict[RoomRef, list[Membership]] = {}
        tagged: list[Membership] = []
        for bridge in self.bridges:
            by_name.setdefault(bridge.name, bridge)
            for room in bridge.rooms:
                members.setdefault(room.room, []).append((bridge, room))
                if room.tags:
                    tagged.append((bridge, room))
        peers: dict[RoomRef, tuple[Peer, ...]] = {}
        for origin, its_memberships in members.items():
            ways: dict[RoomRef, list[tuple[BridgePolicy, RoomPolicy, RoomPolicy]]] = {}
            for bridge, origin_policy in its_memberships:
                for dest in bridge.rooms:
                    if dest.room != origin:
                        ways.setdefault(dest.room, []).append((bridge, origin_policy, dest))
            peers[origin] = tuple((room, tuple(w)) for room, w in ways.items())
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_members", {k: tuple(v) for k, v in members.items()})
        object.__setattr__(self, "_peers", peers)
        object.__setattr__(self, "_tagged", tuple(tagged))
        object.__setattr__(self, "_tags", frozenset(t for _, r in tagged for t in r.tags))

    def memberships(self, room: RoomRef) -> tuple[Membership, ...]:
        """Every (bridge, policy) the room belongs to, in config order."""
        return self._members.get(room, ())

    def bridge(self, name: str) -> BridgePolicy | None:
        """The bridge called ``name`` (the first, if the name repeats)."""
        return self._by_name.get(name)

    def room_policy(self, room: RoomRef) -> Membership | None:
        """The room's first membership, or ``None`` if it is in no bridge."""
        found = self._members.get(room)
        return found[0] if found else None

    def peers(self, room: RoomRef) -> tuple[Peer, ...]:
        """Rooms sharing a bridge with ``room`` (never ``room`` itself), each with every way in."""
        return self._peers.get(room, ())

    @property
    def tagged(self) -> tuple[Membership, ...]:
        """Memberships whose room has tags, in config order."""
        return self._tagged

    @property
    def tags(self) -> frozenset[str]:
        """Every tag any room listens for."""
        return self._tags
