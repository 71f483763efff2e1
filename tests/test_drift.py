"""Drift: `migrate_status --drift` and `check_drift` against hand-made changes, on real PostgreSQL.

The sample app is migrated to version 3 (notes, a function, a default), then
changed by hand as someone on a server would; the commands build the scripts
on scratch databases (--scratch-url: the test server) and must list each
change, exit 1, and leave the live database exactly as it was.
"""
import json

import pytest

from tests.helpers import Database

V3 = ("CREATE FUNCTION note_length(n notes) RETURNS int LANGUAGE sql AS 'SELECT length(n.text)';\n"
      "ALTER TABLE notes ADD COLUMN archived_at timestamp;\n"
      "ALTER TABLE notes ADD COLUMN kind text DEFAULT 'plain';\n")


@pytest.fixture
def migrated(sample_app, server_url):
    sample_app.write("v3.sql", V3)
    sample_app.set_version(3)
    done = sample_app.manage("migrate_tables", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    return sample_app


def live_state(database):
    return (database.catalog(exclude=()), database.history(), database.version(),
            Database(database.url).query("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a"
                                         " ON a.pid = l.pid WHERE a.datname = current_database()"
                                         " AND a.pid <> pg_backend_pid()"))


def test_a_clean_database_has_no_drift(migrated, server_url):
    before = live_state(migrated.database)

    status = migrated.manage("migrate_status", "--drift", "--check", "--scratch-url", server_url)
    checked = migrated.manage("check_drift", "--scratch-url", server_url)

    assert status.returncode == 0, status.stdout + status.stderr
    assert "Drift:           none (the schema is what the scripts up to version 3 give)" \
        in status.stdout
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Built version 3 from 3 scripts on scratch databases" in checked.stdout
    assert live_state(migrated.database) == before


def test_hand_made_changes_are_each_reported_and_nothing_is_changed(migrated, server_url):
    migrated.database.execute(
        "CREATE INDEX ix_notes_text ON notes (text);"
        "ALTER TABLE notes DROP COLUMN archived_at;"
        "ALTER TABLE notes ALTER COLUMN kind SET DEFAULT 'rich';"
        "CREATE OR REPLACE FUNCTION note_length(n notes) RETURNS int LANGUAGE sql"
        " AS 'SELECT length(n.text) + 1'")
    before = live_state(migrated.database)

    checked = migrated.manage("check_drift", "--scratch-url", server_url)
    status = migrated.manage("migrate_status", "--drift", "--scratch-url", server_url)
    status_check = migrated.manage("migrate_status", "--drift", "--check", "--scratch-url",
                                   server_url)
    as_json = migrated.manage("migrate_status", "--drift", "--json", "--scratch-url", server_url)

    assert checked.returncode == 1, checked.stdout + checked.stderr
    lines = checked.stdout
    assert "Drift:           4 differences from what the scripts up to version 3 give:" in lines
    assert "  - index public.ix_notes_text: in the server, not in the migrations" in lines
    assert "  - column public.notes.archived_at: in the migrations, not in the server" in lines
    assert "  - column public.notes.kind: default 'plain'::text in the migrations, 'rich'::text " \
           "in the server" in lines
    assert "  - function public.note_length(n public.notes): definition " in lines
    assert "length(n.text) + 1$function$ in the server" in lines
    assert checked.stderr.strip().startswith("error: the schema of ")
    assert "has drifted from what the scripts up to version 3 give" in checked.stderr
    assert len(checked.stderr.strip().splitlines()) == 1

    assert status.returncode == 0, status.stderr  # without --check it only shows
    assert "ix_notes_text" in status.stdout and "Applied version: 3" in status.stdout
    assert status_check.returncode == 1
    assert "drifted" in status_check.stderr
    drift = json.loads(as_json.stdout)["drift"]
    assert drift["version"] == 3 and len(drift["differences"]) == 4

    assert live_state(migrated.database) == before


def test_drift_is_measured_at_the_applied_version_not_the_code_version(migrated, server_url):
    migrated.write("v4.sql", "ALTER TABLE notes ADD COLUMN v4 int;\n")
    migrated.set_version(4)

    checked = migrated.manage("check_drift", "--scratch-url", server_url)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "up to version 3" in checked.stdout
