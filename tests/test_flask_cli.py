"""`flask migrate-tables` and `flask migrate-status`: the click commands, end to end on real PostgreSQL.

They run `python -m flask` in a subprocess, the way an operator would. From
Flask 1.0 on the flask command finds myapp's factory with FLASK_APP=myapp;
Flask 0.12 cannot call a factory, so there FLASK_APP names a module holding
`app = create_app()`.
"""
import json

from myapp import __db_version__
from tests.conftest import run_manage
from tests.helpers import REPO_ROOT


def test_migrate_tables_brings_a_new_database_to_the_code_version(flask_cli, database):
    result = flask_cli("migrate-tables", "--yes")

    assert result.returncode == 0, result.stderr
    assert database.version() == [__db_version__]
    for version in range(1, __db_version__ + 1):
        assert "Upgrading database to version %d" % version in result.stdout
    assert "Migrated from version 0 to %d: %d scripts" % (__db_version__, __db_version__) in result.stdout
    assert "Traceback" not in result.stderr

    again = flask_cli("migrate-tables", "--yes")

    assert again.returncode == 0, again.stderr
    assert "DB is at correct version %d" % __db_version__ in again.stdout
    assert len(database.history()) == __db_version__


def test_prompt_is_answered_like_the_flask_script_command(flask_cli, database):
    declined = flask_cli("migrate-tables", input="n\n")
    assert declined.returncode == 1
    assert "Back it up" in declined.stdout and "Do you want to continue?" in declined.stdout
    assert declined.stderr.strip() == "error: declined; the database was not changed"
    assert database.tables() == set()

    unanswered = flask_cli("migrate-tables", input=None)
    assert unanswered.returncode == 2
    assert "pass --yes" in unanswered.stderr
    assert unanswered.stderr.strip().count("\n") == 0, unanswered.stderr
    assert database.tables() == set()

    accepted = flask_cli("migrate-tables", "--to", "2", input="y\n")
    assert accepted.returncode == 0, accepted.stderr
    assert database.version() == [2]


def test_dry_run_changes_nothing(flask_cli, database):
    result = flask_cli("migrate-tables", "--dry-run", "--to", "2")

    assert result.returncode == 0, result.stderr
    assert "v1.sql -> version 1" in result.stdout
    assert "v2.sql -> version 2" in result.stdout
    assert "v3.sql" not in result.stdout
    assert database.tables() == set()


def test_usage_errors_are_one_line_and_exit_2(flask_cli, database):
    result = flask_cli("migrate-tables", "--yes", "--to", str(__db_version__ + 4))

    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: --to %d is above the version this code needs (__db_version__ = %d)"
        % (__db_version__ + 4, __db_version__))
    assert database.tables() == set()


def test_baseline_adopts_an_existing_schema(flask_cli, database):
    database.execute("CREATE TABLE legacy_things (id int)")
    refused = flask_cli("migrate-tables", "--yes")
    assert refused.returncode == 2
    assert "--baseline N" in refused.stderr

    result = flask_cli("migrate-tables", "--yes", "--baseline", "3")

    assert result.returncode == 0, result.stderr
    assert "Baselined the database at version 3" in result.stdout
    assert database.version() == [3]


def test_status_text_json_and_check(flask_cli, database):
    pending = flask_cli("migrate-status", "--check")
    assert pending.returncode == 1
    assert "Pending:         v1.sql" in pending.stdout
    assert "not exactly at version %d" % __db_version__ in pending.stderr
    pending_json = flask_cli("migrate-status", "--json", "--check")
    assert pending_json.returncode == 1
    assert json.loads(pending_json.stdout)["up_to_date"] is False
    assert pending_json.stderr == ""

    assert flask_cli("migrate-tables", "--yes").returncode == 0

    text = flask_cli("migrate-status", "--all", "--check")
    assert text.returncode == 0, text.stderr
    assert "Applied version: %d" % __db_version__ in text.stdout
    assert "History (all of %d, newest first)" % __db_version__ in text.stdout

    as_json = flask_cli("migrate-status", "--json")
    assert as_json.returncode == 0, as_json.stderr
    status = json.loads(as_json.stdout)
    assert status["up_to_date"] is True
    assert status["current_version"] == status["code_version"] == __db_version__


def test_status_is_the_same_as_the_flask_script_command(flask_cli, database):
    assert flask_cli("migrate-tables", "--yes", "--to", "3").returncode == 0

    from_flask = json.loads(flask_cli("migrate-status", "--json").stdout)
    from_manage = json.loads(run_manage(REPO_ROOT, ["migrate_status", "--json"], database).stdout)

    assert from_flask == from_manage
    assert [entry["file"] for entry in from_flask["pending"]] == ["v4.sql", "v5.sql"]


def test_options_are_those_of_the_flask_script_commands():
    from flask_migrate_tables import Migrator
    from flask_migrate_tables.cli import make_cli
    from flask_migrate_tables.commands import Manager, add_migration_commands
    from myapp.models import Version, db

    group = make_cli(Migrator(db, Version, __db_version__))
    manager = Manager(lambda: None)
    add_migration_commands(manager, Migrator(db, Version, __db_version__))

    def click_options(name):
        return {opt for param in group.commands[name].params for opt in param.opts}

    def script_options(command):
        return {flag for option in command.option_list for flag in option.args}

    script_commands = {name: command for name, command in manager._commands.items()
                       if name not in ("shell", "runserver")}
    assert sorted(name.replace("_", "-") for name in script_commands) == sorted(group.commands)
    for name, command in script_commands.items():
        assert click_options(name.replace("_", "-")) == script_options(command), name


def test_help_lists_the_commands(flask_cli):
    result = flask_cli("--help")

    assert result.returncode == 0, result.stderr
    assert "migrate-tables" in result.stdout and "migrate-status" in result.stdout
