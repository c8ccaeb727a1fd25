"""The command line: ``bridgebot run|check|rules|announce|audit|status|dead-letters|demo``.

Holds: argument parsing and the commands (:mod:`.main`), the admin commands that read the
store of a bridge that may be running in another process (:mod:`.admin`, :mod:`.announce`),
log set-up (:mod:`.logs`) and the bot.toml watcher that reloads the rules (:mod:`.watch`).

May import anything in :mod:`bridgebot` and :mod:`adapters` (it is a composition root: it
picks the adapters and builds the running bridge); nothing imports it but ``__main__``.
"""

from __future__ import annotations
