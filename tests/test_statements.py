"""Unit tests: splitting scripts with pglast and deciding what runs in a transaction."""
import pytest

from flask_migrate_tables.errors import InvalidScripts, ScriptFailed
from flask_migrate_tables.source.statements import NO_TRANSACTION, TRANSACTION, plan_script, split_statements

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


# Every statement that calls PreventInTransactionBlock() in PostgreSQL 15 to 18, with
# the reason the plan gives (PostgreSQL's own name for it, in its 25001 message).
REFUSED_INSIDE = [
    ("CREATE INDEX CONCURRENTLY t_id ON t (id)", "CREATE INDEX CONCURRENTLY"),
    ("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_id ON t (id)", "CREATE INDEX CONCURRENTLY"),
    ("DROP INDEX CONCURRENTLY t_id", "DROP INDEX CONCURRENTLY"),
    ("REINDEX INDEX CONCURRENTLY t_id", "REINDEX CONCURRENTLY"),
    ("REINDEX TABLE CONCURRENTLY t", "REINDEX CONCURRENTLY"),
    ("REINDEX (CONCURRENTLY, VERBOSE) INDEX t_id", "REINDEX CONCURRENTLY"),
    ("REINDEX (CONCURRENTLY on) TABLE t", "REINDEX CONCURRENTLY"),
    ("REINDEX SCHEMA CONCURRENTLY public", "REINDEX CONCURRENTLY"),
    ("REINDEX SCHEMA public", "REINDEX SCHEMA"),
    ("REINDEX (VERBOSE) DATABASE app", "REINDEX DATABASE"),
    ("REINDEX DATABASE", "REINDEX DATABASE"),
    ("REINDEX SYSTEM app", "REINDEX SYSTEM"),
    ("REINDEX SYSTEM", "REINDEX SYSTEM"),
    ("ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY", "ALTER TABLE ... DETACH CONCURRENTLY"),
    ("ALTER TABLE IF EXISTS s.p DETACH PARTITION s.p1 CONCURRENTLY",
     "ALTER TABLE ... DETACH CONCURRENTLY"),
    ("VACUUM", "VACUUM"),
    ("VACUUM t", "VACUUM"),
    ("VACUUM FULL t", "VACUUM"),
    ("VACUUM (ANALYZE, VERBOSE) t (id)", "VACUUM"),
    ("VACUUM ANALYZE", "VACUUM"),
    ("CLUSTER", "CLUSTER without a table"),
    ("CLUSTER VERBOSE", "CLUSTER without a table"),
    ("CLUSTER (VERBOSE)", "CLUSTER without a table"),
    ("CREATE DATABASE other", "CREATE DATABASE"),
    ("CREATE DATABASE other TEMPLATE template0 STRATEGY file_copy", "CREATE DATABASE"),
    ("DROP DATABASE other", "DROP DATABASE"),
    ("DROP DATABASE IF EXISTS other WITH (FORCE)", "DROP DATABASE"),
    ("ALTER DATABASE other SET TABLESPACE fast", "ALTER DATABASE SET TABLESPACE"),
    ("ALTER DATABASE other WITH TABLESPACE fast", "ALTER DATABASE SET TABLESPACE"),
    ("CREATE TABLESPACE fast LOCATION '/srv/fast'", "CREATE TABLESPACE"),
    ("DROP TABLESPACE IF EXISTS fast", "DROP TABLESPACE"),
    ("ALTER SYSTEM SET work_mem = '8MB'", "ALTER SYSTEM"),
    ("ALTER SYSTEM RESET ALL", "ALTER SYSTEM"),
    # create_slot defaults to true (false only with connect = false)
    ("CREATE SUBSCRIPTION s CONNECTION 'host=pub' PUBLICATION p",
     "CREATE SUBSCRIPTION ... WITH (create_slot = true)"),
    ("CREATE SUBSCRIPTION s CONNECTION 'host=pub' PUBLICATION p WITH (copy_data = false)",
     "CREATE SUBSCRIPTION ... WITH (create_slot = true)"),
    ("CREATE SUBSCRIPTION s CONNECTION 'host=pub' PUBLICATION p WITH (connect = true)",
     "CREATE SUBSCRIPTION ... WITH (create_slot = true)"),
    ("CREATE SUBSCRIPTION s CONNECTION 'host=pub' PUBLICATION p WITH (create_slot)",
     "CREATE SUBSCRIPTION ... WITH (create_slot = true)"),
    ("CREATE SUBSCRIPTION s CONNECTION 'host=pub' PUBLICATION p WITH (create_slot = 1)",
     "CREATE SUBSCRIPTION ... WITH (create_slot = true)"),
    # a replication slot unless slot_name = NONE was set: the catalog decides
    ("DROP SUBSCRIPTION s", "DROP SUBSCRIPTION of a subscription with a replication slot"),
    ("DROP SUBSCRIPTION IF EXISTS s CASCADE",
     "DROP SUBSCRIPTION of a subscription with a replication slot"),
    ("ALTER SUBSCRIPTION s REFRESH PUBLICATION", "ALTER SUBSCRIPTION ... REFRESH"),
    ("ALTER SUBSCRIPTION s REFRESH PUBLICATION WITH (copy_data = false)",
     "ALTER SUBSCRIPTION ... REFRESH"),
    # refresh defaults to true
    ("ALTER SUBSCRIPTION s SET PUBLICATION p", "ALTER SUBSCRIPTION with refresh"),
    ("ALTER SUBSCRIPTION s ADD PUBLICATION p WITH (copy_data = false)",
     "ALTER SUBSCRIPTION with refresh"),
    ("ALTER SUBSCRIPTION s DROP PUBLICATION p WITH (refresh = true)",
     "ALTER SUBSCRIPTION with refresh"),
    # PostgreSQL 17 and later
    ("ALTER SUBSCRIPTION s SET (failover = true)", "ALTER SUBSCRIPTION ... SET (failover)"),
    ("ALTER SUBSCRIPTION s SET (failover = false)", "ALTER SUBSCRIPTION ... SET (failover)"),
    # PostgreSQL 18 and later
    ("ALTER SUBSCRIPTION s SET (two_phase = false)",
     "ALTER SUBSCRIPTION ... SET (two_phase = false)"),
    ("ALTER SUBSCRIPTION s SET (two_phase = off)",
     "ALTER SUBSCRIPTION ... SET (two_phase = false)"),
]


@pytest.mark.parametrize("statement, name", REFUSED_INSIDE)
def test_statements_postgresql_refuses_inside_a_transaction_block(statement, name):
    found, = split_statements(statement + ";", "v1.sql")
    assert found.outside_transaction, statement
    assert found.why == "%s cannot run inside a transaction block" % name


@pytest.mark.parametrize("statement", [statement for statement, _ in REFUSED_INSIDE])
def test_each_of_them_runs_on_its_own_between_other_statements(statement):
    plan = plan_script("CREATE TABLE a (id int);\n%s;\nCREATE TABLE b (id int);\n" % statement,
                       "v1.sql")
    assert plan.mode == NO_TRANSACTION, statement
    assert [(step.line, step.transactional) for step in plan.steps] == [
        (1, True), (2, False), (3, True)]


def test_add_value_is_marked_for_the_planner_to_decide():
    statement, = split_statements("ALTER TYPE mood ADD VALUE 'happy';", "v1.sql")
    assert statement.outside_transaction


@pytest.mark.parametrize("statement", [
    "ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'",
    "CREATE INDEX t_id ON t (id)",
    "DROP INDEX t_id",
    "ANALYZE t",
    "ANALYZE",
    "ANALYZE VERBOSE t",
    "CLUSTER t",
    "CLUSTER t USING t_id",
    "CLUSTER (VERBOSE) t",
    "REINDEX TABLE t",
    "REINDEX INDEX t_id",
    "REINDEX (VERBOSE) TABLE t",
    "REINDEX (CONCURRENTLY false) INDEX t_id",
    "REINDEX (CONCURRENTLY off) TABLE t",
    "REINDEX (CONCURRENTLY 0) TABLE t",
    "ALTER TABLE p DETACH PARTITION p1",
    "ALTER TABLE p DETACH PARTITION p1 FINALIZE",
    "ALTER TABLE p ATTACH PARTITION p1 FOR VALUES IN (1)",
    "ALTER DATABASE other SET work_mem = '8MB'",
    "ALTER DATABASE other CONNECTION LIMIT 10",
    "ALTER DATABASE other RENAME TO another",
    "ALTER TABLE t SET TABLESPACE fast",
    "ALTER TABLESPACE fast RENAME TO faster",
    "ALTER TABLESPACE fast SET (random_page_cost = 1.1)",
    "DISCARD PLANS",
    "DISCARD SEQUENCES",
    "DISCARD TEMP",
    "REFRESH MATERIALIZED VIEW CONCURRENTLY m",
    "CREATE SUBSCRIPTION s CONNECTION 'host=pub' PUBLICATION p WITH (connect = false)",
    "CREATE SUBSCRIPTION s CONNECTION 'host=pub' PUBLICATION p WITH (create_slot = false)",
    "CREATE SUBSCRIPTION s CONNECTION 'host=pub' PUBLICATION p"
    " WITH (create_slot = off, slot_name = NONE, enabled = false)",
    "ALTER SUBSCRIPTION s SET PUBLICATION p WITH (refresh = false)",
    "ALTER SUBSCRIPTION s ADD PUBLICATION p WITH (refresh = off)",
    "ALTER SUBSCRIPTION s DROP PUBLICATION p WITH (refresh = 0, copy_data = true)",
    "ALTER SUBSCRIPTION s SET (two_phase = true)",
    "ALTER SUBSCRIPTION s SET (slot_name = NONE, synchronous_commit = off)",
    "ALTER SUBSCRIPTION s DISABLE",
    "ALTER SUBSCRIPTION s ENABLE",
    "ALTER SUBSCRIPTION s CONNECTION 'host=other'",
    "ALTER SUBSCRIPTION s SKIP (lsn = NONE)",
    "ALTER SUBSCRIPTION s OWNER TO someone",
    "ALTER SUBSCRIPTION s RENAME TO t",
    "CREATE PUBLICATION p FOR ALL TABLES",
    "INSERT INTO t (name) VALUES ('begin end commit')",
    "INSERT INTO t (name) VALUES ('vacuum; reindex schema x; discard all')",
])
def test_statements_that_run_in_a_transaction(statement):
    statement, = split_statements(statement + ";", "v1.sql")
    assert not statement.outside_transaction, statement


@pytest.mark.parametrize("text, line", [
    ("CREATE TABLE a (id int);\nSELECT 1;\nDISCARD ALL;\n", 3),
    ("-- migrate: no-transaction\nCREATE TABLE a (id int);\nSELECT 1;\ndiscard all;\n", 4),
    ("BEGIN;\nDISCARD ALL;\nCOMMIT;\n", 2),
])
def test_discard_all_is_refused_with_its_line(text, line):
    with pytest.raises(InvalidScripts) as raised:
        plan_script(text, "v1.sql")
    assert str(raised.value) == ("v1.sql: line %d: DISCARD ALL would end the migration's own lock "
                                 "and session; remove it" % line)


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
