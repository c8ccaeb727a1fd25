"""The running core: one message from an adapter, through the rules, into the outbox and out.

Holds: the Hub that accepts events (:mod:`.hub`), the pure router that plans deliveries
(:mod:`.router`), the per-room arrival order (:mod:`.sequencer`), the dispatcher that
drains the outbox (:mod:`.dispatcher`), the adapters' supervisor (:mod:`.supervisor`), the
compiled topology of bridges and rooms (:mod:`.topology`), roles (:mod:`.roles`), consent
holds (:mod:`.consent`), metrics (:mod:`.metrics`) and the periodic upkeep (:mod:`.upkeep`).

May import: :mod:`bridgebot.model`, :mod:`bridgebot.errors`, :mod:`bridgebot.contract`,
:mod:`bridgebot.pacing`, :mod:`bridgebot.config`, :mod:`bridgebot.store` and :mod:`rules`.
Never :mod:`bridgebot.admin`, the CLI, the web page or an adapter package: those are built
on top of the core and handed to it as callbacks.
"""

from __future__ import annotations
