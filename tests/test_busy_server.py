"""A busy production server: concurrent deploys with CONCURRENTLY, DDL behind application locks.

Scripts count their own applications in a table `applications`, so "applied
exactly once" is read from the database, not from our bookkeeping.
"""
import threading
import time

import pytest

from tests.helpers import applications, counted, wait_for

RUNS = 8
ROUNDS = 3


def _round_scripts(app, first):
    """Three slow scripts from version `first`: CONCURRENTLY between other statements, REINDEX."""
    n = first
    app.write("v%d.sql" % n, counted(n, "SELECT pg_sleep(0.3);\nCREATE TABLE r%d (a int);\n"
                                        "INSERT INTO r%d SELECT generate_series(1, 1000);\n" % (n, n)))
    app.write("v%d.sql" % (n + 1), counted(n + 1, (
        "SELECT pg_sleep(0.2);\n"
        "CREATE INDEX CONCURRENTLY ix_r%d ON r%d (a);\n"
        "SELECT pg_sleep(0.2);\n"
        "ALTER TABLE r%d ADD COLUMN b int;\n") % (n, n, n)))
    app.write("v%d.sql" % (n + 2), counted(n + 2, (
        "SELECT pg_sleep(0.2);\n"
        "REINDEX INDEX CONCURRENTLY ix_r%d;\n"
        "SELECT pg_sleep(0.1);\n") % n))
    app.set_version(n + 2)
    return n + 2


def test_concurrent_deploys_with_concurrently_never_deadlock(counting_app):
    """Flyway #1654: a waiter blocked in pg_advisory_lock holds a snapshot CONCURRENTLY waits for."""
    app = counting_app
    assert app.manage("migrate_tables", "--yes").returncode == 0
    version = 1
    for round_number in range(ROUNDS):
        first = version + 1
        version = _round_scripts(app, first)
        processes = [app.start("migrate_tables", "--yes", "--lock-timeout", "120")
                     for _ in range(RUNS)]
        results = [(p.wait(timeout=180), p.stdout.read(), p.stderr.read()) for p in processes]
        for process in processes:
            process.stdout.close()
            process.stderr.close()

        assert [code for code, _, _ in results] == [0] * RUNS, results
        assert all("Traceback" not in err and "deadlock" not in err for _, _, err in results)
        migrated = [out for _, out, _ in results if "Migrated from version" in out]
        assert len(migrated) == 1, (round_number, results)
        assert sum("DB is at correct version %d" % version in out for _, out, _ in results) == RUNS - 1
        counts = applications(app.database)
        assert all(counts[v] == 1 for v in range(1, version + 1)), counts
        applied = [row for row in app.database.history() if row[2] == "applied"]
        assert sorted(row[0] for row in applied) == list(range(1, version + 1))
        assert app.database.version() == [version]
        assert app.database.scalar(
            "SELECT count(*) FROM pg_index WHERE NOT indisvalid") == 0


class Traffic:
    """An application client: short SELECTs on a table in a loop, each one timed."""

    def __init__(self, database, table):
        self.database, self.table = database, table
        self.latencies = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        connection = self.database.connect()
        try:
            with connection.cursor() as cursor:
                while not self.stop.is_set():
                    started = time.monotonic()
                    cursor.execute("SELECT count(*) FROM %s" % self.table)
                    self.latencies.append(time.monotonic() - started)
                    time.sleep(0.02)
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)


@pytest.fixture
def busy_table(counting_app):
    """A migrated app with a table t, and a second connection holding a lock on t in an open transaction."""
    app = counting_app
    app.write("v2.sql", "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1), (2);\n")
    app.set_version(2)
    assert app.manage("migrate_tables", "--yes").returncode == 0
    app.write("v3.sql", counted(3, "ALTER TABLE t ADD COLUMN c int;\n"))
    app.set_version(3)
    holder = app.database.connect()
    holder.autocommit = False
    with holder.cursor() as cursor:
        cursor.execute("SET application_name = 'report query'")
        cursor.execute("SELECT * FROM t")
    app.holder = holder
    yield app
    holder.close()


def _columns(database):
    return [row[0] for row in database.query(
        "SELECT attname FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0"
        " AND NOT attisdropped ORDER BY attnum")]


def test_ddl_behind_an_open_transaction_gives_up_without_blocking_the_application(busy_table):
    app = busy_table
    holder_pid = app.holder.get_backend_pid()
    catalog_before = app.database.catalog()
    with Traffic(app.database, "t") as traffic:
        started = time.monotonic()
        result = app.manage("migrate_tables", "--yes", "--ddl-lock-timeout", "1", "--ddl-retries", "2")
        took = time.monotonic() - started

    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    retries = [line for line in result.stdout.splitlines() if "lock not granted within 1s" in line]
    assert len(retries) == 2, result.stdout
    for line in retries + [result.stderr]:
        assert "pid %d (report query)" % holder_pid in line
        assert "SELECT * FROM t" in line
    assert "in 3 attempts" in result.stderr and "rolled back" in result.stderr
    # The holder held its lock through all three attempts; no client query waited much
    # longer than one attempt's lock timeout (psql's ALTER would queue them all until the end).
    assert took > 3.0
    assert traffic.latencies and max(traffic.latencies) < 2.0, max(traffic.latencies)
    assert _columns(app.database) == ["id"]
    assert app.database.catalog() == catalog_before
    assert app.database.version() == [2]
    assert applications(app.database) == {1: 1}
    assert app.database.history()[-1][:3] == (3, "v3.sql", "failed")
    app.holder.rollback()
    assert app.manage("migrate_tables", "--yes").returncode == 0
    assert _columns(app.database) == ["id", "c"]


def test_ddl_completes_when_the_blocking_transaction_ends_during_the_retries(busy_table):
    app = busy_table
    process = app.start("migrate_tables", "--yes", "--ddl-lock-timeout", "0.5", "--ddl-retries", "10")
    wait_for(lambda: app.database.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND query LIKE '%ALTER TABLE t%' AND datname = current_database()") > 0)
    app.holder.commit()
    out, err = process.communicate(timeout=60)

    assert process.returncode == 0, out + err
    assert "lock not granted" in out or "lock not granted" not in err
    assert _columns(app.database) == ["id", "c"]
    assert app.database.version() == [3]
    assert applications(app.database) == {1: 1, 3: 1}


def test_a_script_header_sets_its_own_lock_wait(busy_table):
    app = busy_table
    app.write("v3.sql", "-- migrate: lock-timeout=300ms\n-- migrate: retries=0\n"
                        + counted(3, "ALTER TABLE t ADD COLUMN c int;\n"))
    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 3, result.stdout + result.stderr
    assert "lock not granted within 0.3s in 1 attempt;" in result.stderr
    assert "lock not granted" not in result.stdout
    assert _columns(app.database) == ["id"]


def test_statement_timeout_option_cancels_a_long_statement(counting_app):
    app = counting_app
    app.write("v2.sql", counted(2, "SELECT pg_sleep(5);\n"))
    app.set_version(2)
    result = app.manage("migrate_tables", "--yes", "--statement-timeout", "0.5")

    assert result.returncode == 1
    assert "v2.sql: SQLSTATE 57014: canceling statement due to statement timeout" in result.stderr
    assert applications(app.database) == {1: 1}


@pytest.mark.parametrize("option, value", [
    ("--lock-timeout", "inf"), ("--lock-timeout", "nan"), ("--lock-timeout", "1e10"),
    ("--ddl-lock-timeout", "-1"), ("--statement-timeout", "inf"), ("--ddl-retries", "-2"),
])
def test_bad_timeouts_are_one_line_before_anything_changes(counting_app, option, value):
    app = counting_app
    result = app.manage("migrate_tables", "--yes", option, value)

    assert result.returncode == 2
    assert result.stderr.startswith("error: %s" % option)
    assert len(result.stderr.strip().splitlines()) == 1
    assert app.database.tables() == set()


def test_migrate_status_does_not_wait_for_a_concurrent_index_build(counting_app):
    """A status read while CREATE INDEX CONCURRENTLY waits for older transactions ends at once."""
    app = counting_app
    app.write("v2.sql", "CREATE TABLE w (a int);\n")
    app.set_version(2)
    assert app.manage("migrate_tables", "--yes").returncode == 0
    app.write("v3.sql", "CREATE INDEX CONCURRENTLY ix_w ON w (a);\n")
    app.set_version(3)
    writer = app.database.connect()
    writer.autocommit = False
    with writer.cursor() as cursor:
        cursor.execute("INSERT INTO w VALUES (1)")  # CONCURRENTLY waits for this transaction
    process = app.start("migrate_tables", "--yes")
    try:
        wait_for(lambda: app.database.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX CONCURRENTLY%'"
            " AND wait_event_type = 'Lock' AND datname = current_database()") > 0)
        started = time.monotonic()
        status = app.manage("migrate_status")
        assert time.monotonic() - started < 10
        assert status.returncode == 0
        assert "Running now:" in status.stdout
    finally:
        writer.rollback()
        writer.close()
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, out + err
    assert app.database.version() == [3]
