"""Talking to the test databases directly, and reading their schema from the catalog."""
import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from importlib.metadata import version as _installed_version

import psycopg2
from sqlalchemy.engine.url import make_url

from flask_migrate_tables.pg.connection import connect_params as _connect_params

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

RUNNER_TABLES = ("version_history",)

# The installed Flask's major version: Flask 0.12 cannot call an app factory from the flask command.
FLASK_MAJOR = int(_installed_version("flask").split(".")[0])


def connect_params(url):
    return _connect_params(make_url(url))


@contextmanager
def fresh_databases(server_url, count=1, prefix="test"):
    """`count` fresh, empty databases on the server of `server_url` (made and dropped side
    by side), as a list of Database; dropped however the block ends."""
    maintenance = Database(server_url)
    names = ["%s_%s" % (prefix, uuid.uuid4().hex[:12]) for _ in range(count)]

    def each(statement):
        with ThreadPoolExecutor(max_workers=count) as pool:
            for done in [pool.submit(maintenance.execute, statement % name) for name in names]:
                done.result()

    try:
        each('CREATE DATABASE "%s"')
        yield [Database(maintenance.url_for(name)) for name in names]
    finally:
        each('DROP DATABASE IF EXISTS "%s" WITH (FORCE)')


def url_with(url, **parts):
    """`url` (text) with some of its parts (username, password, database, ...) replaced, as text
    that shows the password."""
    url = make_url(url)
    if hasattr(url, "set"):
        return url.set(**parts).render_as_string(hide_password=False)
    for name, value in parts.items():  # SQLAlchemy 1.3: URLs are mutable and str() shows it
        setattr(url, name, value)
    return str(url)


class Database:
    """One database of the test server, used over short autocommit connections."""

    def __init__(self, url):
        self.url = url
        self.name = make_url(url).database

    def url_for(self, name):
        return url_with(self.url, database=name)

    def connect(self):
        connection = psycopg2.connect(**connect_params(self.url))
        connection.autocommit = True
        return connection

    def execute(self, statement, args=None):
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement, args)
        finally:
            connection.close()

    def query(self, statement, args=None):
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement, args)
                return cursor.fetchall()
        finally:
            connection.close()

    def scalar(self, statement, args=None):
        rows = self.query(statement, args)
        return rows[0][0] if rows else None

    def tables(self):
        return {row[0] for row in self.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}

    def version(self):
        if "version" not in self.tables():
            return None
        return [row[0] for row in self.query("SELECT version FROM version")]

    def history(self):
        if "version_history" not in self.tables():
            return []
        return self.query("SELECT version, filename, outcome, mode, steps_done, note"
                          " FROM version_history ORDER BY id")

    def catalog(self, exclude=RUNNER_TABLES):
        """The schema as PostgreSQL's catalog describes it, in a comparable form.

        Columns are compared by name, not position: a migration can only
        append a column, while a model may list it anywhere.
        """
        excluded = list(exclude) or [""]
        relations = self.query(
            "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r','v','m','S','i','p')"
            " AND NOT c.relname LIKE ANY (SELECT unnest(%s::text[]) || '%%')"
            " ORDER BY 1", (excluded,))
        columns = self.query(
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
            " pg_get_expr(d.adbin, d.adrelid)"
            " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r','v','m','p') AND a.attnum > 0"
            " AND NOT a.attisdropped AND NOT c.relname = ANY (%s) ORDER BY 1, 2", (excluded,))
        constraints = self.query(
            "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k"
            " JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND NOT c.relname = ANY (%s) ORDER BY 1, 2", (excluded,))
        indexes = self.query(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            " AND NOT tablename = ANY (%s) ORDER BY 1", (excluded,))
        enums = self.query(
            "SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_type t"
            " JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY 1 ORDER BY 1")
        views = self.query(
            "SELECT viewname, pg_get_viewdef(viewname::regclass) FROM pg_views"
            " WHERE schemaname = 'public' ORDER BY 1")
        functions = self.query(
            "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' ORDER BY 1")
        invalid = self.query(
            "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid")
        return {"relations": relations, "columns": columns, "constraints": constraints,
                "indexes": indexes, "enums": enums, "views": views, "functions": functions,
                "invalid_indexes": invalid}


# -- scripts that count their own applications ------------------------------------

COUNTER = "CREATE TABLE applications (version integer NOT NULL);\n"
# A script sleeps only while the table `hold` has a row, so a test can stop it mid-way
# and let the same script run quickly afterwards.
HOLD = "CREATE TABLE hold (id integer);\n"
SLEEP_WHILE_HELD = "SELECT pg_sleep(CASE WHEN EXISTS (SELECT 1 FROM hold) THEN 60 ELSE 0 END);\n"


def counted(version, body=""):
    return "INSERT INTO applications VALUES (%d);\n%s" % (version, body)


def applications(database):
    return dict(database.query("SELECT version, count(*) FROM applications GROUP BY 1 ORDER BY 1"))


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in %ss" % timeout)


def sleeping(database):
    return lambda: database.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(CASE%' AND state = 'active'"
        " AND pid <> pg_backend_pid() AND datname = current_database()") > 0  # not other tests'


def kill_while_sleeping(app):
    """Start migrate_tables, SIGKILL it while a script sleeps, and let that script run quickly next time."""
    process = app.start("migrate_tables", "--yes")
    wait_for(sleeping(app.database))
    process.send_signal(signal.SIGKILL)
    process.wait()
    app.database.execute("DELETE FROM hold")


def succeeded(result):
    """The run exited 0 with nothing on stderr."""
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert result.stderr == "", result.stderr
    return result


def failed_with_one_line(result, status):
    """The run ended with `status` and exactly one `error: ...` line on stderr; that line."""
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]
