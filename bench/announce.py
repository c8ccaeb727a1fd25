"""Announcement benchmark: `!announce` to 50 rooms across the networks, against the floor the
lab servers' rate limits allow.

Starts the Slack, Discord and Telegram labs with their default (published) limits, a real
Synapse (rc_message as bridgebot/lab/synapse.py configures it) and a real Dovecot behind the
lab list server, with ROOMS rooms on each network (default 10: 50 rooms) plus a Slack
channel #facilitators, all public, in one bridge; then `bridgebot run` in a process of its
own, as an admin runs it, with the default [dispatch] rates (the labs stay in this one, so
like real servers they do not share the bridge's event loop). A facilitator types K
`!announce` lines in #facilitators, back to back, as a person would; each copy is timed
from the first line until it is in its room (seen in the lab's state, polled every 10 ms;
on Matrix, Synapse's origin_server_ts). "settled" is when the bridge's store recorded it;
a run ends when the bot has answered each announcement with where it landed.

The floor (bench/announce_floor.py) is how soon the labs' limits let all those sends be
done with zero latency; "pacing" the same for the dispatcher's own token buckets, "both"
for the two together. Each lab reports its 429s; Synapse's are counted where the Matrix
adapter passes them on (every M_LIMIT_EXCEEDED becomes RateLimited, which the bridge counts
in bridgebot_rate_limited_total on its /metrics). The target is landed / floor <= 1.1 with no 429.

    .venv/bin/python bench/announce.py [--rooms 10] [--series 1 10] [--no-tuned | --rates FILE]

Each K runs on fresh labs and a fresh Hub (Synapse and Dovecot are shared, with fresh
users and rooms); then K = max(series) once more with TUNED rates (paced at the labs'
exact enforcement, which is faster than Telegram's published 1/s: a comparison, not a
default), or with the
[dispatch.rate] tables of FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sqlite3
import sys
import tempfile
import time
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import aiohttp
import announce_floor as floor  # bench/ is on sys.path when run as a script
from prometheus_client.parser import text_string_to_metric_families

from adapters import settings_models
from bridgebot.config import RateConfig, load_config
from bridgebot.lab.discord import DiscordLab
from bridgebot.lab.harness import free_port
from bridgebot.lab.mail import MailLab
from bridgebot.lab.slack import SlackLab
from bridgebot.lab.synapse import Synapse
from bridgebot.lab.telegram import TelegramLab

WAIT = 300.0  # seconds: the upper bound of a run
NETWORKS = ("slack", "discord", "telegram", "matrix", "email")

#: [dispatch.rate] tables a bot.toml can set today (no code change) to come close. Slack and
#: Telegram paced at 0.95 of the lab's per-room rate (Slack with its burst of 3, Telegram
#: with none: its lab allows 1 message per 0.95 s per chat, so any burst is a 429); Telegram's
#: 20 a minute per group then holds only while a series stays under 20. Discord at 12/s,
#: burst 12: against a fixed 1 s window of 50, a bucket may spend burst + rate in one window,
#: and each channel's first send makes two calls the dispatcher does not count (find or make
#: the webhook): 12 + 12 + 2 x 10 channels = 44 < 50.
TUNED = """
[dispatch.rate.slack]
per_room = 1.0
room_burst = 3
[dispatch.rate.telegram]
per_room = 1.0526
room_burst = 1
"""


@dataclass
class World:
    """The labs, ``n`` rooms on each network, the facilitator and the bot.toml for them."""

    synapse: Synapse
    mail: MailLab
    slack: SlackLab = field(default_factory=SlackLab)
    discord: DiscordLab = field(default_factory=DiscordLab)
    telegram: TelegramLab = field(default_factory=TelegramLab)
    rooms: dict[str, list[str]] = field(default_factory=dict)  # network → room ids
    env: dict[str, str] = field(default_factory=dict)
    toml: str = ""
    fran: str = ""
    origin: str = ""
    reader_token: str = ""

    def lab_streams(self, network: str, k: int) -> floor.Streams:
        """The lab limits K announcements meet, per room and request."""
        n = len(self.rooms[network])
        if network == "slack":
            return floor.slack(self.slack.world, n, k)
        if network == "telegram":
            return floor.telegram(self.telegram.limits, n, k)
        if network == "discord":
            return floor.discord(self.discord.ratelimiter.config, n, k)
        if network == "matrix":
            config = json.loads((self.synapse.base / "homeserver.yaml").read_text())
            rc = config["rc_message"]
            return floor.per_user(float(rc["per_second"]), int(rc["burst_count"]), n, k)
        return floor.unlimited(n, k)  # the list server has no limits

    def counts(self) -> dict[str, Callable[[], int]]:
        """room key → how many messages its lab holds now (not Matrix: see matrix_times).
        Read from the labs' state directly: their history() calls copy every message, and
        this is polled every 10 ms in the process that also runs the labs."""
        slack, discord = self.slack.world.messages, self.discord.world.messages
        chats = {str(c): chat.messages for c, chat in self.telegram.chats.items()}
        out: dict[str, Callable[[], int]] = {}
        for ch in self.rooms["slack"]:
            out[f"slack.lab:{ch}"] = partial(len, slack[ch])
        for ch in self.rooms["discord"]:
            out[f"discord.lab:{ch}"] = partial(len, discord[ch])
        for chat in self.rooms["telegram"]:
            out[f"telegram.lab:{chat}"] = partial(len, chats[chat])
        for address in self.rooms["email"]:
            out[f"email.lab:{address}"] = partial(len, self.mail.lists[address].messages)
        return out

    async def matrix_times(self) -> dict[str, list[float]]:
        """room key → origin_server_ts (s) of each of the bot's messages, oldest first."""
        out = {}
        for room in self.rooms["matrix"]:
            path = f"/_matrix/client/v3/rooms/{urllib.parse.quote(room)}/messages?dir=f&limit=1000"
            got = await asyncio.to_thread(self.synapse.request, "GET", path, None,
                                          self.reader_token)  # fmt: skip
            out[f"matrix.lab:{room}"] = [
                e["origin_server_ts"] / 1000
                for e in got["chunk"]
                if e["type"] == "m.room.message" and e["sender"] == self.env["MATRIX_USER"]
            ]
        return out

    async def start(self, n: int, run: str) -> None:
        for lab in (self.slack, self.discord, self.telegram):
            await lab.start()
        self.fran = self.slack.add_user("fran", display_name="Fran")
        self.origin = self.slack.add_channel("facilitators", members=(self.fran,))
        self.rooms["slack"] = [self.slack.add_channel(f"team-{i}") for i in range(n)]
        self.rooms["discord"] = [self.discord.create_channel(f"team-{i}") for i in range(n)]
        tg_bot = self.telegram.create_bot("bridgebot")
        chats = [self.telegram.create_chat(f"Team {i}", admins=(tg_bot.id,)) for i in range(n)]
        self.rooms["telegram"] = [str(chat.id) for chat in chats]
        bot_address = self.mail.create_user(f"bridge-{run}@bot.example", "pw")
        reader = self.mail.create_user(f"reader-{run}@people.example", "pw")
        self.rooms["email"] = [f"team-{i}-{run}@lists.example" for i in range(n)]
        for address in self.rooms["email"]:
            self.mail.create_list(address, [bot_address, reader])
        bot, dana = await asyncio.gather(
            asyncio.to_thread(self.synapse.register, f"bridgebot-{run}"),
            asyncio.to_thread(self.synapse.register, f"dana-{run}"),
        )
        self.reader_token = dana.access_token
        self.rooms["matrix"] = []
        for i in range(n):
            body = {"name": f"Team {i}", "preset": "public_chat"}
            created = await asyncio.to_thread(
                self.synapse.request, "POST", "/_matrix/client/v3/createRoom", body,
                dana.access_token,
            )  # fmt: skip
            self.rooms["matrix"].append(str(created["room_id"]))
        self.env = {
            "SLACK_BOT_TOKEN": self.slack.bot_token,
            "SLACK_APP_TOKEN": self.slack.app_token,
            "DISCORD_TOKEN": self.discord.bot.token,
            "TELEGRAM_TOKEN": tg_bot.token,
            "MATRIX_TOKEN": bot.access_token,
            "MATRIX_USER": bot.user_id,
            "IMAP_PASSWORD": "pw",
        }
        rooms = [f"slack.lab:{self.origin}"] + [
            f"{net}.lab:{room}" for net in NETWORKS for room in self.rooms[net]
        ]
        self.toml = f"""
[store]
path = "bench.db"
[roles]
facilitators = ["slack.lab:{self.fran}"]
{self.slack.account_toml()}
{self.discord.account_toml(guild_ready_timeout=0.05)}
{self.telegram.account_toml(poll_timeout=1)}
[networks.matrix.lab]
homeserver = "{self.synapse.url}"
user_id = "{bot.user_id}"
access_token = "${{MATRIX_TOKEN}}"
sync_timeout = 5.0
[networks.email.lab]
address = "{bot_address}"
smtp = "smtp://127.0.0.1:{self.mail.smtp_port}"
imap = "imap://{bot_address}:${{IMAP_PASSWORD}}@127.0.0.1:{self.mail.imap_port}"
[[bridges]]
name = "khub"
label = "{{author}} · {{network}}"
""" + "".join(f'  [[bridges.rooms]]\n  room = "{r}"\n  privacy = "public"\n' for r in rooms)

    async def stop(self) -> None:
        for lab in (self.slack, self.discord, self.telegram):
            await lab.stop()

    def summaries(self) -> int:
        """How many "announcement N: landed in …" answers the bot has posted in the origin."""
        return sum(
            "landed in" in str(m.get("text", "")) for m in self.slack.world.messages[self.origin]
        )

    def refused(self, passed_on: Counter[str]) -> dict[str, int]:
        """network → 429s its server answered."""
        return {
            "slack": self.slack.api.rate_limited,
            "discord": self.discord.ratelimiter.refused,
            "telegram": self.telegram.rate_limited,
            "matrix": passed_on["matrix"],
            "email": passed_on["email"],  # the list server never answers one
        }


@dataclass
class Result:
    label: str
    k: int
    rooms: int
    landed: dict[str, float]  # network → seconds until its last copy was in its room
    settled: dict[str, float]  # network → seconds until the bridge's store recorded the last
    floors: dict[str, floor.Floors]
    refused: dict[str, int]  # network → 429s

    @property
    def measured(self) -> float:
        return max(self.landed.values())

    @property
    def floor(self) -> float:
        return max(f.lab for f in self.floors.values())


def latest(times: dict[str, float], start: float) -> dict[str, float]:
    """room key → time, to network → seconds from ``start`` until its latest."""
    out: dict[str, float] = {}
    for room, at in times.items():
        net = room.split(".", 1)[0]
        out[net] = max(out.get(net, 0.0), at - start)
    return out


class Bridge:
    """``bridgebot run`` in a process of its own, as an admin runs it: the labs, like the
    real servers, do not share its event loop. Its admin page tells when it is up and how
    many 429s each network answered; its store, when each delivery settled."""

    def __init__(self, workdir: Path, toml: str, env: dict[str, str]) -> None:
        self.workdir, self.port, self.token = workdir, free_port(), "bench"
        self.config = workdir / "bot.toml"
        self.config.write_text(
            toml + f'\n[web]\nenabled = true\nbind = "127.0.0.1:{self.port}"\n'
            'token = "${BENCH_ADMIN_TOKEN}"\n'
        )
        self.env = {**os.environ, **env, "BENCH_ADMIN_TOKEN": self.token, "PYTHONUNBUFFERED": "1"}
        self.proc: asyncio.subprocess.Process | None = None
        self.log = workdir / "bridgebot.log"

    def rates(self) -> dict[str, RateConfig]:
        """The [dispatch.rate] tables in force: the defaults, with bot.toml's on top."""
        config = load_config(self.config, settings_models(), self.env)
        return dict(config.dispatch.rate)

    async def start(self, http: aiohttp.ClientSession) -> None:
        with self.log.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bridgebot.cli", "run", str(self.config),
                stdout=out, stderr=asyncio.subprocess.STDOUT, cwd=self.workdir, env=self.env,
            )  # fmt: skip
        async with asyncio.timeout(60):
            while True:
                if self.proc.returncode is not None:
                    raise RuntimeError(f"bridgebot exited: {self.log.read_text()[-2000:]}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"http://127.0.0.1:{self.port}/health") as resp:
                        if resp.status == 200:
                            return
                await asyncio.sleep(0.05)

    async def rate_limited(self, http: aiohttp.ClientSession) -> Counter[str]:
        """network → 429s the bridge met (bridgebot_rate_limited_total)."""
        url = f"http://127.0.0.1:{self.port}/metrics"
        async with http.get(url, headers={"Authorization": f"Bearer {self.token}"}) as resp:
            text = await resp.text()
        out: Counter[str] = Counter()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "bridgebot_rate_limited_total":
                    out[sample.labels["network"]] += int(sample.value)
        return out

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(15):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    def settled(self, origin: str) -> dict[str, float]:
        """room key → when the store recorded its latest copy (not the origin's answers)."""
        with contextlib.closing(sqlite3.connect(self.workdir / "bench.db")) as db:
            rows = db.execute(
                "SELECT room, max(created_at) FROM copies WHERE room <> ? GROUP BY room",
                (origin,),
            ).fetchall()
        return {str(room): float(at) for room, at in rows}


async def measure(
    synapse: Synapse, mail: MailLab, n: int, k: int, label: str, toml: str
) -> Result:
    """K announcements to ``n`` rooms per network, with ``toml`` added to bot.toml."""
    world = World(synapse, mail)
    await world.start(n, f"k{k}-{time.time_ns() % 10**8}")
    origin = f"slack.lab:{world.origin}"
    try:
        with tempfile.TemporaryDirectory(prefix="bench-announce-") as tmp:
            bridge = Bridge(Path(tmp), world.toml + toml, world.env)
            async with aiohttp.ClientSession() as http:
                try:
                    await bridge.start(http)
                    counts = world.counts()
                    arrivals: dict[str, list[float]] = defaultdict(list)
                    start = time.time()
                    for i in range(k):
                        world.slack.post_as_user(world.origin, world.fran, f"!announce news {i}")
                    async with asyncio.timeout(WAIT):
                        while min(len(arrivals[room]) for room in counts) < k:
                            now = time.time()
                            for room, count in counts.items():
                                arrivals[room] += [now] * (count() - len(arrivals[room]))
                            await asyncio.sleep(0.01)
                        while True:  # Matrix: Synapse's own timestamps, so no tight polling
                            matrix = await world.matrix_times()
                            if min(map(len, matrix.values())) >= k:
                                break
                            await asyncio.sleep(0.25)
                        # every delivery settled: the bot has answered each announcement
                        while world.summaries() < k:
                            await asyncio.sleep(0.05)
                    arrivals.update(matrix)
                    passed_on = await bridge.rate_limited(http)
                finally:
                    await bridge.stop()
            settled = bridge.settled(origin)
            rates = bridge.rates()
    finally:
        await world.stop()
    for room, times in arrivals.items():
        assert len(times) == k, f"{room}: {len(times)} copies, expected {k}"
    floors = {
        net: floor.floors(partial(world.lab_streams, net, k), rates.get(net), n, k)
        for net in NETWORKS
    }
    landed = latest({room: times[-1] for room, times in arrivals.items()}, start)
    refused = world.refused(passed_on)
    return Result(label, k, 5 * n, landed, latest(settled, start), floors, refused)


def table(results: list[Result]) -> str:
    lines = [
        "| rates | K | network | sends | lab floor s | pacing s | both s | landed s "
        "| settled s | 429s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for net in NETWORKS:
            f = r.floors[net]
            lines.append(
                f"| {r.label} | {r.k} | {net} | {r.rooms // 5 * r.k} | {f.lab:.2f} | "
                f"{f.pacing:.2f} | {f.both:.2f} | {r.landed[net]:.2f} | "
                f"{r.settled.get(net, 0.0):.2f} | {r.refused[net]} |"
            )
    lines.append("")
    lines += [summary(r) for r in results]
    return "\n".join(lines)


def summary(r: Result) -> str:
    if r.floor > 0:
        verdict = f"ratio {r.measured / r.floor:.2f}"
    else:
        verdict = "ratio – (no lab limit binds: the floor is 0)"
    return (
        f"{r.label}, K={r.k}: {r.rooms * r.k} sends to {r.rooms} rooms in {r.measured:.2f} s; "
        f"floor {r.floor:.2f} s; {verdict}; 429s {sum(r.refused.values())}"
    )


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rooms", type=int, default=10, help="rooms per network")
    p.add_argument("--series", type=int, nargs="+", default=[1, 10], help="values of K")
    p.add_argument("--no-tuned", action="store_true", help="skip the run with TUNED rates")
    p.add_argument("--rates", type=Path, help="[dispatch.rate] tables to run instead of TUNED")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger().handlers[0].setLevel(logging.WARNING)  # not the dispatcher's INFO
    runs = [(k, "default rates", "") for k in args.series]
    if args.rates is not None:
        runs.append((max(args.series), f"rates of {args.rates.name}", args.rates.read_text()))
    elif not args.no_tuned:
        runs.append((max(args.series), "tuned rates", TUNED))
    results = []
    with Synapse() as synapse:
        mail = MailLab()  # with its own Dovecot
        await mail.start()
        try:
            for k, label, toml in runs:
                results.append(await measure(synapse, mail, args.rooms, k, label, toml))
                print(summary(results[-1]), file=sys.stderr)
        finally:
            await mail.stop()
    print(table(results))


if __name__ == "__main__":
    asyncio.run(main())
