"""`single_statement`: a Postgres transaction's writes folded into one statement."""

from __future__ import annotations

from chatflow.store.direct import single_statement

INSERT = "INSERT INTO t (a, b) VALUES ($1::VARCHAR, $2::INTEGER)"
UPDATE = "UPDATE u SET n=(u.n + $1::INTEGER) WHERE u.id = $2::VARCHAR"
UPSERT = (
    "INSERT INTO v (k, x) VALUES ($1::VARCHAR, $2::JSONB) "
    "ON CONFLICT (k) DO UPDATE SET x = excluded.x"
)


def test_writes_become_one_with_query_with_parameters_renumbered() -> None:
    sql, args = single_statement([(INSERT, ("a", 1)), (UPDATE, (1, "id"))]) or ("", [])
    assert sql == (
        "WITH w0 AS (INSERT INTO t (a, b) VALUES ($1::VARCHAR, $2::INTEGER)), "
        "w1 AS (UPDATE u SET n=(u.n + $3::INTEGER) WHERE u.id = $4::VARCHAR) SELECT 1"
    )
    assert args == ["a", 1, 1, "id"]


def test_executemany_becomes_multi_row_values() -> None:
    rows = [("k1", "{}"), ("k2", "[]"), ("k3", "1")]
    sql, args = single_statement([(UPDATE, (1, "id")), (UPSERT, rows)]) or ("", [])
    values = "($3::VARCHAR, $4::JSONB), ($5::VARCHAR, $6::JSONB), ($7::VARCHAR, $8::JSONB)"
    assert f"VALUES {values} ON CONFLICT" in sql
    assert sql.endswith("DO UPDATE SET x = excluded.x) SELECT 1")
    assert args == [1, "id", "k1", "{}", "k2", "[]", "k3", "1"]


def test_a_single_write_runs_as_itself_and_empty_executemany_is_dropped() -> None:
    assert single_statement([(INSERT, ("a", 1)), (UPSERT, [])]) == (INSERT, ["a", 1])
    assert single_statement([(UPSERT, [])]) is None


def test_what_one_statement_cannot_do_is_left_to_a_transaction() -> None:
    # The same statement twice could touch one row twice (ON CONFLICT rejects that).
    assert single_statement([(UPSERT, [("k", "1")]), (UPSERT, [("k", "2")])]) is None
    # Parameters outside the VALUES group cannot be repeated per row.
    assert single_statement([(UPDATE, [(1, "a"), (2, "b")])]) is None
    # Postgres takes at most 32767 parameters in one statement.
    assert single_statement([(INSERT, [("a", i) for i in range(20_000)])]) is None
