"""start(): tokens, scopes and rooms are checked, and problems are reported in plain words."""

from __future__ import annotations

import socket

import pytest

from bridgebot.errors import PermanentError, TransientError
from bridgebot.lab.slack import BOT_SCOPES, SlackLab
from bridgebot.model import Capabilities

from .conftest import AdapterFactory, Collector


async def test_start_resolves_rooms_by_id_and_name(
    lab: SlackLab, make_adapter: AdapterFactory
) -> None:
    general = lab.add_channel("general")
    lab.add_channel("random")
    adapter, _ = await make_adapter((general, "#random"))
    assert adapter.capabilities == Capabilities(per_message_identity=True, max_text_length=40_000)
    assert len(lab.sockets.connections) == 1


async def test_bad_bot_token(lab: SlackLab, make_adapter: AdapterFactory) -> None:
    adapter, _ = await make_adapter((), start=False, bot_token="xoxb-revoked")
    with pytest.raises(PermanentError, match=r"slack\.work.*invalid_auth.*bot_token"):
        await adapter.start(Collector())


async def test_bad_app_token(lab: SlackLab, make_adapter: AdapterFactory) -> None:
    adapter, _ = await make_adapter((), start=False, app_token="xapp-1-wrong")
    with pytest.raises(PermanentError, match=r"app_token.*invalid_auth"):
        await adapter.start(Collector())
    assert lab.sockets.connects == 0


async def test_app_token_in_place_of_bot_token(
    lab: SlackLab, make_adapter: AdapterFactory
) -> None:
    adapter, _ = await make_adapter((), start=False, bot_token=lab.app_token)
    with pytest.raises(PermanentError, match="bot_token is not a bot token"):
        await adapter.start(Collector())


async def test_missing_required_scope(make_adapter: AdapterFactory) -> None:
    server = SlackLab(scopes=BOT_SCOPES - {"chat:write"})
    await server.start()
    try:
        adapter, _ = await make_adapter((), start=False, server=server)
        with pytest.raises(PermanentError, match=r"lacks the scopes chat:write.*reinstall"):
            await adapter.start(Collector())
    finally:
        await server.stop()


async def test_without_customize_the_label_goes_in_the_text(make_adapter: AdapterFactory) -> None:
    server = SlackLab(scopes=BOT_SCOPES - {"chat:write.customize"})
    await server.start()
    try:
        adapter, _ = await make_adapter((), server=server)
        assert adapter.capabilities.per_message_identity is False
    finally:
        await server.stop()


async def test_bot_not_in_channel(lab: SlackLab, make_adapter: AdapterFactory) -> None:
    outside = lab.add_channel("outside", bot=False)
    adapter, _ = await make_adapter((outside,), start=False)
    with pytest.raises(PermanentError, match=r"not a member of C\d+.*/invite"):
        await adapter.start(Collector())


@pytest.mark.parametrize(
    ("room", "match"), [("#nope", "no channel #nope"), ("C404", "channel_not_found")]
)
async def test_unknown_room(make_adapter: AdapterFactory, room: str, match: str) -> None:
    adapter, _ = await make_adapter((room,), start=False)
    with pytest.raises(PermanentError, match=match):
        await adapter.start(Collector())


async def test_unreachable_server_is_transient(make_adapter: AdapterFactory) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    adapter, _ = await make_adapter((), start=False, base_url=f"http://127.0.0.1:{port}/api/")
    with pytest.raises(TransientError):
        await adapter.start(Collector())
