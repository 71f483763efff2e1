"""Issue 23: every check that can refuse a run does so before its WARNING and its prompt.

A read-only role or database, a transaction pooler, a role without CREATE, a script that cannot be
read, a version refused by the books: exit 2 and one line, no `WARNING: this migrates ...`, no
prompt, nothing printed as if it ran, and the catalog and the history as they were.
"""
import pytest

from tests.helpers import counted
from tests.test_hostile import as_role, roles, snapshot  # noqa: F401 (roles: the fixture)
from tests.test_pgbouncer import NOT_A_SESSION, env_for, everything
from tests.test_server_faults import one_line

PROMPT = "Do you want to continue?"


def refused_before_the_warning(result):
    """Exit 2, one line, nothing said as if the run went on: the line."""
    line = one_line(result, 2)
    assert "WARNING" not in result.stdout, result.stdout
    assert "Upgrading" not in result.stdout and PROMPT not in result.stdout, result.stdout
    assert "Scripts to run" not in result.stdout, result.stdout
    return line


@pytest.fixture
def one_pending(counting_app):
    """The counting app migrated to 1 by the owner, with v2 pending."""
    app = counting_app
    assert app.manage("migrate_tables", "--yes").returncode == 0
    app.write("v2.sql", counted(2, "CREATE TABLE t2 (id int);\n"))
    app.set_version(2)
    return app


def test_a_read_only_role_is_refused_before_the_warning(one_pending, roles):  # noqa: F811
    app = one_pending
    role = roles()
    app.database.execute(
        "GRANT SELECT, INSERT, UPDATE ON version_history TO {r};"
        " GRANT USAGE, UPDATE ON SEQUENCE version_history_id_seq TO {r};"
        " GRANT SELECT, UPDATE ON version TO {r}; GRANT INSERT ON applications TO {r};"
        " GRANT CREATE ON SCHEMA public TO {r};"
        " ALTER ROLE {r} SET default_transaction_read_only = on".format(r=role))
    before = snapshot(app.database)

    for answer in ("--yes", None):
        result = app.manage("migrate_tables", *([answer] if answer else []), input="y\n",
                            env={"DATABASE_URL": as_role(app.database, role)})
        line = refused_before_the_warning(result)
        assert line == ("error: the role %s's transactions are read-only "
                        "(default_transaction_read_only = on, set for the role); nothing was "
                        "changed; turn it off: ALTER ROLE \"%s\" SET default_transaction_read_only = "
                        "off, or migrate as a role that may write" % (role, role)), line
        assert snapshot(app.database) == before

    # What the line says is enough.
    app.database.execute("ALTER ROLE %s SET default_transaction_read_only = off" % role)
    done = app.manage("migrate_tables", "--yes", env={"DATABASE_URL": as_role(app.database, role)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert app.database.version() == [2]


def test_a_read_only_database_is_refused_before_the_warning_through_the_flask_cli(
        database, flask_cli):
    database.execute('ALTER DATABASE "%s" SET default_transaction_read_only = on' % database.name)
    before = everything(database)

    result = flask_cli("migrate-tables", "--yes")

    line = refused_before_the_warning(result)
    assert "default_transaction_read_only = on, set for the database" in line, line
    assert 'ALTER DATABASE "%s" SET default_transaction_read_only = off' % database.name in line
    assert everything(database) == before
    assert before["relations"] == [] and before["history"] == []


def test_a_role_without_create_is_refused_before_the_prompt(counting_app, roles):  # noqa: F811
    app = counting_app
    role = roles()
    app.database.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    before = snapshot(app.database)

    result = app.manage("migrate_tables", input="y\n",
                        env={"DATABASE_URL": as_role(app.database, role)})

    line = refused_before_the_warning(result)
    assert line.startswith("error: the role %s lacks CREATE on schema public" % role), line
    assert snapshot(app.database) == before


def test_a_transaction_pooler_is_refused_before_the_warning(one_pending, pgbouncer):
    app = one_pending
    before = everything(app.database)

    result = app.manage("migrate_tables", "--yes", env=env_for(app, pgbouncer, "transaction"))

    assert refused_before_the_warning(result).startswith(NOT_A_SESSION)
    assert everything(app.database) == before


def test_an_unreadable_script_is_refused_before_the_prompt(one_pending):
    app = one_pending
    app.write("v2.sql", b"SELECT '\xff';\n")
    before = snapshot(app.database)

    line = refused_before_the_warning(app.manage("migrate_tables", input="y\n"))

    assert "v2.sql is not valid UTF-8" in line, line
    assert snapshot(app.database) == before


def test_a_changed_applied_script_is_refused_before_the_prompt(one_pending):
    app = one_pending
    app.write("v1.sql", app.migration_dir.joinpath("v1.sql").read_text() + "-- edited\n")
    before = snapshot(app.database)

    line = refused_before_the_warning(app.manage("migrate_tables", input="y\n"))

    assert "applied scripts differ from what ran: v1.sql changed" in line, line
    assert snapshot(app.database) == before


def test_nothing_to_do_is_still_quiet_and_needs_no_check(one_pending, roles):  # noqa: F811
    """A database at the target is not refused for what a run would need: it changes nothing."""
    app = one_pending
    assert app.manage("migrate_tables", "--yes").returncode == 0
    role = roles()
    app.database.execute("ALTER ROLE %s SET default_transaction_read_only = on" % role)
    app.database.execute("GRANT SELECT ON version_history, version TO %s" % role)

    result = app.manage("migrate_tables", env={"DATABASE_URL": as_role(app.database, role)})

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "DB is at correct version 2"
