"""What admins and facilitators do: chat commands, announcements, links and rule changes.

Holds: the chat commands (:mod:`.commands`), announcements (:mod:`.announcements` for the
pure parts and the store rows, :mod:`.announcer` for the running side), links made in chat
(:mod:`.links`) and ``rules export`` (:mod:`.rules_export`).

May import: the running core (:mod:`bridgebot.core`), :mod:`bridgebot.store`,
:mod:`bridgebot.config`, :mod:`bridgebot.model`, :mod:`bridgebot.errors` and :mod:`rules`.
The core never imports this package.
"""

from __future__ import annotations
