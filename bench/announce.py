"""Announcement benchmark: `!announce` to 50 rooms across the networks, against the floor the
lab servers' rate limits allow.

Starts the Slack, Discord and Telegram labs with their default (published) limits, a real
Synapse (rc_message as bridgebot/lab/synapse.py configures it) and a real Dovecot behind the
lab list server, with ROOMS rooms on each network (default 10: 50 rooms) plus a Slack
channel #facilitators, all public, in one bridge; then a real Hub in this process
(bridgebot.testing.running_hub) with the default [dispatch] rates. A facilitator types K
`!announce` lines in #facilitators, back to back, as a person would; each copy is timed
from the first line until it is in its room (seen in the lab's state, polled every 10 ms;
on Matrix, Synapse's origin_server_ts). "settled" is when the dispatcher recorded it.

The floor (bench/announce_floor.py) is how soon the labs' limits let all those sends be
done with zero latency; "pacing" the same for the dispatcher's own token buckets, "both"
for the two together. Each lab reports its 429s; Synapse's are counted where the Matrix
adapter passes them on (every M_LIMIT_EXCEEDED becomes RateLimited, which the dispatcher
logs). The target is landed / floor <= 1.1 with no 429.

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
import json
import logging
import sys
import tempfile
import time
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import announce_floor as floor  # bench/ is on sys.path when run as a script

from bridgebot.dispatcher import Dispatcher
from bridgebot.lab.discord import DiscordLab
from bridgebot.lab.mail import MailLab
from bridgebot.lab.slack import SlackLab
from bridgebot.lab.synapse import Synapse
from bridgebot.lab.telegram import TelegramLab
from bridgebot.store import OutboxItem
from bridgebot.testing import running_hub

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
        this is polled every 10 ms in the process that also runs the labs and the Hub."""
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

    def refused(self, passed_on: Counter[str]) -> dict[str, int]:
        """network → 429s its server answered."""
        return {
            "slack": self.slack.api.rate_limited,
            "discord": self.discord.ratelimiter.refused,
            "telegram": self.telegram.rate_limited,
            "matrix": passed_on["matrix"],
            "email": passed_on["email"],  # the list server never answers one
        }


class RateLimitedLog(logging.Handler):
    """Counts the dispatcher's "rate limited" lines per network (429s adapters passed on)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.by_network: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if "rate limited" in str(record.msg) and isinstance(record.args, tuple):
            self.by_network[str(record.args[0]).split(".", 1)[0]] += 1


@dataclass
class Result:
    label: str
    k: int
    rooms: int
    landed: dict[str, float]  # network → seconds until its last copy was in its room
    settled: dict[str, float]  # network → seconds until the dispatcher recorded the last
    floors: dict[str, floor.Floors]
    refused: dict[str, int]  # network → 429s

    @property
    def measured(self) -> float:
        return max(self.landed.values())

    @property
    def floor(self) -> float:
        return max(f.lab for f in self.floors.values())


def observe_settled(dispatcher: Dispatcher, origin: str) -> tuple[dict[str, float], Counter[str]]:
    """Chain an observer onto the dispatcher's settle callback: room → when its last
    delivery settled, and how many have (the origin room's answers left out)."""
    last: dict[str, float] = {}
    done: Counter[str] = Counter()
    previous = dispatcher.on_settled

    def observe(item: OutboxItem, outcome: str, detail: str | None) -> None:
        if item.dest_room != origin:
            last[item.dest_room] = time.time()
            done["all"] += 1
        if previous is not None:
            previous(item, outcome, detail)

    dispatcher.on_settled = observe
    return last, done


def latest(times: dict[str, float], start: float) -> dict[str, float]:
    """room key → time, to network → seconds from ``start`` until its latest."""
    out: dict[str, float] = {}
    for room, at in times.items():
        net = room.split(".", 1)[0]
        out[net] = max(out.get(net, 0.0), at - start)
    return out


async def measure(
    synapse: Synapse, mail: MailLab, n: int, k: int, label: str, toml: str
) -> Result:
    """K announcements to ``n`` rooms per network, with ``toml`` added to bot.toml."""
    world = World(synapse, mail)
    await world.start(n, f"k{k}-{time.time_ns() % 10**8}")
    passed_on = RateLimitedLog()
    dispatch_log = logging.getLogger("bridgebot.dispatch")
    dispatch_log.addHandler(passed_on)
    dispatch_log.setLevel(logging.INFO)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-announce-") as tmp:
            async with running_hub(world.toml + toml, Path(tmp), env=world.env) as hub:
                supervisor, dispatcher = hub.supervisor, hub.dispatcher
                assert supervisor is not None and dispatcher is not None
                async with asyncio.timeout(60):
                    while not all(supervisor.is_up(a) for a in hub.adapters):
                        await asyncio.sleep(0.05)
                settled, done = observe_settled(dispatcher, f"slack.lab:{world.origin}")
                counts = world.counts()
                arrivals: dict[str, list[float]] = defaultdict(list)
                start = time.time()
                for i in range(k):
                    world.slack.post_as_user(world.origin, world.fran, f"!announce news {i}")
                async with asyncio.timeout(WAIT):
                    while True:
                        now = time.time()
                        for room, count in counts.items():
                            arrivals[room] += [now] * (count() - len(arrivals[room]))
                        if done["all"] >= 5 * n * k and min(map(len, arrivals.values())) >= k:
                            break
                        await asyncio.sleep(0.01)
                arrivals.update(await world.matrix_times())
                rates = dict(hub.config.dispatch.rate)
    finally:
        dispatch_log.removeHandler(passed_on)
        await world.stop()
    for room, times in arrivals.items():
        assert len(times) == k, f"{room}: {len(times)} copies, expected {k}"
    floors = {
        net: floor.floors(partial(world.lab_streams, net, k), rates.get(net), n, k)
        for net in NETWORKS
    }
    landed = latest({room: times[-1] for room, times in arrivals.items()}, start)
    refused = world.refused(passed_on.by_network)
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
