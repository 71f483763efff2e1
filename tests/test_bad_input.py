"""Bad input gets one clear line, a non-zero exit and an untouched database."""
import os

import pytest

from tests.helpers import COUNTER, counted


@pytest.fixture
def app(sample_app):
    sample_app.clear_scripts()
    sample_app.write("v1.sql", COUNTER + counted(1))
    sample_app.set_version(1)
    return sample_app


def refused(app, *args, **kwargs):
    """Run migrate_tables, expect exit 2 with one line on stderr and no change; return stderr."""
    before = app.database.catalog(exclude=())
    history = app.database.history()
    result = app.manage("migrate_tables", "--yes", *args, **kwargs)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert app.database.catalog(exclude=()) == before
    assert app.database.history() == history
    return result.stderr


def test_two_files_for_one_version(app):
    app.write("v2.sql", counted(2))
    app.write("v02.sql", counted(2))
    app.set_version(2)
    assert "more than one script for one version (version 2: v02.sql, v2.sql)" in refused(app)


def test_gap_in_versions(app):
    app.write("v3.sql", counted(3))
    app.set_version(3)
    assert "no script for version 2 between v1 and v3" in refused(app)


def test_code_version_above_the_highest_script(app):
    app.set_version(4)
    assert "the code needs version 4 (__db_version__) but there is no v4.sql" in refused(app)


def test_database_newer_than_the_code(app):
    app.write("v2.sql", counted(2))
    app.set_version(2)
    assert app.manage("migrate_tables", "--yes").returncode == 0
    app.set_version(1)
    assert "the database is at version 2, newer than this code (__db_version__ = 1)" in refused(app)


def test_version_table_with_two_rows(app):
    assert app.manage("migrate_tables", "--yes").returncode == 0
    app.database.execute("INSERT INTO version (version_id, version) VALUES (2, 7)")
    assert "the version table has 2 rows (1, 7)" in refused(app)


def test_file_that_is_not_utf8(app):
    app.write("v2.sql", b"INSERT INTO applications VALUES (2); -- caf\xe9\n")
    app.set_version(2)
    assert "v2.sql is not valid UTF-8 (byte 0xe9 at line 1)" in refused(app)


def test_unreadable_file(app):
    os.symlink(str(app.root / "nowhere.sql"), str(app.migration_dir / "v2.sql"))
    app.set_version(2)
    assert "cannot read v2.sql: No such file or directory" in refused(app)


def test_missing_migration_directory(app):
    for path in app.migration_dir.iterdir():
        path.unlink()
    app.migration_dir.rmdir()
    message = refused(app)
    assert "migration directory %s does not exist" % app.migration_dir in message


def test_database_with_tables_but_no_version_table_points_to_baseline(app):
    app.database.execute("CREATE TABLE legacy (id int)")
    message = refused(app)
    assert "the database has tables (legacy) but no version table" in message
    assert "--baseline N" in message


def test_transaction_control_inside_a_script(app):
    app.write("v2.sql", "INSERT INTO applications VALUES (2);\nCOMMIT;\nSELECT 1;\n")
    app.set_version(2)
    assert "v2.sql: line 2: transaction control (COMMIT) inside a migration" in refused(app)


def test_lookalike_files_are_listed_as_ignored_and_never_run(app):
    for name in ("v2.sql~", "v2.sql.bak", "v2.sql.orig", "V2.SQL"):
        app.write(name, "CREATE TABLE should_not_exist (id int);\n")

    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 0, result.stderr
    for name in ("v2.sql~", "v2.sql.bak", "v2.sql.orig", "V2.SQL"):
        assert "ignored %s" % name in result.stdout
    assert "should_not_exist" not in app.database.tables()


def test_description_in_the_name_is_accepted(app):
    app.write("v2_add_things.sql", counted(2))
    app.set_version(2)

    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 0, result.stderr
    assert "Upgrading database to version 2 (v2_add_things.sql)" in result.stdout
    assert app.database.version() == [2]
