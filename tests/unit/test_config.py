"""bot.toml validation: defaults, and one clear problem per kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from adapters.settings import (
    ApiSettings,
    DiscordSettings,
    EmailSettings,
    MatrixSettings,
    SlackSettings,
    TelegramSettings,
)
from bridgebot.config import (
    DEFAULT_RATES,
    Config,
    RateConfig,
    format_problems,
    load_config,
    parse_config,
    summary,
)
from bridgebot.errors import ConfigError
from bridgebot.model import RoomRef

NETWORKS: dict[str, type[BaseModel]] = {
    "api": ApiSettings,
    "matrix": MatrixSettings,
    "slack": SlackSettings,
    "discord": DiscordSettings,
    "telegram": TelegramSettings,
    "email": EmailSettings,
}
ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}

ACCOUNTS = """
[networks.api.one]
[networks.slack.work]
bot_token = "${SLACK_BOT_TOKEN}"
app_token = "${SLACK_APP_TOKEN}"
"""
BRIDGE = """
[[bridges]]
name = "khub"
  [[bridges.rooms]]
  room = "slack.work:C0123"
  [[bridges.rooms]]
  room = "api.one:api"
"""


def parse(text: str, env: dict[str, str] | None = None) -> Config:
    return parse_config(text, "bot.toml", NETWORKS, ENV if env is None else env)


def problems_of(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(text, env)
    return info.value.problems


def test_minimal_config_gets_every_default() -> None:
    config = parse(ACCOUNTS + BRIDGE)
    assert config.source == "bot.toml"
    assert config.store.path == "bridgebot.db"
    assert (config.log.level, config.log.format) == ("info", "text")
    assert config.roles.admins == () and config.roles.facilitators == ()
    assert config.dispatch.deadline == 86400.0 and config.dispatch.max_attempts == 100
    assert config.dispatch.rate == dict(DEFAULT_RATES)
    assert config.dispatch.rate["api"] == RateConfig()
    slack = config.networks["slack.work"]
    assert isinstance(slack, SlackSettings)
    assert slack.bot_token.get_secret_value() == "xoxb-1"
    (bridge,) = config.bridges
    assert (bridge.name, bridge.label) == ("khub", "{author} · {network}")
    room = bridge.rooms[0]
    assert room.room == RoomRef("slack.work", "C0123")
    assert (room.name, room.privacy, room.sends, room.receives) == ("", "internal", True, True)
    assert (room.networks, room.consent, room.attribution) == (None, "implied", "name")
    assert room.redact == ()
    assert room.ignore_authors == room.ignore_text == room.tags == ()
    assert config.accounts_rooms() == {"api.one": ("api",), "slack.work": ("C0123",)}


def test_config_is_frozen() -> None:
    config = parse(ACCOUNTS + BRIDGE)
    with pytest.raises(ValidationError):
        config.bridges[0].rooms[0].privacy = "public"


def test_values_are_normalised() -> None:
    config = parse(
        ACCOUNTS
        + """
[log]
level = "DEBUG"
[[bridges]]
name = "khub"
label = "{{{bridge}}} {author:>4} on {room}"
  [[bridges.rooms]]
  room = "matrix.home:!a:example.org"
  tags = ["#KHub", "news"]
  redact = ["email", { pattern = "case [0-9]+", replace = "[case]" }, { name = "phone" }]
[networks.matrix.home]
homeserver = "https://m.example"
user_id = "@bot:m.example"
"""
    )
    assert config.log.level == "debug"
    room = config.bridges[0].rooms[0]
    assert room.room == RoomRef("matrix.home", "!a:example.org")
    assert room.tags == ("khub", "news")
    assert [(r.name, r.pattern, r.replace) for r in room.redact] == [
        ("email", "", "[redacted]"),
        ("", "case [0-9]+", "[case]"),
        ("phone", "", "[redacted]"),
    ]


def test_rate_tables_override_defaults_key_by_key() -> None:
    config = parse(
        ACCOUNTS
        + BRIDGE
        + """
[dispatch.rate.slack]
per_room = 2
per_network = 0
[dispatch.rate.discord]
per_network = 0
"""
    )
    slack = config.dispatch.rate["slack"]
    assert (slack.per_room, slack.room_burst, slack.per_network) == (2.0, 2, None)
    discord = config.dispatch.rate["discord"]
    assert (discord.per_room, discord.room_burst, discord.per_network) == (5.0, 5, None)
    assert config.dispatch.rate["telegram"] == DEFAULT_RATES["telegram"]


def test_accounts_rooms_dedupes_in_first_seen_order() -> None:
    config = parse(
        ACCOUNTS
        + BRIDGE
        + """
[[bridges]]
name = "other"
  [[bridges.rooms]]
  room = "slack.work:C9"
  [[bridges.rooms]]
  room = "slack.work:C0123"
[networks.slack.idle]
bot_token = "b"
app_token = "a"
"""
    )
    assert config.accounts_rooms() == {
        "api.one": ("api",),
        "slack.work": ("C0123", "C9"),
        "slack.idle": (),
    }


# Each case: extra TOML, the env, the key path named, and words of the fix. The base config
# is valid, so each case must yield exactly the one problem it is about.
PROBLEMS = [
    pytest.param(
        ACCOUNTS + BRIDGE.replace('"api.one:api"', '"api.one:api"\n  privcy = "public"'),
        "bridges[0].rooms[1].privcy",
        ["unknown key 'privcy'", "did you mean 'privacy'?"],
        id="unknown-key",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE + "[logg]\n",
        "logg",
        ["did you mean 'log'?"],
        id="unknown-top-level-key",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE.replace('"api.one:api"', '"api.one:api"\n  privacy = "secret"'),
        "bridges[0].rooms[1].privacy",
        ["'secret' is not valid; use one of: public, internal, closed"],
        id="bad-enum",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE.replace('"api.one:api"', '"api.one:api"\n  sends = "yes"'),
        "bridges[0].rooms[1].sends",
        ["'yes'", "write true or false"],
        id="bad-type",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE + "[dispatch]\nmax_attempts = 0\n",
        "dispatch.max_attempts",
        ["0 is out of range", "at least 1"],
        id="out-of-range",
    ),
    pytest.param(
        ACCOUNTS.replace('app_token = "${SLACK_APP_TOKEN}"', "") + BRIDGE,
        "networks.slack.work.app_token",
        ["is required", 'add app_token = "${ENV_VAR}"'],
        id="missing-required-key",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE.replace('name = "khub"', ""),
        "bridges[0].name",
        ['add name = "khub"'],
        id="missing-bridge-name",
    ),
    pytest.param(
        ACCOUNTS.replace("${SLACK_APP_TOKEN}", "${SLACK_APP_TOKN}") + BRIDGE,
        "networks.slack.work.app_token",
        [
            "${SLACK_APP_TOKN} is not set",
            "set SLACK_APP_TOKN in the environment or write the value in the file",
        ],
        id="missing-env-var",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE.replace('"api.one:api"', '"api.one:api"\n  ignore_text = ["ok", "(x"]'),
        "bridges[0].rooms[1].ignore_text[1]",
        ["'(x' is not a valid regular expression", "missing )"],
        id="bad-regex",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE.replace('"khub"', '"khub"\nlabel = "{user} via {network}"'),
        "bridges[0].label",
        ["{user}", "not a label field", "{author}, {network}, {account}, {room}, {bridge}"],
        id="bad-label-field",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE.replace('"khub"', '"khub"\nlabel = "{author"'),
        "bridges[0].label",
        ["not a valid template", "{{ and }}"],
        id="bad-label-syntax",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE.replace("slack.work:C0123", "slack.wrok:C0123"),
        "bridges[0].rooms[0].room",
        ["account 'slack.wrok' is not configured", "did you mean 'slack.work'?"],
        id="unknown-account-in-room",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE.replace("slack.work:C0123", "slak.work:C0123"),
        "bridges[0].rooms[0].room",
        ["network type 'slak' is unknown", "did you mean 'slack'?"],
        id="unknown-network-in-room",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE.replace("slack.work:C0123", "C0123"),
        "bridges[0].rooms[0].room",
        ["ACCOUNT:ROOM", "slack.work:C0123"],
        id="room-without-account",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE + BRIDGE,
        "bridges[1].name",
        ["'khub' is already the name of bridges[0]"],
        id="duplicate-bridge",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE.replace("api.one:api", "slack.work:C0123"),
        "bridges[0].rooms[1].room",
        ["already in this bridge as rooms[0]"],
        id="duplicate-room",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE.replace("api.one:api", "api.one:general"),
        "bridges[0].rooms[1].room",
        ['write "api.one:api"'],
        id="api-room-not-api",
    ),
    pytest.param(
        ACCOUNTS + '[[bridges]]\nname = "empty"\n',
        "bridges[0].rooms",
        ["no rooms", "[[bridges.rooms]]"],
        id="bridge-without-rooms",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE + '[roles]\nadmins = ["alice"]\n',
        "roles.admins[0]",
        ["'alice' is not ACCOUNT:USER", "matrix.home:@alice:example.org"],
        id="bad-role-ref",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE + '[roles]\nfacilitators = ["slack.wrk:U1"]\n',
        "roles.facilitators[0]",
        ["account 'slack.wrk' is not configured", "did you mean 'slack.work'?"],
        id="role-on-unknown-account",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE + "[networks.slak.x]\n",
        "networks.slak",
        ["network type 'slak' is unknown", "did you mean 'slack'?", "use one of: api, discord"],
        id="unknown-network-type",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE + "[dispatch.rate.telegramm]\n",
        "dispatch.rate.telegramm",
        ["did you mean 'telegram'?"],
        id="rate-for-unknown-network",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE.replace('"api.one:api"', '"api.one:api"\n  networks = ["matrx"]'),
        "bridges[0].rooms[1].networks[0]",
        ["network type 'matrx' is unknown", "did you mean 'matrix'?"],
        id="unknown-network-in-room-networks",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE.replace('"api.one:api"', '"api.one:api"\n  redact = ["emial"]'),
        "bridges[0].rooms[1].redact[0]",
        ["'emial' is not a built-in redaction", "did you mean 'email'?", "pattern ="],
        id="unknown-redaction",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE.replace('"api.one:api"', '"api.one:api"\n  redact = [5]'),
        "bridges[0].rooms[1].redact[0]",
        ["5 has the wrong type", 'such as "email"', "pattern ="],
        id="redaction-wrong-type",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE.replace('"api.one:api"', '"api.one:api"\n  tags = ["# "]'),
        "bridges[0].rooms[1].tags[0]",
        ["is not a tag", 'e.g. "khub"'],
        id="empty-tag",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE + '[store]\npath = ""\n',
        "store.path",
        ["is empty; write a value"],
        id="empty-store-path",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE + '[networks.api."two words"]\n',
        'networks.api."two words"',
        ["letters, digits, _ and -"],
        id="bad-account-name",
    ),
    pytest.param(
        ACCOUNTS + BRIDGE + "[log]\nformat = 3\n",
        "log.format",
        ["3 is not valid; use one of: text, json"],
        id="enum-wrong-type",
    ),
    pytest.param(
        ACCOUNTS + '[[bridges]]\nname = "b"\n[bridges.rooms]\nroom = "api.one:api"\n',
        "bridges[0].rooms",
        ["write one [[bridges.rooms]] table per item"],
        id="single-brackets-for-rooms",
    ),
    pytest.param(
        ACCOUNTS.replace("${SLACK_APP_TOKEN}", "${1BAD}") + BRIDGE,
        "networks.slack.work.app_token",
        ["'${1BAD}' is not a valid reference", "$${"],
        id="bad-env-reference",
    ),
]


@pytest.mark.parametrize(("text", "path", "fix"), PROBLEMS)
def test_each_problem_names_the_key_and_the_fix(text: str, path: str, fix: list[str]) -> None:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"bot.toml: {path}: "), problems[0]
    for words in fix:
        assert words in problems[0]


def test_toml_syntax_error_names_line_and_column() -> None:
    problems = problems_of('[store]\npath = "x\n')
    assert len(problems) == 1
    assert problems[0].startswith("bot.toml: line 2, column 10: "), problems[0]


def test_several_problems_are_reported_together() -> None:
    text = (
        ACCOUNTS.replace("${SLACK_BOT_TOKEN}", "${NOPE}")
        + BRIDGE.replace('"api.one:api"', '"api.one:api"\n  privacy = "secret"')
        + BRIDGE.replace("slack.work:C0123", "slack.wrok:C0123")
        + '[log]\nlevel = "loud"\n[roles]\nadmins = ["x"]\n'
    )
    problems = problems_of(text)
    # All of them, in the order the file has them.
    assert [p.split(": ")[1] for p in problems] == [
        "networks.slack.work.bot_token",
        "bridges[0].rooms[1].privacy",
        "bridges[1].name",
        "bridges[1].rooms[0].room",
        "log.level",
        "roles.admins[0]",
    ]
    report = format_problems(ConfigError(problems))
    assert report.startswith("6 problems in the configuration:")
    assert all(f"  {p}" in report.splitlines() for p in problems)


def test_secret_values_are_never_echoed() -> None:
    text = (
        ACCOUNTS
        + BRIDGE
        + """
[networks.api.two]
token = 12345
max_body_bytes = "${SIZE}"
[networks.telegram]
token = "123:very-secret"
"""
    )
    problems = problems_of(text, {**ENV, "SIZE": "hush-hush"})
    assert len(problems) == 3, problems
    joined = "\n".join(problems)
    for secret in ("12345", "hush-hush", "very-secret"):
        assert secret not in joined
    assert "networks.telegram.token: an account's keys go in a table of its own" in joined
    assert "[networks.telegram.NAME]" in joined


def test_env_references_escape_and_partial_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGEBOT_TEST_PW", "pw")
    text = (
        ACCOUNTS
        + BRIDGE.replace('"api.one:api"', '"api.one:api"\n  name = "costs $${HOME} and $$5"')
        + """
[networks.email.list]
address = "bot@example.org"
smtp = "smtp://bot:${BRIDGEBOT_TEST_PW}@127.0.0.1:25"
"""
    )
    config = parse_config(text, "bot.toml", NETWORKS, {**ENV, "BRIDGEBOT_TEST_PW": "pw"})
    email = config.networks["email.list"]
    assert isinstance(email, EmailSettings)
    assert email.smtp.get_secret_value() == "smtp://bot:pw@127.0.0.1:25"
    assert config.bridges[0].rooms[1].name == "costs ${HOME} and $$5"
    # Without an explicit env, the process environment is used.
    monkeypatch.setenv("SLACK_BOT_TOKEN", "from-os")
    monkeypatch.setenv("SLACK_APP_TOKEN", "from-os")
    config = parse_config(text, "bot.toml", NETWORKS)
    slack = config.networks["slack.work"]
    assert isinstance(slack, SlackSettings)
    assert slack.bot_token.get_secret_value() == "from-os"


def test_load_resolves_store_path_against_the_config_folder(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    path = folder / "bot.toml"
    path.write_text(ACCOUNTS + BRIDGE + '[store]\npath = "data/bot.db"\n', encoding="utf-8")
    config = load_config(path, NETWORKS, ENV)
    assert config.store.path == str(folder / "data" / "bot.db")
    assert config.source == str(path)
    for kept in (":memory:", str(tmp_path / "abs.db")):
        path.write_text(ACCOUNTS + BRIDGE + f'[store]\npath = "{kept}"\n', encoding="utf-8")
        assert load_config(str(path), NETWORKS, ENV).store.path == kept


def test_load_reports_non_utf8_missing_and_unreadable_files(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_bytes(b'[store]\n# caf\xe9\npath = "x"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, NETWORKS, ENV)
    assert info.value.problems == [
        f"{path}: line 2: byte 0xe9 is not UTF-8 text; save the file with UTF-8 encoding"
    ]
    with pytest.raises(ConfigError, match=r"no such file; copy bot\.example\.toml"):
        load_config(tmp_path / "missing.toml", NETWORKS, ENV)
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path, NETWORKS, ENV)


def test_load_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_bytes(b"\xef\xbb\xbf" + (ACCOUNTS + BRIDGE).encode())
    assert load_config(path, NETWORKS, ENV).bridges[0].name == "khub"


def test_summary_lists_accounts_bridges_and_room_privacy() -> None:
    config = parse(
        ACCOUNTS
        + BRIDGE.replace('"api.one:api"', '"api.one:api"\n  privacy = "closed"\n  sends = false')
        + '[roles]\nadmins = ["slack.work:U1"]\n'
    )
    text = summary(config)
    assert "accounts (2): api.one (api), slack.work (slack)" in text
    assert "1 admin(s)" in text
    assert "bridge 'khub' (2 rooms" in text
    lines = text.splitlines()
    assert any("slack.work:C0123" in line and "internal" in line for line in lines)
    assert any(
        "api.one:api" in line and "closed" in line and "receives only" in line for line in lines
    )
