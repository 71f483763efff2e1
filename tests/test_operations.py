"""The operator's surface: migrate_status, --dry-run, --to, --baseline, exit statuses, progress."""
import json
import os
import pty
import re
import subprocess
import sys

import pytest

from myapp import __db_version__
from tests.helpers import applications, counted, failed_with_one_line, succeeded

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def status(manage, *args):
    result = manage("migrate_status", "--json", *args)
    return result, json.loads(result.stdout)


# -- migrate_status ------------------------------------------------------------------

def test_status_of_a_new_database(manage, database):
    result, report = status(manage)

    assert result.returncode == 0, result.stderr
    assert report["stored_version"] is None
    assert report["current_version"] == 0
    assert report["code_version"] == __db_version__
    assert [p["file"] for p in report["pending"]] == ["v%d.sql" % v for v in range(1, 6)]
    assert report["history"] == [] and report["warnings"] == []
    assert re.match(r"\d+\.\d+$", report["server_version"])
    assert database.tables() == set()  # status changes nothing


def test_status_of_a_partly_migrated_database_in_text(manage, database):
    manage("migrate_tables", "--yes", "--to", "3")

    result = manage("migrate_status")

    assert result.returncode == 0, result.stderr
    assert "Applied version: 3" in result.stdout
    assert "Code version:    5 (__db_version__)" in result.stdout
    assert "Pending:         v4.sql, v5.sql" in result.stdout
    assert re.search(r"v3\s+v3\.sql\s+\d+\.\d{3}s\s+applied", result.stdout)
    assert manage("migrate_status", "--check").returncode == 1


def test_status_of_an_up_to_date_database_and_check(manage, database):
    manage("migrate_tables", "--yes")

    result, report = status(manage, "--check")

    assert result.returncode == 0
    assert report["up_to_date"] is True and report["pending"] == []
    assert [entry["version"] for entry in report["history"]] == [5, 4, 3, 2, 1]
    entry = report["history"][0]
    assert entry["file"] == "v5.sql" and entry["outcome"] == "applied"
    assert entry["mode"] == "no-transaction" and entry["duration_s"] >= 0
    assert entry["db_user"] and entry["os_user"] and entry["host"]


def test_status_shows_ten_entries_unless_all(sample_app):
    sample_app.clear_scripts()
    for version in range(1, 13):
        sample_app.write("v%d.sql" % version, "SELECT %d;\n" % version)
    sample_app.set_version(12)
    sample_app.manage("migrate_tables", "--yes")

    limited = json.loads(sample_app.manage("migrate_status", "--json").stdout)
    everything = json.loads(sample_app.manage("migrate_status", "--json", "--all").stdout)

    assert len(limited["history"]) == 10 and limited["history_total"] == 12
    assert len(everything["history"]) == 12
    assert "History (all of 12" in sample_app.manage("migrate_status", "--all").stdout


@pytest.mark.parametrize("cli", ["manage.py", "flask"])
def test_the_history_table_stays_aligned_with_a_long_file_name(demo_app, cli):
    app = demo_app
    app.clear_scripts()
    long_name = "v2_" + "a" * 53 + ".sql"
    assert len(long_name) == 60
    app.write("v1.sql", "SELECT 1;\n")
    app.write(long_name, "SELECT 2;\n")
    app.write("v3.sql", "SELECT 3;\n")
    app.set_version(3)
    succeeded(app.manage("migrate_tables", "--yes"))
    app.database.execute("UPDATE version_history SET duration_s = 1234.5 WHERE version = 3")

    if cli == "flask":
        process = app.start_flask("migrate-status", "--all")
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    else:
        stdout = succeeded(app.manage("migrate_status", "--all")).stdout
    rows = stdout[stdout.index("History (all of 3"):].splitlines()[1:4]

    assert [row.split()[2] for row in rows] == ["v3", "v2", "v1"], rows
    assert long_name in rows[1], rows
    starts = [[match.start() for match in re.finditer(r"\S+", row)] for row in rows]
    assert starts[0] == starts[1] == starts[2], rows  # each column starts at the same place
    assert "1234.500s" in rows[0]


def test_status_warns_about_a_changed_script(sample_app):
    sample_app.manage("migrate_tables", "--yes")
    sample_app.write("v1.sql", "CREATE TABLE notes (id SERIAL PRIMARY KEY, text TEXT); -- edited\n")

    result, report = status(sample_app.manage, "--check")

    assert result.returncode == 1
    assert any("v1.sql changed" in warning for warning in report["warnings"])
    text = sample_app.manage("migrate_status")
    assert "Warnings:" in text.stdout and "v1.sql changed" in text.stdout


def test_status_warns_about_an_interrupted_script(killed_outside_a_transaction):
    app = killed_outside_a_transaction
    result, report = status(app.manage, "--check")

    assert result.returncode == 1
    assert any("v2.sql was interrupted while running outside a transaction" in w
               for w in report["warnings"])
    assert report["history"][0]["outcome"] == "running"


def test_status_warns_when_the_database_is_newer_than_the_code(sample_app):
    sample_app.manage("migrate_tables", "--yes")
    sample_app.set_version(1)

    result, report = status(sample_app.manage, "--check")

    assert result.returncode == 1
    assert any("newer than this code" in warning for warning in report["warnings"])


def test_status_masks_the_password(sample_app):
    url = sample_app.database.url
    with_password = re.sub(r"//([^@/]*)@", r"//\1:hunter2-secret@", url, count=1) \
        if "@" in url.split("//", 1)[1] else url.replace("//", "//postgres:hunter2-secret@", 1)
    result = sample_app.manage("migrate_status", env={"DATABASE_URL": with_password})

    assert "hunter2-secret" not in result.stdout + result.stderr
    assert "***" in result.stdout


# -- --dry-run -----------------------------------------------------------------------

def test_dry_run_lists_statements_and_changes_nothing(manage, database):
    manage("migrate_tables", "--yes", "--to", "3")
    before = database.catalog(exclude=())
    history = database.history()

    result = manage("migrate_tables", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert "Do you want to continue" not in result.stdout
    assert "v4.sql -> version 4 (transaction)" in result.stdout
    assert "v5.sql -> version 5 (1 step)" in result.stdout
    assert re.search(r"line 3\s+\[outside a transaction\] CREATE INDEX CONCURRENTLY ix_posts_user_id",
                     result.stdout)
    assert re.search(r"line 2\s+\[in a transaction\] ALTER TABLE posts ADD COLUMN archived_at",
                     result.stdout)
    assert database.catalog(exclude=()) == before
    assert database.history() == history


def test_dry_run_on_an_up_to_date_database(manage, database):
    manage("migrate_tables", "--yes")
    result = manage("migrate_tables", "--dry-run")
    assert result.returncode == 0
    assert "nothing would run" in result.stdout


# -- --to ----------------------------------------------------------------------------

def test_to_stops_at_the_version_asked_for(manage, database):
    result = manage("migrate_tables", "--yes", "--to", "3")

    assert result.returncode == 0, result.stderr
    assert database.version() == [3]
    assert "Migrated from version 0 to 3: 3 scripts" in result.stdout


def test_to_below_the_database_version_is_refused(manage, database):
    manage("migrate_tables", "--yes", "--to", "3")

    result = manage("migrate_tables", "--yes", "--to", "2")

    assert result.returncode == 2
    assert "--to 2 is below the database's version 3; migrations only go forward" in result.stderr
    assert database.version() == [3]


def test_to_above_the_code_version_is_refused(manage, database):
    result = manage("migrate_tables", "--yes", "--to", "9")
    assert result.returncode == 2
    assert "--to 9 is above the version this code needs" in result.stderr
    assert database.tables() == set()


# -- --baseline ----------------------------------------------------------------------

def create_all(database, models_version=None):
    from myapp import create_app
    from myapp.models import db
    app = create_app(SQLALCHEMY_DATABASE_URI=database.url)
    with app.app_context():
        db.create_all()
        db.session.remove()
        db.engine.dispose()


def test_baseline_adopts_a_database_made_by_create_all(manage, database, server_url):
    # A database made long ago by create_all() at version 3: drop what v4 and v5 add.
    create_all(database)
    database.execute("DROP TABLE version")
    database.execute("DROP INDEX ix_posts_user_id")
    database.execute("ALTER TABLE posts DROP COLUMN archived_at")
    assert manage("migrate_tables", "--yes").returncode == 2  # refused: tables, no version table

    result = manage("migrate_tables", "--yes", "--baseline", "3")

    assert result.returncode == 0, result.stderr
    assert "Baselined the database at version 3; no script ran" in result.stdout
    assert database.version() == [3]
    assert database.history() == [(3, None, "baseline", "baseline", 0,
                                   "--baseline: adopted an existing schema")]

    migrated = manage("migrate_tables", "--yes")

    assert migrated.returncode == 0, migrated.stderr
    assert "Migrated from version 3 to 5: 2 scripts" in migrated.stdout
    assert database.version() == [5]


def test_baseline_is_refused_when_the_database_has_a_version(manage, database):
    manage("migrate_tables", "--yes", "--to", "2")

    result = manage("migrate_tables", "--yes", "--baseline", "4")

    assert result.returncode == 2
    assert "already has a version (2)" in result.stderr
    assert database.version() == [2]


# -- output ----------------------------------------------------------------------------

def test_piped_output_has_no_control_characters(manage, database):
    result = manage("migrate_tables", "--yes")
    assert result.returncode == 0
    assert not CONTROL_CHARACTERS.search(result.stdout), repr(result.stdout)
    assert "Upgrading database to version 1 (v1.sql)" in result.stdout
    assert re.search(r"applied v1\.sql in \d+\.\d{3}s", result.stdout)


def test_terminal_shows_a_live_elapsed_time_for_a_long_script(sample_app):
    sample_app.write("v3.sql", "SELECT pg_sleep(4.5);\n")
    sample_app.set_version(3)
    env = dict(os.environ, DATABASE_URL=sample_app.database.url, PYTHONPATH=os.getcwd())
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "manage.py", "migrate_tables", "--yes"],
                               cwd=str(sample_app.root), stdin=subprocess.DEVNULL, stdout=follower,
                               stderr=subprocess.PIPE, env=env)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=60)
    os.close(leader)

    assert process.returncode == 0
    assert b"\r  v3.sql running for 3s" in output or b"\r  v3.sql running for 4s" in output
    assert b"applied v3.sql in 4." in output


@pytest.mark.parametrize("args, code", [
    (("migrate_tables", "--yes", "--no-such-option"), 2),
    (("migrate_tables", "--to", "x"), 2),
])
def test_bad_usage_exits_2(manage, args, code):
    result = manage(*args)
    assert result.returncode == code
    assert "Traceback" not in result.stderr


# -- --dry-run on a script with a syntax error ----------------------------------------

# README, "migrate_tables --dry-run": "It exits 0, or 1 when a pending script would fail
# before running (a syntax error PostgreSQL's parser finds in a script that needs
# splitting), and 2 for what a real run would refuse". The dry run parses every pending
# script, so a script that would run whole (where a real run leaves the error to the
# server, which rolls it back) exits 1 too: the same line, found before the deploy.
SYNTAX_ERRORS = {
    "in steps": ("CREATE TABLE a (x int);\nCREAT TABLE b (x int);\n"
                 "CREATE INDEX CONCURRENTLY ix_a ON a (x);\n", 2),
    "no-transaction header": ("-- migrate: no-transaction\nCREATE TABLE a (x int);\n"
                              "CREAT TABLE b (x int);\n", 3),
    "one transaction": ("CREATE TABLE a (x int);\n\nCREAT TABLE b (x int);\n", 3),
}


@pytest.mark.parametrize("kind", sorted(SYNTAX_ERRORS))
def test_dry_run_of_a_script_with_a_syntax_error(counting_app, kind):
    app = counting_app
    text, line = SYNTAX_ERRORS[kind]
    app.write("v2.sql", counted(2))
    app.write("v3.sql", text)
    app.set_version(3)
    expected = ('error: v3.sql: line %d: SQLSTATE 42601: syntax error at or near "CREAT"; '
                'nothing was run' % line)

    # On a new database: not even the bookkeeping tables are made.
    dry = app.manage("migrate_tables", "--dry-run")
    assert failed_with_one_line(dry, 1) == expected
    assert app.database.tables() == set()

    succeeded(app.manage("migrate_tables", "--yes", "--to", "2"))
    catalog, history = app.database.catalog(), app.database.history()
    dry = app.manage("migrate_tables", "--dry-run")
    assert failed_with_one_line(dry, 1) == expected
    assert app.database.catalog() == catalog
    assert app.database.history() == history
    assert app.database.version() == [2]
    assert applications(app.database) == {1: 1, 2: 1}
