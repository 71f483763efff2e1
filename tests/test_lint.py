"""lint_migrations: squawk, knowing the runner, through `python manage.py` on real PostgreSQL.

Each test edits a copy of tests/sample_app (notes, at version 2 after
`migrate_tables`) and runs the real squawk binary of the squawk-cli wheel.
"""
import json
import re

import pytest


NO_SQUAWK = {"SQUAWK_BIN": "/nonexistent/squawk"}
KEYS = {"file", "line", "rule", "level", "message", "fix"}


def lint(app, *args, **kwargs):
    """`lint_migrations --json`: (the process, the findings)."""
    result = app.manage("lint_migrations", "--json", *args, **kwargs)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    findings = json.loads(result.stdout)
    for finding in findings:
        assert set(finding) == KEYS
    return result, findings


def in_file(findings, name):
    return [f for f in findings if f["file"].endswith("/" + name)]


def rules(findings):
    return {f["rule"] for f in findings}


@pytest.fixture
def app(sample_app):
    """The sample app migrated to version 2: notes (id serial, text NOT NULL), empty."""
    migrated = sample_app.manage("migrate_tables", "--yes")
    assert migrated.returncode == 0, migrated.stderr
    return sample_app


# -- each rule, and its safe rewrite ---------------------------------------------------------

CASES = {
    "require-concurrent-index-creation": (
        "CREATE INDEX ix_notes_text ON notes (text);\n",
        ["CREATE INDEX CONCURRENTLY ix_notes_text ON notes (text);\n"]),
    "adding-field-with-default": (
        "ALTER TABLE notes ADD COLUMN uid uuid DEFAULT gen_random_uuid();\n",
        ["ALTER TABLE notes ADD COLUMN uid uuid;\n"
         "ALTER TABLE notes ALTER COLUMN uid SET DEFAULT gen_random_uuid();\n"]),
    "changing-column-type": (
        "ALTER TABLE notes ALTER COLUMN id TYPE bigint;\n",
        ["ALTER TABLE notes ADD COLUMN id_new bigint;\n"]),
    "adding-foreign-key-constraint": (
        "ALTER TABLE notes ADD CONSTRAINT notes_self FOREIGN KEY (id) REFERENCES notes (id);\n",
        ["ALTER TABLE notes ADD CONSTRAINT notes_self FOREIGN KEY (id) REFERENCES notes (id) "
         "NOT VALID;\n",
         "ALTER TABLE notes VALIDATE CONSTRAINT notes_self;\n"]),
    "adding-not-nullable-field": (
        "ALTER TABLE notes ALTER COLUMN id SET NOT NULL;\n",
        ["ALTER TABLE notes ADD CONSTRAINT notes_id_set CHECK (id IS NOT NULL) NOT VALID;\n",
         "ALTER TABLE notes VALIDATE CONSTRAINT notes_id_set;\n"
         "ALTER TABLE notes ALTER COLUMN id SET NOT NULL;\n"]),
    "renaming-column": (
        "ALTER TABLE notes RENAME COLUMN text TO body;\n",
        ["ALTER TABLE notes ADD COLUMN body text;\n"]),
    "renaming-table": (
        "ALTER TABLE notes RENAME TO memos;\n",
        ["CREATE VIEW memos AS SELECT id, text FROM notes;\n"]),
    "constraint-missing-not-valid": (
        "ALTER TABLE notes ADD CONSTRAINT notes_short CHECK (length(text) < 1000);\n",
        ["ALTER TABLE notes ADD CONSTRAINT notes_short CHECK (length(text) < 1000) NOT VALID;\n",
         "ALTER TABLE notes VALIDATE CONSTRAINT notes_short;\n"]),
    "disallowed-unique-constraint": (
        "ALTER TABLE notes ADD CONSTRAINT notes_text_key UNIQUE (text);\n",
        ["CREATE UNIQUE INDEX CONCURRENTLY notes_text_idx ON notes (text);\n",
         "ALTER TABLE notes ADD CONSTRAINT notes_text_key UNIQUE USING INDEX notes_text_idx;\n"]),
}
LEVELS = {"renaming-column": "warning", "renaming-table": "warning"}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_a_rule_is_found_and_its_safe_rewrite_passes(app, rule):
    unsafe, safe = CASES[rule]
    app.write("v3.sql", "-- the unsafe way\n" + unsafe)
    for number, text in enumerate(safe, 4):
        app.write("v%d.sql" % number, text)
    app.set_version(3 + len(safe))

    result, findings = lint(app)

    found = [f for f in in_file(findings, "v3.sql") if f["rule"] == rule]
    assert len(found) == 1, findings
    assert found[0]["line"] == 2
    assert found[0]["level"] == LEVELS.get(rule, "error")
    assert found[0]["message"] and found[0]["fix"]
    for number in range(4, 4 + len(safe)):
        kept = [f for f in in_file(findings, "v%d.sql" % number) if f["level"] != "note"]
        assert kept == [], kept
    assert result.returncode == (0 if rule in LEVELS else 1)


def test_not_valid_then_validate_in_one_script_is_one_transaction_unless_the_header_says(app):
    both = ("ALTER TABLE notes ADD CONSTRAINT notes_short CHECK (length(text) < 1000) NOT VALID;\n"
            "ALTER TABLE notes VALIDATE CONSTRAINT notes_short;\n")
    app.write("v3.sql", both)
    app.write("v4.sql", "-- migrate: no-transaction\n" + both.replace("notes_short", "notes_brief"))
    app.set_version(4)

    result, findings = lint(app)

    assert [(f["line"], f["rule"]) for f in in_file(findings, "v3.sql")] == [
        (2, "constraint-missing-not-valid")]
    assert in_file(findings, "v4.sql") == []
    assert result.returncode == 1


# -- what the runner makes moot ----------------------------------------------------------------

def test_runner_moot_findings_are_dropped(app):
    app.write("v3.sql", "CREATE INDEX CONCURRENTLY ix_notes_text ON notes (text);\n"
                        "ALTER TABLE notes ADD COLUMN body text;\n")
    app.set_version(3)

    result, findings = lint(app)

    assert findings == [] and result.returncode == 0
    text = app.manage("lint_migrations")
    assert text.returncode == 0, text.stderr
    assert re.search(r"No findings in 1 script \(squawk [\d.]+; \d+ findings dropped", text.stdout)
    for moot in ("prefer-robust-stmts", "require-lock-timeout", "require-statement-timeout",
                 "ban-concurrent-index-creation-in-transaction"):
        assert moot not in text.stdout


def test_a_table_made_earlier_in_the_same_script_is_not_flagged(app):
    app.write("v3.sql", "CREATE TABLE tags (id bigint, name text);\n"
                        "CREATE INDEX ix_tags_name ON tags (name);\n"
                        "ALTER TABLE tags ALTER COLUMN id TYPE text;\n"
                        "ALTER TABLE tags RENAME COLUMN name TO label;\n"
                        "CREATE INDEX ix_notes_text ON notes (text);\n")
    app.set_version(3)

    result, findings = lint(app)

    assert [(f["line"], f["rule"]) for f in findings] == [(5, "require-concurrent-index-creation")]
    assert result.returncode == 1


def test_a_table_made_by_an_earlier_pending_script_is_new_until_that_script_ran(app):
    app.write("v3.sql", "CREATE TABLE tags (id bigint, name text);\n")
    app.write("v4.sql", "CREATE INDEX ix_tags_name ON tags (name);\n")
    app.set_version(4)

    result, findings = lint(app)
    assert findings == [] and result.returncode == 0

    assert app.manage("migrate_tables", "--yes", "--to", "3").returncode == 0
    result, findings = lint(app)
    assert rules(findings) == {"require-concurrent-index-creation"}
    assert result.returncode == 1


def test_without_a_database_every_script_is_linted_on_its_own(sample_app):
    """v2 sets NOT NULL on notes, made by v1: only with a database is v1 known to be pending."""
    env = {"DATABASE_URL": "postgresql://nobody:hunter2-secret@/nowhere?host=/nonexistent"}
    result = sample_app.manage("lint_migrations", env=env)

    assert result.returncode == 1
    assert "note: no database at hand (cannot connect" in result.stdout
    assert "Linting all 2 scripts" in result.stdout
    assert "sql/migration/v2.sql:2: error: adding-not-nullable-field" in result.stdout
    assert "hunter2-secret" not in result.stdout + result.stderr

    on_a_new_database = sample_app.manage("lint_migrations")
    assert on_a_new_database.returncode == 0, on_a_new_database.stdout
    assert "Linting 2 pending scripts (the database is at version 0)" in on_a_new_database.stdout
    assert "adding-not-nullable-field" not in on_a_new_database.stdout


def test_nothing_pending_is_nothing_to_lint(app):
    result = app.manage("lint_migrations")

    assert result.returncode == 0, result.stderr
    assert "Nothing to lint: the database is at version 2" in result.stdout
    every = app.manage("lint_migrations", "--all")
    assert "Linting all 2 scripts" in every.stdout
    assert every.returncode == 1  # v1 ran: notes is no longer new to v2's SET NOT NULL
    assert "v2.sql:2: error: adding-not-nullable-field" in every.stdout
    assert "[table notes: never analyzed, size unknown]" in every.stdout


# -- table sizes -----------------------------------------------------------------------------

def test_a_small_table_gives_a_note_and_a_large_one_an_error_with_its_size(app):
    app.database.execute(
        "CREATE TABLE small AS SELECT g AS id FROM generate_series(1, 10) g;"
        "CREATE TABLE large AS SELECT g AS id, md5(g::text) AS hash"
        "  FROM generate_series(1, 100000) g;"
        "ANALYZE small; ANALYZE large")
    app.write("v3.sql", "CREATE INDEX ix_small ON small (id);\nCREATE INDEX ix_large ON large (id);\n")
    app.set_version(3)

    result, findings = lint(app)

    small, large = findings
    assert (small["line"], small["level"]) == (1, "note")
    assert "[table small: ~10 rows" in small["message"]
    assert (large["line"], large["level"]) == (2, "error")
    assert re.search(r"\[table large: ~[\d,]{6,} rows, \d+ [kM]B\]", large["message"]), large
    assert result.returncode == 1

    text = app.manage("lint_migrations")
    assert text.returncode == 1
    assert re.search(r"v3\.sql:2: error: require-concurrent-index-creation: .* \[table large: "
                     r"~[\d,]+ rows, \d+ [kM]B\]", text.stdout), text.stdout
    assert text.stderr.strip().startswith("error: 1 error-level finding;")

    relaxed, findings = lint(app, "--small-table-rows", "1000000")
    assert [f["level"] for f in findings] == ["note", "note"]
    assert relaxed.returncode == 0


def test_a_table_never_analyzed_keeps_the_level(app):
    app.database.execute("CREATE TABLE unknown AS SELECT g AS id FROM generate_series(1, 10) g")
    app.write("v3.sql", "CREATE INDEX ix_unknown ON unknown (id);\n")
    app.set_version(3)

    result, (finding,) = lint(app)

    assert finding["level"] == "error"
    assert "[table unknown: never analyzed, size unknown]" in finding["message"]


# -- ignores, exit statuses, output ------------------------------------------------------------

def test_lint_ignore_silences_the_rules_it_names_for_the_next_statement(app):
    app.write("v3.sql", "-- lint: ignore require-concurrent-index-creation\n"
                        "CREATE INDEX ix_a ON notes (text);\n"
                        "-- why: notes is tiny in every deployment\n"
                        "-- lint: ignore renaming-column, changing-column-type\n"
                        "ALTER TABLE notes RENAME COLUMN text TO body;\n"
                        "CREATE INDEX ix_b ON notes (id);\n")
    app.set_version(3)

    result, findings = lint(app)

    assert [(f["line"], f["rule"]) for f in findings] == [(6, "require-concurrent-index-creation")]
    text = app.manage("lint_migrations")
    assert "2 silenced by `-- lint: ignore`" in text.stdout


def test_exit_statuses(app):
    app.write("v3.sql", "ALTER TABLE notes RENAME COLUMN text TO body;\n")
    app.set_version(3)
    warned = app.manage("lint_migrations")
    assert warned.returncode == 0, warned.stdout + warned.stderr
    assert "v3.sql:1: warning: renaming-column" in warned.stdout
    assert "0 errors, 1 warning, 0 notes in 1 script" in warned.stdout

    app.write("v3.sql", "CREATE INDEX ix_a ON notes (text);\n")
    failed = app.manage("lint_migrations")
    assert failed.returncode == 1
    assert failed.stderr.count("\n") == 1 and "lint: ignore" in failed.stderr
    as_json = app.manage("lint_migrations", "--json")
    assert as_json.returncode == 1 and as_json.stderr == ""

    for args, said in ((["3", "--all"], "give versions or --all, not both"),
                       (["7"], "no script for version 7"),
                       (["--small-table-rows", "-1"], "--small-table-rows -1")):
        refused = app.manage("lint_migrations", *args)
        assert refused.returncode == 2, (args, refused.stdout, refused.stderr)
        assert refused.stderr.startswith("error: ")
        assert said in refused.stderr and refused.stderr.count("\n") == 1

    missing = app.manage("lint_migrations", env=NO_SQUAWK)
    assert missing.returncode == 2
    assert missing.stderr == ('error: squawk is not installed; install the lint extra: '
                              'pip install "Flask-Migrate-Tables[lint]"\n')


def test_versions_given_are_linted_whatever_the_database_ran(app):
    result, findings = lint(app, "2", "1")

    assert [(f["file"], f["line"], f["rule"]) for f in findings if f["level"] != "note"] == [
        ("sql/migration/v2.sql", 2, "adding-not-nullable-field")]
    assert result.returncode == 1


def test_lines_are_those_of_the_file_with_a_header_crlf_and_a_bom(app):
    app.write("v3.sql", "\ufeff-- migrate: no-transaction\r\n-- Adds an index.\r\n\r\n"
                        "-- and a check\r\nSELECT 1;\r\n\r\n"
                        "CREATE INDEX ix_a ON notes (text);\r\n"
                        "ALTER TABLE notes\r\n"
                        "  ALTER COLUMN text TYPE varchar(20);\r\n")
    app.set_version(3)

    result, findings = lint(app)

    assert [(f["line"], f["rule"]) for f in findings if f["level"] == "error"] == [
        (7, "require-concurrent-index-creation"), (9, "changing-column-type")]
    text = app.manage("lint_migrations")
    assert "sql/migration/v3.sql:7: error: require-concurrent-index-creation" in text.stdout
    assert "    fix: CREATE INDEX CONCURRENTLY" in text.stdout


def test_a_script_the_runner_refuses_is_an_error_of_its_own(app):
    app.write("v3.sql", "SELECT 1;\nCOMMIT;\nSELECT 2;\n")
    app.write("v4.sql", "SELECT 1;\n\nSELEC 2;\n")
    app.set_version(4)

    result, findings = lint(app)

    assert [(f["file"][-6:], f["line"], f["rule"]) for f in findings] == [
        ("v3.sql", 2, "runner"), ("v4.sql", 3, "syntax-error")]
    assert result.returncode == 1


# -- the other commands --------------------------------------------------------------------------

def test_migrate_tables_shows_lint_in_the_dry_run_and_before_the_prompt(app):
    app.write("v3.sql", "-- an index\nCREATE INDEX ix_a ON notes (text);\nSELECT 1;\n")
    app.set_version(3)

    dry = app.manage("migrate_tables", "--dry-run")

    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    at = lines.index("  line 2    [in a transaction] CREATE INDEX ix_a ON notes (text)")
    assert lines[at + 1].startswith("            lint: error require-concurrent-index-creation: ")
    assert lines[at + 2] == "  line 3    [in a transaction] SELECT 1"

    declined = app.manage("migrate_tables", input="n\n")
    assert declined.returncode == 1
    assert "Lint errors in the scripts to run" in declined.stdout
    assert re.search(r"sql/migration/v3\.sql:2: error require-concurrent-index-creation",
                     declined.stdout)
    assert declined.stdout.index("Lint errors") < declined.stdout.index("Do you want to continue")

    without = app.manage("migrate_tables", "--dry-run", env=NO_SQUAWK)
    assert without.returncode == 0 and "lint" not in without.stdout + without.stderr
    applied = app.manage("migrate_tables", "--yes", env=NO_SQUAWK)
    assert applied.returncode == 0, applied.stderr
    assert "Lint" not in applied.stdout


def test_make_migration_lints_the_file_it_wrote(app, server_url):
    env = {"PYTHONDONTWRITEBYTECODE": "1"}
    models = app.root / "notes" / "__init__.py"
    # A column type change: make_migration has no safe rewrite for it (an index it has: CONCURRENTLY).
    models.write_text(models.read_text().replace(
        "db.Column(db.Text, nullable=False)", "db.Column(db.String(100), nullable=False)"))

    skipped = app.manage("make_migration", "-m", "index", "--scratch-url", server_url,
                         env=dict(env, **NO_SQUAWK))
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert 'Lint skipped: squawk is not installed (pip install "Flask-Migrate-Tables[lint]")' in skipped.stdout
    (written,) = app.migration_dir.glob("v3_*.sql")
    written.unlink()

    made = app.manage("make_migration", "-m", "index", "--scratch-url", server_url, env=env)

    # The file is written, and its lint error makes the command exit 1 naming the rule.
    assert made.returncode == 1, made.stdout + made.stderr
    assert "lint finds 1 error in it (changing-column-type)" in made.stderr
    assert "Lint (squawk " in made.stdout
    match = re.search(r"  sql/migration/v3_index\.sql:(\d+): error: changing-column-type",
                      made.stdout)
    assert match, made.stdout
    line = app.migration_dir.joinpath("v3_index.sql").read_text().splitlines()[int(match.group(1)) - 1]
    assert line.startswith('ALTER TABLE "public"."notes" ALTER COLUMN "text" TYPE character varying(100)')
    assert made.stdout.index("Lint (") < made.stdout.index("__db_version__ = 3")


def test_the_flask_command_has_the_same_options(flask_cli, database):  # noqa: F811
    from myapp import __db_version__
    from flask_migrate_tables import Migrator
    from flask_migrate_tables.cli import make_cli
    from flask_migrate_tables.commands import LintMigrations
    from myapp.models import Version, db

    group = make_cli(Migrator(db, Version, __db_version__))
    assert {opt for param in group.commands["lint-migrations"].params for opt in param.opts} == {
        flag for option in LintMigrations.option_list for flag in option.args}

    result = flask_cli("lint-migrations", "--json", "--all")
    assert result.returncode == 0, result.stderr
    assert {f["file"] for f in json.loads(result.stdout)} <= {
        "sql/migration/v%d.sql" % v for v in range(1, __db_version__ + 1)}
    refused = flask_cli("lint-migrations", "1", "--all")
    assert refused.returncode == 2
    assert refused.stderr.strip() == "error: give versions or --all, not both"
