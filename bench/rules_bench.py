"""How long rules.routes + rules.render take per message for a 4-room bridge.

    .venv/bin/python bench/rules_bench.py

Budget: well under 50 µs per message. Reported, never asserted in the test suite.
"""

from __future__ import annotations

import timeit

from bridgebot.model import Author, RoomRef
from rules import (
    BridgePolicy,
    MessageFacts,
    RoomPolicy,
    Topology,
    builtin_redaction,
    render,
    routes,
)

A, B, C, D = (RoomRef("api.x", n) for n in "abcd")


def facts(text: str) -> MessageFacts:
    return MessageFacts(Author("api", "u1", "Alice"), "api.x:u1", text, None)


def main() -> None:
    redact = (builtin_redaction("email"), builtin_redaction("phone"))
    rooms = tuple(RoomPolicy(r, redact=redact) for r in (A, B, C, D))
    topology = Topology((BridgePolicy("b", "{author} · {network}/{room}", rooms),), b"k")
    messages = [
        facts(f"hi alice@example.org, call 07700 900123 about plan {i}") for i in range(2000)
    ]

    def per_message() -> None:
        for message in messages:
            for route in routes(topology, A, message):
                render(topology, route, message)

    best = min(timeit.repeat(per_message, number=1, repeat=7))
    print(
        f"routes+render, 4-room bridge, 2 redactions: {best / len(messages) * 1e6:.1f} µs/message"
    )


if __name__ == "__main__":
    main()
