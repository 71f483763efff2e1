"""A busy production server: concurrent deploys with CONCURRENTLY, DDL behind application locks.

Scripts count their own applications in a table `applications`, so "applied
exactly once" is read from the database, not from our bookkeeping.
"""
import threading
import time

import pytest

from tests.helpers import applications, counted, failed_with_one_line, succeeded, wait_for

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


class Output:
    """A running migrate_tables' stdout, read line by line as it comes (each line is flushed)."""

    def __init__(self, process):
        self.process = process
        self.lines = []
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.lines.append(None)  # end of output
            self.changed.notify_all()

    def wait_for_line(self, text, timeout=30.0):
        """The first line containing `text`; fails when the run ends or `timeout` passes first."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = [line for line in self.lines if line is not None and text in line]
                if found:
                    return found[0]
                if None in self.lines:
                    raise AssertionError("the run ended without printing %r: %s" % (text, self.lines))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no line with %r in %ss: %s" % (text, timeout, self.lines))
                self.changed.wait(left)

    def finish(self, timeout=60):
        """(exit status, stdout, stderr) once the run ends."""
        status = self.process.wait(timeout=timeout)
        self.thread.join(timeout)
        err = self.process.stderr.read()
        self.process.stdout.close()
        self.process.stderr.close()
        return status, "\n".join(line for line in self.lines if line is not None), err


def _hold(database, table):
    """A second connection, as an application's report: `BEGIN; SELECT * FROM table` left open."""
    holder = database.connect()
    holder.autocommit = False
    with holder.cursor() as cursor:
        cursor.execute("SET application_name = 'report query'")
        cursor.execute("SELECT * FROM %s" % table)
    return holder


def _waiting_for_a_lock(database, text):
    """Whether the test database's session running `text` waits for a lock right now."""
    return lambda: database.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND position(%s IN query) > 0 AND pid <> pg_backend_pid()"
        " AND datname = current_database()", (text,)) > 0


def _retry_lines(out, script, timeout):
    return [line for line in out.splitlines()
            if line.startswith("  %s: lock not granted within %s (attempt " % (script, timeout))]


COMMIT_POINTS = ["during the pause before the next attempt", "while a later attempt waits"]


@pytest.mark.parametrize("commit", COMMIT_POINTS)
def test_ddl_completes_when_the_blocking_transaction_ends_during_the_retries(busy_table, commit):
    """The holder outlasts at least one lock timeout (a retry is printed), then commits.

    Two rounds (v3, then v4 in a new run), each with a new holder, so that one
    lucky schedule does not hide a race between the commit and the retries.
    """
    app = busy_table
    app.holder.rollback()
    app.holder.close()
    for version in (3, 4):
        column = "c%d" % version
        app.write("v%d.sql" % version, counted(version, (
            "SELECT pg_sleep(0.2);\n"                      # slow, so the holder is there first
            "ALTER TABLE t ADD COLUMN %s int;\n") % column))
        app.set_version(version)
        holder = _hold(app.database, "t")
        holder_pid = holder.get_backend_pid()
        process = app.start("migrate_tables", "--yes", "--ddl-lock-timeout", "0.5", "--ddl-retries", "10")
        try:
            output = Output(process)
            first = output.wait_for_line("lock not granted within 0.5s (attempt 1 of 11)")
            assert "blocked by pid %d (report query)" % holder_pid in first, first
            if commit == "while a later attempt waits":
                wait_for(_waiting_for_a_lock(app.database, "ADD COLUMN %s" % column))
            holder.commit()
        except BaseException:
            process.kill()
            raise
        finally:
            holder.close()
        status, out, err = output.finish()

        assert status == 0, (status, out, err)
        assert err == "" and "Traceback" not in out
        retries = _retry_lines(out, "v%d.sql" % version, "0.5s")
        assert retries and retries[0] == first, out
        assert all("blocked by pid %d (report query)" % holder_pid in line
                   and "SELECT * FROM t" in line for line in retries), retries
        assert "Migrated from version %d to %d" % (version - 1, version) in out
        # Each attempt was rolled back whole: the ALTER and the script's count once.
        assert _columns(app.database) == ["id"] + ["c%d" % v for v in range(3, version + 1)]
        assert app.database.version() == [version]
        assert applications(app.database) == {1: 1, **{v: 1 for v in range(3, version + 1)}}
        rows = [row for row in app.database.history() if row[0] == version]
        assert rows == [(version, "v%d.sql" % version, "applied", "transaction", 1, None)], rows
        assert app.manage("migrate_status", "--check").returncode == 0


# -- a statement outside a transaction: a session lock timeout, retried the same way ----------

OUTSIDE = {
    # The header runs every statement on its own; VACUUM FULL is split out by itself.
    "no-transaction header": ("-- migrate: no-transaction\nALTER TABLE t ADD COLUMN c int;\n",
                              "ALTER TABLE t ADD COLUMN c"),
    "vacuum full": ("VACUUM FULL t;\n", "VACUUM FULL t"),
}


def _filenode(database, relation):
    return database.scalar("SELECT pg_relation_filenode(%s)", (relation,))


@pytest.mark.parametrize("kind", sorted(OUTSIDE))
def test_a_statement_outside_a_transaction_waits_at_most_the_lock_timeout(busy_table, kind):
    app = busy_table
    script, statement = OUTSIDE[kind]
    app.write("v3.sql", script)
    holder_pid = app.holder.get_backend_pid()
    catalog_before = app.database.catalog()
    filenode_before = _filenode(app.database, "t")
    with Traffic(app.database, "t") as traffic:
        started = time.monotonic()
        result = app.manage("migrate_tables", "--yes", "--ddl-lock-timeout", "0.5",
                            "--ddl-retries", "1", timeout=60)
        took = time.monotonic() - started

    error = failed_with_one_line(result, 3)
    assert error.startswith("error: v3.sql: lock not granted within 0.5s in 2 attempts; "
                            "blocked by pid %d (report query)" % holder_pid), error
    assert "SELECT * FROM t" in error and "nothing of the script was committed" in error
    retries = _retry_lines(result.stdout, "v3.sql", "0.5s")
    assert len(retries) == 1 and "(attempt 1 of 2)" in retries[0], result.stdout
    assert "blocked by pid %d (report query)" % holder_pid in retries[0]
    # Two attempts of at most 0.5 s each and a pause; no client query queued much longer.
    assert 1.0 <= took < 30, took
    assert traffic.latencies and max(traffic.latencies) < 1.5, max(traffic.latencies)
    assert _columns(app.database) == ["id"]
    assert _filenode(app.database, "t") == filenode_before
    assert app.database.catalog() == catalog_before
    assert app.database.version() == [2]
    assert app.database.history()[-1][:5] == (3, "v3.sql", "failed", "no-transaction", 0)
    # Nothing of it was committed: the advice (run it again) works once the holder is gone.
    app.holder.rollback()
    succeeded(app.manage("migrate_tables", "--yes"))
    assert app.database.version() == [3]


@pytest.mark.parametrize("kind", sorted(OUTSIDE))
def test_a_statement_outside_a_transaction_completes_when_the_holder_commits(busy_table, kind):
    app = busy_table
    script, statement = OUTSIDE[kind]
    app.write("v3.sql", script)
    holder_pid = app.holder.get_backend_pid()
    filenode_before = _filenode(app.database, "t")
    process = app.start("migrate_tables", "--yes", "--ddl-lock-timeout", "0.5", "--ddl-retries", "10")
    try:
        output = Output(process)
        first = output.wait_for_line("v3.sql: lock not granted within 0.5s (attempt 1 of 11)")
        assert "blocked by pid %d (report query)" % holder_pid in first
        wait_for(_waiting_for_a_lock(app.database, statement))  # a second attempt waits
        app.holder.commit()
    except BaseException:
        process.kill()
        raise
    status, out, err = output.finish()

    assert status == 0 and err == "", (status, out, err)
    if kind == "vacuum full":
        assert _filenode(app.database, "t") != filenode_before
        assert _columns(app.database) == ["id"]
    else:
        assert _columns(app.database) == ["id", "c"]
    assert app.database.version() == [3]
    assert app.database.history()[-1][:3] == (3, "v3.sql", "applied")


# -- a step that committed is never run again by the lock retries --------------------------------

PARTLY = {
    # step 1 committed on its own (no transaction), step 2 waits for the holder
    "no-transaction header": (
        "-- migrate: no-transaction\nINSERT INTO applications VALUES (3);\n"
        "ALTER TABLE t ADD COLUMN c int;\n", "steps 1 to 1 of 2 (up to line 2)"),
    # steps 1 (a transaction) and 2 (CONCURRENTLY) committed, step 3 (a transaction) waits
    "steps": (
        "INSERT INTO applications VALUES (3);\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_applications ON applications (version);\n"
        "ALTER TABLE t ADD COLUMN c int;\n", "steps 1 to 2 of 3 (up to line 2)"),
}


def _partly_committed(app, kind):
    """v3 runs until its last step's lock waits are used up; what it printed."""
    script, committed = PARTLY[kind]
    app.write("v3.sql", script)
    holder_pid = app.holder.get_backend_pid()
    result = app.manage("migrate_tables", "--yes", "--ddl-lock-timeout", "0.5", "--ddl-retries", "2",
                        timeout=60)
    error = failed_with_one_line(result, 3)
    assert error.startswith("error: v3.sql: lock not granted within 0.5s in 3 attempts; "
                            "blocked by pid %d (report query)" % holder_pid), error
    assert "%s were committed and stay applied" % committed in error, error
    assert len(_retry_lines(result.stdout, "v3.sql", "0.5s")) == 2, result.stdout
    return error


@pytest.mark.parametrize("kind", sorted(PARTLY))
def test_a_committed_step_is_never_retried(busy_table, kind):
    app = busy_table
    _partly_committed(app, kind)

    # Three attempts of the last step, one application of the first.
    assert applications(app.database) == {1: 1, 3: 1}
    assert _columns(app.database) == ["id"]
    assert app.database.version() == [2]
    steps = 2 if kind == "steps" else 1
    assert app.database.history()[-1][:5] == (3, "v3.sql", "failed", "no-transaction", steps)
    if kind == "steps":
        assert app.database.scalar(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_applications'::regclass") is True

    # The holder is gone. migrate_status names the half-applied script and the two ways on;
    # --retry 3 runs the whole script again, as it says (the count is its first step, again).
    app.holder.rollback()
    status = app.manage("migrate_status", "--check")
    assert status.returncode == 1
    assert "`migrate_tables --retry 3` to run the whole script again" in status.stdout
    retried = succeeded(app.manage("migrate_tables", "--yes", "--retry", "3"))
    assert "Migrated from version 2 to 3" in retried.stdout
    assert applications(app.database) == {1: 1, 3: 2}
    assert _columns(app.database) == ["id", "c"]
    assert app.database.version() == [3]
    assert [row[2:] for row in app.database.history() if row[0] == 3] == [
        ("interrupted", "no-transaction", steps, "run again with --retry"),
        ("applied", "no-transaction", steps + 1, "--retry")]
    assert app.manage("migrate_status", "--check").returncode == 0


def test_the_advice_after_a_partly_committed_lock_wait_failure_works(busy_table):
    app = busy_table
    error = _partly_committed(app, "no-transaction header")
    app.holder.rollback()
    # Steps stay committed: the next plain run would refuse, so the line names --retry.
    assert "then run migrate_tables again" not in error, error
    assert "`migrate_tables --retry 3`" in error and "--mark-applied 3" in error, error
    again = app.manage("migrate_tables", "--yes", "--retry", "3")
    assert again.returncode == 0, again.stdout + again.stderr
    assert _columns(app.database) == ["id", "c"]
    assert app.database.version() == [3]
    assert app.manage("migrate_status", "--check").returncode == 0


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
