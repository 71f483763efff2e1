"""lint_migrations on repeatable scripts (sql/migration/repeatable/NAME.sql), through `python manage.py`.

The sample app (notes, at version 2 after `migrate_tables`) with repeatable files; the real squawk.
"""
import json

import pytest

RULE = "repeatable-not-rerunnable"

RERUNNABLE = ("DROP VIEW IF EXISTS short_notes;\n"
              "CREATE VIEW short_notes AS SELECT id, text FROM notes WHERE length(text) < 80;\n"
              "CREATE OR REPLACE FUNCTION note_count() RETURNS bigint LANGUAGE sql AS\n"
              "  'SELECT count(*) FROM notes';\n"
              "DROP TRIGGER IF EXISTS notes_touch ON notes;\n"
              "CREATE TRIGGER notes_touch BEFORE UPDATE ON notes FOR EACH ROW\n"
              "  EXECUTE FUNCTION touch();\n"
              "ALTER TABLE notes ADD COLUMN IF NOT EXISTS seen boolean;\n"
              "INSERT INTO notes (text) VALUES ('hello') ON CONFLICT DO NOTHING;\n"
              "GRANT SELECT ON short_notes TO PUBLIC;\n"
              "COMMENT ON VIEW short_notes IS 'short ones';\n")

NOT_RERUNNABLE = ("CREATE VIEW long_notes AS SELECT id FROM notes;\n"       # 1
                  "CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN 1;\n"  # 2
                  "CREATE TRIGGER t BEFORE UPDATE ON notes FOR EACH ROW\n"    # 3
                  "  EXECUTE FUNCTION touch();\n"
                  "CREATE TYPE mood AS ENUM ('ok');\n"                        # 5
                  "ALTER TABLE notes ADD COLUMN seen boolean;\n"              # 6
                  "INSERT INTO notes (text) VALUES ('hello');\n"              # 7
                  "DROP VIEW other;\n"                                         # 8
                  "-- lint: ignore repeatable-not-rerunnable\n"
                  "CREATE VIEW silenced AS SELECT 1;\n")                       # 10


def lint(app, *args):
    result = app.manage("lint_migrations", "--json", *args)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return result, json.loads(result.stdout)


@pytest.fixture
def app(sample_app):
    migrated = sample_app.manage("migrate_tables", "--yes")
    assert migrated.returncode == 0, migrated.stderr
    (sample_app.migration_dir / "repeatable").mkdir()
    return sample_app


def test_a_rerunnable_file_has_no_finding_of_the_rule(app):
    app.write("repeatable/notes.sql", RERUNNABLE)

    result, findings = lint(app, "--all")

    assert [f for f in findings if f["rule"] == RULE] == []
    text = app.manage("lint_migrations")
    assert "Linting 0 pending scripts (the database is at version 2) and 1 repeatable script" \
        in text.stdout, text.stdout


def test_each_statement_that_cannot_run_again_is_an_error_with_its_line(app):
    app.write("repeatable/bad.sql", NOT_RERUNNABLE)

    result, findings = lint(app)

    ours = [(f["file"], f["line"], f["level"]) for f in findings if f["rule"] == RULE]
    assert ours == [("sql/migration/repeatable/bad.sql", line, "error")
                    for line in (1, 2, 3, 5, 6, 7, 8)]
    assert result.returncode == 1
    text = app.manage("lint_migrations", "repeatable/bad.sql")
    assert text.returncode == 1
    assert "Linting repeatable/bad.sql" in text.stdout
    assert "sql/migration/repeatable/bad.sql:3: error: %s: CREATE TRIGGER t fails" % RULE in text.stdout
    assert "    fix: DROP TRIGGER IF EXISTS name ON table; first (or CREATE OR REPLACE TRIGGER" \
        in text.stdout


def test_files_are_chosen_by_name_and_versions_alone_leave_them_out(app):
    app.write("repeatable/bad.sql", NOT_RERUNNABLE)
    app.write("repeatable/good.sql", RERUNNABLE)

    _, by_name = lint(app, "sql/migration/repeatable/good.sql")
    _, by_version = lint(app, "2")
    _, everything = lint(app, "--all")

    assert {f["file"] for f in by_name} <= {"sql/migration/repeatable/good.sql"}
    assert not any("repeatable/" in f["file"] for f in by_version)
    assert RULE in {f["rule"] for f in everything if f["file"].endswith("bad.sql")}

    for args, said in ((["repeatable/none.sql"], "no repeatable script repeatable/none.sql"),
                       (["two"], "two: give a version N or a repeatable script")):
        refused = app.manage("lint_migrations", *args)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert said in refused.stderr and refused.stderr.count("\n") == 1


def test_what_the_runner_refuses_in_a_repeatable_is_an_error_of_its_own(app):
    app.write("repeatable/index.sql", "CREATE OR REPLACE VIEW v AS SELECT 1 AS one;\n"
                                      "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix ON notes (text);\n")
    app.write("repeatable/a.sql", "CREATE OR REPLACE VIEW a AS SELECT * FROM b;\n")
    app.write("repeatable/b.sql", "CREATE OR REPLACE VIEW b AS SELECT * FROM a;\n")

    result, findings = lint(app)

    runner = [(f["file"][-9:], f["line"]) for f in findings if f["rule"] == "runner"]
    assert runner == [("ble/a.sql", 1), ("index.sql", 2)]
    assert any("a.sql -> b.sql -> a.sql" in f["message"] for f in findings)
    assert result.returncode == 1
