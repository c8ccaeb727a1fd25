"""Relay decisions: may a message cross from one room to another, and why (or why not)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bridgebot.model import Author
from rules.policy import Consent, RoomPolicy
from rules.redact import merge_redactions

__all__ = ["Decision", "MessageFacts", "Pair", "Reason", "decide", "pair"]


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What the rules need to know about one message; ``consented`` comes from the store."""

    author: Author
    author_ref: str
    text: str
    consented: bool | None


@dataclass(frozen=True, slots=True)
class Reason:
    """The outcome of one rule. ``detail`` is for humans and never quotes the message."""

    rule: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a copy may be made, with every rule's outcome in the order checked."""

    allowed: bool
    reasons: tuple[Reason, ...]

    @property
    def withheld_by(self) -> Reason | None:
        """The first rule that failed, or ``None`` if the copy is allowed."""
        for reason in self.reasons:
            if not reason.ok:
                return reason
        return None


_NO_AUTHOR_RULE = Reason("ignore_authors", True, "ignore_authors: no author rule matches")
_NO_TEXT_RULE = Reason("ignore_text", True, "ignore_text: no text rule matches")


def _first_match(patterns: tuple[re.Pattern[str], ...], *subjects: str) -> str | None:
    for pattern in patterns:
        for subject in subjects:
            if pattern.search(subject):
                return pattern.pattern
    return None


def _privacy(origin: RoomPolicy, dest: RoomPolicy) -> Reason:
    ok = dest.privacy >= origin.privacy
    verb = "may" if ok else "may not"
    return Reason(
        "privacy",
        ok,
        f"privacy: {origin.privacy.label} room {origin.room} {verb} send to "
        f"{dest.privacy.label} room {dest.room}",
    )


def _network(origin: RoomPolicy, dest: RoomPolicy) -> Reason:
    network = dest.room.network
    if origin.networks is None:
        return Reason("network", True, f"network: {origin.room} may send to any network")
    allowed = ", ".join(sorted(origin.networks)) or "none"
    if network in origin.networks:
        return Reason("network", True, f"network: {network} is in {origin.room}'s networks")
    return Reason(
        "network",
        False,
        f"network: {dest.room} is on {network}, not in {origin.room}'s networks ({allowed})",
    )


def _consent(origin: RoomPolicy, facts: MessageFacts | None) -> Reason:
    if origin.consent is not Consent.OPT_IN or facts is None:
        return Reason("consent", True, f'consent: {origin.room} has consent = "{origin.consent}"')
    who = f"author {facts.author_ref}"
    asks = f'(room asks for consent = "{Consent.OPT_IN}")'
    if facts.consented is True:
        return Reason("consent", True, f"consent: {who} has opted in {asks}")
    if facts.consented is False:
        return Reason("consent", False, f"consent: {who} has opted out {asks}")
    return Reason("consent", False, f"consent: {who} has not opted in {asks}")


def _ignore_authors(origin: RoomPolicy, dest: RoomPolicy, facts: MessageFacts) -> Reason:
    subjects = (facts.author.display_name, facts.author.user_id, facts.author_ref)
    hit = _first_match(origin.ignore_authors, *subjects)
    if hit is not None:
        return Reason(
            "ignore_authors",
            False,
            f"ignore_authors: {origin.room} does not send messages from "
            f"{facts.author_ref} (pattern {hit!r})",
        )
    hit = _first_match(dest.ignore_authors, *subjects)
    if hit is not None:
        return Reason(
            "ignore_authors",
            False,
            f"ignore_authors: {dest.room} does not want messages from "
            f"{facts.author_ref} (pattern {hit!r})",
        )
    return _NO_AUTHOR_RULE


def _ignore_text(origin: RoomPolicy, dest: RoomPolicy, facts: MessageFacts) -> Reason:
    # The detail names the pattern, which is config, and never the text, which is content.
    hit = _first_match(origin.ignore_text, facts.text)
    if hit is not None:
        return Reason(
            "ignore_text",
            False,
            f"ignore_text: the text matches {origin.room}'s pattern {hit!r}",
        )
    hit = _first_match(dest.ignore_text, facts.text)
    if hit is not None:
        return Reason(
            "ignore_text",
            False,
            f"ignore_text: the text matches {dest.room}'s pattern {hit!r}",
        )
    return _NO_TEXT_RULE


class Pair:
    """What a copy from one room to another needs that does not depend on the message.

    Computed once per (origin, dest) and memoised on the origin policy, so that the
    per-message path only checks the author and text rules.
    """

    __slots__ = ("attribution", "consent", "dest", "ok", "reasons", "redact")

    def __init__(self, origin: RoomPolicy, dest: RoomPolicy) -> None:
        self.dest = dest
        if dest.room == origin.room:
            same = Reason("origin", False, f"origin: {dest.room} is the origin room")
        else:
            same = Reason("origin", True, f"origin: {dest.room} is not the origin room")
        sends = Reason(
            "sends",
            origin.sends,
            f"sends: {origin.room} sends"
            if origin.sends
            else f"sends: {origin.room} has sends = false",
        )
        receives = Reason(
            "receives",
            dest.receives,
            f"receives: {dest.room} receives"
            if dest.receives
            else f"receives: {dest.room} has receives = false",
        )
        self.reasons = (same, sends, receives, _privacy(origin, dest), _network(origin, dest))
        self.ok = all(r.ok for r in self.reasons)
        self.redact = merge_redactions(origin.redact, dest.redact)
        # The stricter attribution of the two rooms wins: either side can ask for anonymity.
        self.attribution = max(origin.attribution, dest.attribution, key=lambda a: a.strictness)
        # Where consent is implied, the consent reason does not depend on the author either.
        self.consent = _consent(origin, None) if origin.consent is Consent.IMPLIED else None


_PAIR_CACHE_LIMIT = 4096


def pair(origin: RoomPolicy, dest: RoomPolicy) -> Pair:
    """The memoised :class:`Pair` for a copy from ``origin`` to ``dest``."""
    cache = origin.pair_cache
    found = cache.get(id(dest))
    # The entry holds ``dest`` itself, so its id cannot be reused while the entry exists.
    if not isinstance(found, Pair) or found.dest is not dest:
        if len(cache) >= _PAIR_CACHE_LIMIT:
            cache.clear()  # only callers that build throwaway policies ever get here
        found = cache[id(dest)] = Pair(origin, dest)
    return found


def decide(origin: RoomPolicy, dest: RoomPolicy, facts: MessageFacts) -> Decision:
    """Check every relay rule for a copy of ``facts`` from ``origin`` to ``dest``.

    All rules are evaluated, so that an explanation shows the whole chain; the copy is
    allowed only if every one passes. Rules, in order: origin, sends, receives, privacy,
    network, consent, ignore_authors, ignore_text.
    """
    static = pair(origin, dest)
    consent = static.consent or _consent(origin, facts)
    authors = (
        _ignore_authors(origin, dest, facts)
        if origin.ignore_authors or dest.ignore_authors
        else _NO_AUTHOR_RULE
    )
    text = (
        _ignore_text(origin, dest, facts)
        if origin.ignore_text or dest.ignore_text
        else _NO_TEXT_RULE
    )
    allowed = static.ok and consent.ok and authors.ok and text.ok
    return Decision(allowed, (*static.reasons, consent, authors, text))
