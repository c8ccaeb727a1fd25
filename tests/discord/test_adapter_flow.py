"""Edits, deletes, replies, threads and reactions, both ways, through the real adapter."""

from __future__ import annotations

from bridgebot.lab.discord import DiscordLab
from bridgebot.model import EventKind, RoomRef

from .conftest import ACCOUNT, Start, outbound


async def test_edit_and_delete_of_a_webhook_copy(lab: DiscordLab, start_adapter: Start) -> None:
    room = lab.create_channel("general")
    adapter, events, _ = await start_adapter(room)
    where = RoomRef(ACCOUNT, room)
    rid = await adapter.send(where, outbound("first"))
    await adapter.edit(where, rid, outbound("second @everyone"))
    [copy] = lab.history(room)
    assert copy["content"] == "second @\u200beveryone" and copy["edited_timestamp"]
    assert lab.pings == []
    await adapter.delete(where, rid)
    assert lab.history(room) == []
    assert await events.quiet() == []  # our own edit and delete do not come back


async def test_human_edit_delete_and_reaction_are_emitted(
    lab: DiscordLab, start_adapter: Start
) -> None:
    room = lab.create_channel("general")
    alice = lab.create_user("Alice")
    _, events, _ = await start_adapter(room)
    msg = lab.post_as_user(room, alice, "draft")
    lab.edit_as_user(room, msg["id"], "final <@" + alice + ">")
    lab.react(room, msg["id"], alice, "👍")
    lab.react(room, msg["id"], alice, "party:777")
    lab.delete_as_user(room, msg["id"])
    got = await events.wait_for(5)
    assert [e.kind for e in got] == [
        EventKind.MESSAGE,
        EventKind.EDIT,
        EventKind.REACTION,
        EventKind.REACTION,
        EventKind.DELETE,
    ]
    edit, thumbs, party, delete = got[1:]
    assert edit.target == msg["id"] and edit.text == "final @Alice"
    assert (thumbs.target, thumbs.emoji, thumbs.author.user_id) == (msg["id"], "👍", alice)
    assert party.emoji == ":party:"
    assert delete.target == msg["id"]


async def test_events_on_known_copies_are_dropped(lab: DiscordLab, start_adapter: Start) -> None:
    room = lab.create_channel("general")
    alice = lab.create_user("Alice")
    _, events, context = await start_adapter(room)
    msg = lab.post_as_user(room, alice, "looks like ours")
    first = await events.wait_for(1)
    context.copies.add((RoomRef(ACCOUNT, room), msg["id"]))
    lab.edit_as_user(room, msg["id"], "edited")
    lab.delete_as_user(room, msg["id"])
    marker = lab.post_as_user(room, alice, "marker")
    got = await events.wait_for(2)
    assert [e.remote_id for e in got] == [first[0].remote_id, marker["id"]]


async def test_reply_through_a_webhook_quotes_the_original(
    lab: DiscordLab, start_adapter: Start
) -> None:
    room = lab.create_channel("general")
    alice = lab.create_user("Alice")
    adapter, events, _ = await start_adapter(room)
    original = lab.post_as_user(room, alice, "what time is the meeting @here?")
    reply = lab.post_as_user(room, alice, "answering myself", reply_to=original["id"])
    got = await events.wait_for(2)
    assert got[1].reply_to == original["id"] and got[1].remote_id == reply["id"]
    await adapter.send(RoomRef(ACCOUNT, room), outbound("at ten", reply_to=original["id"]))
    copy = lab.history(room)[-1]
    assert copy["content"] == "> ↪ Alice: what time is the meeting @\u200bhere?\nat ten"
    assert [p.message_id for p in lab.pings] == [original["id"]]  # the human's, not ours


async def test_threads_both_ways(lab: DiscordLab, start_adapter: Start) -> None:
    room = lab.create_channel("general")
    alice = lab.create_user("Alice")
    adapter, events, _ = await start_adapter(room)
    where = RoomRef(ACCOUNT, room)
    root = lab.post_as_user(room, alice, "a topic worth a thread")
    await events.wait_for(1)
    # out: a reply in a thread that does not exist yet starts it from the root message
    rid = await adapter.send(where, outbound("in the thread", thread=root["id"]))
    assert root["id"] in lab.world.channels
    [in_thread] = lab.history(root["id"])
    assert in_thread["id"] == rid and in_thread["webhook_id"]
    # edits and deletes of a copy in a thread find the thread again
    await adapter.edit(where, rid, outbound("edited in the thread", thread=root["id"]))
    assert lab.history(root["id"])[0]["content"] == "edited in the thread"
    # a second reply reuses the thread
    rid2 = await adapter.send(where, outbound("more", thread=root["id"]))
    await adapter.delete(where, rid)
    assert [m["id"] for m in lab.history(root["id"])] == [rid2]
    # in: a human's message in the thread is reported in the parent room, with the thread
    human = lab.post_as_user(root["id"], alice, "human in thread")
    got = await events.wait_for(2)
    assert got[1].remote_id == human["id"]
    assert got[1].room == where and got[1].thread == root["id"]
    assert await events.quiet() == got


async def test_react_as_the_bot(lab: DiscordLab, start_adapter: Start) -> None:
    room = lab.create_channel("general")
    alice = lab.create_user("Alice")
    adapter, events, _ = await start_adapter(room)
    msg = lab.post_as_user(room, alice, "react to me")
    await events.wait_for(1)
    await adapter.react(RoomRef(ACCOUNT, room), msg["id"], "🎉")
    [reaction] = lab.history(room)[0]["reactions"]
    assert reaction["emoji"]["name"] == "🎉"
    assert reaction["_users"] == [lab.bot.user["id"]]
    assert len(await events.quiet()) == 1  # our own reaction is not emitted
