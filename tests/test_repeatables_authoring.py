"""Repeatable scripts in make_migration, check_migrations and drift, through `python manage.py`.

The sample app (notes, version 2) with sql/migration/repeatable/ files; the scratch databases
on the test server (--scratch-url), none left afterwards (test_authoring's fixture).
"""
import json

from tests.test_authoring import NOTE_TEXT, edit_models, manage, scratch_url  # noqa: F401

VIEW = "CREATE OR REPLACE VIEW long_notes AS SELECT id, text FROM notes WHERE length(text) > 100"
# The same view made by the models too (a DDL event), as an app may have it.
DDL_EVENT = ("\n\nfrom sqlalchemy import DDL, event\n"
             "event.listen(Note.__table__, \"after_create\", DDL(\"%s\"))\n" % VIEW)
ON_VIEW = "CREATE OR REPLACE VIEW recent_long_notes AS SELECT id FROM long_notes WHERE id > 10;\n"


def with_repeatables(app, files):
    folder = app.migration_dir / "repeatable"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)


def add_ddl_event(app):
    path = app.root / "notes" / "__init__.py"
    path.write_text(path.read_text().replace("\n\ndef create_app", DDL_EVENT + "\n\ndef create_app"))


def test_make_migration_leaves_out_what_a_repeatable_defines_and_writes_the_model_change(
        sample_app, scratch_url):  # noqa: F811
    with_repeatables(sample_app, {"a_recent.sql": ON_VIEW, "b_long.sql": VIEW + ";\n"})
    add_ddl_event(sample_app)
    edit_models(sample_app, NOTE_TEXT, NOTE_TEXT + "    email = db.Column(db.String(255))\n")

    made = manage(sample_app, "make_migration", "-m", "email", "--scratch-url", scratch_url)

    assert made.returncode == 0, made.stdout + made.stderr
    text = sample_app.migration_dir.joinpath("v3_email.sql").read_text()
    assert 'ALTER TABLE "public"."notes" ADD COLUMN "email" character varying(255);' in text
    assert "long_notes" not in text and "WARNING" not in text
    sample_app.set_version(3)
    checked = manage(sample_app, "check_migrations", "--scratch-url", scratch_url)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "OK: the migrations up to version 3 give exactly the models' schema" in checked.stdout


def test_check_migrations_builds_the_repeatables_after_the_scripts(sample_app, scratch_url):  # noqa: F811
    add_ddl_event(sample_app)
    without = manage(sample_app, "check_migrations", "--scratch-url", scratch_url)
    assert without.returncode == 1
    assert "long_notes" in without.stdout

    with_repeatables(sample_app, {"long.sql": VIEW + ";\n"})
    checked = manage(sample_app, "check_migrations", "--scratch-url", scratch_url)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_failing_or_cyclic_repeatable_stops_the_build_with_one_line(sample_app, scratch_url):  # noqa: F811
    with_repeatables(sample_app, {"bad.sql": "CREATE OR REPLACE VIEW v AS SELECT nope FROM notes;\n"})
    failed = manage(sample_app, "check_migrations", "--scratch-url", scratch_url)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr
    assert "repeatable/bad.sql: line 1: SQLSTATE 42703" in failed.stderr

    (sample_app.migration_dir / "repeatable" / "bad.sql").unlink()
    with_repeatables(sample_app, {"a.sql": "CREATE OR REPLACE VIEW a AS SELECT * FROM b;\n",
                                  "b.sql": "CREATE OR REPLACE VIEW b AS SELECT * FROM a;\n"})
    cycle = manage(sample_app, "make_migration", "--scratch-url", scratch_url)
    assert cycle.returncode == 2, cycle.stdout + cycle.stderr
    assert "in a cycle: a.sql -> b.sql -> a.sql" in cycle.stderr
    assert sorted(p.name for p in sample_app.migration_dir.glob("v*.sql")) == ["v1.sql", "v2.sql"]


def test_drift_counts_what_the_repeatables_define_as_the_migrations(sample_app, scratch_url):  # noqa: F811
    assert sample_app.manage("migrate_tables", "--yes").returncode == 0
    with_repeatables(sample_app, {"long.sql": VIEW + ";\n", "recent.sql": ON_VIEW})
    sample_app.database.execute(VIEW + ";" + ON_VIEW)  # as migrate_tables runs them

    clean = sample_app.manage("migrate_status", "--drift", "--json", "--scratch-url", scratch_url)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert json.loads(clean.stdout)["drift"]["differences"] == []

    sample_app.database.execute("CREATE OR REPLACE VIEW recent_long_notes AS "
                                "SELECT id FROM long_notes WHERE id > 20")
    changed = sample_app.manage("migrate_status", "--drift", "--json", "--scratch-url", scratch_url)
    differences = json.loads(changed.stdout)["drift"]["differences"]
    assert any("recent_long_notes" in line for line in differences), differences
    assert not any(line.split(":")[0].endswith(" long_notes") for line in differences), differences
