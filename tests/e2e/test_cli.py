"""The `bridgebot` command line as an admin uses it: check, rules explain, status, run."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.e2e.conftest import api_rooms, config_for

ROOT = Path(__file__).resolve().parents[2]


def bridgebot(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridgebot.cli", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def example_env() -> dict[str, str]:
    text = (ROOT / "bot.example.toml").read_text()
    return {name: "dummy" for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text)}


def test_check_accepts_the_example_config() -> None:
    result = bridgebot("check", "bot.example.toml", env=example_env())
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout
    assert "khub" in result.stdout


def test_check_reports_every_problem_with_key_and_fix(tmp_path: Path) -> None:
    bad = tmp_path / "bot.toml"
    bad.write_text(
        '[networks.api.one]\nbind = "127.0.0.1:1"\nbnid = "x"\n'
        '[[bridges]]\nname = "k"\n  [[bridges.rooms]]\n  room = "api.one:api"\n'
        '  privacy = "secret"\n  [[bridges.rooms]]\n  room = "slack.nope:C1"\n'
    )
    result = bridgebot("check", str(bad))
    assert result.returncode == 2
    err = result.stderr
    assert "networks.api.one" in err and "bnid" in err and "bind" in err  # did you mean
    assert "privacy" in err and "public, internal, closed" in err
    assert "slack.nope" in err


def test_check_names_a_missing_environment_variable(tmp_path: Path) -> None:
    cfg = tmp_path / "bot.toml"
    cfg.write_text('[networks.api.one]\nbind = "127.0.0.1:1"\ntoken = "${NO_SUCH_TOKEN_VAR}"\n')
    env = {k: v for k, v in os.environ.items() if k != "NO_SUCH_TOKEN_VAR"}
    result = subprocess.run(
        [sys.executable, "-m", "bridgebot.cli", "check", str(cfg)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "NO_SUCH_TOKEN_VAR" in result.stderr


def test_rules_explain_prints_the_chain(tmp_path: Path) -> None:
    closed, public = api_rooms(("c", "closed"), ("p", "public"))
    cfg = tmp_path / "bot.toml"
    cfg.write_text(config_for([closed, public]))
    result = bridgebot("rules", "explain", closed.ref, public.ref, "--config", str(cfg))
    assert result.returncode == 0, result.stderr
    assert "privacy" in result.stdout and "withheld" in result.stdout
    result = bridgebot("rules", "explain", public.ref, closed.ref, "--config", str(cfg))
    assert "relayed" in result.stdout


async def test_run_relays_a_curl_post_to_a_websocket_client_then_status(tmp_path: Path) -> None:
    a, b = api_rooms("a", "b")
    cfg = tmp_path / "bot.toml"
    cfg.write_text(config_for([a, b]))
    bot = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bridgebot.cli",
        "run",
        str(cfg),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession() as s:
            async with asyncio.timeout(30):
                while True:
                    try:
                        async with s.get(f"{b.url}/api/health") as r:
                            if r.status == 200:
                                break
                    except aiohttp.ClientError:
                        await asyncio.sleep(0.05)
            async with s.ws_connect(f"{b.url}/api/websocket") as ws:
                await ws.receive(timeout=10)
                curl = await asyncio.create_subprocess_exec(
                    "curl",
                    "-s",
                    "-XPOST",
                    "-H",
                    "Content-Type: application/json",
                    "-d",
                    json.dumps({"text": "hi from curl", "username": "ann", "gateway": "khub"}),
                    f"{a.url}/api/message",
                    stdout=subprocess.DEVNULL,
                )
                assert await curl.wait() == 0
                msg = json.loads((await ws.receive(timeout=10)).data)
        assert (msg["text"], msg["username"]) == ("hi from curl", "ann · api")
        await asyncio.sleep(5.5)  # the running bot writes its status snapshot every 5 s
        status = bridgebot("status", "--config", str(cfg))
        assert status.returncode == 0, status.stderr
        assert "running" in status.stdout and "api.a" in status.stdout and "up" in status.stdout
    finally:
        bot.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            assert await bot.wait() == 0


async def test_announce_from_the_cli_reaches_every_room_and_reports(tmp_path: Path) -> None:
    from bridgebot.lab.harness import running_hub

    a, b = api_rooms("a", "b")
    cfg = tmp_path / "bot.toml"
    cfg.write_text(config_for([a, b]))
    async with running_hub(cfg.read_text(), tmp_path), aiohttp.ClientSession() as s:
        done = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bridgebot.cli",
            "announce",
            "--bridge",
            "khub",
            "Office closed Friday",
            "--as",
            "Sam",
            "--wait",
            "20",
            "--config",
            str(cfg),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = await done.communicate()
        assert done.returncode == 0, err.decode()
        report = out.decode()
        got = []
        for room in (a, b):
            async with s.get(f"{room.url}/api/messages") as resp:
                got += [(m["username"], m["text"]) for m in await resp.json()]
    assert "2 landed, 0 queued, 0 failed" in report
    assert got == [("Sam (announcement)", "Office closed Friday")] * 2
    ident = report.split()[1]
    status = bridgebot("announce", "--status", ident, "--config", str(cfg))
    assert "2 landed" in status.stdout and "landed  api.a:api" in status.stdout
    assert "announce" in bridgebot("audit", "--config", str(cfg)).stdout
    unknown = bridgebot("announce", "--bridge", "nope", "x", "--config", str(cfg))
    assert unknown.returncode == 1 and "no bridge named 'nope'" in unknown.stderr
