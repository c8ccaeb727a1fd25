"""The SQLite group commit's bookkeeping (bridgebot/store/sqlite_tx.py) on a real database:
which writes of a group committed, and what each caller is told, including when the
transaction itself fails or cannot begin."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from bridgebot.store.sqlite_tx import Call, Outcome, Plan, Step, atomic, run_group


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[aiosqlite.Connection]:
    conn = await aiosqlite.connect(tmp_path / "group.db", isolation_level=None)
    try:
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
        # RAISE(ROLLBACK) ends the whole transaction, as a full disk or an I/O error would.
        await conn.execute("CREATE TEMP VIEW boom (x) AS SELECT NULL WHERE 0")
        await conn.execute(
            "CREATE TEMP TRIGGER boom INSTEAD OF INSERT ON boom "
            "BEGIN SELECT RAISE(ROLLBACK, 'the transaction is gone'); END"
        )
        yield conn
    finally:
        await conn.close()


def put(k: str, v: str | None = "v") -> Plan[int]:
    return Plan((Step("INSERT INTO kv (k, v) VALUES (?, ?)", (k, v)),))


def put_many(n: int) -> str:
    return "INSERT INTO kv (k, v) VALUES " + ", ".join(["(?, ?)"] * n) + " RETURNING k"


def mergeable(k: str, v: str | None = "v") -> Plan[list[Any]]:
    """A plan whose write merges with its kind's: its result is its RETURNING row."""
    step = Step(put_many(1), (k, v), rows=True)
    return Plan((step,), merge=put_many, key=k)


async def put_two(conn: aiosqlite.Connection, a: str, b: str | None) -> str:
    async with atomic(conn):
        await conn.execute("INSERT INTO kv (k, v) VALUES (?, 'v')", (a,))
        await conn.execute("INSERT INTO kv (k, v) VALUES (?, ?)", (f"{a}-2", b))
    return a


def read_back(a: str) -> Plan[list[Any]]:
    """A write, and a read after it sent with it."""
    return Plan(
        (Step("INSERT INTO kv (k, v) VALUES (?, 'v')", (a,)),
         Step("SELECT k FROM kv ORDER BY k", rows=True)),
        lambda outcomes: [row[0] for row in outcomes[1][1]],
    )  # fmt: skip


def keys(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as other:
        return [row[0] for row in other.execute("SELECT k FROM kv ORDER BY k")]


def oks(outcomes: list[Outcome]) -> list[bool]:
    return [ok for ok, _ in outcomes]


async def test_a_group_of_plans_and_functions_commits_once(
    db: aiosqlite.Connection, tmp_path: Path
) -> None:
    calls: list[Call] = [put("a"), (put_two, ("b", "v")), put("c"), read_back("d")]
    outcomes = await run_group(db, calls)
    assert outcomes == [(True, 1), (True, "b"), (True, 1), (True, ["a", "b", "b-2", "c", "d"])]
    assert not db.in_transaction
    assert keys(tmp_path / "group.db") == ["a", "b", "b-2", "c", "d"]


async def test_failing_writes_fail_alone(db: aiosqlite.Connection, tmp_path: Path) -> None:
    calls: list[Call] = [
        put("a"),
        put("b", None),  # NOT NULL: the statement is undone, the group goes on
        (put_two, ("c", None)),  # its second statement fails: its savepoint undoes the first
        put("a"),  # the primary key: "a" is already there
        put("d"),
    ]
    outcomes = await run_group(db, calls)
    assert oks(outcomes) == [True, False, False, False, True]
    assert all(isinstance(value, sqlite3.IntegrityError) for ok, value in outcomes if not ok)
    assert keys(tmp_path / "group.db") == ["a", "d"]


async def test_a_failed_transaction_fails_every_write(
    db: aiosqlite.Connection, tmp_path: Path
) -> None:
    boom = Plan((Step("INSERT INTO boom (x) VALUES (1)"),))
    outcomes = await run_group(db, [put("a"), boom, (put_two, ("b", "v")), put("c")])
    assert oks(outcomes) == [False] * 4
    assert not db.in_transaction
    # Nothing before the failure committed; nothing after it ran.
    assert keys(tmp_path / "group.db") == []


async def test_plans_sent_after_a_failed_transaction_are_reported_failed(
    db: aiosqlite.Connection, tmp_path: Path
) -> None:
    boom = Plan((Step("INSERT INTO boom (x) VALUES (1)"),))
    outcomes = await run_group(db, [put("a"), boom, put("c")])
    # "c" was sent with the others and ran outside any transaction, so it committed on its
    # own; its caller hears the failure (the safe side: told "failed", never told "done"
    # for something lost).
    assert oks(outcomes) == [False] * 3
    assert keys(tmp_path / "group.db") == ["c"]


async def test_when_begin_fails_the_plans_sent_with_it_ran_alone(
    db: aiosqlite.Connection, tmp_path: Path
) -> None:
    await db.execute("PRAGMA busy_timeout = 50")
    with closing(sqlite3.connect(tmp_path / "group.db", isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        outcomes = await run_group(db, [put("a"), put("b"), (put_two, ("c", "v"))])
        other.execute("ROLLBACK")
    assert oks(outcomes) == [False] * 3
    assert all("locked" in str(value) for _, value in outcomes)
    assert not db.in_transaction
    # Without the lock held, BEGIN goes through and the same group commits.
    assert oks(await run_group(db, [put("a"), put("b"), (put_two, ("c", "v"))])) == [True] * 3
    assert keys(tmp_path / "group.db") == ["a", "b", "c", "c-2"]


async def test_a_write_alone_is_its_own_transaction(
    db: aiosqlite.Connection, tmp_path: Path
) -> None:
    assert await run_group(db, [put("a")]) == [(True, 1)]
    [(ok, error)] = await run_group(db, [(put_two, ("b", None))])
    assert not ok and isinstance(error, sqlite3.IntegrityError)
    assert await run_group(db, [read_back("c")]) == [(True, ["a", "c"])]
    assert keys(tmp_path / "group.db") == ["a", "c"]


async def statements_of(db: aiosqlite.Connection, calls: list[Call]) -> list[str]:
    """The statements SQLite ran for ``calls``, and the outcomes."""
    ran: list[str] = []
    await db.set_trace_callback(ran.append)
    try:
        outcomes = await run_group(db, calls)
    finally:
        await db.set_trace_callback(None)
    ran.append(repr(oks(outcomes)))
    return ran


async def test_a_group_of_mergeable_plans_is_one_statement(
    db: aiosqlite.Connection, tmp_path: Path
) -> None:
    ran = await statements_of(db, [mergeable("a"), mergeable("b"), mergeable("c")])
    assert ran == [
        "INSERT INTO kv (k, v) VALUES ('a', 'v'), ('b', 'v'), ('c', 'v') RETURNING k",
        "[True, True, True]",
    ]
    assert keys(tmp_path / "group.db") == ["a", "b", "c"]


async def test_when_the_merged_statement_fails_each_plan_runs_on_its_own(
    db: aiosqlite.Connection, tmp_path: Path
) -> None:
    ran = await statements_of(db, [mergeable("a"), mergeable("b", None), mergeable("c")])
    assert ran[0] == (
        "INSERT INTO kv (k, v) VALUES ('a', 'v'), ('b', NULL), ('c', 'v') RETURNING k"
    )
    assert ran[1:] == [
        "BEGIN IMMEDIATE",
        "INSERT INTO kv (k, v) VALUES ('a', 'v') RETURNING k",
        "INSERT INTO kv (k, v) VALUES ('b', NULL) RETURNING k",
        "INSERT INTO kv (k, v) VALUES ('c', 'v') RETURNING k",
        "COMMIT",
        "[True, False, True]",
    ]
    assert keys(tmp_path / "group.db") == ["a", "c"]


async def test_plans_merge_only_with_their_own_kind(db: aiosqlite.Connection) -> None:
    ran = await statements_of(db, [mergeable("a"), put("b"), mergeable("c")])
    assert ran == [
        "BEGIN IMMEDIATE",
        "INSERT INTO kv (k, v) VALUES ('a', 'v') RETURNING k",
        "INSERT INTO kv (k, v) VALUES ('b', 'v')",
        "INSERT INTO kv (k, v) VALUES ('c', 'v') RETURNING k",
        "COMMIT",
        "[True, True, True]",
    ]
