"""Opening the store: schema from empty, upgrades, refusal of newer or foreign files."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from bridgebot.errors import StoreError
from bridgebot.store import Store
from bridgebot.store.migrations import LATEST, MIGRATIONS, Migration

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
    store = await Store.open(path)
    await store.close()
    assert pragma(path, "user_version") == LATEST
    assert pragma(path, "journal_mode") == "wal"
    assert tables(path) == TABLES
    # Reopening an up-to-date database changes nothing.
    store = await Store.open(path)
    await store.close()
    assert pragma(path, "user_version") == LATEST


async def test_every_lookup_has_an_index(tmp_path: Path) -> None:
    path = tmp_path / "bridge.db"
    await (await Store.open(path)).close()
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
    await (await Store.open(path)).close()
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST + 3}")
    with pytest.raises(StoreError) as caught:
        await Store.open(path)
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
    await (await Store.open(path, migrations=[one])).close()
    assert pragma(path, "user_version") == 1
    # Step 1 is not re-run (its INSERT would duplicate the row).
    await (await Store.open(path, migrations=[one, two])).close()
    assert pragma(path, "user_version") == 2
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT x, y FROM a").fetchall() == [(1, None)]


async def test_a_failing_step_rolls_back_to_the_last_complete_version(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    one = step(1, "CREATE TABLE a (x INTEGER)")
    broken = step(2, "CREATE TABLE b (x INTEGER)", "INSERT INTO missing VALUES (1)")
    with pytest.raises(StoreError, match=r"cannot open or migrate.*no such table: missing"):
        await Store.open(path, migrations=[one, broken])
    assert pragma(path, "user_version") == 1
    assert tables(path) == {"a"}


async def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"this is not sqlite\n" * 200)
    with pytest.raises(StoreError, match=r"notes\.txt.*not a database"):
        await Store.open(path)


async def test_an_unusable_directory_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create its directory"):
        await Store.open(blocker / "bridge.db")


async def test_memory_store_for_tests(tmp_path: Path) -> None:
    store = await Store.open(":memory:")
    try:
        assert await store.outbox_size() == 0
    finally:
        await store.close()
