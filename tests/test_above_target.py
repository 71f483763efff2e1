"""Issue 23: a script above the target (the forgotten `__db_version__` bump) is said, never silent.

With v3.sql written and `__db_version__` still 2 (the sample app), or v6.sql beside the demo app's
five (the flask CLI): migrate_tables notes it and still migrates to the target only; migrate_status
lists it and --check fails; lint_migrations lints it by number or with --all; check_migrations names
the file and says to raise `__db_version__`; the same for a bind's target and, once, for a fleet.
"""
import json
import shutil

from tests.conftest import run_manage
from tests.helpers import REPO_ROOT, fresh_databases, succeeded
from tests.test_binds import bound  # noqa: F401 (the fixture)
from tests.test_fleet import listing

V3 = "ALTER TABLE notes ADD COLUMN x int;\n"
NOTE = ("note: v3_add_x.sql is above __db_version__ (2) and does not run; raise __db_version__ "
        "to 3 to run it")


def forgot_the_bump(app):
    """The sample app at version 2 in its database, with v3_add_x.sql written and not declared."""
    succeeded(app.manage("migrate_tables", "--yes"))
    app.write("v3_add_x.sql", V3)
    return app


def test_migrate_tables_notes_the_script_above_and_migrates_to_the_target_only(sample_app):
    app = sample_app
    app.write("v3_add_x.sql", V3)

    first = succeeded(app.manage("migrate_tables", "--yes"))

    assert NOTE in first.stdout.splitlines(), first.stdout
    assert app.database.version() == [2]
    assert [row[:3] for row in app.database.history()] == [(1, "v1.sql", "applied"),
                                                          (2, "v2.sql", "applied")]
    assert "x" not in {c[1] for c in app.database.catalog()["columns"] if c[0] == "notes"}

    dry = succeeded(app.manage("migrate_tables", "--dry-run"))
    assert NOTE in dry.stdout.splitlines(), dry.stdout

    # Already at 2: still said, nothing run.
    again = succeeded(app.manage("migrate_tables", "--yes"))
    assert NOTE in again.stdout.splitlines(), again.stdout
    assert "DB is at correct version 2" in again.stdout
    assert len(app.database.history()) == 2


def test_migrate_status_lists_it_and_check_fails(sample_app):
    app = forgot_the_bump(sample_app)

    shown = succeeded(app.manage("migrate_status"))
    assert "Above target:    v3_add_x.sql (not run: raise __db_version__ to 3)" in shown.stdout

    checked = app.manage("migrate_status", "--check")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert checked.stderr.splitlines() == [
        "error: v3_add_x.sql is above __db_version__ (2) and does not run; raise __db_version__ "
        "to 3 to run it"]

    as_json = app.manage("migrate_status", "--json", "--check")
    assert as_json.returncode == 1 and as_json.stderr == ""
    status = json.loads(as_json.stdout)
    assert status["above_target"] == [{"version": 3, "file": "v3_add_x.sql"}]
    assert status["up_to_date"] is True and status["warnings"] == []


def test_lint_migrations_lints_it_by_number_and_with_all(sample_app):
    app = forgot_the_bump(sample_app)
    app.write("v3_add_x.sql", "CREATE INDEX notes_text ON notes (text);\n")

    default = app.manage("lint_migrations")
    assert NOTE in default.stdout.splitlines(), default.stdout
    assert ("Linting v3_add_x.sql, above the code's version (the database is at version 2 and "
            "runs no script)") in default.stdout.splitlines()

    for args in ([], ["3"], ["--all"]):
        result = app.manage("lint_migrations", "--json", *args)
        assert result.returncode == 1, result.stdout + result.stderr
        findings = json.loads(result.stdout)
        assert any(f["file"].endswith("v3_add_x.sql") and f["level"] == "error" for f in findings)


def test_check_migrations_names_the_file_and_says_to_raise_the_version(sample_app, server_url):
    app = sample_app
    models = app.root / "notes" / "__init__.py"
    text = "    text = db.Column(db.Text, nullable=False)\n"
    models.write_text(models.read_text().replace(text, text + "    x = db.Column(db.Integer)\n"))
    app.write("v3_add_x.sql", V3)

    result = app.manage("check_migrations", "--scratch-url", server_url,
                        env={"PYTHONDONTWRITEBYTECODE": "1"})

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        "error: the migrations up to version 2 do not give the models' schema, and v3_add_x.sql "
        "is above __db_version__ (2) and does not run; raise __db_version__ to 3 to run it"]
    assert "make_migration" not in result.stderr


def test_a_binds_script_above_its_target(bound):  # noqa: F811
    bound.write("analytics", "v3_more.sql", "ALTER TABLE events ADD COLUMN more text;\n")
    note = ("note: v3_more.sql is above binds['analytics'] (2) and does not run; raise "
            "binds['analytics'] to 3 to run it")

    migrated = succeeded(bound.manage("migrate_tables", "--yes", "--all-binds"))
    assert migrated.stdout.splitlines().count(note) == 1, migrated.stdout
    assert bound.analytics.version() == [2]

    checked = bound.manage("migrate_status", "--bind", "analytics", "--check")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "Above target:    v3_more.sql (not run: raise binds['analytics'] to 3)" in checked.stdout
    assert checked.stderr.splitlines() == [
        "error: not exactly at its target version with no warnings: bind analytics (%s)"
        % note[len("note: "):]]


def test_a_fleet_is_told_once(sample_app, server_url, tmp_path):
    app = sample_app
    app.write("v3_add_x.sql", V3)
    with fresh_databases(server_url, 3, prefix="fleet") as databases:
        fleet = listing(tmp_path, databases)
        result = succeeded(app.manage("migrate_tables", "--databases", fleet, "--yes"))
        assert result.stdout.count("v3_add_x.sql is above") == 1, result.stdout
        assert NOTE in result.stdout.splitlines()
        assert [d.version() for d in databases] == [[2]] * 3

        status = app.manage("migrate_status", "--databases", fleet, "--check")
        assert status.returncode == 1, status.stdout + status.stderr
        assert status.stdout.count("v3_add_x.sql") == 1, status.stdout
        as_json = json.loads(app.manage("migrate_status", "--databases", fleet, "--json").stdout)
        assert as_json["above_target"] == [{"version": 3, "file": "v3_add_x.sql"}]


def test_the_flask_cli_says_so_too(database, tmp_path, flask_cli):
    sql = tmp_path / "sql"
    shutil.copytree(str(REPO_ROOT + "/sql"), str(sql))
    (sql / "migration" / "v6_more.sql").write_text("CREATE TABLE more (id int);\n")
    env = {"SQL_DIR": str(sql)}
    note = ("note: v6_more.sql is above __db_version__ (5) and does not run; raise __db_version__ "
            "to 6 to run it")

    migrated = flask_cli("migrate-tables", "--yes", env=env)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert note in migrated.stdout.splitlines(), migrated.stdout
    assert database.version() == [5] and "more" not in database.tables()

    checked = flask_cli("migrate-status", "--check", env=env)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "v6_more.sql" in checked.stderr
    # manage.py of the demo app says the same.
    status = run_manage(REPO_ROOT, ["migrate_status", "--check"], database, env=env)
    assert status.returncode == 1 and "raise __db_version__ to 6" in status.stderr
