"""Hot-path statements run straight on the driver connection, below SQLAlchemy's execution.

Every chat turn runs the same handful of statements. SQLAlchemy's Core execution costs
~100 µs of Python per statement (execution context, result proxy, greenlet hop) and a
session checkout ~130 µs, several times what SQLite spends running them. The statements
here are still written as SQLAlchemy Core, so table and column names come from the models,
and SQLAlchemy compiles each once per dialect, with that dialect's own bind and result
bind processors (JSON, timestamps); only running them is left to the driver (`sqlite3`
or `asyncpg`), through `Database.write` and `Database.read_one`. Rows read this way are
the driver's own values (an SQLite boolean is an int): callers convert what they read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any]
# A statement ready for the driver: its SQL and its arguments (a list of them for
# `executemany`).
Bound = tuple[str, tuple[Any, ...] | list[tuple[Any, ...]]]


@dataclass(frozen=True, slots=True)
class Compiled:
    """A statement's SQL for one dialect, its positional parameter order and processors."""

    sql: str
    # Each positional parameter's name and bind processor, in order.
    binds: tuple[tuple[str, Processor | None], ...]
    # Values the statement itself holds (the `1` of `count + 1`), by parameter name.
    fixed: Mapping[str, Any]

    # Derived from `binds`: the values in order, and which of them to process.
    _values: Callable[[Mapping[str, Any]], tuple[Any, ...]] = field(init=False, repr=False)
    _processed: tuple[tuple[int, Processor], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = [name for name, _ in self.binds]
        object.__setattr__(self, "_values", _getter(names))
        processed = tuple(
            (index, process) for index, (_, process) in enumerate(self.binds) if process is not None
        )
        object.__setattr__(self, "_processed", processed)

    def args(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """`params` (by name) as the driver's positional arguments, bind-processed."""
        if self.fixed:
            params = {**self.fixed, **params}
        values = self._values(params)
        if not self._processed:
            return values
        processed = list(values)
        for index, process in self._processed:
            processed[index] = process(processed[index])
        return tuple(processed)


def _getter(names: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """The values of `names` in a mapping, as a tuple (in C: `itemgetter`)."""
    if len(names) > 1:
        return itemgetter(*names)
    return lambda params: tuple([params[name] for name in names])


class Statement:
    """A Core statement plus its compiled form per dialect (compiled on first use).

    `clause` is the statement, or a function of the dialect's name returning it (for
    dialect-specific SQL such as `ON CONFLICT`). `columns` limits a bare `insert(table)`
    to those columns, each bound by its own name.
    """

    __slots__ = ("_clause", "_columns", "_compiled")

    def __init__(
        self,
        clause: ClauseElement | Callable[[str], ClauseElement],
        columns: Sequence[str] | None = None,
    ) -> None:
        self._clause = clause
        self._columns = list(columns) if columns is not None else None
        self._compiled: dict[str, Compiled] = {}

    def compiled(self, dialect: Dialect) -> Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            clause = self._clause
            if not isinstance(clause, ClauseElement):
                clause = clause(dialect.name)
            found = self._compiled[dialect.name] = _compile(clause, dialect, self._columns)
        return found


@dataclass(frozen=True, slots=True)
class Write:
    """One statement of a `Database.write` transaction, with one row's parameters."""

    statement: Statement
    params: Mapping[str, Any]

    def bound(self, dialect: Dialect) -> Bound:
        """The SQL and the driver's positional arguments."""
        compiled = self.statement.compiled(dialect)
        return compiled.sql, compiled.args(self.params)


@dataclass(frozen=True, slots=True)
class WriteMany:
    """A statement run once per row (the driver's `executemany`)."""

    statement: Statement
    rows: Sequence[Mapping[str, Any]]

    def bound(self, dialect: Dialect) -> Bound:
        """The SQL and one tuple of positional arguments per row."""
        compiled = self.statement.compiled(dialect)
        return compiled.sql, [compiled.args(row) for row in self.rows]


def _compile(clause: ClauseElement, dialect: Dialect, columns: list[str] | None) -> Compiled:
    compiler = clause.compile(dialect=dialect, column_keys=columns)
    assert isinstance(compiler, SQLCompiler)
    if not dialect.positional or compiler.positiontup is None:
        raise ValueError(f"direct statements need a positional driver, not {dialect.name}")
    binds = tuple(
        (name, compiler.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
        for name in compiler.positiontup
    )
    fixed = {
        name: bind.effective_value for name, bind in compiler.binds.items() if not bind.required
    }
    return Compiled(sql=compiler.string, binds=binds, fixed=fixed)


# Postgres: one statement's parameters are `$1`...`$n`; a statement takes at most 32767.
_PARAMETER = re.compile(r"\$(\d+)")
_MAX_PARAMETERS = 32_767


def single_statement(writes: Sequence[Bound]) -> tuple[str, list[Any]] | None:
    """`writes` (bound for asyncpg) as one Postgres statement, or None when they cannot be.

    Each write becomes a data-modifying `WITH` query of one `... SELECT 1` (an
    `executemany` becomes one multi-row `VALUES`), with its parameters renumbered: one
    round trip, atomic without BEGIN/COMMIT, instead of one round trip per statement
    plus two. The queries share one snapshot, so they must not depend on each other's
    effects; the same statement twice (which could touch one row twice, an error for
    `ON CONFLICT`) and more parameters than Postgres takes are left to a transaction.
    """
    texts = [sql for sql, _ in writes]
    if len(set(texts)) != len(texts):
        return None
    parts: list[str] = []
    args: list[Any] = []
    for sql, bound in writes:
        if isinstance(bound, list):
            if not bound:
                continue
            text = _multi_row(sql, len(bound))
            if text is None:
                return None
            values = [value for row in bound for value in row]
        else:
            text, values = sql, list(bound)
        offset = len(args)
        if offset + len(values) > _MAX_PARAMETERS:
            return None
        if offset:
            text = _shift(text, offset)
        parts.append(text)
        args += values
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0], args
    queries = ", ".join(f"w{index} AS ({part})" for index, part in enumerate(parts))
    return f"WITH {queries} SELECT 1", args


@lru_cache(maxsize=256)
def _multi_row(sql: str, rows: int) -> str | None:
    """An `INSERT ... VALUES (...)` for `rows` rows, or None if `sql` has parameters
    outside its one VALUES group."""
    start = sql.find(" VALUES (")
    if start < 0:
        return None
    start += len(" VALUES ")
    depth, end = 0, start
    for end in range(start, len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[end], 0)
        if depth == 0:
            break
    group = sql[start : end + 1]
    count = len(_PARAMETER.findall(group))
    if count != len(_PARAMETER.findall(sql)):
        return None
    groups = [_shift(group, row * count) for row in range(rows)]
    return sql[:start] + ", ".join(groups) + sql[end + 1 :]


def _shift(sql: str, by: int) -> str:
    """`sql` with every `$n` parameter renumbered `$(n + by)`."""
    return _PARAMETER.sub(lambda match: f"${int(match.group(1)) + by}", sql)
