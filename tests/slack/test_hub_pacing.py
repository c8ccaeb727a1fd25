"""Slack through a real bridge, where only Slack's limits and sockets matter: bursts paced
under the lab's rate limit, pacing set too fast (429s waited out and counted), and a Socket
Mode drop in the middle of a burst.

Relaying itself (labels, threads, edits, deletes, files...) is the contract suite's
(tests/contract), which runs Slack as one network among the others.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bridgebot.lab.relay import (
    Relay,
    api_table,
    bridge_config,
    eventually,
    free_port,
    running_relay,
)
from bridgebot.lab.slack import SlackLab

#: The lab enforces 50/s, burst 20 (tests/slack/conftest.py); the dispatcher's Slack bucket
#: sits under it, as it should under Slack's real 1/s (see the burst test).
RATES = """
[dispatch.rate.slack]
per_room = 45
room_burst = 19
"""


@asynccontextmanager
async def open_bridge(lab: SlackLab, tmp_path: Path, rates: str) -> AsyncIterator[Relay]:
    """#general on the lab bridged with an API room, paced by ``rates``."""
    lab.add_channel("general")
    port = free_port()
    config = bridge_config(
        api_table("one", port),
        lab.account_toml("work", ping_interval=0.5),
        rooms=["slack.work:#general", "api.one:api"],
        head=rates,
    )
    env = {"SLACK_BOT_TOKEN": lab.bot_token, "SLACK_APP_TOKEN": lab.app_token}
    async with running_relay(config, tmp_path, api_port=port, env=env) as relay:
        await relay.up("slack.work", "api.one")
        await eventually(lambda: bool(lab.sockets.connections), 10)
        yield relay


@pytest.fixture
async def bridge(lab: SlackLab, tmp_path: Path) -> AsyncIterator[Relay]:
    async with open_bridge(lab, tmp_path, RATES) as relay:
        yield relay


def texts(lab: SlackLab) -> list[str]:
    return [str(m["text"]) for m in lab.history("general")]


async def test_burst_through_the_hub_meets_the_limit_without_429(
    bridge: Relay, lab: SlackLab
) -> None:
    """60 API posts into one Slack channel: paced by the dispatcher, zero 429s."""
    start = time.monotonic()
    for n in range(60):
        await bridge.api.post(text=f"burst {n}")
    # the lab's history announces nothing: it is looked at every 10 ms
    await eventually(lambda: len(lab.history("general")) >= 60, 20, interval=0.01)
    elapsed = time.monotonic() - start
    ideal = (60 - 20) / 50
    print(
        f"slack relay burst: 60 in {elapsed:.2f}s, ideal {ideal:.2f}s, 429s {lab.api.rate_limited}"
    )
    assert lab.api.rate_limited == 0
    assert texts(lab) == [f"burst {n}" for n in range(60)]


async def test_pacing_faster_than_slack_meets_429s_loses_nothing_and_counts_them(
    lab: SlackLab, tmp_path: Path
) -> None:
    """A bot.toml that paces above the server's limit: the lab answers 429, the dispatcher
    waits its Retry-After, every post lands once in order, and /metrics counts each 429."""
    too_fast = "[dispatch.rate.slack]\nper_room = 500\nroom_burst = 100\n"
    async with open_bridge(lab, tmp_path, too_fast) as relay:
        for n in range(60):
            await relay.api.post(text=f"burst {n}")
        await eventually(lambda: len(lab.history("general")) >= 60, 20, interval=0.01)
        await relay.delivered()
        assert texts(lab) == [f"burst {n}" for n in range(60)]
        assert lab.api.rate_limited > 0
        metrics = relay.bridge.metrics.render().decode()
        assert f'bridgebot_rate_limited_total{{network="slack"}} {lab.api.rate_limited:.1f}' in (
            metrics
        )


async def test_socket_drop_mid_burst_through_the_hub_loses_nothing(
    bridge: Relay, lab: SlackLab
) -> None:
    alice = lab.add_user("alice", display_name="Alice")
    general = lab.world.find_channel("general")
    assert general is not None
    general.members.add(alice)
    for n in range(30):
        lab.post_as_user("general", alice, f"m{n}")
    # some of them acknowledged on the first socket, the rest still on their way
    await eventually(lambda: bool(lab.sockets.acked), 10, interval=0.001)
    await lab.drop_sockets()
    for n in range(30, 60):
        lab.post_as_user("general", alice, f"m{n}")
    lab.post_as_user("general", alice, "end")
    # a duplicate of any of them would arrive before the message posted after them all
    got = await bridge.api.wait_for(lambda got: bool(got) and got[-1]["text"] == "end")
    assert [m["text"] for m in got] == [*(f"m{n}" for n in range(60)), "end"]  # once, in order
    assert lab.sockets.connects >= 2
