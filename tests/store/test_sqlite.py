"""The SQLite back end's own promises: its file (schema from empty, upgrades, refusal of
newer or foreign files, WAL, indexes), its errors, its group read, and aiosqlite's public
API only. What every back end promises is in the other modules here."""

from __future__ import annotations

import ast
import asyncio
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import aiosqlite
import pytest

import bridgebot.store
from bridgebot.errors import StoreError
from bridgebot.store import SQLiteStore, open_store
from bridgebot.store.migrations import LATEST, MIGRATIONS, Migration
from bridgebot.store.sqlite_ops import ROOMS_PER_READ
from tests.store.rows import MATRIX, SLACK, accept, to

TABLES = {
    "messages",
    "copies",
    "followups",
    "outbox",
    "dead_letters",
    "audit",
    "consent",
    "overrides",
    "announcements",
    "links",
    "held",
    "consent_asked",
    "cursors",
}


def pragma(path: Path, name: str) -> object:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


def tables(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {r[0] for r in rows} - {"sqlite_sequence"}


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert len(MIGRATIONS) == LATEST


async def test_empty_file_gets_the_whole_schema_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "bridge.db"
    store = await open_store(path)
    await store.close()
    assert pragma(path, "user_version") == LATEST
    assert pragma(path, "journal_mode") == "wal"
    assert tables(path) == TABLES
    # Reopening an up-to-date database changes nothing.
    store = await open_store(path)
    await store.close()
    assert pragma(path, "user_version") == LATEST


async def test_every_lookup_has_an_index(tmp_path: Path) -> None:
    path = tmp_path / "bridge.db"
    await (await open_store(path)).close()
    lookups = [
        ("SELECT id FROM messages WHERE room = ? AND remote_id = ?", 2),
        ("SELECT message_id FROM copies WHERE room = ? AND remote_id = ?", 2),
        ("SELECT remote_id FROM copies WHERE message_id = ? AND room = ?", 2),
        ("SELECT room FROM copies WHERE message_id = ?", 1),
        ("SELECT * FROM outbox WHERE dest_room = ? ORDER BY id LIMIT 32", 1),
        ("SELECT 1 FROM followups WHERE kind = ? AND room = ? AND remote_id = ?", 3),
        ("SELECT dest_room, reason FROM dead_letters WHERE message_id = ? ORDER BY id", 1),
        ("SELECT id FROM messages WHERE author_ref = ? ORDER BY id", 1),
        ("SELECT id FROM held WHERE author_ref = ? ORDER BY id", 1),
        ("SELECT id FROM announcements WHERE state = ? AND due_at <= ? ORDER BY due_at", 2),
    ]
    with closing(sqlite3.connect(path)) as conn:
        for sql, n in lookups:
            plan = " ".join(r[-1] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", ["x"] * n))
            assert "SCAN" not in plan and "TEMP B-TREE" not in plan, (sql, plan)


async def test_a_newer_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "bridge.db"
    await (await open_store(path)).close()
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST + 3}")
    with pytest.raises(StoreError) as caught:
        await open_store(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"version {LATEST + 3}" in message and f"up to {LATEST}" in message
    assert "newer bridgebot" in message and "backup" in message
    assert pragma(path, "user_version") == LATEST + 3


def step(version: int, *statements: str) -> Migration:
    return Migration(version, f"step {version}", statements)


async def test_upgrade_applies_only_the_missing_steps(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    one = step(1, "CREATE TABLE a (x INTEGER)", "INSERT INTO a VALUES (1)")
    two = step(2, "ALTER TABLE a ADD COLUMN y TEXT")
    await (await SQLiteStore.open(path, migrations=[one])).close()
    assert pragma(path, "user_version") == 1
    # Step 1 is not re-run (its INSERT would duplicate the row).
    await (await SQLiteStore.open(path, migrations=[one, two])).close()
    assert pragma(path, "user_version") == 2
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT x, y FROM a").fetchall() == [(1, None)]


async def test_a_failing_step_rolls_back_to_the_last_complete_version(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    one = step(1, "CREATE TABLE a (x INTEGER)")
    broken = step(2, "CREATE TABLE b (x INTEGER)", "INSERT INTO missing VALUES (1)")
    with pytest.raises(StoreError, match=r"cannot open or migrate.*no such table: missing"):
        await SQLiteStore.open(path, migrations=[one, broken])
    assert pragma(path, "user_version") == 1
    assert tables(path) == {"a"}


async def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"this is not sqlite\n" * 200)
    with pytest.raises(StoreError, match=r"notes\.txt.*not a database"):
        await open_store(path)


async def test_an_unusable_directory_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create its directory"):
        await open_store(blocker / "bridge.db")


async def test_memory_store_for_tests(tmp_path: Path) -> None:
    store = await open_store(":memory:")
    try:
        assert await store.outbox_size() == 0
    finally:
        await store.close()


# -- opening: where, and what open_store picks -----------------------------------------------


async def test_open_store_picks_sqlite_for_a_path_and_creates_its_directories(
    tmp_path: Path,
) -> None:
    path = tmp_path / "nested" / "dir" / "bridge.db"
    store = await open_store(path)
    try:
        assert isinstance(store, SQLiteStore)
        assert await store.outbox_size() == 0
    finally:
        await store.close()
    assert path.is_file()


async def test_writers_wait_for_another_process_holding_the_lock(tmp_path: Path) -> None:
    """busy_timeout: a write made while the CLI holds the write lock waits, then succeeds."""
    path = tmp_path / "bridge.db"
    store = await open_store(path)
    try:
        with closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            other.execute("INSERT INTO cursors (key, value) VALUES ('cli', 'x')")
            asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")
            started = time.monotonic()
            await store.set_cursor("bot", "y")
            assert time.monotonic() - started >= 0.25
        assert await store.get_cursor("cli") == "x"
        assert await store.get_cursor("bot") == "y"
    finally:
        await store.close()


# -- errors name the store, the operation and what SQLite said --------------------------------


async def test_errors_name_the_store_the_operation_and_sqlites_reason(tmp_path: Path) -> None:
    path = tmp_path / "bridge.db"
    store = await open_store(path)
    try:
        with pytest.raises(StoreError) as caught:
            await store.add_deliveries(999, [to(MATRIX)])
        assert str(caught.value) == (
            f"store {path}: add_deliveries failed: FOREIGN KEY constraint failed"
        )
        assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
        with pytest.raises(StoreError, match="accept_followup failed: FOREIGN KEY"):
            await store.accept_followup("edit", SLACK, "e1", 999, [to(MATRIX, "edit")])
    finally:
        await store.close()


async def test_a_failed_group_read_fails_every_asker(tmp_path: Path) -> None:
    path = tmp_path / "bridge.db"
    opened = await open_store(path)
    with closing(sqlite3.connect(path)) as other:
        other.execute("DROP TABLE outbox")  # a broken database file, as it were
    try:
        results = await asyncio.gather(
            *(opened.next_batch(f"slack.work:C{i}") for i in range(3)), return_exceptions=True
        )
    finally:
        await opened.close()
    assert all(isinstance(r, StoreError) for r in results), results
    assert all(f"store {path}: next_batch failed" in str(r) for r in results)


async def test_a_group_read_bigger_than_one_statement(tmp_path: Path) -> None:
    """More rooms than one compound SELECT takes: more trips, each room still its rows."""
    store = await open_store(tmp_path / "bridge.db")
    try:
        rooms = [f"slack.work:C{i}" for i in range(ROOMS_PER_READ + 20)]
        first = await accept(store, "a", *rooms)
        second = await accept(store, "b", *rooms[1::3])
        trips = store.read_trips
        batches = await asyncio.gather(*(store.next_batch(room, limit=5) for room in rooms))
        assert store.read_trips == trips + 2
        for i, (room, batch) in enumerate(zip(rooms, batches, strict=True)):
            assert {item.dest_room for item in batch} == {room}
            expected = [first, second] if i % 3 == 1 else [first]
            assert [item.message_id for item in batch] == expected
    finally:
        await store.close()


# -- aiosqlite's public API only --------------------------------------------------------------


def test_the_store_uses_only_aiosqlites_public_api() -> None:
    """No ``_execute``, ``_conn`` or other private name of aiosqlite: its releases may change
    them at will, and pyproject.toml no longer pins it below the next one."""
    instance_attrs = {"_connection", "_connector", "_running", "_tx", "_thread", "_cursor"}
    private = instance_attrs | {
        name
        for cls in (aiosqlite.Connection, aiosqlite.Cursor)
        for name in vars(cls)
        if name.startswith("_") and not name.startswith("__")
    }
    assert {"_execute", "_conn"} <= private
    package = Path(bridgebot.store.__file__).parent
    used = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in private:
                used.append(f"{path.name}:{node.lineno}: .{node.attr}")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aiosqlite."):
                used.append(f"{path.name}:{node.lineno}: from {node.module} import ...")
    assert used == []


# -- the relay's writes of a group commit are one statement -----------------------------------


async def test_a_group_of_relay_writes_is_one_statement(tmp_path: Path) -> None:
    """Accepts (new, duplicate, echo), follow-ups and settlements made together: one
    INSERT, no BEGIN, no fallback to one statement each (which would still be correct,
    only slower: this test is what notices)."""
    store = await SQLiteStore.open(tmp_path / "bridge.db")
    try:
        first = await accept(store, "m1", MATRIX)
        [item] = await store.next_batch(MATRIX)
        ran: list[str] = []
        await store._db.set_trace_callback(ran.append)  # the SQLite back end's own connection
        results = await asyncio.gather(
            store.complete(item, "$copy"),
            store.accept_message(SLACK, "m2", "u", None, 1.0, [to(MATRIX)]),
            store.accept_message(SLACK, "m1", "u", None, 1.0, [to(MATRIX)]),  # duplicate
            store.accept_message(MATRIX, "$copy", "bot", None, 1.0, [to(SLACK)]),  # echo
            store.accept_followup("edit", SLACK, "e1", first, [to(MATRIX, "edit")]),
            store.accept_followup("edit", SLACK, "e1", first, [to(MATRIX, "edit")]),
        )
        await store._db.set_trace_callback(None)
        assert results == [[], first + 1, None, None, True, False]
        # (The trace repeats a statement at the start of each trigger it fires.)
        statements = set(ran)
        assert len(statements) == 1, statements
        assert statements.pop().startswith("INSERT INTO relay_writes")
        assert [i.kind for i in await store.next_batch(MATRIX)] == ["message", "edit"]
        assert await store.find_message(MATRIX, "$copy") == first
    finally:
        await store.close()


async def test_a_relay_write_that_fails_is_replayed_alone(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "bridge.db")
    try:
        first = await accept(store, "m1")
        results = await asyncio.gather(
            store.accept_message(SLACK, "m2", "u", None, 1.0, [to(MATRIX)]),
            store.accept_followup("edit", SLACK, "e1", 999, [to(MATRIX, "edit")]),  # no 999
            store.accept_followup("edit", SLACK, "e2", first, [to(MATRIX, "edit")]),
            return_exceptions=True,
        )
        assert results[0] == first + 1 and results[2] is True, results
        assert isinstance(results[1], StoreError)
        assert "accept_followup failed: FOREIGN KEY constraint failed" in str(results[1])
        assert [i.kind for i in await store.next_batch(MATRIX)] == ["message", "edit"]
    finally:
        await store.close()
