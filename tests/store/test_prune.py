"""[store] keep_days and held_days: what pruning forgets, and what it must keep."""

from __future__ import annotations

from bridgebot.store import DAY, Store
from tests.store.rows import DISCORD, MATRIX, SLACK, accept, settle
from tests.support import Clock


async def test_old_messages_are_forgotten_with_their_copies_and_followups(
    store: Store, clock: Clock
) -> None:
    old = await accept(store, "old", MATRIX)
    await settle(store, MATRIX)
    assert await store.accept_followup("edit", SLACK, "old-edit", old, [])
    clock.now += 89 * DAY
    recent = await accept(store, "recent", MATRIX)
    await settle(store, MATRIX)
    clock.now += 2 * DAY  # "old" is 91 days old, "recent" 2

    pruned = await store.prune(keep_days=90, held_days=14)

    assert pruned.messages == 1
    assert await store.find_message(SLACK, "old") is None
    assert await store.find_message(MATRIX, f"copy-{old}") is None  # its copy, gone too
    assert not await store.is_copy(MATRIX, f"copy-{old}")
    # the follow-up went with it: the same edit id is new again
    assert await store.accept_followup("edit", SLACK, "old-edit", recent, [])
    assert await store.find_message(SLACK, "recent") == recent
    assert await store.remote_id_in(recent, MATRIX) == f"copy-{recent}"


async def test_messages_something_still_needs_are_kept(store: Store, clock: Clock) -> None:
    queued = await accept(store, "queued", MATRIX)  # a delivery still in the outbox
    dead = await accept(store, "dead", DISCORD)
    (item,) = await store.next_batch(DISCORD)
    await store.dead_letter(item, "Missing Permissions")  # an admin may still retry it
    held = await accept(store, "held")
    await store.hold(f"{SLACK}:U1", held, "{}", [MATRIX])
    clock.now += 100 * DAY

    pruned = await store.prune(keep_days=90, held_days=0)  # holds wait for ever

    assert pruned.messages == 0
    for remote_id, message_id in (("queued", queued), ("dead", dead), ("held", held)):
        assert await store.find_message(SLACK, remote_id) == message_id
    assert len(await store.held(f"{SLACK}:U1")) == 1


async def test_unanswered_holds_are_dropped_after_held_days(store: Store, clock: Clock) -> None:
    first = await accept(store, "first")
    await store.hold("slack.work:U1", first, "{}", [MATRIX])
    clock.now += 10 * DAY
    second = await accept(store, "second")
    await store.hold("slack.work:U1", second, "{}", [MATRIX])
    other = await accept(store, "other")
    await store.hold("slack.work:U2", other, "{}", [MATRIX])
    clock.now += 5 * DAY  # the first hold is 15 days old, the others 5

    pruned = await store.prune(keep_days=0, held_days=14)

    assert dict(pruned.held) == {"slack.work:U1": 1}
    assert [h.message_id for h in await store.held("slack.work:U1")] == [second]
    assert [h.message_id for h in await store.held("slack.work:U2")] == [other]
    assert pruned.messages == 0  # keep_days = 0 keeps every message
    assert await store.find_message(SLACK, "first") == first


async def test_pruning_runs_in_batches_until_done(store: Store, clock: Clock) -> None:
    for n in range(25):
        await accept(store, f"m{n}")
    clock.now += 91 * DAY
    commits = store.commits

    pruned = await store.prune(keep_days=90, held_days=14, batch=10)

    assert pruned.messages == 25
    assert store.commits - commits == 3  # 10 + 10 + 5, each its own transaction
    assert all([await store.find_message(SLACK, f"m{n}") is None for n in range(25)])
