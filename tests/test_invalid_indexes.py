"""INVALID indexes left by a failed or killed CREATE INDEX CONCURRENTLY / REINDEX CONCURRENTLY.

The run that fails leaves the index INVALID; migrate_status warns about it and
`--check` fails; the next attempt of the script (the automatic rerun of a
no-transaction script that committed nothing, or `--retry N` after a kill)
drops it with DROP INDEX CONCURRENTLY first and says so.

A CONCURRENTLY build is made slow without sleeping: a test connection keeps a
transaction open that has written to the table, and the build waits for it
("waiting for writers" / older transactions).
"""
import signal

import pytest

from tests.helpers import COUNTER, applications, failed_with_one_line, succeeded, wait_for

NO_TRANSACTION = "-- migrate: no-transaction\n"

# v1: the table, with a duplicate, and an expression index whose function the tests redefine.
TABLE = (COUNTER + "INSERT INTO applications VALUES (1);\n"
         "CREATE TABLE t (a int);\nINSERT INTO t VALUES (1), (1), (2);\n")
IDENTITY = "CREATE OR REPLACE FUNCTION f(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1'"
CONSTANT = "CREATE OR REPLACE FUNCTION f(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT 1'"
WITH_EXPRESSION_INDEX = (COUNTER + "INSERT INTO applications VALUES (1);\n"
                         "CREATE TABLE t (a int);\nINSERT INTO t VALUES (1), (2);\n"
                         + IDENTITY + ";\nCREATE UNIQUE INDEX ix ON t (f(a));\n")


# -- helpers ---------------------------------------------------------------------------





def index_validity(db):
    """{index name: indisvalid} of every index of the public schema's tables but the tool's."""
    return dict(db.query(
        "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
        " AND i.indrelid <> 'version_history'::regclass AND i.indrelid <> 'version'::regclass"))


def outcomes(db, version):
    return [row[2:5] for row in db.history() if row[0] == version]


def status_warns(app, *fragments):
    """migrate_status shows a warning line with each fragment; --check then exits 1."""
    status = app.manage("migrate_status")
    assert status.returncode == 0, status.stderr
    warnings = [line for line in status.stdout.splitlines() if line.startswith("  - ")]
    for fragment in fragments:
        assert any(fragment in line for line in warnings), status.stdout
    check = app.manage("migrate_status", "--check")
    line = failed_with_one_line(check, 1)
    assert "not exactly at version" in line
    return warnings


def status_clean(app):
    status = succeeded(app.manage("migrate_status", "--check"))
    assert "invalid index" not in status.stdout and "Warnings:" not in status.stdout


def dropped_line(index, script):
    return "note: dropped the invalid index %s left by an earlier attempt of %s" % (index, script)


# -- a CONCURRENTLY build that fails ------------------------------------------------------

def test_failed_unique_index_build_is_dropped_when_the_script_runs_again(counting_app):
    app, db = counting_app, counting_app.database
    app.write("v1.sql", TABLE)
    app.write("v2.sql", "CREATE UNIQUE INDEX CONCURRENTLY ix_u ON t (a);\n")
    app.set_version(2)

    failed = app.manage("migrate_tables", "--yes")

    line = failed_with_one_line(failed, 1)
    assert line.startswith("error: v2.sql:") and "SQLSTATE 23505" in line
    assert "nothing of the script was committed" in line
    assert index_validity(db) == {"ix_u": False}
    assert db.version() == [1]
    assert outcomes(db, 2) == [("failed", "no-transaction", 0)]
    warnings = status_warns(app, "invalid index public.ix_u")
    assert any("invalid index public.ix_u on public.t" in w for w in warnings)

    db.execute("DELETE FROM t WHERE ctid NOT IN (SELECT min(ctid) FROM t GROUP BY a)")
    fixed = succeeded(app.manage("migrate_tables", "--yes"))

    assert dropped_line("public.ix_u", "v2.sql") in fixed.stdout.splitlines()
    assert index_validity(db) == {"ix_u": True}
    assert db.scalar("SELECT indisunique FROM pg_index WHERE indexrelid = 'ix_u'::regclass")
    assert db.version() == [2]
    assert outcomes(db, 2) == [("failed", "no-transaction", 0), ("applied", "no-transaction", 1)]
    status_clean(app)


def test_failed_reindex_concurrently_leftover_is_dropped_when_the_script_runs_again(counting_app):
    app, db = counting_app, counting_app.database
    app.write("v1.sql", WITH_EXPRESSION_INDEX)
    app.write("v2.sql", "REINDEX INDEX CONCURRENTLY ix;\n")
    app.set_version(1)
    succeeded(app.manage("migrate_tables", "--yes"))
    db.execute(CONSTANT)  # every row now gives f(a) = 1: the rebuilt unique index fails
    app.set_version(2)

    failed = app.manage("migrate_tables", "--yes")

    line = failed_with_one_line(failed, 1)
    assert line.startswith("error: v2.sql:") and "SQLSTATE 23505" in line
    assert index_validity(db) == {"ix": True, "ix_ccnew": False}
    assert db.version() == [1]
    status_warns(app, "invalid index public.ix_ccnew")

    db.execute(IDENTITY)
    fixed = succeeded(app.manage("migrate_tables", "--yes"))

    assert dropped_line("public.ix_ccnew", "v2.sql") in fixed.stdout.splitlines()
    assert index_validity(db) == {"ix": True}
    assert db.version() == [2]
    assert [o[0] for o in outcomes(db, 2)] == ["failed", "applied"]
    status_clean(app)


# -- a CONCURRENTLY build that is killed --------------------------------------------------

def concurrent_build_waiting(db, statement):
    return lambda: db.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s AND state = 'active'"
        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid() AND datname = current_database()",
        (statement + "%",)) > 0


def migrators_gone(db):
    return lambda: db.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'migrate_tables%%'"
        " AND pid <> pg_backend_pid() AND datname = current_database()") == 0


@pytest.mark.parametrize("statement, leftover, expected", [
    ("CREATE INDEX CONCURRENTLY ix_a ON t (a)", "ix_a", {"ix": True, "ix_a": True}),
    ("REINDEX INDEX CONCURRENTLY ix", "ix_ccnew", {"ix": True}),
], ids=["create-index", "reindex"])
def test_killed_concurrent_build_is_refused_then_dropped_by_retry(counting_app, statement, leftover,
                                                                  expected):
    app, db = counting_app, counting_app.database
    app.write("v1.sql", WITH_EXPRESSION_INDEX)
    app.write("v2.sql", NO_TRANSACTION + statement + ";\n")
    app.set_version(1)
    succeeded(app.manage("migrate_tables", "--yes"))
    app.set_version(2)

    # A writer's open transaction: the build waits for it before it starts.
    holder = db.connect()
    holder.autocommit = False
    try:
        with holder.cursor() as cursor:
            cursor.execute("INSERT INTO t VALUES (3)")
        process = app.start("migrate_tables", "--yes")
        try:
            wait_for(concurrent_build_waiting(db, statement), timeout=60)
        finally:
            process.send_signal(signal.SIGKILL)
            process.communicate()
        # The server notices the dead client within client_connection_check_interval (1s),
        # while the build is still waiting, and ends it there.
        wait_for(migrators_gone(db), timeout=60)
    finally:
        holder.rollback()
        holder.close()

    assert process.returncode == -signal.SIGKILL
    assert index_validity(db) == {"ix": True, leftover: False}
    assert outcomes(db, 2) == [("running", "no-transaction", 0)]
    assert db.version() == [1]
    status_warns(app, "invalid index public.%s" % leftover)

    refused = app.manage("migrate_tables", "--yes")

    line = failed_with_one_line(refused, 2)
    assert "v2.sql was interrupted while running outside a transaction" in line
    assert "--retry 2" in line
    assert index_validity(db) == {"ix": True, leftover: False}
    assert outcomes(db, 2) == [("running", "no-transaction", 0)]

    retried = succeeded(app.manage("migrate_tables", "--yes", "--retry", "2"))

    assert dropped_line("public.%s" % leftover, "v2.sql") in retried.stdout.splitlines()
    assert index_validity(db) == expected
    assert db.version() == [2]
    assert outcomes(db, 2) == [("interrupted", "no-transaction", 0),
                               ("applied", "no-transaction", 1)]
    assert applications(db) == {1: 1}
    status_clean(app)


# -- names the leftover lookup must find ----------------------------------------------------

def test_invalid_index_on_a_mixed_case_table_is_dropped_on_rerun(counting_app):
    app, db = counting_app, counting_app.database
    app.write("v1.sql", COUNTER + 'CREATE TABLE "Items" (a int);\nINSERT INTO "Items" VALUES (1), (1);\n')
    app.write("v2.sql", 'CREATE UNIQUE INDEX CONCURRENTLY ix_items ON "Items" (a);\n')
    app.set_version(2)
    failed_with_one_line(app.manage("migrate_tables", "--yes"), 1)
    assert index_validity(db) == {"ix_items": False}
    db.execute('DELETE FROM "Items" WHERE ctid NOT IN (SELECT min(ctid) FROM "Items" GROUP BY a)')

    fixed = app.manage("migrate_tables", "--yes")

    succeeded(fixed)
    assert dropped_line("public.ix_items", "v2.sql") in fixed.stdout.splitlines()
    assert index_validity(db) == {"ix_items": True}


LONG = "ix_" + "x" * 57  # 60 characters: REINDEX CONCURRENTLY's copy is cut to fit 63


def test_reindex_leftover_of_an_index_with_a_long_name_is_dropped_on_rerun(counting_app):
    app, db = counting_app, counting_app.database
    app.write("v1.sql", WITH_EXPRESSION_INDEX.replace(" ix ", " %s " % LONG))
    app.write("v2.sql", "REINDEX INDEX CONCURRENTLY %s;\n" % LONG)
    app.set_version(1)
    succeeded(app.manage("migrate_tables", "--yes"))
    db.execute(CONSTANT)
    app.set_version(2)
    failed_with_one_line(app.manage("migrate_tables", "--yes"), 1)
    leftover = LONG[:63 - len("_ccnew")] + "_ccnew"  # 63 bytes, as PostgreSQL names it
    assert index_validity(db) == {LONG: True, leftover: False}
    db.execute(IDENTITY)

    fixed = app.manage("migrate_tables", "--yes")

    succeeded(fixed)
    assert dropped_line("public.%s" % leftover, "v2.sql") in fixed.stdout.splitlines()
    assert index_validity(db) == {LONG: True}
