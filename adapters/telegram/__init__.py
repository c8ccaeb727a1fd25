"""The Telegram adapter: python-telegram-bot's ``Bot`` with getUpdates long polling.

Rooms are chat ids (``-100…`` for supergroups) or one forum topic as ``CHAT/TOPIC``; see
:mod:`adapters.telegram.translate` for how topics, replies, text and files map.
"""

from __future__ import annotations

import os

# PTB 22 warns on every read of a duration attribute (RetryAfter.retry_after) unless this
# opt-in to its future timedelta values is set; the adapter handles both types.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from adapters.base import AdapterSetup, NetworkSpec
from adapters.settings import TelegramSettings
from adapters.telegram.client import TelegramAdapter
from adapters.telegram.translate import NETWORK

__all__ = ["NETWORK", "SPEC", "TelegramAdapter", "create"]


def create(setup: AdapterSetup) -> TelegramAdapter:
    """Build the adapter for one ``[networks.telegram.NAME]`` account."""
    return TelegramAdapter(setup)


SPEC = NetworkSpec(name=NETWORK, settings=TelegramSettings, factory=create)
