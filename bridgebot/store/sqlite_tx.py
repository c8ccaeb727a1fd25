"""Transactions and the group commit over aiosqlite's public API, for the SQLite store.

Every statement is a call into aiosqlite: it is queued to the connection's worker thread,
and its answer comes back through the event loop. Each call is a hand-off between the two
threads (40–90 µs on a busy 2-core machine), which on the outbox's hot path costs more
than SQLite's own work. So:

- a write of one statement is a :class:`Plan`: that statement, atomic by itself (SQLite
  undoes a failing statement whole), and reads after it. Its steps, and the steps of the
  plans next to it in a group commit, are queued together and their answers awaited
  together (:func:`send`): aiosqlite runs calls one at a time in the order they were
  made, so they run back to back, in order, in one round trip;
- the relay's hot-path writes merge (:attr:`Plan.merge`, :mod:`.sqlite_relay`): a group
  of them is one multi-row statement, one call;
- any other write is an async function of the connection that wraps its statements in
  :func:`atomic`: ``BEGIN IMMEDIATE … COMMIT`` alone, a savepoint inside a group commit.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

import aiosqlite

__all__ = ["Call", "Outcome", "Plan", "Step", "atomic", "rollback", "run_group", "send"]

log = logging.getLogger("bridgebot.store")

_T_co = TypeVar("_T_co", covariant=True)

#: What became of a statement or a write: (True, result) or (False, the exception).
Outcome = tuple[bool, Any]


@dataclass(frozen=True, slots=True)
class Step:
    """One statement: with ``rows`` its rows are the result, else the rows it changed."""

    sql: str
    params: Sequence[Any] = ()
    rows: bool = False


def _value_of_first(outcomes: list[Outcome]) -> Any:
    ok, value = outcomes[0]
    if not ok:
        raise value
    return value


@dataclass(frozen=True, slots=True)
class Plan(Generic[_T_co]):
    """A write of one statement, and reads after it, sent to the worker thread together.

    ``finish`` turns the steps' outcomes into the write's result, raising if it failed;
    by default the first step's result (rows changed, or rows).

    ``merge`` makes the plan's write one row of a multi-row statement: ``merge(n)`` is the
    statement for n such rows, their parameters one after another, and it returns one
    row per write whose first column is that write's ``key`` (SQL does not promise the
    order of RETURNING rows). A group made only of plans with the same ``merge`` is sent
    as that one statement, their reads after it.
    """

    steps: tuple[Step, ...]
    finish: Callable[[list[Outcome]], _T_co] = _value_of_first
    merge: Callable[[int], str] | None = None
    key: Any = None


#: A write queued for a group commit: a plan, or an async function of the connection and
#: its arguments.
Call = Plan[Any] | tuple[Callable[..., Awaitable[Any]], tuple[Any, ...]]

#: Plans merged into one statement at most (their parameters stay well below SQLite's
#: limit); a bigger group is sent statement by statement.
MERGE_AT_MOST = 100

_BEGIN = Step("BEGIN IMMEDIATE")
_COMMIT = Step("COMMIT")


async def _run_step(db: aiosqlite.Connection, step: Step) -> Any:
    if step.rows:
        return list(await db.execute_fetchall(step.sql, step.params))
    cursor = await db.execute(step.sql, step.params)
    return cursor.rowcount


async def send(db: aiosqlite.Connection, steps: Sequence[Step]) -> list[Outcome]:
    """Run ``steps`` back to back: all queued to the worker thread, then all awaited.

    A failing step does not stop the ones after it; each step's outcome is returned.
    """
    if len(steps) == 1:
        try:
            return [(True, await _run_step(db, steps[0]))]
        except Exception as exc:
            return [(False, exc)]
    # gather starts its tasks in order, and each queues its statement before it first
    # waits, so the worker thread gets them in this order.
    results = await asyncio.gather(*(_run_step(db, s) for s in steps), return_exceptions=True)
    return [(False, r) if isinstance(r, BaseException) else (True, r) for r in results]


def finish(plan: Plan[Any], outcomes: list[Outcome]) -> Outcome:
    """The plan's outcome from its steps' outcomes."""
    try:
        return (True, plan.finish(outcomes))
    except Exception as exc:
        return (False, exc)


async def rollback(db: aiosqlite.Connection) -> None:
    """ROLLBACK if a transaction is open; a failure is logged, not raised (the error that
    made us roll back is the one the caller must see)."""
    if db.in_transaction:
        try:
            await db.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("rollback failed; the original error follows")


@asynccontextmanager
async def atomic(db: aiosqlite.Connection) -> AsyncIterator[None]:
    """BEGIN IMMEDIATE … COMMIT, or a savepoint inside a group commit; undone on error."""
    if db.in_transaction:
        # Inside run_group: undo only this write, not the others sharing the commit.
        await db.execute("SAVEPOINT op")
        try:
            yield
            await db.execute("RELEASE op")
        except BaseException:
            if db.in_transaction:
                await db.execute("ROLLBACK TO op")
                await db.execute("RELEASE op")
            raise
        return
    # IMMEDIATE takes the write lock at BEGIN, where busy_timeout applies, rather than
    # failing half-way with SQLITE_BUSY when a reader in another process upgrades.
    await db.execute("BEGIN IMMEDIATE")
    try:
        yield
        await db.execute("COMMIT")
    except BaseException:
        await rollback(db)
        raise


async def run_alone(db: aiosqlite.Connection, call: Call) -> Outcome:
    """One write, in a transaction of its own (a plan's write statement is one)."""
    if isinstance(call, Plan):
        return finish(call, await send(db, call.steps))
    fn, args = call
    try:
        return (True, await fn(db, *args))
    except Exception as exc:
        return (False, exc)


async def run_group(db: aiosqlite.Connection, calls: Sequence[Call]) -> list[Outcome]:
    """Run queued writes under one commit (group commit).

    The hand-offs and the commit, not the statements, are what cost on this hot path, so
    the writes that arrive while one group commits share the next. A group of plans that
    merge is one statement, its own transaction. Otherwise the group runs inside ``BEGIN
    IMMEDIATE … COMMIT``: consecutive plans are sent together with the BEGIN before them
    and the COMMIT after them (a group of plans is one round trip), and a function write
    runs in a savepoint.

    One failing write is undone alone: a plan's single statement by SQLite, a function
    write by its savepoint. If the transaction itself fails (an I/O error, a full disk:
    SQLite rolls it back) or the commit does, every write in the group reports the error,
    so no caller hears "done" for something not committed; the plans queued behind the
    failing statement then ran outside any transaction and may have committed anyway,
    which is the safe side for the store's writes (each is idempotent or at-least-once).
    If BEGIN itself fails (the lock stayed busy past busy_timeout), the plans sent with it
    ran one by one, each committed or not as its outcome says, and the rest report it.
    """
    if len(calls) == 1:
        return [await run_alone(db, calls[0])]
    merged = await _run_merged(db, calls)
    if merged is not None:
        return merged
    outcomes: list[Outcome] = [(False, None)] * len(calls)
    steps: list[Step] = [_BEGIN]
    plans: list[tuple[int, Plan[Any], int]] = []  # (index in calls, plan, its first step)

    def everyone(error: BaseException) -> list[Outcome]:
        return [(False, error)] * len(calls)

    async def flush(final: bool) -> BaseException | None:
        """Send the queued steps; the error that ended the group, if one did."""
        nonlocal steps, plans
        if final:
            steps.append(_COMMIT)
        sent, queued = steps, plans
        steps, plans = [], []
        results = await send(db, sent)
        for index, plan, start in queued:
            outcomes[index] = finish(plan, results[start : start + len(plan.steps)])
        began, begin_error = results[0]
        if sent[0] is _BEGIN and not began:
            return cast(BaseException, begin_error)  # the plans sent with it ran alone
        if final and results[-1][0]:
            return None  # committed
        if final or not db.in_transaction:
            # The transaction failed, or its commit did: nothing of the group committed.
            raise _GroupFailed(_cause(results))
        return None

    try:
        for index, call in enumerate(calls):
            if isinstance(call, Plan):
                plans.append((index, call, len(steps)))
                steps.extend(call.steps)
                continue
            began_error = await flush(final=False) if steps else None
            if began_error is not None:
                return _rest_fail(outcomes, index, began_error)
            fn, args = call
            try:
                outcomes[index] = (True, await fn(db, *args))
            except Exception as exc:
                if not db.in_transaction:
                    raise _GroupFailed(exc) from exc  # the whole transaction is gone
                outcomes[index] = (False, exc)
        began_error = await flush(final=True)
        if began_error is not None:
            return _rest_fail(outcomes, len(calls), began_error)
    except _GroupFailed as failed:
        await rollback(db)
        return everyone(failed.error)
    except Exception as exc:  # the connection itself failed: so did all of them
        await rollback(db)
        return everyone(exc)
    return outcomes


async def _run_merged(db: aiosqlite.Connection, calls: Sequence[Call]) -> list[Outcome] | None:
    """Run a group of plans that merge into one statement as that statement (one
    transaction, one commit: the group's, with no BEGIN and COMMIT around it), their reads
    after it; None if they do not merge, or if the statement failed: SQLite then undid it
    whole, and the group is to be run write by write to find who failed."""
    plans = [call for call in calls if isinstance(call, Plan)]
    merge = plans[0].merge if plans else None
    if (
        merge is None
        or len(plans) != len(calls)
        or len(plans) > MERGE_AT_MOST
        or any(plan.merge is not merge for plan in plans)
    ):
        return None
    params = [p for plan in plans for p in plan.steps[0].params]
    reads = [step for plan in plans for step in plan.steps[1:]]
    results = await send(db, [Step(merge(len(plans)), params, rows=True), *reads])
    ok, rows = results[0]
    if not ok:
        return None
    by_key = {row[0]: row for row in rows}
    outcomes, read = [], 1
    for plan in plans:
        extra = len(plan.steps) - 1
        row = by_key.get(plan.key)
        wrote: Outcome = (True, [row]) if row else (False, sqlite3.InterfaceError(_NO_ROW))
        outcomes.append(finish(plan, [wrote, *results[read : read + extra]]))
        read += extra
    return outcomes


# A merged statement returned no row for a write: a bug in its SQL, never a retry (the
# statement committed).
_NO_ROW = "the merged statement returned no row for this write"


def _cause(results: list[Outcome]) -> BaseException:
    """What most likely ended a transaction: a failure other than a constraint (those undo
    one statement and leave the transaction be), else the last failure (the COMMIT's)."""
    failed: list[BaseException] = [value for ok, value in results if not ok]
    for error in failed:
        if not isinstance(error, sqlite3.IntegrityError):
            return error
    return failed[-1] if failed else sqlite3.OperationalError("the transaction was rolled back")


def _rest_fail(outcomes: list[Outcome], start: int, error: BaseException) -> list[Outcome]:
    """The writes from ``start`` on were never run: they report ``error``."""
    for index in range(start, len(outcomes)):
        outcomes[index] = (False, error)
    return outcomes


class _GroupFailed(Exception):
    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error
