"""Issue 12, more of it: version options, least privilege on a fresh database, the advice
for a version row ahead of the history, and the app's own connection lost mid-run.

Through `python manage.py` on a real server, like tests/test_hostile.py: the exit
status, one line on stderr, no traceback, and the catalog and history before and after.
"""
import re

import pytest

from tests.helpers import applications, counted, wait_for
from tests.test_hostile import as_role, roles, snapshot  # noqa: F401 (roles: a fixture)
from tests.test_server_faults import NO_TRANSACTION, Finished, one_line

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
