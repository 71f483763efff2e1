"""Another app uses the machinery: tests/sample_app's own manage.py, models, Version, SQL and __db_version__.

Everything runs through the sample app's manage.py in a subprocess, from a
copy of the app (the `sample_app` fixture), as its operator would run it.
"""
import json
import os
import re

import pytest
import sqlalchemy

from tests.helpers import REPO_ROOT

SAMPLE_VERSION = 2


def test_new_database_is_brought_to_the_apps_own_version(sample_app):
    result = sample_app.manage("migrate_tables", "--yes")

    assert result.returncode == 0, result.stderr
    assert sample_app.database.version() == [SAMPLE_VERSION]
    assert {"notes", "version", "version_history"} <= sample_app.database.tables()
    assert "users" not in sample_app.database.tables()  # nothing of myapp's own schema
    assert "Migrated from version 0 to 2: 2 scripts" in result.stdout
    assert "Traceback" not in result.stderr


def test_second_run_is_up_to_date(sample_app):
    assert sample_app.manage("migrate_tables", "--yes").returncode == 0

    result = sample_app.manage("migrate_tables", "--yes")

    assert result.returncode == 0, result.stderr
    assert "DB is at correct version 2" in result.stdout
    assert "Upgrading" not in result.stdout
    assert len(sample_app.database.history()) == SAMPLE_VERSION


def test_a_new_script_and_a_raised_version_migrate(sample_app):
    assert sample_app.manage("migrate_tables", "--yes").returncode == 0
    sample_app.database.execute("INSERT INTO notes (text) VALUES ('kept')")
    sample_app.write("v3_add_pinned.sql",
                     "ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false;\n")
    sample_app.set_version(3)

    behind = sample_app.manage("migrate_status", "--check")
    assert behind.returncode == 1
    assert "Pending:         v3_add_pinned.sql" in behind.stdout

    result = sample_app.manage("migrate_tables", "--yes")

    assert result.returncode == 0, result.stderr
    assert "Upgrading database to version 3 (v3_add_pinned.sql)" in result.stdout
    assert "Upgrading database to version 1" not in result.stdout
    assert "Migrated from version 2 to 3: 1 script in" in result.stdout
    assert sample_app.database.version() == [3]
    assert sample_app.database.query("SELECT text, pinned FROM notes") == [("kept", False)]


def test_status_reports_the_apps_own_versions(sample_app):
    assert sample_app.manage("migrate_tables", "--yes").returncode == 0

    text = sample_app.manage("migrate_status", "--check")
    as_json = sample_app.manage("migrate_status", "--json")

    assert text.returncode == 0, text.stderr
    assert "Applied version: 2" in text.stdout
    assert "Code version:    2 (__db_version__)" in text.stdout
    assert "Pending:         none" in text.stdout
    status = json.loads(as_json.stdout)
    assert (status["current_version"], status["code_version"], status["up_to_date"]) == (2, 2, True)
    assert [entry["file"] for entry in status["history"]] == ["v2.sql", "v1.sql"]


def test_readme_shows_exactly_the_sample_apps_manage_py():
    with open(os.path.join(REPO_ROOT, "README.md")) as handle:
        readme = handle.read()
    with open(os.path.join(REPO_ROOT, "tests", "sample_app", "manage.py")) as handle:
        manage_py = handle.read()

    section = readme.split("## Add it to your app", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    assert block == manage_py


@pytest.mark.skipif(int(sqlalchemy.__version__.split(".")[0]) < 2,
                    reason="SQLAlchemy's psycopg 3 dialect needs SQLAlchemy 2")
def test_an_app_whose_engine_uses_psycopg3(sample_app):
    """The version row goes through the app's own session, whatever its driver."""
    sample_app.write("v3.sql", "INSERT INTO notes (text) VALUES ('three');\n")
    sample_app.set_version(3)
    url = sample_app.database.url.replace("postgresql+psycopg2://", "postgresql+psycopg://", 1)

    result = sample_app.manage("migrate_tables", "--yes", env={"DATABASE_URL": url})

    assert result.returncode == 0, result.stderr
    assert "Migrated from version 0 to 3: 3 scripts" in result.stdout
    assert sample_app.database.version() == [3]
