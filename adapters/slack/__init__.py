"""Slack: slack-bolt over Socket Mode in, the Web API out."""

from __future__ import annotations

from adapters.settings import SlackSettings
from adapters.slack.client import SlackAdapter
from bridgebot.contract import AdapterSetup, NetworkSpec

__all__ = ["NETWORK", "SPEC", "SlackAdapter", "create"]

NETWORK = "slack"


def create(setup: AdapterSetup) -> SlackAdapter:
    """Build the adapter for one ``[networks.slack.NAME]`` account."""
    return SlackAdapter(setup)


SPEC = NetworkSpec(name=NETWORK, settings=SlackSettings, factory=create)
