"""The ``bridgebot`` command line: run, check, rules explain, status, dead-letters, demo.

This module is the composition root: it is the one place in bridgebot/ that names the
adapters package, and it hands the Hub its registry as a parameter.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bridgebot.cli.logs import setup_logging
from bridgebot.config import Config, format_problems, load_config, summary
from bridgebot.errors import BridgeError, ConfigError

if TYPE_CHECKING:
    from aiohttp import web

    from bridgebot.app import Bridge

__all__ = ["main"]

log = logging.getLogger("bridgebot")
DEFAULT_CONFIG = os.environ.get("BRIDGEBOT_CONFIG", "bot.toml")
#: Who the audit log names for actions taken on the command line.
CLI_ACTOR = "cli"


def _load(path: str) -> Config:
    from adapters import settings_models

    if not Path(path).exists():
        raise ConfigError(
            f"{path}: no such file; copy bot.example.toml to {path} and edit it, "
            "or pass the path: bridgebot run PATH"
        )
    return load_config(path, settings_models())


# -- run ------------------------------------------------------------------------------


async def _run(path: str) -> int:
    from adapters import registry
    from bridgebot.app import Bridge
    from bridgebot.cli.watch import ConfigWatcher
    from bridgebot.store import open_store

    config = _load(path)
    setup_logging(config.log.level, config.log.format if not _JSON else "json")
    store = await open_store(config.store.path)
    hub = await Bridge.assemble(config, registry(), store)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    reloads: set[asyncio.Task[None]] = set()
    reloading = asyncio.Lock()  # SIGHUP and the file watcher take turns

    async def reload_now() -> None:
        async with reloading:
            await _reload(hub, path)

    def reload() -> None:
        task = asyncio.create_task(reload_now())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload)
    watcher = ConfigWatcher(path, reload_now) if config.reload.watch else None
    runner: web.AppRunner | None = None
    try:
        await hub.start()
        # Everything loaded so far (the network libraries' modules and classes, hundreds of
        # thousands of objects) lives as long as the process: out of the collector's sight,
        # a full collection no longer stops every room's sends for about 150 ms.
        gc.collect()
        gc.freeze()
        if watcher is not None:
            watcher.start()
        else:
            log.info("not watching %s ([reload] watch = false); SIGHUP reloads the rules", path)
        if config.web.enabled:
            from bridgebot.web import start_web

            runner = await start_web(hub, config)
        log.info(
            "bridgebot is running with %s: %d bridges, %d accounts",
            path,
            len(config.bridges),
            len(config.networks),
        )
        await stop.wait()
        log.info("stopping; undelivered messages stay in the outbox for the next start")
    finally:
        if watcher is not None:
            await watcher.stop()
        if runner is not None:
            await runner.cleanup()
        await hub.stop()
        await store.close()
    return 0


async def _reload(hub: Bridge, path: str) -> None:
    try:
        config = _load(path)
        await hub.reload_rules(config)
    except ConfigError as exc:
        log.error("reload refused; the old rules stay in force:\n%s", format_problems(exc))
        return
    log.info("rules reloaded from %s", path)


# -- check / rules / status / dead letters --------------------------------------------


def _check(path: str) -> int:
    config = _load(path)
    print(f"{path}: OK")
    print(summary(config))
    return 0


async def _with_store(path: str) -> tuple[Config, object]:
    from bridgebot.store import open_store

    config = _load(path)
    return config, await open_store(config.store.path)


async def _explain(path: str, src: str, dst: str, author: str, text: str) -> int:
    from bridgebot.core.rulebook import SECRET_CURSOR
    from bridgebot.core.topology import build_topology
    from bridgebot.model import Author, RoomRef
    from bridgebot.store import Store
    from rules import MessageFacts, explain

    config, store = await _with_store(path)
    assert isinstance(store, Store)
    try:
        secret_hex = await store.get_cursor(SECRET_CURSOR)
        overrides: dict[str, dict[str, object]] = {}
        for room, key, value, _a, _t in await store.overrides():
            overrides.setdefault(room, {})[key] = json.loads(value)
        consented = await store.get_consent(f"{RoomRef.parse(src).account}:{author}")
    finally:
        await store.close()
    topology = build_topology(config, bytes.fromhex(secret_hex or "00"), overrides)
    origin, dest = RoomRef.parse(src), RoomRef.parse(dst)
    facts = MessageFacts(
        author=Author(origin.network, author, author),
        author_ref=f"{origin.account}:{author}",
        text=text,
        consented=consented,
    )
    for line in explain(topology, origin, dest, facts):
        print(line)
    return 0


async def _export(path: str, output: str | None, force: bool) -> int:
    from adapters import settings_models
    from bridgebot.admin.rules_export import export_store, write_atomically
    from bridgebot.config import parse_config
    from bridgebot.store import Store

    _config, store = await _with_store(path)
    assert isinstance(store, Store)
    try:
        exported = await export_store(Path(path), store)
    finally:
        await store.close()
    # Never hand out a file that bridgebot itself would refuse.
    parse_config(exported.text, output or "the exported file", settings_models())
    for line in exported.skipped:
        print(f"bridgebot: not written: {line}", file=sys.stderr)
    if output is None:
        sys.stdout.write(exported.text)
        return 0
    write_atomically(Path(output), exported.text, source=Path(path), force=force)
    print(f"wrote {output} with {len(exported.applied)} changes made in chat", file=sys.stderr)
    return 0


async def _status(path: str) -> int:
    from bridgebot.core.upkeep import STATUS_CURSOR
    from bridgebot.store import Store

    config, store = await _with_store(path)
    assert isinstance(store, Store)
    try:
        raw = await store.get_cursor(STATUS_CURSOR)
        depths = await store.queue_depths()
        dead = await store.dead_letters(limit=1000)
    finally:
        await store.close()
    if raw:
        snap = json.loads(raw)
        age = time.time() - snap["ts"]
        running = "running" if age < 15 else f"not running (last seen {age:.0f}s ago)"
        print(
            f"bridgebot: {running}; relayed {snap['relayed']}, withheld {snap['withheld']}, "
            f"sent {snap['sent']}, dead letters {snap['dead']} since start"
        )
        for account, state in sorted(snap["adapters"].items()):
            detail = f" ({state['detail']})" if state["detail"] else ""
            print(f"  {account:<20} {state['state']}{detail}")
    else:
        print(f"bridgebot: never ran with {config.store.path}")
    print("queue depth per room:" if depths else "queue: empty")
    for room, n in sorted(depths.items()):
        print(f"  {room:<40} {n}")
    print(f"dead letters: {len(dead)}" + ("  (bridgebot dead-letters list)" if dead else ""))
    return 0


async def _admin(path: str, what: str, limit: int) -> int:
    from bridgebot.cli.admin import print_audit, print_rules
    from bridgebot.store import Store

    config, store = await _with_store(path)
    assert isinstance(store, Store)
    try:
        if what == "rules":
            await print_rules(config, store)
        else:
            await print_audit(store, limit)
    finally:
        await store.close()
    return 0


async def _announce(args: argparse.Namespace, text: str) -> int:
    from bridgebot.admin.announcements import parse_at, show_time
    from bridgebot.cli.announce import announce, cancel, list_announcements, report
    from bridgebot.store import Store

    due_at = None
    if args.at is not None:
        try:
            due_at = parse_at(args.at)
        except ValueError as exc:
            raise BridgeError(str(exc)) from None
    config, store = await _with_store(args.config)
    assert isinstance(store, Store)
    try:
        if args.status is not None:
            return await report(store, args.status, 0)
        if args.cancel is not None:
            return await cancel(store, args.cancel)
        if args.list:
            return await list_announcements(store, 20)
        bridge = None if args.all else args.bridge
        ann_id = await announce(config, store, text, args.author, bridge, due_at)
        if due_at is not None:
            print(
                f"announcement {ann_id} scheduled for {show_time(due_at)}; the running "
                f"bridge sends it then (cancel: `bridgebot announce --cancel {ann_id}`)"
            )
            return 0
        print(f"announcement {ann_id} queued; follow it later with "
              f"`bridgebot announce --status {ann_id}`")  # fmt: skip
        return await report(store, ann_id, args.wait)
    finally:
        await store.close()


async def _dead_letters(path: str, action: str, ids: Sequence[int]) -> int:
    from bridgebot.app import offline_admin
    from bridgebot.store import Store

    _config, store = await _with_store(path)
    assert isinstance(store, Store)
    try:
        if action == "retry":
            admin = await offline_admin(_config, store)
            n = await admin.retry_dead_letters(ids, CLI_ACTOR)
            print(
                f"{n} dead letters moved back to the outbox; a running bridge sends them "
                "on its next start or retry"
            )
            return 0
        letters = await store.dead_letters(limit=1000)
    finally:
        await store.close()
    if not letters:
        print("no dead letters")
    for d in letters:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(d.failed_at))
        print(
            f"#{d.id:<6} {when}  {d.kind:<8} → {d.dest_room}  after {d.attempts} attempts: "
            f"{d.reason}"
        )
    return 0


# -- argument parsing -----------------------------------------------------------------

_JSON = False


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bridgebot", description=__doc__.splitlines()[0])
    p.add_argument("--log-json", action="store_true", help="log one JSON object per line")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bridge")
    run.add_argument("config", nargs="?", default=DEFAULT_CONFIG)
    check = sub.add_parser("check", help="validate a config file and report every problem")
    check.add_argument("config", nargs="?", default=DEFAULT_CONFIG)
    rules = sub.add_parser("rules", help="inspect the relay rules")
    rsub = rules.add_subparsers(dest="rules_command", required=True)
    ex = rsub.add_parser("explain", help="why a message from FROM would or would not reach TO")
    ex.add_argument("src", metavar="FROM", help="ACCOUNT:ROOM, e.g. slack.work:C0123")
    ex.add_argument("dst", metavar="TO")
    ex.add_argument("--author", default="someone", help="the author's user id on FROM's network")
    ex.add_argument("--text", default="hello", help="the message text to try")
    ex.add_argument("--config", default=DEFAULT_CONFIG)
    show = rsub.add_parser("show", help="every room's effective rules and where each comes from")
    show.add_argument("--config", default=DEFAULT_CONFIG)
    exp = rsub.add_parser("export", help="the config file with the changes made in chat, as TOML")
    exp.add_argument("-c", "--config", default=DEFAULT_CONFIG)
    exp.add_argument("-o", "--output", metavar="FILE", help="write FILE (atomically), not stdout")
    exp.add_argument("--force", action="store_true", help="let -o overwrite the config file")
    au = sub.add_parser("audit", help="rule changes, announcements and admin commands")
    au.add_argument("--limit", type=int, default=100)
    au.add_argument("--config", default=DEFAULT_CONFIG)
    an = sub.add_parser("announce", help="post TEXT to every room of a bridge, and follow it")
    target = an.add_mutually_exclusive_group(required=True)
    target.add_argument("--bridge", help="the bridge's name")
    target.add_argument("--all", action="store_true", help="every bridge")
    target.add_argument("--status", type=int, metavar="ID", help="report on announcement ID")
    target.add_argument("--cancel", type=int, metavar="ID", help="cancel a scheduled one")
    target.add_argument("--list", action="store_true", help="scheduled and recent ones")
    an.add_argument(
        "--at",
        metavar="TIME",
        help="send at TIME, e.g. 2026-12-01T09:00 (local time unless an offset is given)",
    )
    an.add_argument("text", nargs="?", default="", metavar="TEXT")
    an.add_argument("--file", help="read the text from this file")
    an.add_argument("--as", dest="author", default="facilitator", help="the name shown")
    an.add_argument("--wait", type=float, default=30.0, help="seconds to follow deliveries")
    an.add_argument("--config", default=DEFAULT_CONFIG)
    st = sub.add_parser("status", help="adapters, queue depth per room, dead letters")
    st.add_argument("--config", default=DEFAULT_CONFIG)
    dl = sub.add_parser("dead-letters", help="list or retry failed deliveries")
    dl.add_argument("action", choices=["list", "retry"])
    dl.add_argument("ids", nargs="*", type=int, help="ids to retry (default: all)")
    dl.add_argument("--config", default=DEFAULT_CONFIG)
    demo = sub.add_parser("demo", help="run every network's lab locally, bridged, with a web page")
    demo.add_argument("--port", type=int, default=8480, help="web page port")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bridgebot`` console script."""
    global _JSON
    args = _parser().parse_args(argv)
    _JSON = args.log_json
    setup_logging("info", "json" if _JSON else "text")
    try:
        match args.command:
            case "run":
                return asyncio.run(_run(args.config))
            case "check":
                return _check(args.config)
            case "rules" if args.rules_command == "export":
                return asyncio.run(_export(args.config, args.output, args.force))
            case "rules" if args.rules_command == "show":
                return asyncio.run(_admin(args.config, "rules", 0))
            case "rules":
                return asyncio.run(
                    _explain(args.config, args.src, args.dst, args.author, args.text)
                )
            case "announce":
                text = Path(args.file).read_text() if args.file else args.text
                return asyncio.run(_announce(args, text))
            case "audit":
                return asyncio.run(_admin(args.config, "audit", args.limit))
            case "status":
                return asyncio.run(_status(args.config))
            case "dead-letters":
                return asyncio.run(_dead_letters(args.config, args.action, args.ids))
            case "demo":
                from bridgebot.demo import run_demo

                # The page is the demo's output; keep the terminal for problems only.
                setup_logging("warning", "json" if _JSON else "text")
                return asyncio.run(run_demo(args.port))
    except ConfigError as exc:
        print(format_problems(exc), file=sys.stderr)
        return 2
    except BridgeError as exc:
        print(f"bridgebot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2
