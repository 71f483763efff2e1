"""Issue 12: hostile but fair input, least privilege and secrets, through `python manage.py`.

Each test asserts the exit status, one line on stderr, no traceback, and the
catalog and history before and after. Server faults and Ctrl-C: test_server_faults.py.
Also: version options, least privilege on a fresh database, the advice for a version
row ahead of the history, and the app's own connection lost mid-run.
"""
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
import sys
import time
import uuid

import psycopg2
import pytest
from sqlalchemy.engine.url import make_url

from tests.conftest import _environment, run_manage
from tests.helpers import REPO_ROOT, Database, applications, connect_params, counted, wait_for
from tests.helpers import FLASK_MAJOR
from tests.test_server_faults import NO_TRANSACTION, Finished, one_line


def snapshot(database):
    return database.catalog(exclude=()), database.history(), sorted(database.tables())


def as_role(database, role, password=None):
    url = make_url(database.url)
    if hasattr(url, "set"):
        return url.set(username=role, password=password).render_as_string(hide_password=False)
    url.username, url.password = role, password  # SQLAlchemy 1.3: mutable, str() shows the password
    return str(url)


@pytest.fixture
def roles(server_url, database):
    """Make login roles with unique names; every one is dropped at the end."""
    made = []
    maintenance = Database(server_url)

    def make():
        name = "mig_%s" % uuid.uuid4().hex[:10]
        maintenance.execute("CREATE ROLE %s LOGIN" % name)
        made.append(name)
        return name
    yield make
    # The test's database (with the roles' objects and privileges) goes first.
    maintenance.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % database.name)
    for name in made:
        maintenance.execute("DROP ROLE IF EXISTS %s" % name)


# -- silently skipped or applied twice ------------------------------------------------

def test_nul_byte_is_refused_with_line_and_column(counting_app):
    app = counting_app
    assert app.manage("migrate_tables", "--yes").returncode == 0
    app.write("v2.sql", "CREATE TABLE a (id int);\nSELECT 1;\x00CREATE TABLE b (id int);\n")
    app.set_version(2)
    before = snapshot(app.database)

    line = one_line(app.manage("migrate_tables", "--yes"), 2)

    assert "v2.sql" in line and "line 2" in line and "column" in line, line
    assert snapshot(app.database) == before
    status = app.manage("migrate_status", "--check")
    assert status.returncode != 0


def test_script_that_truncates_the_history_is_rolled_back(counting_app):
    app = counting_app
    assert app.manage("migrate_tables", "--yes").returncode == 0
    app.write("v2.sql", counted(2, "CREATE TABLE t2 (id int);\nTRUNCATE version_history;\n"))
    app.set_version(2)
    catalog, history, _ = snapshot(app.database)

    line = one_line(app.manage("migrate_tables", "--yes"), 1)

    assert "v2.sql" in line and "changed the migration history table" in line, line
    assert app.database.catalog(exclude=()) == catalog
    assert applications(app.database) == {1: 1}
    assert app.database.history()[:len(history)] == history
    assert app.database.version() == [1]


def test_script_that_unlocks_every_advisory_lock_is_stopped(counting_app):
    app = counting_app
    assert app.manage("migrate_tables", "--yes").returncode == 0
    app.write("v2.sql", counted(2, "SELECT pg_advisory_unlock_all();\n"))
    app.write("v3.sql", counted(3))
    app.set_version(3)
    catalog = app.database.catalog(exclude=())

    line = one_line(app.manage("migrate_tables", "--yes"), 1)

    assert "v2.sql" in line and "migration lock was lost" in line, line
    assert app.database.catalog(exclude=()) == catalog
    assert applications(app.database) == {1: 1}
    assert app.database.version() == [1]


def test_concurrent_runs_with_a_lock_dropping_script_apply_nothing_twice(counting_app):
    app = counting_app
    assert app.manage("migrate_tables", "--yes").returncode == 0
    app.write("v2.sql", counted(2, "SELECT pg_advisory_unlock_all();\n"))
    app.write("v3.sql", counted(3))
    app.set_version(3)

    runs = [app.start("migrate_tables", "--yes") for _ in range(4)]
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert "Traceback" not in out + err
    assert applications(app.database) == {1: 1}
    assert [row[2] for row in app.database.history() if row[0] == 3] == []


def test_script_with_its_own_history_table_and_search_path(counting_app):
    app = counting_app
    app.write("v2.sql", counted(2, "CREATE SCHEMA evil;\n"
                                   "CREATE TABLE evil.version_history (LIKE public.version_history);\n"
                                   "CREATE TABLE evil.version (version_id int, version int);\n"
                                   "SET search_path = evil, public;\n"))
    app.write("v3.sql", counted(3, "SELECT set_config('search_path', 'evil, public', false);\n"))
    app.write("v4.sql", counted(4))
    app.set_version(4)

    first = app.manage("migrate_tables", "--yes")
    assert first.returncode == 0, first.stderr
    again = app.manage("migrate_tables", "--yes")
    assert again.returncode == 0, again.stderr
    assert applications(app.database) == {1: 1, 2: 1, 3: 1, 4: 1}
    assert app.database.version() == [4]
    assert [row[0] for row in app.database.history() if row[2] == "applied"] == [1, 2, 3, 4]
    assert app.database.scalar("SELECT count(*) FROM evil.version_history") == 0


# -- tracebacks or several lines instead of one ------------------------------------------

def test_symlink_loop_is_one_line(counting_app):
    app = counting_app
    assert app.manage("migrate_tables", "--yes").returncode == 0
    os.symlink("v2.sql", str(app.migration_dir / "v2.sql"))
    app.set_version(2)
    before = snapshot(app.database)

    line = one_line(app.manage("migrate_tables", "--yes"), 2)

    assert "v2.sql" in line, line
    assert snapshot(app.database) == before


def test_huge_version_is_one_line_at_once(counting_app):
    app = counting_app
    app.write("v100000000000.sql", "SELECT 1;\n")
    app.set_version(100000000000)
    before = snapshot(app.database)

    line = one_line(app.manage("migrate_tables", "--yes", timeout=30), 2)

    assert "v100000000000.sql" in line or "100000000000" in line, line
    assert snapshot(app.database) == before


@pytest.mark.parametrize("option,value", [
    ("--lock-timeout", "inf"), ("--lock-timeout", "1e10"), ("--lock-timeout", "nan"),
    ("--lock-timeout", "-1"), ("--ddl-lock-timeout", "inf"), ("--statement-timeout", "1e10"),
    ("--ddl-retries", "-1")])
def test_option_values_are_checked_up_front(counting_app, option, value):
    app = counting_app
    before = snapshot(app.database)

    line = one_line(app.manage("migrate_tables", "--yes", option, value), 2)

    assert option in line, line
    assert snapshot(app.database) == before


def test_lock_held_by_another_role_is_one_line(counting_app, roles):
    from flask_migrate_tables.pg.lock import lock_key
    app = counting_app
    assert app.manage("migrate_tables", "--yes").returncode == 0
    app.write("v2.sql", counted(2))
    app.set_version(2)
    role = roles()
    app.database.execute("GRANT SELECT, INSERT, UPDATE ON version_history, version, applications"
                         " TO %s; GRANT USAGE ON SEQUENCE version_history_id_seq TO %s" % (role, role))
    holder = app.database.connect()
    try:
        holder.cursor().execute("SELECT pg_advisory_lock(%s)", (lock_key("version"),))
        env = {"DATABASE_URL": as_role(app.database, role)}
        before = snapshot(app.database)

        line = one_line(app.manage("migrate_tables", "--yes", "--lock-timeout", "1", env=env), 3)
        status = app.manage("migrate_status", env=env)
    finally:
        holder.close()
    assert "lock" in line, line
    assert snapshot(app.database) == before
    assert status.returncode == 0 and "Traceback" not in status.stdout + status.stderr


def test_script_that_drops_the_version_table_is_one_line(counting_app):
    app = counting_app
    assert app.manage("migrate_tables", "--yes").returncode == 0
    app.write("v2.sql", counted(2, "DROP TABLE version;\n"))
    app.set_version(2)

    result = app.manage("migrate_tables", "--yes")

    line = one_line(result, 1)
    assert "v2.sql" in line, line
    assert applications(app.database) == {1: 1, 2: 1}  # the script ran; the history says so
    assert [row[2] for row in app.database.history() if row[0] == 2] == ["applied"]


def test_idle_session_timeout_shorter_than_a_script_is_one_line(counting_app):
    app = counting_app
    assert app.manage("migrate_tables", "--yes").returncode == 0
    app.database.execute('ALTER DATABASE "%s" SET idle_session_timeout = 500' % app.database.name)
    # The fault is real on this server: an idle session of this database is ended (PostgreSQL 14+).
    idle = app.database.connect()
    try:
        time.sleep(1.2)
        with pytest.raises(psycopg2.OperationalError):
            idle.cursor().execute("SELECT 1")
    finally:
        idle.close()
    app.write("v2.sql", counted(2, "SELECT pg_sleep(1.5);\n"))
    app.write("v3.sql", counted(3))
    app.set_version(3)

    result = app.manage("migrate_tables", "--yes")

    assert "Traceback" not in result.stdout + result.stderr
    if result.returncode == 0:
        # The tool outlived the timeout (it kept no session idle that long, or reconnected).
        assert result.stderr == "", result.stderr
        assert applications(app.database) == {1: 1, 2: 1, 3: 1}
        assert app.database.version() == [3]
    else:
        # The app's session sat idle through v2's sleep and the server ended it: v2 is
        # committed and recorded, the version row is behind, v3 did not start.
        line = one_line(result, 1)
        assert "v2.sql" in line and "idle-session timeout" in line, line
        assert "connection to the server was lost" in line, line
        assert "Upgrading database to version 3" not in result.stdout
        assert applications(app.database) == {1: 1, 2: 1}
        assert [row[:3] for row in app.database.history()] == [
            (1, "v1.sql", "applied"), (2, "v2.sql", "applied")]
        assert app.database.version() == [1]
    app.database.execute('ALTER DATABASE "%s" RESET idle_session_timeout' % app.database.name)
    final = app.manage("migrate_tables", "--yes")
    assert final.returncode == 0, final.stderr
    assert "Upgrading database to version 2" not in final.stdout
    assert applications(app.database) == {1: 1, 2: 1, 3: 1}
    assert app.database.version() == [3]
    assert [row[:3] for row in app.database.history()] == [
        (1, "v1.sql", "applied"), (2, "v2.sql", "applied"), (3, "v3.sql", "applied")]


def test_full_width_digit_is_not_a_version(counting_app):
    app = counting_app
    app.write("v\uff12.sql", counted(2))
    before_tables = app.database.tables()

    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "ignored v\uff12.sql" in result.stdout + result.stderr
    assert applications(app.database) == {1: 1}
    assert before_tables <= app.database.tables()


# -- least privilege --------------------------------------------------------------------

def test_role_without_create_on_the_schema_migrates(counting_app, roles):
    app = counting_app
    assert app.manage("migrate_tables", "--yes").returncode == 0  # the owner made the tables
    role = roles()
    app.database.execute(
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
        " GRANT SELECT, INSERT, UPDATE ON version_history TO {r};"
        " GRANT SELECT, UPDATE ON SEQUENCE version_history_id_seq TO {r};"
        " GRANT SELECT, UPDATE ON version TO {r}; GRANT INSERT ON applications TO {r}".format(r=role))
    assert not app.database.scalar("SELECT has_schema_privilege(%s, 'public', 'CREATE')", (role,))
    env = {"DATABASE_URL": as_role(app.database, role)}

    nothing = app.manage("migrate_tables", "--yes", env=env)
    assert nothing.returncode == 0, nothing.stderr
    assert "Traceback" not in nothing.stdout + nothing.stderr

    app.write("v2.sql", counted(2))
    app.set_version(2)
    catalog = app.database.catalog(exclude=())
    migrated = app.manage("migrate_tables", "--yes", env=env)

    assert migrated.returncode == 0, migrated.stderr
    assert applications(app.database) == {1: 1, 2: 1}
    assert app.database.version() == [2]
    assert app.database.catalog(exclude=()) == catalog
    assert app.database.history()[-1][:3] == (2, "v2.sql", "applied")
    again = app.manage("migrate_tables", "--yes", env=env)
    assert again.returncode == 0 and "Traceback" not in again.stdout + again.stderr


def test_role_that_cannot_write_the_history_is_refused_before_anything_changes(counting_app, roles):
    from flask_migrate_tables.books.history import CREATE_SQL
    app = counting_app
    role = roles()
    app.database.execute(CREATE_SQL.format(table="public.version_history"))
    app.database.execute("GRANT CREATE ON SCHEMA public TO {r}; GRANT SELECT ON version_history TO {r}"
                         .format(r=role))
    before = snapshot(app.database)

    line = one_line(app.manage("migrate_tables", "--yes", env={"DATABASE_URL": as_role(app.database, role)}), 2)

    assert "INSERT, UPDATE on public.version_history" in line, line
    assert "nothing was changed" in line
    assert "Upgrading" not in line
    assert snapshot(app.database) == before
    assert "version" not in app.database.tables()


# -- secrets ---------------------------------------------------------------------------

@pytest.fixture
def login_role(request, server_url, database):
    """A login role with a password, on any test server: (name, password).

    On the embedded server it is conftest's `password_role` (a scram line in its
    pg_hba.conf: a wrong password is refused). A server from TEST_DATABASE_URL has a
    pg_hba.conf this test cannot edit; CI's PostgreSQL 15 cluster trusts every local
    login (initdb --auth=trust) and accepts and ignores any password, which still
    sends the marker through every path that parses, shows or connects with a URL.
    """
    if not os.environ.get("TEST_DATABASE_URL"):
        yield request.getfixturevalue("password_role")
        return
    role, password = "pw_%s" % uuid.uuid4().hex[:8], "right-%s" % uuid.uuid4().hex[:8]
    maintenance = Database(server_url)
    maintenance.execute("CREATE ROLE %s LOGIN PASSWORD '%s'" % (role, password))
    try:
        yield role, password
    finally:
        # Under trust the role logs in: its objects and privileges go with the database first.
        maintenance.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % database.name)
        maintenance.execute("DROP ROLE IF EXISTS %s" % role)


def _accepts(url):
    """Whether the server lets this URL's user in with this URL's password."""
    try:
        psycopg2.connect(**connect_params(url)).close()
    except psycopg2.OperationalError:
        return False
    return True


def test_no_error_path_prints_the_password(database, login_role, tmp_path):
    marker = "Mk%s" % uuid.uuid4().hex[:12]
    role, _ = login_role
    params = connect_params(database.url)
    socket = "host=%s&port=%s" % (params["host"], params.get("port", 5432))
    good = database.url
    with_password = as_role(database, "postgres", marker)  # a trusting server lets it in
    as_role_with_marker = "postgresql://%s:%s@/%s?%s" % (role, marker, database.name, socket)
    # The embedded server checks this role's password (pg_hba.conf): the wrong one is refused.
    # CI's PostgreSQL 15 cluster trusts every local login: the marker is ignored, the role gets in.
    checked = not _accepts(as_role_with_marker)
    if not os.environ.get("TEST_DATABASE_URL"):
        assert checked, "the embedded server must check the role's password"
    urls = [
        "postgresql://someone:%s@127.0.0.1:1/nowhere" % marker,
        as_role_with_marker,
        "postgresql://postgres:%s@/%s_missing?%s" % (marker, database.name, socket),
        "postgresql//someone:%s@localhost/db" % marker,
        "host=localhost dbname=x user=someone password=%s" % marker,
        "postgresql://someone@127.0.0.1:1/nowhere?password=%s" % marker,
        "postgresql://postgres@/%s?%s&password=%s" % (database.name, socket, marker),
        "postgresql://someone:Se@%s@127.0.0.1:1/nowhere" % marker,
        "postgresql://someone:%s@Se@127.0.0.1:1/nowhere" % marker,
        with_password,
    ]
    calls = []  # (args, env, input, python -m flask?)
    for url in urls:
        env = {"DATABASE_URL": url}
        calls.append((["migrate_tables", "--yes"], env, "", False))
        calls.append((["migrate_tables"], env, "n\n", False))
        calls.append((["migrate_tables", "--dry-run"], env, "", False))
        calls.append((["migrate_status"], env, "", False))
        calls.append((["migrate_status", "--json"], env, "", False))
        # Flask 0.12 cannot load the app factory (test_flask_cli covers it with an instance);
        # the flask command's paths are checked on the stacks with Flask 1.0 and later.
        for args in (["migrate-tables", "--yes"], ["migrate-status", "--json"]) if FLASK_MAJOR >= 1 else ():
            calls.append((args, dict(env, FLASK_APP="myapp"), "", True))
    for url in urls[:1] + [with_password, "postgresql//x:%s@h/d" % marker]:
        env = {"DATABASE_URL": good, "MIGRATION_DATABASE_URL": url}
        calls.append((["migrate_tables"], env, "n\n", False))
        calls.append((["migrate_status", "--json"], env, "", False))
    env = {"DATABASE_URL": "", "DB_NAME": database.name, "DB_USER": role, "DB_PASSWORD": marker,
           "DB_HOST": params["host"], "DB_PORT": str(params.get("port", 5432))}
    calls.append((["migrate_tables", "--yes"], env, "", False))

    def call(args, env, input, flask):
        if not flask:
            return run_manage(REPO_ROOT, args, database, env=env, input=input)
        return subprocess.run([sys.executable, "-m", "flask"] + args, cwd=REPO_ROOT, input=input,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              env=_environment(database, env), timeout=120)

    # Some 80 processes that only read: a few at a time (each is mostly Python's start-up).
    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = list(pool.map(lambda c: call(*c), calls))

    for (args, env, _, flask), run in zip(calls, runs):
        output = run.stdout + run.stderr
        assert marker not in output, (run.args, output)
        if flask and run.returncode != 0 and "no usable database URL" in output:
            # Known, left alone (the flask command only): it loads the app before our code
            # runs, and Flask prints its own traceback when the factory refuses an unusable
            # URL (the password masked all the same). manage.py says it in one line.
            continue
        assert "Traceback" not in output, (run.args, output)
        lines = run.stderr.strip().splitlines()
        if run.returncode == 0:
            assert not [line for line in lines if line.startswith("error")], (run.args, run.stderr)
        else:  # every failure, declined included: one line
            assert len(lines) == 1 and lines[0].startswith("error: "), (run.args, run.stderr)
    failed = [run for run in runs if run.returncode != 0]
    assert len(failed) > len(urls)
    role_runs = [run for (_, env, _, _), run in zip(calls, runs)
                 if env.get("DATABASE_URL") == as_role_with_marker]
    if checked:  # the wrong password's own error path ran, on every command
        for run in role_runs:
            assert run.returncode == 2 and "password authentication failed" in run.stderr, (
                run.args, run.stderr)
    else:  # the marker went all the way in: the role connected and got as far as its privileges
        assert not any("password authentication failed" in run.stderr for run in role_runs)
    if _accepts(with_password):  # the marker in a URL that connects reached the confirmation
        assert any("WARNING: this migrates the database" in run.stdout for run in runs)


# -- more of issue 12 ----------------------------------------------------------------------

BOOKKEEPING = {"version", "version_history"}


def history_outcomes(database):
    return [(row[0], row[2]) for row in database.history()]


# -- version options must be positive -------------------------------------------------------


def _refused_without_a_change(app, args):
    """migrate_tables with `args` fails in one line naming the option, and changes nothing."""
    before = snapshot(app.database)
    result = app.manage("migrate_tables", "--yes", *args)
    assert result.returncode != 0, (result.returncode, result.stdout, result.stderr)
    line = one_line(result, result.returncode)
    assert line.startswith("error: ") and args[0] in line, line
    assert "Upgrading" not in result.stdout
    assert snapshot(app.database) == before


@pytest.mark.parametrize("args", [
    ("--to", "0"),
    ("--to", "0", "--dry-run"),
    ("--to", "-1"),
    ("--retry", "0"), ("--retry", "-1"),
    ("--mark-applied", "0"),
    ("--mark-applied", "-1"),
    ("--baseline", "0"), ("--baseline", "-1"),
], ids=lambda args: " ".join(args))
def test_version_options_must_be_positive_on_a_fresh_database(counting_app, args):
    app = counting_app  # v1 pending, nothing in the database yet
    _refused_without_a_change(app, args)
    assert not BOOKKEEPING & app.database.tables()


@pytest.mark.parametrize("args", [
    ("--to", "0"), ("--to", "-1"), ("--retry", "0"), ("--retry", "-1"),
    ("--mark-applied", "0"), ("--mark-applied", "-1"), ("--baseline", "0"), ("--baseline", "-1"),
], ids=lambda args: " ".join(args))
def test_version_options_must_be_positive_on_a_migrated_database(counting_app, args):
    app = counting_app
    assert app.manage("migrate_tables", "--yes").returncode == 0
    app.write("v2.sql", counted(2))
    app.set_version(2)
    _refused_without_a_change(app, args)
    assert applications(app.database) == {1: 1}
    assert app.database.version() == [1]


# -- least privilege: the bookkeeping tables must be made and cannot be --------------------

def test_role_without_create_on_a_fresh_database_is_refused_before_anything_changes(
        counting_app, roles):
    app = counting_app
    role = roles()
    # PostgreSQL 15's default, said explicitly for older servers (this database's schema only).
    app.database.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    assert not app.database.scalar("SELECT has_schema_privilege(%s, 'public', 'CREATE')", (role,))
    env = {"DATABASE_URL": as_role(app.database, role)}
    before = snapshot(app.database)
    assert not BOOKKEEPING & set(before[2])

    result = app.manage("migrate_tables", "--yes", env=env)

    line = one_line(result, 2)
    assert line.startswith("error: the role %s lacks " % role), line
    assert "CREATE on schema public (to create public.version_history)" in line, line
    assert "CREATE on schema public (to create public.version)" in line, line
    assert "nothing was changed" in line, line
    assert "Upgrading" not in result.stdout
    assert snapshot(app.database) == before
    assert not BOOKKEEPING & app.database.tables()

    # What the line asks for is enough.
    app.database.execute("GRANT CREATE ON SCHEMA public TO %s" % role)
    granted = app.manage("migrate_tables", "--yes", env=env)
    assert granted.returncode == 0, granted.stdout + granted.stderr
    assert "Traceback" not in granted.stdout + granted.stderr
    assert applications(app.database) == {1: 1}
    assert app.database.version() == [1]
    assert history_outcomes(app.database) == [(1, "applied")]


# -- the advice for a version row ahead of the history -------------------------------------

def _advice(line, history_version, stored):
    """The remedies the line offers, in the order an operator would try them:
    ("run", args) for a migrate_tables command, ("set", N) for 'set it back to N'."""
    remedies = []
    marked = [int(n) for n in re.findall(r"--mark-applied (\d+)", line)]
    if not marked and "--mark-applied" in line:  # "record them with --mark-applied": each of them
        marked = list(range(history_version + 1, stored + 1))
    remedies += [("run", ("--mark-applied", str(n))) for n in marked]
    remedies += [("set", int(n)) for n in re.findall(r"set (?:it|the version table) back to (\d+)", line)]
    return remedies


def test_version_row_ahead_of_the_history_advice_reruns_nothing(counting_app):
    app = counting_app
    app.write("v2.sql", counted(2))
    app.write("v3.sql", counted(3))
    app.set_version(3)
    assert app.manage("migrate_tables", "--yes").returncode == 0
    # v2 and v3 ran once, but the history lost them (as after a script that rewrote it):
    # the version row says 3, the history's last applied version is 1.
    app.database.execute("DELETE FROM version_history WHERE version > 1")
    assert app.database.version() == [3]
    before = snapshot(app.database)

    result = app.manage("migrate_tables", "--yes")

    line = one_line(result, 2)
    assert "3" in line and "1" in line, line
    assert "Upgrading" not in result.stdout
    assert snapshot(app.database) == before
    assert applications(app.database) == {1: 1, 2: 1, 3: 1}

    remedies = _advice(line, 1, 3)
    assert remedies, "the line offers nothing to do: %s" % line
    done = None
    for kind, what in remedies:  # alternatives: the first that makes a run succeed is it
        if kind == "set":
            app.database.execute("UPDATE version SET version = %s", (what,))
        else:
            step = app.manage("migrate_tables", "--yes", *what)
            assert "Traceback" not in step.stdout + step.stderr
            if step.returncode != 0:
                one_line(step, step.returncode)
        assert applications(app.database) == {1: 1, 2: 1, 3: 1}, (kind, what)
        done = app.manage("migrate_tables", "--yes")
        assert "Traceback" not in done.stdout + done.stderr
        assert "Upgrading database to version" not in done.stdout, (kind, what, done.stdout)
        assert applications(app.database) == {1: 1, 2: 1, 3: 1}, (kind, what, done.stdout)
        if done.returncode == 0:
            break
    assert done.returncode == 0, (line, done.stdout, done.stderr)
    assert app.database.version() == [3]
    assert [v for v, outcome in history_outcomes(app.database) if outcome == "applied"] == [1]
    status = app.manage("migrate_status", "--check")
    assert status.returncode == 0, status.stdout + status.stderr


# -- the app's own connection (db.session) terminated during a run ---------------------------

@pytest.mark.parametrize("mode", ["transaction", "no-transaction"])
def test_app_session_terminated_during_a_script_is_one_line(counting_app, mode):
    app = counting_app
    assert app.manage("migrate_tables", "--yes").returncode == 0
    header = NO_TRANSACTION if mode == "no-transaction" else ""
    app.write("v2.sql", header + counted(2, "SELECT pg_sleep(2);\n"))
    app.write("v3.sql", counted(3))
    app.set_version(3)

    def backends():
        return app.database.query(
            "SELECT pid, state, query LIKE '%%pg_sleep(2)%%' FROM pg_stat_activity"
            " WHERE datname = current_database() AND backend_type = 'client backend'"
            " AND pid <> pg_backend_pid()")

    process = app.start("migrate_tables", "--yes")
    # Only this run connects to the test's database: the scripts' psycopg2 connection (the
    # one running v2's pg_sleep) and the app's SQLAlchemy connection (idle between commits).
    wait_for(lambda: any(sleeping and state == "active" for _, state, sleeping in backends()))
    others = [(pid, state) for pid, state, sleeping in backends() if not sleeping]
    assert len(others) == 1 and others[0][1].startswith("idle"), others
    assert app.database.scalar("SELECT pg_terminate_backend(%s)", (others[0][0],))
    result = Finished(process)

    line = one_line(result, 1)
    assert "v2.sql" in line and "connection to the server was lost" in line, line
    assert "Upgrading database to version 3" not in result.stdout
    # v2 committed and its history says so; the version row (the app's) was not written.
    assert applications(app.database) == {1: 1, 2: 1}
    assert history_outcomes(app.database) == [(1, "applied"), (2, "applied")]
    assert app.database.version() in ([1], [2])

    again = app.manage("migrate_tables", "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Traceback" not in again.stdout + again.stderr
    assert "Upgrading database to version 2" not in again.stdout
    assert applications(app.database) == {1: 1, 2: 1, 3: 1}
    assert app.database.version() == [3]
    assert history_outcomes(app.database) == [(1, "applied"), (2, "applied"), (3, "applied")]
    status = app.manage("migrate_status", "--check")
    assert status.returncode == 0, status.stdout + status.stderr
