"""build_topology: config + overrides → rules, with the privacy of multi-bridge rooms."""

from __future__ import annotations

from adapters import settings_models
from bridgebot.config import parse_config
from bridgebot.core.topology import build_topology
from bridgebot.model import Author, RoomRef
from rules import MessageFacts, Privacy, routes

CONFIG = """
[networks.api.x]
bind = "127.0.0.1:1"
[networks.api.y]
bind = "127.0.0.1:2"
[networks.api.z]
bind = "127.0.0.1:3"

[[bridges]]
name = "secret"
  [[bridges.rooms]]
  room = "api.x:api"
  privacy = "closed"
  [[bridges.rooms]]
  room = "api.z:api"
  privacy = "closed"

[[bridges]]
name = "open"
  [[bridges.rooms]]
  room = "api.x:api"
  privacy = "public"
  [[bridges.rooms]]
  room = "api.y:api"
  privacy = "public"
"""

X, Y, Z = RoomRef("api.x", "api"), RoomRef("api.y", "api"), RoomRef("api.z", "api")


def facts(text: str = "hello") -> MessageFacts:
    return MessageFacts(Author("api", "u", "U"), "api.x:u", text, None)


def test_a_room_closed_in_one_bridge_is_closed_in_all() -> None:
    config = parse_config(CONFIG, "bot.toml", settings_models(), {})
    topology = build_topology(config, b"k")
    assert {p.privacy for _, p in topology.memberships(X)} == {Privacy.CLOSED}
    allowed = {r.dest.room for r in routes(topology, X, facts()) if r.decision.allowed}
    assert allowed == {Z}  # never into the public room of the other bridge


def test_overrides_apply_on_top_of_the_file() -> None:
    config = parse_config(CONFIG, "bot.toml", settings_models(), {})
    topology = build_topology(config, b"k", {str(Y): {"receives": False}})
    assert [p.receives for _, p in topology.memberships(Y)] == [False]
    assert [p.receives for _, p in topology.memberships(Z)] == [True]
