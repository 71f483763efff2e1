"""Unit tests: the keyword screen that lets ordinary scripts run whole without pglast."""
import pytest

from flask_migrate_tables.source.statements import (NO_TRANSACTION, TRANSACTION, has_no_transaction_header,
                                      line_at, may_need_splitting, plan_script,
                                      split_statements)


@pytest.mark.parametrize("text", [
    "INSERT INTO t (a) VALUES (1), (2);",
    "CREATE TABLE t (started_at timestamptz, ended boolean, value_x int, x_value int);",
    "UPDATE t SET appended = true WHERE pending AND extended;",
    "CREATE TABLE database_settings (system_name text, abort_count int, t$value int);",
    "CREATE TABLE \u00e9value (a int);",
])
def test_words_inside_longer_names_do_not_count(text):
    assert not may_need_splitting(text)
    assert plan_script(text, "v1.sql").statements is None  # whole, never split


@pytest.mark.parametrize("text", [
    "ALTER TYPE s ADD VALUE 'x';",
    "alter type s add/**/value'x';",
    "ALTER TYPE s ADD\n  VALUE 'x';",
    "CREATE INDEX CONCURRENTLY i ON t (a);",
    "VACUUM t;",
    "BEGIN;\nSELECT 1;\nCOMMIT;",
    "SELECT 1;\nEND",
    "SELECT CASE WHEN a THEN 1 END FROM t;",  # a false alarm: pglast then finds nothing
])
def test_keywords_of_their_own_count(text):
    assert may_need_splitting(text)


def test_a_new_enum_value_used_after_values_still_splits():
    text = ("INSERT INTO t (a) VALUES (1);\n"
            "ALTER TYPE s ADD VALUE 'x';\n"
            "UPDATE t SET s = 'x';\n")
    plan = plan_script(text, "v1.sql")
    assert plan.mode == NO_TRANSACTION
    assert [step.transactional for step in plan.steps] == [True, False, True]
    assert [step.line for step in plan.steps] == [1, 2, 3]


def test_large_insert_script_runs_whole():
    rows = ",\n".join("(%d, 'started %d')" % (i, i) for i in range(20000))
    text = "INSERT INTO t (id, note) VALUES\n%s;\n" % rows
    plan = plan_script(text, "v9.sql")
    assert plan.mode == TRANSACTION and plan.statements is None
    assert (plan.steps[0].start, plan.steps[0].end) == (0, len(text))


def test_statement_lines_count_on_from_the_previous_statement():
    text = "-- header\n\nSELECT 1;\nSELECT\n2;\n\n\nVACUUM t;\nSELECT 'a\nb';  SELECT 4;\n"
    statements = split_statements(text, "v1.sql")
    assert [s.line for s in statements] == [line_at(text, s.start) for s in statements]
    assert [s.line for s in statements][1:] == [4, 8, 9, 10]


@pytest.mark.parametrize("text, expected", [
    ("-- migrate: no-transaction\nVACUUM t;", True),
    ("\r\n-- note\r\n-- migrate: no-transaction\r\nVACUUM t;", True),
    ("-- note\r-- migrate: no-transaction\rVACUUM t;", True),  # old Mac line ends, as splitlines
    ("SELECT 1;\n-- migrate: no-transaction\n", False),
    ("", False),
])
def test_header_is_read_line_by_line_like_splitlines(text, expected):
    assert has_no_transaction_header(text) is expected
