"""What an operator reads: the warning with --yes, the prompt's list, the dry run and status at scale."""
from tests.helpers import applications, counted


def test_the_warning_is_printed_with_yes_too(counting_app):
    app = counting_app
    app.write("v2.sql", counted(2))
    app.write("v3.sql", counted(3))
    app.set_version(3)
    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("WARNING: this migrates the database postgresql+psycopg2://")
    assert first.endswith("from version 0 to 3 (3 scripts). Back it up before you go on.")
    assert "Do you want to continue" not in result.stdout
    again = app.manage("migrate_tables", "--yes")
    assert again.stdout.strip() == "DB is at correct version 3"


def test_the_prompt_lists_the_first_scripts_and_a_count(counting_app):
    app = counting_app
    for version in range(2, 41):
        app.write("v%d.sql" % version, counted(version))
    app.set_version(40)
    result = app.manage("migrate_tables", input="n\n")

    assert result.returncode == 1
    assert "from version 0 to 40 (40 scripts)" in result.stdout
    assert "Scripts to run: v1.sql, v2.sql, v3.sql, ... (35 more) ..., v39.sql, v40.sql" in result.stdout
    assert app.database.tables() == set()


def test_dry_run_labels_each_script_by_what_really_happens(counting_app):
    app = counting_app
    app.write("v2.sql", counted(2, "CREATE TABLE t (a int);\n"))
    app.write("v3.sql", "CREATE TABLE u (a int);\nCREATE INDEX CONCURRENTLY ix_u ON u (a);\n"
                        "INSERT INTO u VALUES (1); -- a comment; with ; semicolons\n")
    app.write("v4.sql", "-- migrate: no-transaction\nINSERT INTO u VALUES (2);\nINSERT INTO u VALUES (3);\n")
    app.set_version(4)
    assert app.manage("migrate_tables", "--yes", "--to", "1").returncode == 0

    result = app.manage("migrate_tables", "--dry-run")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "v2.sql -> version 2 (transaction)" in lines
    assert "v3.sql -> version 3 (3 steps)" in lines
    assert "v4.sql -> version 4 (no-transaction (header))" in lines
    assert "  line 3    [in a transaction] INSERT INTO u VALUES (1)" in lines
    assert not any("comment" in line for line in lines)


def test_a_comment_inside_a_statement_does_not_swallow_its_preview(counting_app):
    app = counting_app
    app.write("v2.sql", "-- migrate: no-transaction\nCREATE TABLE t ( -- the table\n  a int /* the column */\n);\n")
    app.set_version(2)
    result = app.manage("migrate_tables", "--dry-run")

    assert "  line 2    [outside a transaction] CREATE TABLE t ( a int )" in result.stdout.splitlines()


def test_status_and_dry_run_read_well_on_a_300_script_history(counting_app):
    app = counting_app
    for version in range(2, 301):
        app.write("v%d_change_number_%d.sql" % (version, version), counted(version))
    app.set_version(300)
    status = app.manage("migrate_status")

    pending = [line for line in status.stdout.splitlines() if line.startswith("Pending:")]
    assert pending == ["Pending:         300 scripts: v1.sql, v2_change_number_2.sql, "
                       "v3_change_number_3.sql, ... (295 more) ..., v299_change_number_299.sql, "
                       "v300_change_number_300.sql"]
    assert max(len(line) for line in status.stdout.splitlines()) < 200
    as_json = app.manage("migrate_status", "--json")
    assert as_json.stdout.count('"file"') >= 300

    dry = app.manage("migrate_tables", "--dry-run")
    assert dry.returncode == 0
    assert max(len(line) for line in dry.stdout.splitlines()) < 200
    assert app.database.tables() == set()
    assert app.manage("migrate_tables", "--yes").returncode == 0
    assert applications(app.database)[300] == 1


def test_an_enum_value_not_used_later_is_added_inside_the_script_transaction(counting_app):
    """PostgreSQL 12+: only a use of the new value in the same transaction fails (55P04)."""
    app = counting_app
    app.write("v2.sql", "CREATE TYPE mood AS ENUM ('sad');\n")
    app.write("v3.sql", "ALTER TYPE mood ADD VALUE 'ok';\nCREATE TABLE t (id int REFERENCES missing_table);\n")
    app.set_version(3)
    failed = app.manage("migrate_tables", "--yes")

    assert failed.returncode == 1
    assert "the script's changes were rolled back" in failed.stderr
    assert app.database.query("SELECT enumlabel FROM pg_enum ORDER BY enumsortorder") == [("sad",)]
    dry = app.manage("migrate_tables", "--dry-run")
    assert "v3.sql -> version 3 (transaction)" in dry.stdout

    app.write("v3.sql", "ALTER TYPE mood ADD VALUE 'ok';\nCREATE TABLE t (id int);\n")
    fixed = app.manage("migrate_tables", "--yes")
    assert fixed.returncode == 0, fixed.stderr
    assert app.database.query("SELECT enumlabel FROM pg_enum ORDER BY enumsortorder") == [
        ("sad",), ("ok",)]


def test_an_enum_value_used_later_in_the_script_is_committed_first(counting_app):
    app = counting_app
    app.write("v2.sql", "CREATE TYPE mood AS ENUM ('sad');\nCREATE TABLE t (m mood);\n")
    app.write("v3.sql", "ALTER TYPE mood ADD VALUE 'ok';\nINSERT INTO t VALUES ('ok');\n")
    app.set_version(3)
    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 0, result.stderr
    assert "v3.sql, in 2 steps" in result.stdout
    assert app.database.query("SELECT m::text FROM t") == [("ok",)]
