"""Discord: discord.py on the gateway, channel webhooks for per-author names (issue 5)."""

from __future__ import annotations

from adapters.discord.client import DiscordAdapter, point_library_at
from adapters.discord.translate import NETWORK
from adapters.settings import DiscordSettings
from bridgebot.contract import AdapterSetup, NetworkSpec

__all__ = ["NETWORK", "SPEC", "DiscordAdapter", "create", "point_library_at"]


def create(setup: AdapterSetup) -> DiscordAdapter:
    """Build the adapter for one ``[networks.discord.NAME]`` account."""
    return DiscordAdapter(setup)


SPEC = NetworkSpec(name=NETWORK, settings=DiscordSettings, factory=create)
