"""Slack → core: the real adapter and slack-bolt over Socket Mode against the lab."""

from __future__ import annotations

from bridgebot.lab.slack import SlackLab
from bridgebot.model import Attachment, Event, EventKind, RoomRef

from .conftest import ACCOUNT, AdapterFactory, Collector, MemoryContext, outbound


async def sentinel(lab: SlackLab, channel: str, user: str, events: Collector) -> list[Event]:
    """Post a marker message and wait for it: everything sent before it has been handled."""
    lab.post_as_user(channel, user, "sentinel")
    got = await events.wait_for(lambda evs: any(e.text == "sentinel" for e in evs))
    return [e for e in got if e.text != "sentinel"]


async def test_messages_threads_edits_deletes_reactions_and_files(
    lab: SlackLab, make_adapter: AdapterFactory
) -> None:
    alice = lab.add_user("alice", display_name="Alice")
    bob = lab.add_user("bob", display_name="Bob")
    general = lab.add_channel("general", members=(alice, bob))
    _, events = await make_adapter(("#general",))
    room = RoomRef(ACCOUNT, "#general")

    parent = lab.post_as_user(general, alice, "hi <@" + bob + "> in <#" + general + "> *now*")
    reply = lab.post_as_user(general, bob, "a reply", thread_ts=parent["ts"])
    lab.edit_as_user(general, reply["ts"], "a better reply")
    lab.react_as_user(general, parent["ts"], bob, "+1::skin-tone-2")
    lab.delete_as_user(general, reply["ts"])
    shared = lab.upload_as_user(general, alice, "notes.txt", b"minutes", text="the notes")
    got = await events.wait_count(6)

    assert [e.kind for e in got] == [
        EventKind.MESSAGE,
        EventKind.MESSAGE,
        EventKind.EDIT,
        EventKind.REACTION,
        EventKind.DELETE,
        EventKind.MESSAGE,
    ]
    first, second, edit, reaction, delete, file = got
    assert all(e.room == room for e in got)
    assert (first.remote_id, first.author.display_name) == (parent["ts"], "Alice")
    assert first.text == "hi @Bob in #general **now**"
    assert first.author.avatar_url and not first.author.is_bot
    assert (second.thread, second.author.user_id) == (parent["ts"], bob)
    assert (edit.target, edit.text, edit.thread) == (reply["ts"], "a better reply", parent["ts"])
    assert (reaction.target, reaction.emoji, reaction.author.user_id) == (parent["ts"], "👍", bob)
    assert (delete.target, delete.author.user_id) == (reply["ts"], bob)
    assert file.remote_id == shared["ts"] and file.text == "the notes"
    (attachment,) = file.attachments
    # Fetched with the bot token: url_private is useless to the other networks.
    assert attachment == Attachment(
        "notes.txt", "text/plain", 7, url=shared["files"][0]["url_private"], data=b"minutes"
    )
    await lab.sockets.wait_acked()
    assert lab.sockets.unacked == 0


async def test_own_messages_marked_copies_and_known_copies_are_dropped(
    lab: SlackLab, make_adapter: AdapterFactory, context: MemoryContext
) -> None:
    alice = lab.add_user("alice")
    general = lab.add_channel("general", members=(alice,))
    adapter, events = await make_adapter((general,))
    room = RoomRef(ACCOUNT, general)

    ts = await adapter.send(room, outbound("relayed"))
    await adapter.edit(room, ts, outbound("relayed, edited"))
    await adapter.react(room, ts, "🎉")
    await adapter.delete(room, ts)
    other_bridge = lab.world.add_user("otherbridge", is_bot=True)
    lab.world.channels[general].members.add(other_bridge.id)
    lab.post_as_user(
        general,
        other_bridge.id,
        "a copy from another bridge",
        bot_id=other_bridge.bot_id,
        metadata={"event_type": "bridgebot_relay", "event_payload": {}},
    )
    assert await sentinel(lab, general, alice, events) == []
    # A message the core already knows as a copy (e.g. posted by an older bot identity).
    context.copies.add((room, "1700000000.000001"))
    lab.sockets.deliver(
        {
            "type": "message",
            "channel": general,
            "user": alice,
            "text": "old copy",
            "ts": "1700000000.000001",
        }
    )
    events.events.clear()
    assert await sentinel(lab, general, alice, events) == []


async def test_malformed_events_are_dropped_and_the_adapter_keeps_going(
    lab: SlackLab, make_adapter: AdapterFactory
) -> None:
    alice = lab.add_user("alice")
    general = lab.add_channel("general", members=(alice,))
    _, events = await make_adapter((general,))
    lab.sockets.deliver({"type": "message", "channel": general, "user": alice, "ts": None})
    lab.sockets.deliver({"type": "message", "channel": general, "user": alice, "ts": "x.y"})
    lab.sockets.deliver({"type": "message", "subtype": "message_changed", "channel": general})
    lab.sockets.deliver({"type": "reaction_added", "user": alice, "reaction": "x"})
    lab.sockets.deliver({"type": "message", "channel": general, "text": ["no"], "ts": "1.0"})
    lab.sockets.deliver({"type": "file_shared", "file_id": "F1"})
    assert await sentinel(lab, general, alice, events) == []
    await lab.sockets.wait_acked()


async def test_channels_outside_the_config_are_reported_by_id(
    lab: SlackLab, make_adapter: AdapterFactory
) -> None:
    alice = lab.add_user("alice")
    general = lab.add_channel("general", members=(alice,))
    other = lab.add_channel("other", members=(alice,))
    _, events = await make_adapter((general,))
    lab.post_as_user(other, alice, "elsewhere")
    (event,) = await events.wait_count(1)
    assert event.room == RoomRef(ACCOUNT, other)


async def test_large_files_stay_links(lab: SlackLab, make_adapter: AdapterFactory) -> None:
    alice = lab.add_user("alice")
    general = lab.add_channel("general", members=(alice,))
    _, events = await make_adapter((general,), max_inline_bytes=4)
    lab.upload_as_user(general, alice, "big.bin", b"0123456789")
    (event,) = await events.wait_count(1)
    (attachment,) = event.attachments
    assert attachment.data is None and attachment.url and attachment.size == 10
