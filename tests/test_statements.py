"""Unit tests: splitting scripts with pglast and deciding what runs in a transaction."""
import pytest

from myapp.migrate.errors import InvalidScripts, ScriptFailed
from myapp.migrate.statements import NO_TRANSACTION, TRANSACTION, plan_script, split_statements

FUNCTION = """CREATE FUNCTION touch() RETURNS trigger AS $$
BEGIN
    NEW.updated := now();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;"""


def test_dollar_quoted_body_with_semicolons_is_one_statement():
    statements = split_statements("CREATE TABLE t (id int);\n" + FUNCTION + "\nSELECT 1;", "v1.sql")
    assert len(statements) == 3
    assert statements[1].text.startswith("CREATE FUNCTION") and statements[1].text.endswith("plpgsql")
    assert [s.line for s in statements] == [1, 2, 8]
    assert not any(s.outside_transaction for s in statements)


def test_plain_script_runs_whole_in_one_transaction():
    plan = plan_script("CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n", "v1.sql")
    assert plan.mode == TRANSACTION
    assert len(plan.steps) == 1 and plan.steps[0].transactional


def test_concurrent_index_among_other_statements_runs_on_its_own():
    text = ("CREATE TABLE t (id int);\nCREATE INDEX CONCURRENTLY t_id ON t (id);\n"
            "INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);\n")
    plan = plan_script(text, "v1.sql")
    assert plan.mode == NO_TRANSACTION
    assert [(step.line, step.transactional, len(step.statements)) for step in plan.steps] == [
        (1, True, 1), (2, False, 1), (3, True, 2)]


@pytest.mark.parametrize("statement", [
    "ALTER TYPE mood ADD VALUE 'happy'",
    "DROP INDEX CONCURRENTLY t_id",
    "REINDEX INDEX CONCURRENTLY t_id",
    "VACUUM t",
    "ALTER SYSTEM SET work_mem = '8MB'",
    "CREATE DATABASE other",
    "DROP DATABASE other",
])
def test_statements_that_cannot_run_in_a_transaction(statement):
    statement, = split_statements(statement + ";", "v1.sql")
    assert statement.outside_transaction, statement


@pytest.mark.parametrize("statement", [
    "ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'",
    "CREATE INDEX t_id ON t (id)",
    "ANALYZE t",
    "INSERT INTO t (name) VALUES ('begin end commit')",
])
def test_statements_that_run_in_a_transaction(statement):
    statement, = split_statements(statement + ";", "v1.sql")
    assert not statement.outside_transaction, statement


def test_header_forces_every_statement_outside_a_transaction():
    plan = plan_script("-- add things\n-- migrate: no-transaction\nCREATE TABLE a (id int);\n"
                       "CREATE TABLE b (id int);\n", "v1.sql")
    assert plan.mode == NO_TRANSACTION
    assert [(s.line, s.transactional) for s in plan.steps] == [(3, False), (4, False)]


def test_scripts_own_begin_commit_around_everything_is_left_out():
    plan = plan_script("BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\n", "v1.sql")
    assert plan.mode == TRANSACTION
    assert [s.text for s in plan.statements] == ["CREATE TABLE a (id int)"]


def test_commit_in_the_middle_is_refused_with_its_line():
    with pytest.raises(InvalidScripts, match=r"v1\.sql: line 2: transaction control \(COMMIT\)"):
        plan_script("CREATE TABLE a (id int);\nCOMMIT;\nCREATE TABLE b (id int);\n", "v1.sql")


def test_syntax_error_names_the_line():
    text = "\n".join(["-- comment"] * 6 + ["CREAT TABLE broken (id int);", "SELECT 1;"])
    with pytest.raises(ScriptFailed, match=r"v1\.sql: line 7: SQLSTATE 42601: syntax error"):
        split_statements(text, "v1.sql")


def test_comment_only_script_has_no_statements():
    plan = plan_script("-- nothing yet\n", "v1.sql", list_statements=True)
    assert plan.statements == [] and plan.steps == []
