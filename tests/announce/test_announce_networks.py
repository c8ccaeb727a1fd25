"""`!announce` typed in Slack reaches Matrix, Discord, Telegram and an email list, and says so.

A facilitator types the command in the Slack lab as a person would; the copies are read
where each network's people would read them (the Discord and Telegram labs, the real
Synapse's room history, the list server and a subscriber's Dovecot mailbox). The bot
answers in Slack twice: at once (queued for N rooms), and when every delivery has settled
(landed in L of N, then one line per failure). `bridgebot announce --status ID` is run as
the admin would, as a separate process on the same store.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

from bridgebot.app import Bridge
from tests.announce.conftest import WAIT, Networks, bridged
from tests.support import mailbox

TEXT = "Budget meeting moved to 3pm"
QUEUED = re.compile(r"announcement (\d+) queued for (\d+) rooms: (.*)", re.DOTALL)


async def status(networks: Networks, workdir: Path, ident: str) -> tuple[int, str]:
    """`bridgebot announce --status ID`: (exit code, what it printed)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bridgebot.cli",
        "announce",
        "--status",
        ident,
        "--config",
        str(workdir / "bot.toml"),
        env={**os.environ, **networks.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    async with asyncio.timeout(WAIT):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()


def queued(answer: str, destinations: list[str]) -> str:
    """Check the immediate answer names every destination; return the announcement's id."""
    match = QUEUED.fullmatch(answer)
    assert match is not None, answer
    ident, count, rooms = match.groups()
    assert int(count) == len(destinations)
    assert sorted(r.strip() for r in rooms.split(",")) == sorted(destinations)
    return ident


def plain_text(raw: bytes) -> str:
    body = message_from_bytes(raw, policy=policy.default).get_body(("plain",))
    assert body is not None, raw
    return str(body.get_content())


async def copies(networks: Networks) -> dict[str, list[str]]:
    """What arrived in each destination room, as its network's people see it, with the
    author as that network shows them."""
    n = networks
    matrix = [
        f"{e['content']['msgtype']} {e['content']['body']}"
        for e in await n.dana.messages(n.matrix_room)
        if e["sender"] != n.dana.user.user_id
    ]
    discord = [
        f"{m['author']['username']}: {m['content']}" for m in n.discord.history(n.discord_channel)
    ]
    telegram = [str(m.get("text")) for m in n.telegram.history(n.telegram_chat)]
    listed = [
        f"{message_from_bytes(r['raw'], policy=policy.default)['From'].addresses[0].display_name}"
        f": {r['text'].strip()}"
        for r in n.mail.history(n.mail_list)
    ]
    inbox = [plain_text(raw) for raw in await mailbox(n.mail.imap_port, n.reader, "pw")]
    return {
        "matrix": matrix,
        "discord": discord,
        "telegram": telegram,
        "email list": listed,
        "email inbox": [text.strip() for text in inbox],
    }


async def announce(networks: Networks) -> tuple[str, str]:
    """Gus asks for help first, so that the announcement's id and the id of its message in
    the store differ (a report must not mix them up); then Fran announces. Returns the
    bot's two answers to her."""
    networks.slack.post_as_user("#general", networks.gus, "!bridge help")
    await networks.wait_answers(1)
    networks.slack.post_as_user("#general", networks.fran, f"!announce {TEXT}")
    _help, first, summary = await networks.wait_answers(3)
    return first, summary


async def settled(hub: Bridge) -> None:
    """Wait until the dispatcher has nothing left to do."""
    await hub.dispatcher.idle(WAIT)


async def test_an_announcement_from_slack_lands_once_everywhere_and_is_reported(
    networks: Networks, tmp_path: Path
) -> None:
    async with bridged(networks, tmp_path) as hub:
        first, summary = await announce(networks)
        ident = queued(first, networks.destinations)
        assert summary == f"announcement {ident}: landed in 4 of 4 rooms"
        await settled(hub)
        got = await copies(networks)
        code, report = await status(networks, tmp_path, ident)
    assert got == {
        "matrix": [f"m.notice Fran · slack: {TEXT}"],
        "discord": [f"Fran · slack: {TEXT}"],
        "telegram": [f"Fran · slack: {TEXT}"],
        "email list": [f"Fran · slack: {TEXT}"],
        "email inbox": [TEXT],
    }
    assert len(networks.slack_answers()) == 3  # nothing more was said
    assert code == 0, report
    assert f"announcement {ident}: 4 landed, 0 queued, 0 failed" in report
    landed = sorted(line.split()[1] for line in report.splitlines() if "  landed  " in line)
    assert landed == sorted(networks.destinations)


async def test_a_room_that_refuses_the_bot_is_named_with_the_reason_and_the_rest_land(
    networks: Networks, tmp_path: Path
) -> None:
    closed = networks.add_discord_channel_without_permissions()
    closed_room = f"discord.lab:{closed}"
    async with bridged(networks, tmp_path) as hub:
        first, summary = await announce(networks)
        ident = queued(first, networks.destinations)
        await settled(hub)
        got = await copies(networks)
        code, report = await status(networks, tmp_path, ident)
    headline, *failures = summary.splitlines()
    assert headline == f"announcement {ident}: landed in 4 of 5 rooms"
    (failure,) = failures
    assert failure.startswith(f"failed {closed_room}: ")
    assert "Missing Permissions" in failure, failure
    assert networks.discord.history(closed) == []
    assert all(len(seen) == 1 for seen in got.values()), got
    assert code == 1, report
    assert f"announcement {ident}: 4 landed, 0 queued, 1 failed" in report
    (failed_line,) = [line for line in report.splitlines() if "  failed  " in line]
    assert f"failed  {closed_room}: " in failed_line and "Missing Permissions" in failed_line
    landed = sorted(line.split()[1] for line in report.splitlines() if "  landed  " in line)
    assert landed == sorted(r for r in networks.destinations if r != closed_room)


async def test_someone_who_is_not_a_facilitator_is_refused_and_nothing_is_sent(
    networks: Networks, tmp_path: Path
) -> None:
    async with bridged(networks, tmp_path) as hub:
        networks.slack.post_as_user("#general", networks.gus, f"!announce {TEXT}")
        (answer,) = await networks.wait_answers(1)
        await settled(hub)
        got = await copies(networks)
        depths = await hub.store.queue_depths()
        dead = await hub.store.dead_letters()
        audit = await hub.store.audit_log()
    assert answer.startswith(
        f"only facilitators may announce; slack.lab:{networks.gus} is not in [roles] facilitators"
    )
    assert got == {key: [] for key in got}
    assert sum(depths.values()) == 0 and dead == []
    assert [e for e in audit if e.action == "announce"] == []
    assert len(networks.slack_answers()) == 1  # and no "landed" summary follows
