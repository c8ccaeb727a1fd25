"""The policy engine: which rooms a message may reach, how it is transformed, and why.

Pure functions over frozen data: no I/O, no asyncio, no logging. The config loader builds a
:class:`Topology` once (regexes and label templates compiled there); the router calls
:func:`routes` and :func:`render` per message; ``bridgebot rules explain`` calls :func:`explain`.
"""

from __future__ import annotations

from rules.decide import Decision, MessageFacts, Reason, decide
from rules.explain import explain
from rules.label import LABEL_FIELDS, MAX_NAME_LENGTH, clean_name, validate_label
from rules.policy import Attribution, BridgePolicy, Consent, Privacy, RoomPolicy, Topology
from rules.redact import (
    BUILTIN_REDACTIONS,
    Redaction,
    apply_redactions,
    builtin_redaction,
    custom_redaction,
)
from rules.render import ANONYMOUS, Rendered, pseudonym, render
from rules.route import Route, hashtags, routes

__all__ = [
    "ANONYMOUS",
    "BUILTIN_REDACTIONS",
    "LABEL_FIELDS",
    "MAX_NAME_LENGTH",
    "Attribution",
    "BridgePolicy",
    "Consent",
    "Decision",
    "MessageFacts",
    "Privacy",
    "Reason",
    "Redaction",
    "Rendered",
    "RoomPolicy",
    "Route",
    "Topology",
    "apply_redactions",
    "builtin_redaction",
    "clean_name",
    "custom_redaction",
    "decide",
    "explain",
    "hashtags",
    "pseudonym",
    "render",
    "routes",
    "validate_label",
]
