"""The adapter contract, re-exported for adapter modules (see bridgebot.contract)."""

from __future__ import annotations

from bridgebot.contract import Adapter, AdapterContext, AdapterSetup, Emit, NetworkSpec
from bridgebot.errors import AdapterError, PermanentError, RateLimited, TransientError
from bridgebot.model import Capabilities

__all__ = [
    "Adapter",
    "AdapterContext",
    "AdapterError",
    "AdapterSetup",
    "Capabilities",
    "Emit",
    "NetworkSpec",
    "PermanentError",
    "RateLimited",
    "TransientError",
]
