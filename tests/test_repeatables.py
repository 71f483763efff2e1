"""Repeatable scripts at run time (sql/migration/repeatable/NAME.sql), through manage.py on a real server.

What is due (new, changed, object missing), each in its own transaction with its history
row (mode `repeatable`), after the versioned scripts; views that cannot be replaced made
again with their dependents; failures; concurrency; what migrate_status and --dry-run say.
"""
import json

import pytest

from tests.helpers import fresh_databases, wait_for

TABLE = "CREATE TABLE items (id integer PRIMARY KEY, name text, price numeric);\n" \
        "INSERT INTO items VALUES (1, 'a', 10), (2, 'b', 20);\n"


@pytest.fixture
def app(sample_app):
    """The sample app with v1 (a table) and an empty repeatable folder."""
    sample_app.clear_scripts()
    sample_app.write("v1.sql", TABLE)
    sample_app.set_version(1)
    (sample_app.migration_dir / "repeatable").mkdir()
    return sample_app


def write(app, name, text):
    (app.migration_dir / "repeatable" / name).write_text(text)


def migrate(app, *args):
    result = app.manage("migrate_tables", "--yes", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def runs(app):
    """{filename: [outcome, ...]} of the repeatable scripts' history rows, oldest first."""
    found = {}
    for filename, outcome in app.database.query(
            "SELECT filename, outcome FROM version_history WHERE mode = 'repeatable' ORDER BY id"):
        found.setdefault(filename, []).append(outcome)
    return found


def columns(app, view):
    return [row[0] for row in app.database.query(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 ORDER BY attnum",
        (view,))]


def test_view_on_view_on_table_in_dependency_order_not_the_alphabet(app):
    write(app, "a_top.sql", "CREATE OR REPLACE VIEW top AS SELECT id, name FROM middle WHERE id > 1;\n")
    write(app, "b_middle.sql", "CREATE OR REPLACE VIEW middle AS SELECT id, name FROM base_view;\n")
    write(app, "c_base.sql", "CREATE OR REPLACE VIEW base_view AS SELECT id, name FROM items;\n")
    out = migrate(app)
    assert "(1 script and 3 repeatable scripts)" in out
    order = [line.split()[1] for line in out.splitlines() if line.startswith("Running ")]
    assert order == ["repeatable/c_base.sql", "repeatable/b_middle.sql", "repeatable/a_top.sql"]
    assert app.database.query("SELECT id, name FROM top") == [(2, "b")]
    assert runs(app) == {"repeatable/c_base.sql": ["applied"], "repeatable/b_middle.sql": ["applied"],
                         "repeatable/a_top.sql": ["applied"]}
    # The versioned books are not confused: at version 1, nothing pending, nothing due, no lock.
    again = migrate(app)
    assert "DB is at correct version 1" in again and "Running" not in again
    status = json.loads(app.manage("migrate_status", "--json").stdout)
    assert status["up_to_date"] and status["repeatables"] == [] and status["warnings"] == []


def test_a_changed_file_runs_again_an_unchanged_one_does_not(app):
    write(app, "cheap.sql", "CREATE OR REPLACE VIEW cheap AS SELECT id FROM items WHERE price < 15;\n")
    write(app, "names.sql", "CREATE OR REPLACE VIEW names AS SELECT name FROM items;\n")
    migrate(app)
    write(app, "cheap.sql", "CREATE OR REPLACE VIEW cheap AS SELECT id FROM items WHERE price < 25;\n")
    out = migrate(app)
    assert "Running repeatable/cheap.sql (changed)" in out and "names.sql" not in out
    assert "Ran 1 repeatable script" in out
    assert app.database.query("SELECT id FROM cheap ORDER BY id") == [(1,), (2,)]
    assert runs(app) == {"repeatable/cheap.sql": ["applied", "applied"],
                         "repeatable/names.sql": ["applied"]}


def test_removed_column_with_dependents_with_and_without_a_file(app):
    write(app, "base.sql", "CREATE OR REPLACE VIEW base AS SELECT id, name, price FROM items;\n"
                           "COMMENT ON COLUMN base.name IS 'the name';\n")
    write(app, "with_file.sql", "CREATE OR REPLACE VIEW with_file AS SELECT id, name FROM base;\n"
                                "GRANT SELECT ON with_file TO PUBLIC;\n")
    migrate(app)
    # A view no file makes, on top of both, with a grant and comments.
    app.database.execute(
        "CREATE VIEW by_hand AS SELECT w.id, b.name AS label FROM with_file w JOIN base b USING (id);"
        " GRANT SELECT ON by_hand TO PUBLIC; COMMENT ON VIEW by_hand IS 'made by hand';"
        " COMMENT ON COLUMN by_hand.label IS 'its label'")
    write(app, "base.sql", "CREATE OR REPLACE VIEW base AS SELECT id, name FROM items;\n"
                           "COMMENT ON COLUMN base.name IS 'the name';\n")
    out = migrate(app)
    assert "dropped and made again" in out and "public.by_hand" in out
    assert columns(app, "base") == ["id", "name"]
    assert columns(app, "with_file") == ["id", "name"]
    assert columns(app, "by_hand") == ["id", "label"]
    assert app.database.query("SELECT * FROM by_hand ORDER BY id") == [(1, "a"), (2, "b")]
    assert app.database.scalar("SELECT obj_description('by_hand'::regclass, 'pg_class')") == "made by hand"
    assert app.database.scalar("SELECT col_description('by_hand'::regclass, 2)") == "its label"
    assert app.database.scalar("SELECT col_description('base'::regclass, 2)") == "the name"
    for view in ("with_file", "by_hand"):  # SELECT granted to PUBLIC, kept
        assert "=r/" in app.database.scalar("SELECT relacl::text FROM pg_class WHERE relname = %s", (view,))
    assert runs(app)["repeatable/base.sql"] == ["applied", "applied"]


def test_a_view_dropped_by_cascade_is_made_again_though_its_file_did_not_change(app):
    write(app, "priced.sql", "CREATE OR REPLACE VIEW priced AS SELECT id, price FROM items;\n")
    migrate(app)
    app.write("v2.sql", "DROP TABLE items CASCADE;\n" + TABLE)
    app.set_version(2)
    out = migrate(app)
    assert "Running repeatable/priced.sql (object missing: view priced)" in out
    assert app.database.query("SELECT id FROM priced ORDER BY id") == [(1,), (2,)]
    assert runs(app) == {"repeatable/priced.sql": ["applied", "applied"]}


def test_a_cycle_is_refused_before_anything_runs(app):
    write(app, "one.sql", "CREATE OR REPLACE VIEW one AS SELECT * FROM two;\n")
    write(app, "two.sql", "CREATE OR REPLACE VIEW two AS SELECT * FROM one;\n")
    result = app.manage("migrate_tables", "--yes")
    assert result.returncode != 0
    assert "cycle" in result.stderr and "one.sql" in result.stderr and "two.sql" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert app.database.tables() == set()  # not even v1 ran


def test_a_failing_file_is_one_line_rolled_back_recorded_and_runs_after_a_fix(app):
    write(app, "a_good.sql", "CREATE OR REPLACE VIEW good AS SELECT id FROM items;\n")
    write(app, "bad.sql", "CREATE OR REPLACE VIEW half AS SELECT id FROM items;\n\n"
                          "CREATE OR REPLACE VIEW bad AS SELECT nope FROM items;\n")
    result = app.manage("migrate_tables", "--yes")
    assert result.returncode == 1, result.stdout + result.stderr
    error = result.stderr.strip().splitlines()
    assert len(error) == 1 and "repeatable/bad.sql: line 3: SQLSTATE 42703" in error[0], error
    assert app.database.version() == [1]  # the versioned script stays applied
    views = {row[0] for row in app.database.query("SELECT viewname FROM pg_views WHERE schemaname = 'public'")}
    assert views == {"good"}  # bad.sql's first view was rolled back with it
    assert runs(app) == {"repeatable/a_good.sql": ["applied"], "repeatable/bad.sql": ["failed"]}
    recorded = app.database.scalar("SELECT error FROM version_history WHERE outcome = 'failed'")
    assert "SQLSTATE 42703" in recorded
    write(app, "bad.sql", "CREATE OR REPLACE VIEW bad AS SELECT id AS nope FROM items;\n")
    out = migrate(app)
    assert "Running repeatable/bad.sql" in out and "good.sql" not in out
    assert runs(app)["repeatable/bad.sql"] == ["failed", "applied"]


def test_concurrent_runs_apply_each_file_once(app):
    write(app, "slow.sql", "SELECT pg_sleep(1);\nCREATE OR REPLACE VIEW slow AS SELECT id FROM items;\n")
    write(app, "fast.sql", "CREATE OR REPLACE VIEW fast AS SELECT name FROM items;\n")
    first, second = app.start("migrate_tables", "--yes"), app.start("migrate_tables", "--yes")
    for process in (first, second):
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, out + err
    assert runs(app) == {"repeatable/fast.sql": ["applied"], "repeatable/slow.sql": ["applied"]}
    assert app.database.version() == [1]


def test_a_function_and_a_trigger_that_uses_it(app):
    write(app, "audit_trigger.sql",
          "DROP TRIGGER IF EXISTS items_upper ON items;\n"
          "CREATE TRIGGER items_upper BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION upper_name();\n")
    write(app, "audit_function.sql",
          "CREATE OR REPLACE FUNCTION upper_name() RETURNS trigger LANGUAGE plpgsql AS $$\n"
          "BEGIN NEW.name := upper(NEW.name); RETURN NEW; END $$;\n")
    out = migrate(app)
    order = [line.split()[1] for line in out.splitlines() if line.startswith("Running ")]
    assert order == ["repeatable/audit_function.sql", "repeatable/audit_trigger.sql"]
    app.database.execute("INSERT INTO items VALUES (3, 'c', 1)")
    assert app.database.scalar("SELECT name FROM items WHERE id = 3") == "C"
    app.database.execute("DROP TRIGGER items_upper ON items")
    out = migrate(app)
    assert "Running repeatable/audit_trigger.sql (object missing: trigger items_upper)" in out
    assert "audit_function.sql" not in out


def test_status_json_and_dry_run_list_what_would_run(app):
    write(app, "b.sql", "CREATE OR REPLACE VIEW b AS SELECT id FROM a;\n")
    write(app, "a.sql", "CREATE OR REPLACE VIEW a AS SELECT id FROM items;\n")
    migrate(app)
    write(app, "a.sql", "CREATE OR REPLACE VIEW a AS SELECT id FROM items WHERE id > 0;\n")
    write(app, "c.sql", "CREATE OR REPLACE VIEW c AS SELECT 1 AS one;\n")
    app.database.execute("DROP VIEW b")
    status = json.loads(app.manage("migrate_status", "--json").stdout)
    assert status["repeatables"] == [
        {"file": "repeatable/a.sql", "reason": "changed", "object": None},
        {"file": "repeatable/b.sql", "reason": "object missing", "object": "view b"},
        {"file": "repeatable/c.sql", "reason": "new", "object": None}]
    assert not status["up_to_date"]
    text = app.manage("migrate_status").stdout
    assert "repeatable/b.sql (object missing: view b)" in text
    history = [line.split() for line in text.splitlines() if "applied" in line.split()]
    assert [(cells[2], cells[3]) for cells in history] == [
        ("R", "repeatable/b.sql"), ("R", "repeatable/a.sql"), ("v1", "v1.sql")], text
    dry = app.manage("migrate_tables", "--dry-run").stdout
    lines = dry.splitlines()
    start = lines.index("Then these repeatable scripts would run, in order, each in its own transaction:")
    assert lines[start + 1:start + 4] == ["repeatable/a.sql (changed)",
                                          "repeatable/b.sql (object missing: view b)",
                                          "repeatable/c.sql (new)"]
    assert runs(app) == {"repeatable/a.sql": ["applied"], "repeatable/b.sql": ["applied"]}  # unchanged
    prompt = app.manage("migrate_tables", input="n\n")
    assert "(0 scripts and 3 repeatable scripts)" in prompt.stdout


def test_to_below_the_target_runs_no_repeatable(app):
    app.write("v2.sql", "CREATE TABLE more (id integer);\n")
    app.set_version(2)
    write(app, "v.sql", "CREATE OR REPLACE VIEW v AS SELECT id FROM items;\n")
    out = migrate(app, "--to", "1")
    assert "Running" not in out and runs(app) == {}
    assert app.manage("migrate_tables", "--dry-run", "--to", "1").stdout.count("repeatable/") == 0
    out = migrate(app)
    assert "Running repeatable/v.sql (new)" in out
    wait_for(lambda: runs(app) == {"repeatable/v.sql": ["applied"]})


def test_a_fleet_database_at_the_target_with_a_repeatable_due_is_not_nothing_to_do(app, server_url,
                                                                                   tmp_path):
    write(app, "v.sql", "CREATE OR REPLACE VIEW v AS SELECT id FROM items;\n")
    with fresh_databases(server_url, 2, prefix="fleet") as databases:
        listing = tmp_path / "fleet.txt"
        listing.write_text("\n".join(d.url for d in databases) + "\n")
        first = app.manage("migrate_tables", "--databases", listing, "--yes")
        assert first.returncode == 0, first.stdout + first.stderr
        again = app.manage("migrate_tables", "--databases", listing, "--yes")
        assert "0 migrated, 2 already at version 1" in again.stdout, again.stdout + again.stderr
        databases[1].execute("DROP VIEW v")
        dry = app.manage("migrate_tables", "--databases", listing, "--dry-run")
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert "at version 1; would run repeatable/v.sql" in dry.stdout, dry.stdout
        assert "2 databases: 1 would be migrated" in dry.stdout, dry.stdout
        assert databases[1].scalar("SELECT to_regclass('v')") is None  # the dry run changed nothing
        third = app.manage("migrate_tables", "--databases", listing, "--yes")
        assert third.returncode == 0, third.stdout + third.stderr
        assert "applied repeatable/v.sql" in third.stdout, third.stdout
        assert "(0 scripts and 1 repeatable script)" in third.stdout
        assert "1 migrated, 1 already at version 1" in third.stdout, third.stdout
        counts = [d.scalar("SELECT count(*) FROM version_history WHERE mode = 'repeatable'")
                  for d in databases]
        assert counts == [1, 2]
        assert databases[1].query("SELECT id FROM v ORDER BY id") == [(1,), (2,)]
