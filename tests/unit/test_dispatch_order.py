"""A fan-out wakes its rooms most slowly paced first (longest job first).

The rooms' accounts have no adapter here, so each room's first attempt fails at once and
becomes a dead letter: the dead letters' order is the order the workers ran in.
"""

from __future__ import annotations

import json
from pathlib import Path

from bridgebot.config import DispatchConfig
from bridgebot.core.dispatcher import Dispatcher
from bridgebot.store import NewDelivery, open_store

# In the order a bridge might list them; the defaults pace Telegram at 1/s with no burst,
# Slack at 1/s with a burst of 2, email at 1/s with a burst of 5, Discord at 5/s, and
# Matrix and the API per room not at all.
ROOMS = [
    "api.one:api",
    "discord.guild:42",
    "email.list:team@lists.example",
    "matrix.home:!r:example.org",
    "slack.work:C1",
    "telegram.bot:-100",
]


async def test_the_most_slowly_paced_rooms_start_first(tmp_path: Path) -> None:
    store = await open_store(tmp_path / "bridge.db")
    try:
        deliveries = [NewDelivery(room, "message", json.dumps({"text": "hi"}), None)
                      for room in ROOMS]  # fmt: skip
        assert await store.accept_message("api.one:api", "m1", "api.one:ann", None, 1.0,
                                          deliveries) is not None  # fmt: skip
        dispatcher = Dispatcher(
            store, {}, DispatchConfig(), lambda account: True, on_rate_limited=lambda room: None
        )
        dispatcher.notify_all(ROOMS)
        await dispatcher.idle()
        ran = [d.dest_room for d in reversed(await store.dead_letters())]
    finally:
        await store.close()
    assert ran == [
        "telegram.bot:-100",
        "slack.work:C1",
        "email.list:team@lists.example",
        "discord.guild:42",
        "api.one:api",
        "matrix.home:!r:example.org",
    ]
