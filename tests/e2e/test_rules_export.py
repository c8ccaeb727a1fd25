"""`bridgebot rules export` after real `!bridge` commands through a running Bridge: the file it
writes holds the rules the bot is running with, keeps the admin's comments and ${ENV}
references, and never overwrites the config by accident."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import aiohttp

from adapters import settings_models
from bridgebot.app import Bridge
from bridgebot.config import parse_config
from bridgebot.core.rulebook import SECRET_CURSOR
from bridgebot.core.topology import build_topology
from bridgebot.lab.harness import running_hub
from tests.e2e.conftest import api_rooms, config_for
from tests.e2e.test_commands import say, settle

ENV = {"BRIDGEBOT_ADMIN_TOKEN": "resolved-admin-secret"}


def bridgebot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridgebot.cli", *args],
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def running_rules_equal(hub: Bridge, text: str) -> bool:
    secret = await hub.store.get_cursor(SECRET_CURSOR)
    assert secret is not None
    config = parse_config(text, "exported.toml", settings_models(), ENV)
    return build_topology(config, bytes.fromhex(secret)) == hub.topology


async def test_export_after_chat_commands_holds_the_running_rules(tmp_path: Path) -> None:
    a, b, c = api_rooms("a", "b", "c")
    head = (
        "# Sam's bridges: ask before editing.\n"
        '[roles]\nadmins = ["api.a:root"]\n'
        '[web]\ntoken = "${BRIDGEBOT_ADMIN_TOKEN}"  # from the environment\n'
        f'[networks.api.c]\nbind = "127.0.0.1:{c.port}"\n'
    )
    cfg = tmp_path / "bot.toml"
    cfg.write_text(config_for([a, b], head=head))
    before = cfg.read_text()
    async with running_hub(before, tmp_path, env=ENV) as hub, aiohttp.ClientSession() as s:
        for command in (
            "!bridge set name 'Team \"A\" ✓'",
            "!bridge set redact email phone",
            "!bridge set ignore_text ^!quiet ${x}",
            f"!bridge link {c.ref} closed",
            f"!bridge unlink {b.ref}",
        ):
            await say(s, a, "root", command)
        answers = [m["text"] for m in await settle(hub, s, a)]
        assert len(answers) == 5 and not any("refused" in t for t in answers), answers

        shown = bridgebot("rules", "export", "--config", str(cfg))
        assert shown.returncode == 0, shown.stderr
        exported = shown.stdout
        assert await running_rules_equal(hub, exported)
        assert not await running_rules_equal(hub, before)  # the commands did change the rules

        # The admin's file is all there, secrets still as references.
        assert exported.startswith("# Exported by `bridgebot rules export`")
        assert "# Sam's bridges: ask before editing." in exported
        assert 'token = "${BRIDGEBOT_ADMIN_TOKEN}"  # from the environment' in exported
        assert "resolved-admin-secret" not in exported
        assert 'name = "Team \\"A\\" ✓" # set in chat by api.a:root' in exported
        assert 'ignore_text = ["^!quiet", "$${x}"] # set in chat by api.a:root' in exported
        assert f"khub: {c.ref} linked (by api.a:root" in exported
        assert f"khub: {b.ref} unlinked (by api.a:root" in exported

        # -o writes a file that `bridgebot check` accepts; the config itself needs --force.
        out = tmp_path / "exported.toml"
        written = bridgebot("rules", "export", "-c", str(cfg), "-o", str(out))
        assert written.returncode == 0, written.stderr
        assert "wrote" in written.stderr
        # The same export, but for the time of day in its first line.
        assert out.read_text().splitlines()[1:] == exported.splitlines()[1:]
        assert bridgebot("check", str(out)).returncode == 0
        refused = bridgebot("rules", "export", "-c", str(cfg), "-o", str(cfg))
        assert refused.returncode == 1 and "--force" in refused.stderr
        assert cfg.read_text() == before
        forced = bridgebot("rules", "export", "-c", str(cfg), "-o", str(cfg), "--force")
        assert forced.returncode == 0, forced.stderr
        assert await running_rules_equal(hub, cfg.read_text())
