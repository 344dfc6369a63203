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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Compiled:
    """A statement's SQL for one dialect, its positional parameter order and processors."""

    sql: str
    # Each positional parameter's name and bind processor, in order.
    binds: tuple[tuple[str, Processor | None], ...]
    # Values the statement itself holds (the `1` of `count + 1`), by parameter name.
    fixed: Mapping[str, Any]

    def args(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """`params` (by name) as the driver's positional arguments, bind-processed."""
        if self.fixed:
            params = {**self.fixed, **params}
        return tuple(
            [
                params[name] if process is None else process(params[name])
                for name, process in self.binds
            ]
        )


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

    def bound(self, dialect: Dialect) -> tuple[str, tuple[Any, ...] | list[tuple[Any, ...]]]:
        """The SQL and the driver's positional arguments."""
        compiled = self.statement.compiled(dialect)
        return compiled.sql, compiled.args(self.params)


@dataclass(frozen=True, slots=True)
class WriteMany:
    """A statement run once per row (the driver's `executemany`)."""

    statement: Statement
    rows: Sequence[Mapping[str, Any]]

    def bound(self, dialect: Dialect) -> tuple[str, tuple[Any, ...] | list[tuple[Any, ...]]]:
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
