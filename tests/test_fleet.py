"""`migrate_tables --databases FILE` and `migrate_status --databases FILE`: a fleet of real
databases on the test server, each command run as an operator runs it (manage.py, flask)."""
import json
import signal
import uuid

import pytest

from flask_migrate_tables.pg.lock import lock_key
from tests.helpers import (COUNTER, HOLD, SLEEP_WHILE_HELD, Database, applications, counted,
                           fresh_databases, sleeping, url_with, wait_for)

POISONED = ("DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'poison') THEN "
            "RAISE EXCEPTION 'poisoned database'; END IF; END $$;\n")


@pytest.fixture
def fleet_app(counting_app):
    """The sample app with v1 (counter), v2 and v3, each counting its applications."""
    counting_app.write("v2.sql", counted(2, "CREATE TABLE t2 (id int);\n"))
    counting_app.write("v3.sql", counted(3))
    counting_app.set_version(3)
    return counting_app


@pytest.fixture
def six(server_url):
    with fresh_databases(server_url, 6, prefix="fleet") as databases:
        yield databases


def listing(tmp_path, databases, name="fleet.txt", extra=()):
    path = tmp_path / name
    path.write_text("# the fleet\n\n" + "\n".join([d.url for d in databases] + list(extra)) + "\n")
    return str(path)


def version_of(database):
    return database.version()[0] if database.version() else None


def test_mixed_versions_one_run_then_a_rerun_that_only_reads(fleet_app, six, tmp_path):
    first = fleet_app.manage("migrate_tables", "--databases", listing(tmp_path, six[:2]), "--yes",
                             "--to", "1")
    assert first.returncode == 0, first.stderr
    report = tmp_path / "report.json"
    run = fleet_app.manage("migrate_tables", "--databases", listing(tmp_path, six), "--yes",
                           "--jobs", "3", "--report", report)
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert run.stderr == ""
    name = six[0].name
    assert "[1/6 " in run.stdout and "%s] applied v2.sql in " % name in run.stdout
    assert "Fleet: 6 databases in" in run.stdout
    assert "6 migrated, 0 already at version 3, 0 failed, 0 not started" in run.stdout
    for database in six:
        assert applications(database) == {1: 1, 2: 1, 3: 1}
        assert version_of(database) == 3
    entries = json.loads(report.read_text())["databases"]
    assert [e["outcome"] for e in entries] == ["migrated"] * 6
    assert entries[0]["from"] == 1 and entries[0]["scripts"] == ["v2.sql", "v3.sql"]
    assert entries[2]["from"] == 0 and entries[2]["to"] == 3
    assert fleet_app.database.tables() == set()  # the app's own database: not listed, not touched

    rows = [len(d.history()) for d in six]
    holder = six[0].connect()  # another migration holds the first one's lock: not needed to read
    with holder.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", (lock_key("version"),))
    try:
        again = fleet_app.manage("migrate_tables", "--databases", listing(tmp_path, six), "--yes",
                                 "--lock-timeout", "1")
    finally:
        holder.close()
    assert again.returncode == 0, again.stderr
    assert "0 migrated, 6 already at version 3" in again.stdout
    assert "at version 3; nothing to do" in again.stdout and "waiting" not in again.stdout
    assert [len(d.history()) for d in six] == rows


def test_a_failing_script_under_stop_and_continue(fleet_app, six, tmp_path):
    fleet_app.write("v2.sql", counted(2, POISONED))
    six[1].execute("CREATE SCHEMA elsewhere; CREATE TABLE elsewhere.poison (id int)")
    stop = fleet_app.manage("migrate_tables", "--databases", listing(tmp_path, six[:4]), "--yes",
                            "--jobs", "1")
    assert stop.returncode == 1, (stop.stdout, stop.stderr)
    assert "1 migrated, 0 already at version 3, 1 failed, 2 not started" in stop.stdout
    failed_line = [line for line in stop.stdout.splitlines() if line.startswith("  failed ")]
    assert len(failed_line) == 1 and six[1].name in failed_line[0] and "poisoned database" in failed_line[0]
    assert [version_of(d) for d in six[:4]] == [3, 1, None, None]

    go_on = fleet_app.manage("migrate_tables", "--databases", listing(tmp_path, six), "--yes",
                             "--on-error", "continue")
    assert go_on.returncode == 1
    assert "4 migrated, 1 already at version 3, 1 failed, 0 not started" in go_on.stdout
    assert [version_of(d) for d in six] == [3, 1, 3, 3, 3, 3]


@pytest.fixture
def fleet_roles(server_url):
    """(role, password, refused): a login role whose URLs carry a password, and a role with a
    password that may not log in. Refused on any server and any pg_hba.conf (a trust-auth
    PostgreSQL 15 lane too), unlike a wrong password."""
    suffix = uuid.uuid4().hex[:8]
    role, refused, password = "fleet_%s" % suffix, "fleet_nologin_%s" % suffix, "right-%s" % suffix
    maintenance = Database(server_url)
    maintenance.execute("CREATE ROLE %s LOGIN PASSWORD '%s'" % (role, password))
    maintenance.execute("CREATE ROLE %s NOLOGIN PASSWORD 'nologin-secret'" % refused)
    try:
        yield role, password, refused
    finally:  # after the test's databases, which the login role owns
        maintenance.execute("DROP ROLE %s" % refused)
        maintenance.execute("DROP ROLE IF EXISTS %s" % role)


def test_unreachable_refused_login_and_passwords_never_printed(fleet_app, fleet_roles, tmp_path,
                                                                 server_url):
    with fresh_databases(server_url, 1, prefix="fleet") as (database,):
        unreachable_refused_and_masked(fleet_app, database, fleet_roles, tmp_path)


def unreachable_refused_and_masked(fleet_app, database, fleet_roles, tmp_path):
    role, password, refused = fleet_roles
    database.execute('ALTER DATABASE "%s" OWNER TO %s' % (database.name, role))
    with_password = url_with(database.url, username=role, password=password)
    not_permitted = url_with(database.url, username=refused, password="nologin-secret")
    missing = url_with(database.url, database="no_such_database_here")
    path = tmp_path / "fleet.txt"
    path.write_text("\n".join([missing, not_permitted, with_password]) + "\n")
    run = fleet_app.manage("migrate_tables", "--databases", path, "--yes", "--on-error", "continue")
    assert run.returncode == 1, (run.stdout, run.stderr)
    output = run.stdout + run.stderr
    assert password not in output and "nologin-secret" not in output
    assert "1 migrated, 0 already at version 3, 2 failed" in run.stdout
    failures = [line for line in run.stdout.splitlines() if line.startswith("  failed ")]
    assert "no_such_database_here" in failures[0] and "does not exist" in failures[0]
    assert "is not permitted to log in" in failures[1], failures[1]
    assert applications(database) == {1: 1, 2: 1, 3: 1}
    status = fleet_app.manage("migrate_status", "--databases", path, "--json")
    document = json.loads(status.stdout)
    assert document["at_target"] == 1 and len(document["unreachable"]) == 2
    assert password not in status.stdout + status.stderr


def test_kill_mid_fleet_then_a_rerun_applies_every_script_once(fleet_app, six, tmp_path):
    # v2 sleeps while `hold` has a row; v1 puts one there while elsewhere.armed exists.
    fleet_app.write("v1.sql", COUNTER + HOLD + counted(1, "INSERT INTO hold SELECT 1 FROM elsewhere.armed;\n"))
    fleet_app.write("v2.sql", counted(2, SLEEP_WHILE_HELD))
    for database in six:
        database.execute("CREATE SCHEMA elsewhere; CREATE TABLE elsewhere.armed (id int); "
                         "INSERT INTO elsewhere.armed VALUES (1)")
    fleet = listing(tmp_path, six)
    report = tmp_path / "report.json"
    process = fleet_app.start("migrate_tables", "--databases", fleet, "--yes", "--jobs", "2",
                              "--report", report)
    wait_for(lambda: any(sleeping(d)() for d in six), timeout=60)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed = json.loads(report.read_text())["databases"]  # a valid file, and a true one
    for entry, database in zip(killed, six):
        assert entry["outcome"] in ("running", "not-started"), entry
        if entry["outcome"] == "not-started":
            assert database.tables() == set()
    assert "running" in [e["outcome"] for e in killed]
    for database in six:
        database.execute("DELETE FROM elsewhere.armed")
        if "hold" in database.tables():
            database.execute("DELETE FROM hold")
    wait_for(lambda: not any(sleeping(d)() for d in six))
    rerun = fleet_app.manage("migrate_tables", "--databases", fleet, "--yes", "--report", report)
    assert rerun.returncode == 0, (rerun.stdout, rerun.stderr)
    for database in six:
        assert applications(database) == {1: 1, 2: 1, 3: 1}
        applied = [row[0] for row in database.history() if row[2] == "applied"]
        assert applied == [1, 2, 3]
    assert {e["outcome"] for e in json.loads(report.read_text())["databases"]} == {"migrated"}


def test_two_fleet_runs_at_once_on_overlapping_files(fleet_app, six, tmp_path):
    one = fleet_app.start("migrate_tables", "--databases", listing(tmp_path, six[:4], "a.txt"),
                          "--yes", "--jobs", "2")
    two = fleet_app.start("migrate_tables", "--databases", listing(tmp_path, six[2:], "b.txt"),
                          "--yes", "--jobs", "2")
    outputs = [process.communicate(timeout=120) for process in (one, two)]
    assert (one.returncode, two.returncode) == (0, 0), outputs
    for database in six:
        assert applications(database) == {1: 1, 2: 1, 3: 1}


def test_shards_cover_the_file_exactly_once(fleet_app, server_url, tmp_path):
    with fresh_databases(server_url, 7, prefix="fleet") as seven:
        fleet = listing(tmp_path, seven)
        shards = [fleet_app.start("migrate_tables", "--databases", fleet, "--yes", "--shard",
                                  "%d/3" % k) for k in (1, 2, 3)]
        outputs = [process.communicate(timeout=120)[0] for process in shards]
        assert [process.returncode for process in shards] == [0, 0, 0], outputs
        positions = [sorted(int(line[1:].split("/")[0]) for line in out.splitlines()
                            if line.startswith("[") and "migrated from version 0" in line)
                     for out in outputs]
        assert positions == [[1, 4, 7], [2, 5], [3, 6]]
        for database in seven:
            assert applications(database) == {1: 1, 2: 1, 3: 1}


def test_a_failed_canary_stops_the_rest(fleet_app, six, tmp_path):
    fleet_app.write("v2.sql", counted(2, POISONED))
    six[1].execute("CREATE SCHEMA elsewhere; CREATE TABLE elsewhere.poison (id int)")
    run = fleet_app.manage("migrate_tables", "--databases", listing(tmp_path, six), "--yes",
                           "--canary", "2", "--on-error", "continue")
    assert run.returncode == 1
    assert "canary failed: the other 4 databases were not started" in run.stdout
    assert "1 migrated, 0 already at version 3, 1 failed, 4 not started" in run.stdout
    assert [d.tables() == set() for d in six] == [False, False, True, True, True, True]


def test_status_prompt_dry_run_and_standard_input(fleet_app, six, tmp_path):
    fleet = listing(tmp_path, six[:3])
    assert fleet_app.manage("migrate_tables", "--databases", listing(tmp_path, six[:1], "one.txt"),
                            "--yes").returncode == 0
    dry = fleet_app.manage("migrate_tables", "--databases", fleet, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "at version 3; nothing would run" in dry.stdout
    assert "at version 0; would run v1.sql, v2.sql, v3.sql" in dry.stdout
    no = fleet_app.manage("migrate_tables", "--databases", fleet, input="n\n")
    assert no.returncode == 1 and "declined" in no.stderr
    assert "WARNING: this migrates 2 of the 3 databases to version 3 (2 at no version row); " \
           "1 is at it already" in no.stdout
    assert "Scripts to run: v1.sql, v2.sql, v3.sql" in no.stdout
    assert [d.tables() == set() for d in six[:3]] == [False, True, True]

    status = fleet_app.manage("migrate_status", "--databases", fleet, "--json", "--check")
    assert status.returncode == 1
    document = json.loads(status.stdout)
    assert document["by_version"] == {"0": 2, "3": 1} and len(document["behind"]) == 2
    text = fleet_app.manage("migrate_status", "--databases", fleet)
    assert "Behind:          2" in text.stdout and "pending v1.sql, v2.sql, v3.sql" in text.stdout

    piped = fleet_app.manage("migrate_tables", "--databases", "-", "--yes",
                             input="\n".join(d.url for d in six[:3]))
    assert piped.returncode == 0, piped.stderr
    assert fleet_app.manage("migrate_status", "--databases", fleet, "--check").returncode == 0


def test_the_flask_cli_runs_a_fleet(server_url, tmp_path, database, flask_cli):
    from myapp import __db_version__
    with fresh_databases(server_url, 2, prefix="fleet") as two:
        run = flask_cli("migrate-tables", "--databases", listing(tmp_path, two), "--yes",
                        "--jobs", "2")
        assert run.returncode == 0, (run.stdout, run.stderr)
        assert "2 migrated" in run.stdout
        assert [version_of(d) for d in two] == [__db_version__] * 2
        assert database.tables() == set()


def test_behind_a_transaction_pooler_and_newer_than_the_code_are_failed_entries(fleet_app, six,
                                                                                 tmp_path, pgbouncer):
    from tests.pgbouncer import pooled_url
    assert fleet_app.manage("migrate_tables", "--databases", listing(tmp_path, six[2:3], "c.txt"),
                            "--yes").returncode == 0
    six[2].execute("UPDATE version SET version = 9")
    path = tmp_path / "fleet.txt"
    path.write_text("\n".join([pooled_url(six[0].url, pgbouncer.transaction), six[1].url, six[2].url]))
    run = fleet_app.manage("migrate_tables", "--databases", path, "--yes", "--on-error", "continue")
    assert run.returncode == 1, (run.stdout, run.stderr)
    failures = sorted(line for line in run.stdout.splitlines() if line.startswith("  failed "))
    assert len(failures) == 2, run.stdout  # in the order they failed: sorted, [1/3 ...] first
    assert "[1/3 127.0.0.1:" in failures[0] and "not a stable session" in failures[0]
    assert "[3/3 " in failures[1] and "version table says 9" in failures[1]
    assert six[0].tables() == set() and applications(six[1]) == {1: 1, 2: 1, 3: 1}
