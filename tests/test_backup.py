"""`migrate_tables --backup [PATH]`: a pg_dump -Fc before the first script, end to end.

Real PostgreSQL, the real pg_dump and pg_restore, through `python manage.py` (and
`python -m flask`) in a subprocess. A too-old pg_dump is a shell script that
MIGRATE_PG_DUMP points at.
"""
import json
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import uuid

import pytest

from flask_migrate_tables.books.history import CREATE_SQL
from tests.conftest import _environment
from tests.helpers import (REPO_ROOT, Database, applications, connect_params, counted,
                           failed_with_one_line, fresh_databases, succeeded, wait_for)

BACKED_UP = re.compile(r"^Backed up (\S+) \(version (\d+)\) to (.+) \(([\d.]+) MB in ([\d.]+) s\); "
                       r"restore with: (.+)$", re.MULTILINE)


def backed_up(result):
    """(database, version, path, restore command) of the run's `Backed up ...` line."""
    found = BACKED_UP.findall(result.stdout)
    assert len(found) == 1, result.stdout
    database, version, path, _, _, restore = found[0]
    return database, int(version), path, restore


def data(database):
    """Every row of every table and every sequence's state, comparable between two databases."""
    tables = database.query("SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'")
    rows = {name: sorted(row[0] for row in database.query("SELECT row_to_json(t)::text FROM %s t" % name))
            for (name,) in tables}
    for (name,) in database.query("SELECT quote_ident(sequencename) FROM pg_sequences"
                                  " WHERE schemaname = 'public'"):
        rows[name] = database.query("SELECT last_value, is_called FROM %s" % name)
    return rows


def state(database):
    return database.catalog(exclude=()), data(database)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def server_major(database):
    return database.scalar("SELECT current_setting('server_version_num')::int / 10000")


@pytest.fixture
def extra_database(server_url):
    """Another empty database on the test server (restores go there)."""
    with fresh_databases(server_url, prefix="restored") as (restored,):
        yield restored


def restore(command, into, password=None):
    """Run the printed restore command as printed, in a shell, only its database name replaced
    by `into`'s (a new database on the same server); the password, if any, in PGPASSWORD."""
    argv = shlex.split(command, comments=True)
    assert argv[0].endswith("pg_restore") and argv[1:3] == ["--clean", "--if-exists"], command
    params = connect_params(into.url)
    given = dict(zip(argv[3:-1:2], argv[4:-1:2]))
    assert sorted(given) == ["-U", "-d", "-h", "-p"], command  # the same server as `into`'s:
    assert (given["-h"], given["-p"]) == (params["host"], str(params.get("port", 5432))), command
    printed = " -d %s " % shlex.quote(given["-d"])
    assert command.count(printed) == 1, command
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    if password is not None:
        env["PGPASSWORD"] = password
    result = subprocess.run(command.replace(printed, " -d %s " % shlex.quote(into.name)), shell=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr


def fake_pg_dump(folder, version="9.6.0"):
    """An executable `pg_dump` that says it is PostgreSQL `version` and does nothing else."""
    folder.mkdir()
    path = folder / "pg_dump"
    path.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) %s'\n" % version)
    path.chmod(0o755)
    return path


def two_versions(app):
    """v1 applied (with rows), v2 pending: it changes the schema and the data."""
    assert app.manage("migrate_tables", "--yes").returncode == 0
    app.database.execute(
        "CREATE TYPE mood AS ENUM ('ok', 'sad'); CREATE TABLE people (id serial PRIMARY KEY,"
        " name text NOT NULL, mood mood, born date, CONSTRAINT named CHECK (name <> ''));"
        " CREATE INDEX ix_people_name ON people (name);"
        " INSERT INTO people (name, mood, born) VALUES ('Ann', 'ok', '1990-01-02'), (E'B\\'\\nb', NULL, NULL);"
        " CREATE VIEW sad_people AS SELECT name FROM people WHERE mood = 'sad'")
    app.write("v2.sql", counted(2, "ALTER TABLE people ADD COLUMN email text;\n"
                                   "UPDATE people SET name = upper(name);\nDROP VIEW sad_people;\n"
                                   "CREATE TABLE t2 (id int);\n"))
    app.set_version(2)


def test_the_backup_restores_the_database_as_it_was_before_the_run(counting_app, extra_database):
    app = counting_app
    two_versions(app)
    before = state(app.database)

    result = succeeded(app.manage("migrate_tables", "--yes", "--backup"))

    database, version, path, command = backed_up(result)
    assert (database, version) == (app.database.name, 1)
    folder = os.path.join(str(app.root), "instance", "backups")
    assert os.path.dirname(path) == folder
    assert re.match(r"^%s-v1-\d{8}T\d{6}Z\.dump$" % re.escape(database), os.path.basename(path)), path
    assert mode(path) == 0o600 and mode(folder) == 0o700
    out = result.stdout
    assert out.index("Backed up") < out.index("Upgrading database to version 2")
    assert "It is backed up first (--backup)." in out.splitlines()[0]
    assert command.split()[0].endswith("pg_restore") and command.endswith(" %s" % shlex.quote(path))
    assert applications(app.database) == {1: 1, 2: 1}

    # The history row of this run names the file, and so does migrate_status --json.
    recorded = app.database.query("SELECT version, outcome, backup FROM version_history ORDER BY id")
    assert recorded == [(1, "applied", None), (2, "applied", path)]
    status = json.loads(succeeded(app.manage("migrate_status", "--json")).stdout)
    assert [(entry["version"], entry["backup"]) for entry in status["history"]] == [(2, path), (1, None)]

    restore(command, extra_database)
    assert state(extra_database) == before


def test_the_printed_restore_line_runs_as_printed_with_a_password_role(counting_app, password_role,
                                                                        extra_database):
    """A role that logs in with a password: the line has host, port, user and database, never the
    password, and says where pg_restore takes it from; run as printed it restores the backup."""
    app = counting_app
    role, password = password_role
    maintenance = Database(app.database.url_for("postgres"))
    for database in (app.database, extra_database):
        maintenance.execute('ALTER DATABASE "%s" OWNER TO %s' % (database.name, role))
    try:
        url = as_role(app.database, role, password)
        assert succeeded(app.manage("migrate_tables", "--yes", env={"DATABASE_URL": url}))
        app.write("v2.sql", counted(2, "CREATE TABLE t2 (id int);\n"))
        app.set_version(2)
        before = state(app.database)

        result = succeeded(app.manage("migrate_tables", "--yes", "--backup", env={"DATABASE_URL": url}))

        _, _, path, command = backed_up(result)
        assert password not in result.stdout + result.stderr
        assert command.endswith("%s  # its password: set PGPASSWORD or put it in ~/.pgpass"
                                % shlex.quote(path)), command
        assert " -U %s -d %s " % (role, app.database.name) in command, command
        restore(command, extra_database, password=password)
        assert state(extra_database) == before
    finally:
        for database in (app.database, extra_database):
            database.execute("REASSIGN OWNED BY %s TO postgres" % role)


def test_a_path_of_ones_own_a_folder_and_a_missing_folder(counting_app, tmp_path):
    app = counting_app
    mine = tmp_path / "mine.dump"
    first = succeeded(app.manage("migrate_tables", "--backup", str(mine), input="y\n"))
    assert backed_up(first)[2] == str(mine) and mode(str(mine)) == 0o600
    assert "Back up first" not in first.stdout

    app.write("v2.sql", counted(2))
    app.set_version(2)
    folder = tmp_path / "kept"
    folder.mkdir()
    second = succeeded(app.manage("migrate_tables", "--yes", "--backup", str(folder)))
    path = backed_up(second)[2]
    assert os.path.dirname(path) == str(folder) and os.listdir(str(folder)) == [os.path.basename(path)]

    app.write("v3.sql", counted(3))
    app.set_version(3)
    before = state(app.database)
    line = failed_with_one_line(
        app.manage("migrate_tables", "--yes", "--backup", str(tmp_path / "nowhere" / "b.dump")), 2)
    assert "the folder %s does not exist" % (tmp_path / "nowhere") in line and "nothing was run" in line
    assert not (tmp_path / "nowhere").exists()
    assert state(app.database) == before

    line = failed_with_one_line(app.manage("migrate_tables", "--yes", "--backup", str(mine)), 2)
    assert "%s already exists" % mine in line
    assert state(app.database) == before
    assert not (app.root / "instance").exists()


def test_a_pg_dump_older_than_the_server_is_refused_and_nothing_runs(counting_app, tmp_path):
    app = counting_app
    two_versions(app)
    fake = fake_pg_dump(tmp_path / "bin")
    env = {"PATH": "%s%s%s" % (fake.parent, os.pathsep, os.environ.get("PATH", "")),
           "MIGRATE_PG_DUMP": str(fake)}
    before = state(app.database)
    major = server_major(app.database)

    refused = app.manage("migrate_tables", "--backup", env=env, input="y\n")

    line = failed_with_one_line(refused, 2)
    assert line.startswith("error: --backup needs pg_dump %d or newer for this PostgreSQL %d server; "
                           "found pg_dump 9.6 at %s (MIGRATE_PG_DUMP); " % (major, major, fake)), line
    assert line.endswith("nothing was run")
    assert "Do you want to continue" not in refused.stdout  # refused before the question
    assert state(app.database) == before
    assert not (app.root / "instance").exists()
    dry = app.manage("migrate_tables", "--dry-run", "--backup", env=env)
    assert failed_with_one_line(dry, 2) == line

    # The lock was released: a run without --backup gets it at once.
    succeeded(app.manage("migrate_tables", "--yes", "--lock-timeout", "1", env=env))
    assert applications(app.database) == {1: 1, 2: 1}


@pytest.fixture
def role(server_url, database):
    """A login role without privileges; dropped (after the test's database) at the end."""
    name = "bk_%s" % uuid.uuid4().hex[:10]
    maintenance = Database(server_url)
    maintenance.execute("CREATE ROLE %s LOGIN" % name)
    yield name
    maintenance.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % database.name)
    maintenance.execute("DROP ROLE IF EXISTS %s" % name)


def as_role(database, role, password=None):
    from sqlalchemy.engine.url import make_url
    url = make_url(database.url)
    if hasattr(url, "set"):
        return url.set(username=role, password=password).render_as_string(hide_password=False)
    url.username, url.password = role, password  # SQLAlchemy 1.3
    return str(url)


def test_a_failing_pg_dump_is_one_line_leaves_no_file_and_nothing_runs(counting_app, role, tmp_path):
    app = counting_app
    assert app.manage("migrate_tables", "--yes").returncode == 0  # the owner made the tables
    # The role may migrate (README, "Privileges") but not read `secret`: pg_dump fails on it.
    app.database.execute(
        "CREATE TABLE secret (x int); INSERT INTO secret VALUES (1);"
        " GRANT SELECT, INSERT, UPDATE ON version_history TO {r};"
        " GRANT SELECT, UPDATE ON SEQUENCE version_history_id_seq TO {r};"
        " GRANT SELECT, UPDATE ON version TO {r}; GRANT SELECT, INSERT ON applications TO {r};"
        " GRANT SELECT ON hold TO {r}".format(r=role))
    app.write("v2.sql", counted(2))
    app.set_version(2)
    folder = tmp_path / "backups"
    folder.mkdir()
    before = state(app.database)

    result = app.manage("migrate_tables", "--yes", "--backup", str(folder / "b.dump"),
                        env={"DATABASE_URL": as_role(app.database, role)})

    line = failed_with_one_line(result, 2)
    assert line.startswith("error: --backup: pg_dump failed (exit status 1): "), line
    assert "permission denied" in line and "secret" in line, line
    assert line.endswith("the partial backup was removed and nothing was run")
    assert os.listdir(str(folder)) == []
    assert "Upgrading" not in result.stdout
    assert state(app.database) == before


def test_a_history_table_from_before_the_backup_column(counting_app, role, tmp_path):
    app = counting_app
    folder = tmp_path / "backups"
    folder.mkdir()
    old = CREATE_SQL.replace(",\n    backup text", "")
    assert old != CREATE_SQL
    app.database.execute(old.format(table="public.version_history"))
    columns = "SELECT count(*) FROM information_schema.columns WHERE table_name = 'version_history'"
    width = app.database.scalar(columns)

    succeeded(app.manage("migrate_tables", "--yes"))  # without --backup: the table stays as it is
    assert app.database.scalar(columns) == width
    status = json.loads(succeeded(app.manage("migrate_status", "--json")).stdout)
    assert status["history"][0]["backup"] is None

    # A role that does not own the table cannot add the column: refused before anything.
    app.write("v2.sql", counted(2))
    app.set_version(2)
    app.database.execute(
        "GRANT SELECT, INSERT, UPDATE ON version_history TO {r};"
        " GRANT SELECT, UPDATE ON SEQUENCE version_history_id_seq TO {r};"
        " GRANT SELECT, UPDATE ON version TO {r}; GRANT SELECT, INSERT ON applications TO {r}"
        .format(r=role))
    before = state(app.database)
    line = failed_with_one_line(app.manage("migrate_tables", "--yes", "--backup", str(folder),
                                           env={"DATABASE_URL": as_role(app.database, role)}), 2)
    assert "ownership of public.version_history" in line and "ADD COLUMN backup text" in line, line
    assert state(app.database) == before and os.listdir(str(folder)) == []

    # Its owner's run with --backup adds the column and records the file.
    path = backed_up(succeeded(app.manage("migrate_tables", "--yes", "--backup", str(folder))))[2]
    assert app.database.scalar(columns) == width + 1
    assert app.database.query("SELECT version, backup FROM version_history ORDER BY id") == [
        (1, None), (2, path)]


def test_dry_run_says_where_and_makes_nothing(counting_app):
    app = counting_app
    before = state(app.database)

    result = succeeded(app.manage("migrate_tables", "--dry-run", "--backup"))

    folder = os.path.join(str(app.root), "instance", "backups")
    match = re.search(r"^A backup would be written to (\S+) by pg_dump \d+[.\d]* \((.+)\) before the "
                      r"first script; none was made$", result.stdout, re.MULTILINE)
    assert match, result.stdout
    assert os.path.dirname(match.group(1)) == folder
    assert re.match(r"%s-v0-\d{8}T\d{6}Z\.dump$" % app.database.name, os.path.basename(match.group(1)))
    assert not (app.root / "instance").exists()
    assert state(app.database) == before


def test_nothing_to_do_makes_no_backup(counting_app):
    app = counting_app
    succeeded(app.manage("migrate_tables", "--yes"))

    again = succeeded(app.manage("migrate_tables", "--yes", "--backup"))
    dry = succeeded(app.manage("migrate_tables", "--dry-run", "--backup"))

    assert again.stdout.splitlines() == ["note: no backup made (--backup): no script to run",
                                         "DB is at correct version 1"]
    assert "No backup would be made (--backup): no script would run" in dry.stdout
    assert not (app.root / "instance").exists()


def test_the_prompt_names_the_command_that_backs_up_first(counting_app):
    app = counting_app
    declined = app.manage("migrate_tables", "--to", "1", input="n\n")
    assert declined.returncode == 1
    assert "Back up first: answer n, then run python manage.py migrate_tables --to 1 --backup" \
        in declined.stdout
    assert "Back it up before you go on." in declined.stdout

    declined = app.manage("migrate_tables", "--backup", input="n\n")
    assert declined.returncode == 1
    assert "Back up first" not in declined.stdout and "It is backed up first" in declined.stdout
    assert not (app.root / "instance").exists() and app.database.tables() == set()


def test_a_password_reaches_pg_dump_only_through_pgpassword(counting_app, password_role, tmp_path):
    app = counting_app
    role, password = password_role
    # A wrapper that records how pg_dump was called, then runs the real one.
    from flask_migrate_tables.apply.backup import find_pg_dump
    real = find_pg_dump(app.database.scalar("SELECT current_setting('server_version_num')::int")).path
    wrapper = tmp_path / "bin" / "pg_dump"
    wrapper.parent.mkdir()
    calls = tmp_path / "calls"
    wrapper.write_text('#!/bin/sh\nprintf "%%s\\n" "$*" "PGPASSWORD=$PGPASSWORD" >> %s\nexec %s "$@"\n'
                       % (shlex.quote(str(calls)), shlex.quote(real)))
    wrapper.chmod(0o755)
    app.database.execute('ALTER DATABASE "%s" OWNER TO %s' % (app.database.name, role))
    app.database.execute("GRANT CREATE ON SCHEMA public TO %s" % role)
    url = as_role(app.database, role, password)
    env = {"DATABASE_URL": url, "MIGRATE_PG_DUMP": str(wrapper)}
    try:
        prompted = app.manage("migrate_tables", "--to", "1", input="n\n", env=env)
        result = app.manage("migrate_tables", "--yes", "--backup", str(tmp_path), env=env)
        status = app.manage("migrate_status", "--json", env=env)
    finally:
        Database(app.database.url).execute('ALTER DATABASE "%s" OWNER TO postgres' % app.database.name)
        app.database.execute("REASSIGN OWNED BY %s TO postgres; DROP OWNED BY %s" % (role, role))
    for run in (prompted, result, status):
        assert password not in run.stdout + run.stderr, (run.stdout, run.stderr)
    succeeded(result)
    path = backed_up(result)[2]
    assert os.path.getsize(path) > 0 and mode(path) == 0o600
    recorded = calls.read_text().splitlines()
    dumps = [i for i, line in enumerate(recorded) if "--format=custom" in line]
    assert len(dumps) == 1, recorded
    assert password not in recorded[dumps[0]] and "user='%s'" % role in recorded[dumps[0]]
    assert recorded[dumps[0] + 1] == "PGPASSWORD=%s" % password


# -- the flask command ---------------------------------------------------------------------

def flask(database, *args, input=""):
    from tests.helpers import FLASK_MAJOR
    if FLASK_MAJOR < 1:
        pytest.skip("Flask 0.12 cannot load myapp's factory (test_flask_cli covers it otherwise)")
    environment = _environment(database, {"FLASK_APP": "myapp"})
    environment.pop("FLASK_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "flask"] + [str(a) for a in args], cwd=REPO_ROOT,
                          input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env=environment, timeout=120)


def test_flask_migrate_tables_backup(database, tmp_path):
    from myapp import __db_version__
    import myapp
    instance = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(myapp.__file__))),
                            "instance", "backups")
    # A bare --backup, before another option or last: the default path (click 7 and 8 alike).
    for args in (["--backup", "--dry-run"], ["--dry-run", "--backup"]):
        dry = succeeded(flask(database, "migrate-tables", *args))
        match = re.search(r"^A backup would be written to (\S+) by pg_dump", dry.stdout, re.MULTILINE)
        assert match and os.path.dirname(match.group(1)) == instance, dry.stdout
        assert re.match(r"%s-v0-\d{8}T\d{6}Z\.dump$" % database.name, os.path.basename(match.group(1)))
    declined = flask(database, "migrate-tables", "--to", "2", input="n\n")
    assert "Back up first: answer n, then run " in declined.stdout
    assert "migrate-tables --to 2 --backup" in declined.stdout

    result = succeeded(flask(database, "migrate-tables", "--yes", "--backup", str(tmp_path / "f.dump")))

    name, version, path, command = backed_up(result)
    assert (name, version, path) == (database.name, 0, str(tmp_path / "f.dump"))
    assert mode(path) == 0o600
    assert database.version() == [__db_version__]
    assert {row[0] for row in database.query("SELECT backup FROM version_history")} == {path}
    status = json.loads(succeeded(flask(database, "migrate-status", "--json")).stdout)
    assert {entry["backup"] for entry in status["history"]} == {path}


def test_sigterm_while_pg_dump_writes_removes_the_partial_file(any_counting_app, tmp_path):
    app = any_counting_app
    from flask_migrate_tables.apply.backup import find_pg_dump
    real = find_pg_dump(app.database.scalar("SELECT current_setting('server_version_num')::int")).path
    slow = tmp_path / "slow_pg_dump"
    # Answers --version as the real one; otherwise writes a few bytes to its --file and hangs.
    slow.write_text('#!/bin/sh\ncase "$1" in --version) exec %s --version;; esac\n'
                    'for arg in "$@"; do case "$arg" in --file=*) echo partial > "${arg#--file=}";; '
                    'esac; done\nexec sleep 60\n' % shlex.quote(real))
    slow.chmod(0o755)
    folder = tmp_path / "backups"
    folder.mkdir()
    before = state(app.database)
    process = app.start("migrate_tables", "--yes", "--backup", str(folder),
                        env={"MIGRATE_PG_DUMP": str(slow)})
    wait_for(lambda: any(path.stat().st_size for path in folder.iterdir()))

    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 130, stderr
    assert stderr.strip() == ("error: interrupted while pg_dump was writing the backup; the partial "
                              "backup was removed and nothing was run")
    assert os.listdir(str(folder)) == []
    assert state(app.database) == before
