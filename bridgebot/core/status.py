"""The running bridge's status snapshot: `bridgebot status`, `!bridge status`, the admin
page and ``/health`` all read this one shape."""

from __future__ import annotations

import time
from typing import Any

from bridgebot.core.dispatcher import Dispatcher
from bridgebot.core.metrics import Metrics
from bridgebot.core.supervisor import AdapterStates

__all__ = ["Status"]


class Status:
    """Reads the adapters' states and the counters; holds nothing of its own."""

    def __init__(self, states: AdapterStates, dispatcher: Dispatcher, metrics: Metrics) -> None:
        self._states = states
        self._dispatcher = dispatcher
        self._metrics = metrics
        self.started_at = time.time()

    def __call__(self) -> dict[str, Any]:
        """A snapshot in plain values (it is stored as JSON for another process to read)."""
        return {
            "ts": time.time(),
            "started_at": self.started_at,
            "adapters": self._states.snapshot(),
            "relayed": self._metrics.relayed_total,
            "withheld": self._metrics.withheld_total,
            "sent": self._dispatcher.sent,
            "dead": self._dispatcher.dead,
        }
