"""Per-destination transforms: redaction, attribution and the origin label."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

from rules.decide import MessageFacts, pair
from rules.label import clean_name, join_label, split_label
from rules.policy import Attribution, BridgePolicy, RoomPolicy, Topology
from rules.redact import redact_text
from rules.route import Route

__all__ = ["ANONYMOUS", "Rendered", "pseudonym", "render"]

#: What ``{author}`` shows in a label when attribution is ``"none"``, or when a display name
#: and user id are both empty once cleaned.
ANONYMOUS = "someone"

_LABEL_CACHE_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message as one destination will show it.

    ``author_name`` is the attributed name ("" for attribution ``none``); ``show_avatar`` is
    true only for attribution ``name``.
    """

    text: str
    label: str
    author_name: str
    show_avatar: bool


@lru_cache(maxsize=4096)
def pseudonym(secret: bytes, bridge: str, author_ref: str) -> str:
    """A stable, irreversible name for an author within one bridge: ``"Member 4F2A-91C0"``.

    HMAC-SHA256 keyed by the bot's secret, so that nobody without the secret can link a
    pseudonym to a person by hashing candidate ids, and the same person gets unrelated
    pseudonyms in different bridges.
    """
    digest = hmac.new(secret, f"{bridge}\0{author_ref}".encode(), hashlib.sha256).hexdigest()
    code = digest[:8].upper()
    return f"Member {code[:4]}-{code[4:]}"


def _label_pieces(
    bridge: BridgePolicy, origin: RoomPolicy
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    # Everything in the label but the author is fixed per (bridge, origin room): fill it once.
    cache = bridge.label_cache
    found = cache.get(id(origin))
    if found is None or found[0] is not origin:
        if len(cache) >= _LABEL_CACHE_LIMIT:
            cache.clear()
        values = {
            "network": origin.room.network,
            "account": origin.room.account,
            "room": origin.display_name,
            "bridge": bridge.name,
        }
        chunks, specs = split_label(bridge.label_parts, values)
        found = cache[id(origin)] = (origin, chunks, specs)
    return found[1], found[2]


def render(topology: Topology, route: Route, facts: MessageFacts) -> Rendered:
    """The text, label and identity that ``route.dest`` gets for this message.

    Redactions of both rooms apply; the stricter attribution of the two wins. Under
    attribution ``none`` the label's ``{author}`` reads "someone".
    """
    fixed = pair(route.origin, route.dest)
    text = redact_text(fixed.redact, facts.text)
    attribution = fixed.attribution
    if attribution is Attribution.NAME:
        name = clean_name(facts.author.display_name) or clean_name(facts.author.user_id)
        name = shown = name or ANONYMOUS
    elif attribution is Attribution.PSEUDONYM:
        name = shown = pseudonym(topology.secret, route.bridge.name, facts.author_ref)
    else:
        name, shown = "", ANONYMOUS
    chunks, specs = _label_pieces(route.bridge, route.origin)
    label = join_label(chunks, specs, shown)
    return Rendered(text, label, name, attribution is Attribution.NAME)
