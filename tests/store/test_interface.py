"""Every back end is a Store: it has every method of the protocol, with the protocol's
parameters (what the core may call on a store is the protocol: mypy checks the callers).

mypy checks the same statically (``bridgebot/store/__init__.py`` assigns ``SQLiteStore``
to a ``type[Store]``); these run it for each back end in the contract, at run time.
"""

from __future__ import annotations

import inspect

import pytest

from bridgebot.store import SQLiteStore, Store


def protocol_members() -> dict[str, object]:
    """The protocol's own members: its methods and its read-only counters."""
    return {
        name: value
        for name, value in vars(Store).items()
        if not name.startswith("_") and (callable(value) or isinstance(value, property))
    }


#: Everything the core, the admin tools, the CLI, the tests and the benchmarks call on a
#: store; a change here is a change of every back end.
INTERFACE = {
    # counters, and closing
    "writes", "commits", "read_trips", "close",
    # inbound, the id map
    "accept_message", "accept_followup", "add_deliveries", "find_message", "remote_id_in",
    "copies_of", "is_copy", "message_origin", "messages_by",
    # the outbox
    "pending_rooms", "next_batch", "complete", "complete_soon", "postpone", "dead_letter",
    "dead_letters", "retry_dead_letters", "queue_depths", "outbox_size",
    # announcements, links, consent
    "add_announcement", "queue_announcement", "announcement_reported", "cancel_announcement",
    "announcement", "announcements", "due_announcements", "unreported_announcements",
    "delivery_state", "set_link", "delete_link", "links", "get_consent", "set_consent",
    "hold", "held", "release_held", "consent_asked",
    # audit, overrides, cursors, retention
    "audit", "audit_log", "set_override", "delete_override", "overrides", "get_cursor",
    "set_cursor", "prune",
}  # fmt: skip


def test_the_protocol_lists_the_whole_interface() -> None:
    assert set(protocol_members()) == INTERFACE


@pytest.mark.parametrize("name", sorted(protocol_members()))
def test_sqlite_store_has_the_protocols_method(name: str) -> None:
    wanted = protocol_members()[name]
    if isinstance(wanted, property):
        return  # counters: instance attributes, checked on an open store below
    have = getattr(SQLiteStore, name, None)
    assert callable(have), f"SQLiteStore has no {name}"
    assert inspect.iscoroutinefunction(have) == inspect.iscoroutinefunction(wanted), name
    assert same_parameters(have, wanted), (
        f"{name}{inspect.signature(have)} is not {name}{inspect.signature(wanted)}"
    )


def same_parameters(have: object, wanted: object) -> bool:
    # Names, kinds, defaults and annotations (as written: both modules use postponed
    # annotations, so they are the source text) must all match.
    def shape(fn: object) -> list[tuple[object, ...]]:
        sig = inspect.signature(fn)  # type: ignore[arg-type]
        params = [(p.name, p.kind, p.default, p.annotation) for p in sig.parameters.values()]
        return [*params, ("return", sig.return_annotation)]

    return shape(have) == shape(wanted)


async def test_every_back_end_is_a_store(store: Store) -> None:
    assert isinstance(store, Store)  # runtime_checkable: every member is there
    for name, member in protocol_members().items():
        if isinstance(member, property):
            assert isinstance(getattr(store, name), int), name
        else:
            assert callable(getattr(store, name)), name
