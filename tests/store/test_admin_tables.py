"""The store's contract off the hot path: announcements, chat-made links, consent and held
messages. Every test runs on every back end."""

from __future__ import annotations

import pytest

from bridgebot.errors import StoreError
from bridgebot.store import Announcement, DeliveryState, Link, Store
from tests.store.rows import DISCORD, MATRIX, SLACK, accept, to
from tests.support import Clock

FACILITATORS = "slack.work:CFAC"


async def announce(store: Store, text: str = "hello", **kwargs: object) -> int:
    fields: dict[str, object] = {
        "author_ref": "slack.work:UADMIN",
        "author_name": "Ada",
        "text": text,
        "bridge": "khub",
        "origin_room": FACILITATORS,
    }
    fields.update(kwargs)
    return await store.add_announcement(**fields)  # type: ignore[arg-type]


async def test_an_announcement_from_scheduled_to_reported(store: Store, clock: Clock) -> None:
    ann_id = await announce(store, origin_id="1.0001")
    assert await store.announcement(ann_id) == Announcement(
        ann_id, clock.now, "slack.work:UADMIN", "Ada", "hello", "khub", FACILITATORS,
        "1.0001", clock.now, "scheduled", None, (),
    )  # fmt: skip
    assert [a.id for a in await store.due_announcements(clock.now)] == [ann_id]

    message_id = await accept(store, "ann-1", room=FACILITATORS)
    deliveries = [to(MATRIX), to(DISCORD), to(MATRIX, "edit")]
    assert await store.queue_announcement(ann_id, message_id, deliveries)
    queued = await store.announcement(ann_id)
    assert queued is not None
    assert (queued.state, queued.message_id, queued.rooms) == (
        "queued",
        message_id,
        tuple(sorted({MATRIX, DISCORD})),
    )
    assert await store.queue_depths() == {MATRIX: 2, DISCORD: 1}
    assert await store.due_announcements(clock.now) == []
    # queued once only: a second try writes nothing
    assert not await store.queue_announcement(ann_id, message_id, [to(SLACK)])
    assert await store.outbox_size() == 3
    assert not await store.cancel_announcement(ann_id)  # too late to cancel

    assert [a.id for a in await store.unreported_announcements(exclude_origin="cli")] == [ann_id]
    assert await store.unreported_announcements(exclude_origin=FACILITATORS) == []
    await store.announcement_reported(ann_id)
    reported = await store.announcement(ann_id)
    assert reported is not None and reported.state == "reported"
    assert await store.unreported_announcements(exclude_origin="cli") == []
    await store.announcement_reported(ann_id)  # again: no change
    assert (await store.announcement(ann_id)) == reported


async def test_scheduled_announcements_wait_for_their_time_or_a_cancel(
    store: Store, clock: Clock
) -> None:
    later = await announce(store, "later", due_at=clock.now + 60)
    sooner = await announce(store, "sooner", due_at=clock.now + 30)
    cancelled = await announce(store, "never", due_at=clock.now + 10)
    assert await store.cancel_announcement(cancelled)
    assert not await store.cancel_announcement(cancelled)
    assert not await store.cancel_announcement(12345)
    assert await store.due_announcements(clock.now) == []
    assert [a.id for a in await store.due_announcements(clock.now + 45)] == [sooner]
    assert [a.id for a in await store.due_announcements(clock.now + 60)] == [sooner, later]
    # newest first; cancelled ones only when asked for
    assert [a.id for a in await store.announcements()] == [sooner, later]
    assert [a.id for a in await store.announcements(limit=1)] == [sooner]
    assert [a.id for a in await store.announcements(states=("cancelled",))] == [cancelled]
    assert await store.announcement(cancelled + 100) is None
    message_id = await accept(store, "m1")
    assert not await store.queue_announcement(cancelled, message_id, [to(MATRIX)])
    assert await store.outbox_size() == 0


async def test_queueing_an_announcement_refuses_bad_deliveries(store: Store) -> None:
    ann_id = await announce(store)
    message_id = await accept(store, "m1")
    with pytest.raises(StoreError, match="unknown kind 'poke'"):
        await store.queue_announcement(ann_id, message_id, [to(MATRIX, "poke")])
    still = await store.announcement(ann_id)
    assert still is not None and still.state == "scheduled"


async def test_delivery_state_says_where_a_message_landed_and_failed(store: Store) -> None:
    message_id = await accept(store, "m1", MATRIX, DISCORD, "telegram.bot:-1")
    assert await store.delivery_state(message_id) == DeliveryState((), {})
    [matrix] = await store.next_batch(MATRIX)
    await store.complete(matrix, "$copy")
    [discord] = await store.next_batch(DISCORD)
    await store.dead_letter(discord, "Missing Permissions")
    assert await store.delivery_state(message_id) == DeliveryState(
        (MATRIX,), {DISCORD: "Missing Permissions"}
    )


async def test_links_are_upserted_and_listed_by_bridge_and_room(
    store: Store, clock: Clock
) -> None:
    assert await store.links() == []
    await store.set_link("khub", SLACK, True, "alice")
    clock.now += 1
    await store.set_link("abridge", MATRIX, False, "bob")
    await store.set_link("khub", SLACK, False, "carol")  # changes its mind
    assert await store.links() == [
        Link("abridge", MATRIX, False, "bob", clock.now),
        Link("khub", SLACK, False, "carol", clock.now),
    ]
    await store.delete_link("khub", SLACK)
    await store.delete_link("khub", "absent")
    assert [(link.bridge, link.room) for link in await store.links()] == [("abridge", MATRIX)]


async def test_held_messages_wait_for_their_authors_answer(store: Store) -> None:
    author = f"{SLACK}:U1"
    first = await accept(store, "m1")
    second = await accept(store, "m2")
    await store.hold(author, first, '{"text": "one"}', [MATRIX, DISCORD])
    await store.hold(author, second, '{"text": "two"}', [MATRIX])
    await store.hold("slack.work:U2", second, "{}", [DISCORD])
    held = await store.held(author)
    assert [(h.author_ref, h.message_id, h.event, h.dests) for h in held] == [
        (author, first, '{"text": "one"}', (MATRIX, DISCORD)),
        (author, second, '{"text": "two"}', (MATRIX,)),
    ]
    assert held[0].id < held[1].id
    assert await store.release_held(author) == 2
    assert await store.held(author) == []
    assert await store.release_held(author) == 0
    assert len(await store.held("slack.work:U2")) == 1


async def test_consent_is_explained_once_per_author(store: Store) -> None:
    assert await store.consent_asked("slack.work:U1", SLACK)
    assert not await store.consent_asked("slack.work:U1", SLACK)
    assert not await store.consent_asked("slack.work:U1", MATRIX)  # once, whichever room
    assert await store.consent_asked("slack.work:U2", SLACK)


async def test_messages_by_lists_an_authors_messages(store: Store) -> None:
    first = await accept(store, "m1")
    other = await accept(store, "m2", room=MATRIX)
    second = await accept(store, "m3")
    assert await store.messages_by(f"{SLACK}:U1") == [(first, SLACK, "m1"), (second, SLACK, "m3")]
    assert await store.messages_by(f"{MATRIX}:U1") == [(other, MATRIX, "m2")]
    assert await store.messages_by("nobody") == []
