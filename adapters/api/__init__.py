"""The matterbridge-compatible HTTP API network: ``[networks.api.NAME]``, one room ``api``.

See :mod:`adapters.api.adapter` for the routes and where we differ from matterbridge,
:mod:`adapters.api.fanout` for delivery and :mod:`adapters.api.wire` for the JSON shapes.
"""

from __future__ import annotations

from adapters.settings import ApiSettings
from bridgebot.contract import AdapterSetup, NetworkSpec

from .adapter import API_ROOM, ApiAdapter

__all__ = ["API_ROOM", "SPEC", "ApiAdapter", "create"]


def create(setup: AdapterSetup) -> ApiAdapter:
    """Build the adapter for one ``[networks.api.NAME]`` account."""
    return ApiAdapter(setup)


SPEC = NetworkSpec(name="api", settings=ApiSettings, factory=create)
