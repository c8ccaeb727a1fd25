"""`bridgebot rules export`, the pure part: bot.toml text + chat-made changes → TOML that
bridgebot's own loader reads back into the same rules."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import settings_models
from bridgebot.admin.rules_export import (
    HEADER_MARK,
    LinkRow,
    OverrideRow,
    export_toml,
    write_atomically,
)
from bridgebot.config import Config, parse_config
from bridgebot.core.topology import build_topology
from bridgebot.errors import BridgeError, ConfigError
from rules import Topology

SECRET = b"k" * 32
ENV = {"API_TOKEN": "s3cret-token", "SLACK_BOT": "xoxb-resolved", "SLACK_APP": "xapp-resolved"}
T0 = 1_700_000_000.0

SOURCE = """\
# Our council's bridges. Ask Sam before changing anything.
[store]
path = "bridgebot.db"  # next to this file

[networks.api.one]
bind = "127.0.0.1:4242"
token = "${API_TOKEN}"   # from the environment, never in this file

[networks.slack.work]
bot_token = "${SLACK_BOT}"
app_token = "${SLACK_APP}"

[[bridges]]
name = "khub"
label = "{author} · {network}"

  # The public channel.
  [[bridges.rooms]]
  room = "slack.work:C0123"
  privacy = "public"   # everyone may read it
  sends = true

  [[bridges.rooms]]
  room = "api.one:api"
  privacy = "internal"
  redact = ["email", { pattern = "\\\\bcase [0-9]+\\\\b", replace = "[case]" }]

[[bridges]]
name = "ops"

  [[bridges.rooms]]
  room = "slack.work:C0123"

  [[bridges.rooms]]
  room = "slack.work:C0456"
  tags = ["ops"]
"""


def load(text: str, source: str = "bot.toml") -> Config:
    return parse_config(text, source, settings_models(), ENV)


def override_map(rows: Sequence[OverrideRow]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for room, key, value, _actor, _ts in rows:
        out.setdefault(room, {})[key] = json.loads(value)
    return out


def running_rules(
    text: str, rows: Sequence[OverrideRow], links: Sequence[LinkRow] = ()
) -> Topology:
    """The rules a running bot has: the file, plus overrides and links from the store."""
    changes = [(bridge, room, linked) for bridge, room, linked, _a, _t in links]
    return build_topology(load(text), SECRET, override_map(rows), changes)


def exported_rules(text: str) -> Topology:
    return build_topology(load(text, "exported.toml"), SECRET)


def row(room: str, key: str, value: object, actor: str = "api.one:root") -> OverrideRow:
    return (room, key, json.dumps(value), actor, T0)


def test_every_override_lands_in_every_bridge_of_its_room_and_loads_back_the_same() -> None:
    rows = [
        row("slack.work:C0123", "sends", False),
        row("slack.work:C0123", "privacy", "closed"),
        row("slack.work:C0123", "networks", ["api"]),
        row("api.one:api", "redact", ["email", "uk_postcode", "postcode"]),
        row("api.one:api", "attribution", "pseudonym"),
        row("api.one:api", "consent", "opt-in"),
        row("slack.work:C0456", "tags", ["#Ops", "council"]),
        row("slack.work:C0456", "ignore_authors", ["^bot-", r"\bnoreply\b"]),
        row("slack.work:C0456", "ignore_text", ["^!nobridge"]),
        row("slack.work:C0456", "receives", False),
        row("slack.work:C0456", "name", "Ops room"),
    ]
    exported = export_toml(SOURCE, rows, now=T0)
    assert exported_rules(exported.text) == running_rules(SOURCE, rows)
    assert exported_rules(exported.text) != exported_rules(SOURCE)  # the changes did land
    assert len(exported.applied) == len(rows) and exported.skipped == ()
    # The room in both bridges got its change in both.
    config = load(exported.text)
    assert [r.sends for b in config.bridges for r in b.rooms if r.room.room_id == "C0123"] == [
        False,
        False,
    ]


def test_links_add_rooms_with_their_overrides_and_unlinks_remove_them() -> None:
    rows = [
        row("slack.work:C0999", "privacy", "public"),
        row("slack.work:C0999", "name", "New team"),
        row("api.one:api", "sends", False),
    ]
    links: list[LinkRow] = [
        ("khub", "slack.work:C0999", True, "api.one:root", T0),
        ("ops", "slack.work:C0123", False, "api.one:root", T0 + 60),
        ("ops", "api.one:api", True, "api.one:root", T0 + 120),
    ]
    exported = export_toml(SOURCE, rows, links, now=T0)
    assert exported_rules(exported.text) == running_rules(SOURCE, rows, links)
    config = load(exported.text)
    rooms = {b.name: [str(r.room) for r in b.rooms] for b in config.bridges}
    assert rooms == {
        "khub": ["slack.work:C0123", "api.one:api", "slack.work:C0999"],
        "ops": ["slack.work:C0456", "api.one:api"],
    }
    # A linked room's table sits with its bridge's rooms, laid out like them.
    assert (
        '  [[bridges.rooms]]\n  # linked in chat by api.one:root, 2023-11-14 22:13 UTC\n'
        '  room = "slack.work:C0999"\n  name = "New team"'
    ) in exported.text  # fmt: skip


def test_a_bridge_left_without_rooms_is_left_out_and_the_file_still_loads() -> None:
    links: list[LinkRow] = [
        ("ops", "slack.work:C0123", False, "root", T0),
        ("ops", "slack.work:C0456", False, "root", T0),
    ]
    exported = export_toml(SOURCE, [], links, now=T0)
    config = load(exported.text)
    assert [b.name for b in config.bridges] == ["khub"]
    assert "ops: no room is left after that, so the bridge is left out" in exported.text
    running = running_rules(SOURCE, [], links)
    assert [b for b in running.bridges if b.rooms] == list(exported_rules(exported.text).bridges)


def test_comments_layout_and_env_references_survive() -> None:
    exported = export_toml(SOURCE, [row("slack.work:C0123", "sends", False)], now=T0).text
    body = exported.split("\n\n", 1)[1]  # after the export's own header
    for line in SOURCE.splitlines():
        if "sends = true" not in line:
            assert line in body.splitlines(), line
    assert 'token = "${API_TOKEN}"   # from the environment, never in this file' in exported
    assert "s3cret-token" not in exported and "xoxb-resolved" not in exported
    # The changed line says who changed it, when, and what the file had.
    assert (
        "  sends = false # set in chat by api.one:root, 2023-11-14 22:13 UTC; true before"
        in exported
    )


def test_the_header_lists_each_change_with_who_made_it() -> None:
    rows = [row("slack.work:C0123", "privacy", "closed", actor="matrix.home:@alice:example.org")]
    links: list[LinkRow] = [("khub", "slack.work:C0999", True, "slack.work:U042", T0)]
    text = export_toml(SOURCE, rows, links, source="/etc/bridgebot/bot.toml", now=T0).text
    header = text.split("\n\n", 1)[0].splitlines()
    assert header[0] == f"{HEADER_MARK} from /etc/bridgebot/bot.toml on 2023-11-14 22:13 UTC."
    assert "#   khub: slack.work:C0999 linked (by slack.work:U042, 2023-11-14 22:13 UTC)" in header
    assert (
        '#   slack.work:C0123: privacy = "closed" '
        "(set in chat by matrix.home:@alice:example.org, 2023-11-14 22:13 UTC)"
    ) in header
    assert all(line.startswith("#") for line in header)


def test_nothing_changed_says_so_and_is_the_file_as_it_was() -> None:
    exported = export_toml(SOURCE, [], now=T0)
    assert "No rule was changed in chat" in exported.text
    assert exported.text.split("\n\n", 1)[1] == SOURCE


def test_exporting_an_export_replaces_its_header_instead_of_piling_up() -> None:
    first = export_toml(SOURCE, [row("api.one:api", "sends", False)], now=T0).text
    second = export_toml(first, [row("api.one:api", "sends", False)], now=T0 + 3600).text
    assert second.count(HEADER_MARK) == 1 and "2023-11-14 23:13 UTC" in second
    assert second.count("\n  sends = false # set in chat") == 1
    assert second.count("#   api.one:api: sends = false") == 1
    assert exported_rules(second) == exported_rules(first)


@pytest.mark.parametrize(
    "name",
    [
        'Team "Ops" \\ back',
        "two\nlines\tand a tab",
        "Équipe ✓ 日本語 🚀",
        "costs ${HOME} and $${ and $",
        "'single' \"double\" '''triple''' \"\"\"",
        "control \x07 \x1b[31m red",
    ],
)
def test_awkward_text_comes_back_exactly(name: str) -> None:
    rows = [
        row("slack.work:C0123", "name", name),
        row("slack.work:C0123", "ignore_text", [re.escape(name)]),
    ]
    exported = export_toml(SOURCE, rows, now=T0)
    room = load(exported.text).bridges[0].rooms[0]
    assert (room.name, room.ignore_text) == (name, (re.escape(name),))
    assert exported_rules(exported.text) == running_rules(SOURCE, rows)


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(max_size=40),
    tags=st.lists(st.from_regex(r"[a-z0-9_]{1,12}", fullmatch=True), max_size=4),
    actor=st.text(min_size=1, max_size=30),
)
def test_any_name_tags_and_actor_round_trip(name: str, tags: list[str], actor: str) -> None:
    rows = [
        row("api.one:api", "name", name, actor=actor),
        row("api.one:api", "tags", tags, actor=actor),
    ]
    exported = export_toml(SOURCE, rows, now=T0)
    assert exported_rules(exported.text) == running_rules(SOURCE, rows)


def test_an_actor_cannot_write_toml_through_the_comments() -> None:
    actor = 'x\n[[bridges]]\nname = "evil"\r\n\u2028sends = true'
    rows = [row("api.one:api", "sends", False, actor=actor)]
    links: list[LinkRow] = [("khub", "slack.work:C0777", True, actor, T0)]
    exported = export_toml(SOURCE, rows, links, now=T0)
    config = load(exported.text)
    assert [b.name for b in config.bridges] == ["khub", "ops"]
    assert "x\\u000a[[bridges]]" in exported.text
    assert exported_rules(exported.text) == running_rules(SOURCE, rows, links)


def test_custom_redactions_are_written_in_the_loaders_form() -> None:
    rows = [row("api.one:api", "redact", ["email", r"\bcase [0-9]+\b"])]
    text = export_toml(SOURCE, rows, now=T0).text
    assert 'redact = ["email", {pattern = "\\\\bcase [0-9]+\\\\b"}]' in text
    redact = load(text).bridges[0].rooms[1].redact
    assert [(r.name, r.pattern, r.replace) for r in redact] == [
        ("email", "", "[redacted]"),
        ("", r"\bcase [0-9]+\b", "[redacted]"),
    ]


def test_rooms_written_as_inline_tables_are_edited_and_extended() -> None:
    source = """\
[networks.api.one]
bind = "127.0.0.1:4242"
[networks.slack.work]
bot_token = "x"
app_token = "y"
[[bridges]]
name = "khub"
rooms = [{ room = "api.one:api", privacy = "public" }, { room = "slack.work:C1" }]
"""
    rows = [row("api.one:api", "privacy", "closed"), row("slack.work:C2", "sends", False)]
    links: list[LinkRow] = [("khub", "slack.work:C2", True, "root", T0)]
    exported = export_toml(source, rows, links, now=T0)
    assert exported_rules(exported.text) == running_rules(source, rows, links)
    assert 'rooms = [{room = "api.one:api", privacy = "closed"}, ' in exported.text


def test_what_cannot_be_written_is_listed_and_the_rest_still_loads() -> None:
    rows = [
        row("slack.work:C0404", "sends", False),  # in no bridge
        ("api.one:api", "colour", '"red"', "root", T0),  # not a room key
        ("api.one:api", "privacy", "{not json", "root", T0),
    ]
    links: list[LinkRow] = [
        ("nope", "slack.work:C1", True, "root", T0),
        ("khub", "api.one:api", True, "root", T0),  # already there
        ("ops", "api.one:api", False, "root", T0),  # was never there
    ]
    exported = export_toml(SOURCE, rows, links, now=T0)
    assert exported.applied == ()
    assert len(exported.skipped) == 6
    assert "the file has no bridge named 'nope'" in exported.text
    assert (
        "slack.work:C0404: sends" in exported.text and "in no bridge of the file" in exported.text
    )
    assert exported_rules(exported.text) == exported_rules(SOURCE)


def test_text_that_is_not_toml_is_refused() -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        export_toml("[[bridges]\nname = 1", [], now=T0)


def test_the_example_config_exports_and_loads() -> None:
    example = (Path(__file__).resolve().parents[2] / "bot.example.toml").read_text()
    env = {name: "dummy" for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", example)}
    rows = [row("api.one:api", "privacy", "public"), row("slack.work:C0123", "redact", [])]
    exported = export_toml(example, rows, now=T0)
    models = settings_models()
    config = parse_config(exported.text, "exported.toml", models, env)
    expected = build_topology(parse_config(example, "bot.toml", models, env), SECRET,
                              override_map(rows))  # fmt: skip
    assert build_topology(config, SECRET) == expected


# -- writing the file --------------------------------------------------------------------


def files(folder: Path) -> Mapping[str, str]:
    return {p.name: p.read_text() for p in folder.iterdir()}


def test_write_atomically_refuses_the_source_without_force(tmp_path: Path) -> None:
    source = tmp_path / "bot.toml"
    source.write_text(SOURCE)
    source.chmod(0o600)
    link = tmp_path / "same.toml"
    os.link(source, link)
    for target in (source, link):
        with pytest.raises(BridgeError, match="--force"):
            write_atomically(target, "x = 1\n", source=source)
    assert files(tmp_path) == {"bot.toml": SOURCE, "same.toml": SOURCE}
    write_atomically(source, "x = 1\n", source=source, force=True)
    assert files(tmp_path) == {"bot.toml": "x = 1\n", "same.toml": SOURCE}  # no temp file left
    assert stat.S_IMODE(source.stat().st_mode) == 0o600


def test_write_atomically_creates_a_new_file_with_the_sources_permissions(tmp_path: Path) -> None:
    source = tmp_path / "bot.toml"
    source.write_text(SOURCE)
    source.chmod(0o640)
    out = tmp_path / "exported.toml"
    write_atomically(out, "x = 1\n", source=source)
    assert out.read_text() == "x = 1\n" and stat.S_IMODE(out.stat().st_mode) == 0o640
    write_atomically(out, "x = 2\n", source=source)
    assert files(tmp_path) == {"bot.toml": SOURCE, "exported.toml": "x = 2\n"}


def test_write_atomically_into_a_missing_folder_says_so(tmp_path: Path) -> None:
    source = tmp_path / "bot.toml"
    source.write_text(SOURCE)
    with pytest.raises(BridgeError, match=r"cannot write .*No such file or directory"):
        write_atomically(tmp_path / "nope" / "x.toml", "x = 1\n", source=source)
