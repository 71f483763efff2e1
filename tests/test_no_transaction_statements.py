"""Statements PostgreSQL refuses inside a transaction block, on a real server.

For each statement: (a) PostgreSQL itself refuses it after BEGIN with SQLSTATE 25001
("... cannot run inside a transaction block"), so running it outside a transaction
is no choice of the tool's; and (b) `migrate_tables` runs a script with it between
other statements, and its effect is there afterwards.

Each of them calls PreventInTransactionBlock() in PostgreSQL 15 to 18 (the list,
with the source of each, is in myapp/migrate/statements.py). The planner's
decision for each, and for the look-alikes that stay inside, is unit-tested in
tests/test_statements.py; the subscription statements are only tried here as far
as the test server can take them: (a) needs no publisher, (b) needs one.
"""
import os
import shutil
import tempfile
import uuid
from collections import namedtuple

import psycopg2
import pytest

from tests.helpers import Database, applications, counted

ACTIVE_SQL_TRANSACTION = "25001"

# Placeholders: {db} the test's database, {other} a second database, {ts} a tablespace,
# {dir} an empty directory the server may use for one, {sub} a subscription.
Case = namedtuple("Case", "statement setup check needs min_version")
Case.__new__.__defaults__ = ("", None, (), 0)

TABLE = "CREATE TABLE t (a int);\nINSERT INTO t VALUES (2), (1);\nCREATE INDEX t_a ON t (a);\n"


def filenode_before(relation):
    return "CREATE TABLE before AS SELECT pg_relation_filenode('%s') AS f;\n" % relation


def filenode_changed(relation):
    return "SELECT pg_relation_filenode('%s') <> f FROM before" % relation


PUBLISHER = "needs a publisher: a server with wal_level = logical the subscription can reach"
SUBSCRIPTION = "CREATE SUBSCRIPTION {sub} CONNECTION 'host=/nonexistent dbname=nowhere' "

CASES = {
    "create index concurrently": Case(
        "CREATE INDEX CONCURRENTLY t_b ON t (a)", TABLE,
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_b'::regclass"),
    "drop index concurrently": Case(
        "DROP INDEX CONCURRENTLY t_a", TABLE, "SELECT to_regclass('t_a') IS NULL"),
    "reindex index concurrently": Case(
        "REINDEX INDEX CONCURRENTLY t_a", TABLE + filenode_before("t_a"), filenode_changed("t_a")),
    "reindex table concurrently": Case(
        "REINDEX TABLE CONCURRENTLY t", TABLE + filenode_before("t_a"), filenode_changed("t_a")),
    "reindex (concurrently)": Case(
        "REINDEX (CONCURRENTLY) INDEX t_a", TABLE + filenode_before("t_a"),
        filenode_changed("t_a")),
    "reindex schema": Case(
        "REINDEX SCHEMA public", TABLE + filenode_before("t_a"), filenode_changed("t_a")),
    "reindex database": Case(
        'REINDEX DATABASE "{db}"', TABLE + filenode_before("t_a"), filenode_changed("t_a")),
    "reindex system": Case(
        'REINDEX SYSTEM "{db}"', filenode_before("pg_catalog.pg_description_o_c_o_index"),
        filenode_changed("pg_catalog.pg_description_o_c_o_index")),
    "vacuum": Case(
        "VACUUM t", TABLE, "SELECT reltuples = 2 FROM pg_class WHERE oid = 't'::regclass"),
    "cluster without a table": Case(
        "CLUSTER", TABLE + "ALTER TABLE t CLUSTER ON t_a;\n" + filenode_before("t"),
        filenode_changed("t")),
    "detach partition concurrently": Case(
        "ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY",
        "CREATE TABLE p (a int) PARTITION BY LIST (a);\n"
        "CREATE TABLE p1 PARTITION OF p FOR VALUES IN (1);\n",
        "SELECT NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = 'p1'::regclass)"),
    "create database": Case(
        'CREATE DATABASE "{other}"', "",
        "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = '{other}')", ("other name",)),
    "drop database": Case(
        'DROP DATABASE "{other}"', "",
        "SELECT NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '{other}')", ("other",)),
    "create tablespace": Case(
        "CREATE TABLESPACE {ts} LOCATION '{dir}'", "",
        "SELECT EXISTS (SELECT 1 FROM pg_tablespace WHERE spcname = '{ts}')", ("directory",)),
    "drop tablespace": Case(
        "DROP TABLESPACE {ts}", "",
        "SELECT NOT EXISTS (SELECT 1 FROM pg_tablespace WHERE spcname = '{ts}')",
        ("tablespace",)),
    "alter database set tablespace": Case(
        'ALTER DATABASE "{other}" SET TABLESPACE {ts}', "",
        "SELECT t.spcname = '{ts}' FROM pg_database d JOIN pg_tablespace t"
        " ON t.oid = d.dattablespace WHERE d.datname = '{other}'", ("other", "tablespace")),
    "alter system": Case(
        "ALTER SYSTEM SET log_autovacuum_min_duration = '4321s'", "",
        "SELECT EXISTS (SELECT 1 FROM pg_file_settings WHERE name = 'log_autovacuum_min_duration'"
        " AND setting = '4321s')", ("alter system",)),
    # (a) only: these need a publisher to run.
    "create subscription": Case(SUBSCRIPTION + "PUBLICATION p", needs=("publisher",)),
    "drop subscription": Case(
        "DROP SUBSCRIPTION {sub}", needs=("publisher", "subscription")),
    "alter subscription refresh publication": Case(
        "ALTER SUBSCRIPTION {sub} REFRESH PUBLICATION",
        needs=("publisher", "subscription", "enabled")),
    "alter subscription set publication": Case(
        "ALTER SUBSCRIPTION {sub} SET PUBLICATION p3",
        needs=("publisher", "subscription", "enabled")),
    "alter subscription add publication": Case(
        "ALTER SUBSCRIPTION {sub} ADD PUBLICATION p3",
        needs=("publisher", "subscription", "enabled")),
    "alter subscription drop publication": Case(
        "ALTER SUBSCRIPTION {sub} DROP PUBLICATION p2",
        needs=("publisher", "subscription", "enabled")),
    "alter subscription set (failover)": Case(
        "ALTER SUBSCRIPTION {sub} SET (failover = true)",
        needs=("publisher", "subscription"), min_version=170000),
    "alter subscription set (two_phase = false)": Case(
        "ALTER SUBSCRIPTION {sub} SET (two_phase = false)",
        needs=("publisher", "subscription"), min_version=180000),
}


def _server_directory(db):
    """An empty directory the test server can use for a tablespace; skip where there is none.

    The server's operating system user owns its data directory: the embedded server
    runs as its own user, the CI's PostgreSQL 15 as `pgci`. A server on another
    machine cannot see this machine's directories.
    """
    data_directory = db.scalar("SHOW data_directory")
    try:
        owner = os.stat(data_directory).st_uid
    except OSError:
        pytest.skip("a tablespace needs a directory on the server's machine; its data directory"
                    " %s is not on this one" % data_directory)
    path = tempfile.mkdtemp(prefix="pgts-", dir="/tmp")
    if owner != os.getuid():
        try:
            os.chown(path, owner, -1)
        except PermissionError:
            os.rmdir(path)
            pytest.skip("the test server runs as uid %d, and this test (uid %d) cannot give it a"
                        " directory for a tablespace" % (owner, os.getuid()))
    marker = os.path.join(path, "marker-%s" % uuid.uuid4().hex)
    open(marker, "w").close()
    try:
        seen = db.scalar("SELECT (pg_stat_file(%s, true)).size IS NOT NULL", (marker,))
    except psycopg2.Error:
        seen = False
    os.unlink(marker)
    if not seen:
        shutil.rmtree(path)
        pytest.skip("the test server does not see %s: it is on another machine" % path)
    return path


@pytest.fixture
def cluster(server_url, database):
    """Makes the server-wide objects a case needs, and removes them (and what it made) after."""
    maintenance = Database(server_url)
    undo = []

    def prepare(name):
        case = CASES[name]
        suffix = uuid.uuid4().hex[:10]
        names = {"db": database.name, "other": "test_other_%s" % suffix, "ts": "ts_%s" % suffix,
                 "sub": "sub_%s" % suffix, "dir": None}
        if int(database.scalar("SHOW server_version_num")) < case.min_version:
            pytest.skip("PostgreSQL %s has no %s" % (database.scalar("SHOW server_version"),
                                                       name.upper()))
        needs = case.needs
        # Undone in reverse: the database before the tablespace it may have moved to.
        if "directory" in needs or "tablespace" in needs:
            names["dir"] = _server_directory(database)
            undo.append(lambda: shutil.rmtree(names["dir"]))
            undo.append(lambda: maintenance.execute("DROP TABLESPACE IF EXISTS %s" % names["ts"]))
        if "tablespace" in needs:
            maintenance.execute("CREATE TABLESPACE %s LOCATION '%s'" % (names["ts"], names["dir"]))
        if "other" in needs or "other name" in needs:
            undo.append(lambda: maintenance.execute(
                'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % names["other"]))
        if "other" in needs:
            maintenance.execute('CREATE DATABASE "%s"' % names["other"])
        if "alter system" in needs:
            # Put back what postgresql.auto.conf had: a test must not change the server.
            had = maintenance.scalar(
                "SELECT setting FROM pg_file_settings WHERE name = 'log_autovacuum_min_duration'"
                " AND sourcefile LIKE '%/postgresql.auto.conf' ORDER BY seqno DESC LIMIT 1")
            undo.append(lambda: maintenance.execute(
                "ALTER SYSTEM RESET log_autovacuum_min_duration" if had is None else
                "ALTER SYSTEM SET log_autovacuum_min_duration = '%s'" % had))
        if "subscription" in needs:
            # No publisher: connect = false makes it without one, with the slot name it
            # would use; enabled, its worker keeps failing to connect until it is dropped.
            database.execute((SUBSCRIPTION + "PUBLICATION p, p2 WITH (connect = false)")
                             .format(**names))
            undo.append(lambda: [database.execute(statement % names["sub"]) for statement in (
                "ALTER SUBSCRIPTION %s DISABLE", "ALTER SUBSCRIPTION %s SET (slot_name = NONE)",
                "DROP SUBSCRIPTION %s")])
        if "enabled" in needs:
            database.execute("ALTER SUBSCRIPTION %s ENABLE" % names["sub"])
        return names

    yield prepare
    failures = []
    for step in reversed(undo):  # every step, even after one failed
        try:
            step()
        except Exception as error:
            failures.append(error)
    if failures:
        raise failures[0]


def refused_inside_a_transaction(db, statement):
    """Run `BEGIN; <statement>` on one connection; return PostgreSQL's error."""
    connection = db.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute("BEGIN")
            with pytest.raises(psycopg2.Error) as raised:
                cursor.execute(statement)
            cursor.execute("ROLLBACK")
    finally:
        connection.close()
    return raised.value


@pytest.mark.parametrize("name", sorted(CASES))
def test_postgresql_refuses_it_inside_a_transaction_block(name, database, cluster):
    case = CASES[name]
    names = cluster(name)
    for statement in case.setup.split(";\n"):
        if statement.strip():
            database.execute(statement)
    error = refused_inside_a_transaction(database, case.statement.format(**names))
    assert error.pgcode == ACTIVE_SQL_TRANSACTION, (error.pgcode, error.pgerror)
    assert "cannot run inside a transaction block" in error.pgerror


@pytest.mark.parametrize("name", sorted(CASES))
def test_migrate_runs_it_between_other_statements(name, counting_app, cluster):
    case = CASES[name]
    if "publisher" in case.needs:
        pytest.skip(PUBLISHER)
    app = counting_app
    names = cluster(name)
    app.write("v2.sql", counted(2, case.setup + "CREATE TABLE before_it (id int);\n"
                                + case.statement.format(**names) + ";\n"
                                + "CREATE TABLE after_it (id int);\n"))
    app.set_version(2)
    result = app.manage("migrate_tables", "--yes")
    assert result.returncode == 0, (result.stdout, result.stderr)
    db = app.database
    assert db.version() == [2]
    assert applications(db) == {1: 1, 2: 1}
    assert {"before_it", "after_it"} <= db.tables()
    assert db.scalar(case.check.format(**names)) is True


def test_discard_all_is_refused_before_anything_runs(database, counting_app):
    error = refused_inside_a_transaction(database, "DISCARD ALL")
    assert error.pgcode == ACTIVE_SQL_TRANSACTION, (error.pgcode, error.pgerror)

    app = counting_app
    app.write("v2.sql", counted(2, "CREATE TABLE t (a int);\nDISCARD ALL;\nSELECT 1;\n"))
    app.set_version(2)
    result = app.manage("migrate_tables", "--yes")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.strip().splitlines() == [
        "error: v2.sql: line 3: DISCARD ALL would end the migration's own lock and session;"
        " remove it"]
    assert app.database.version() is None and app.database.tables() == set()
