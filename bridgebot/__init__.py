"""bridgebot: a durable, privacy-respecting chat bridge.

The packages, from the bottom up (docs/architecture.md has the whole picture):

- :mod:`bridgebot.model`, :mod:`bridgebot.errors`, :mod:`bridgebot.contract`,
  :mod:`bridgebot.pacing`: the shared vocabulary (the canonical events, the error
  hierarchy, the adapter contract, rate limits and backoff). Adapters import only these.
- :mod:`bridgebot.config`: bot.toml into typed objects.
- :mod:`bridgebot.store`: the durable state behind one interface.
- :mod:`bridgebot.core`: the running bridge (Hub, router, dispatcher, supervisor).
- :mod:`bridgebot.admin`: what admins and facilitators do (commands, announcements,
  links, rule changes), built on the core.
- :mod:`bridgebot.web`: the admin page; :mod:`bridgebot.cli`: the command line;
  :mod:`bridgebot.demo` and :mod:`bridgebot.lab`: the local lab servers and the demo.

Imports point down this list, never up; ``tests/structure/test_import_graph.py`` checks it.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
