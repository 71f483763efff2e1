"""Linting migration scripts with squawk, knowing what this runner already does.

`python manage.py lint_migrations [N ...] [--all] [--json]` runs squawk (the
`squawk-cli` wheel, the `lint` extra) over the scripts the database has not run
yet (read like migrate_status reads them), or over the versions given, or over
every script (`--all`, and when no database can be reached). Each finding has
a file, a line (1-based, in the file as it is on disk), squawk's rule, a level,
squawk's one-line explanation and a safe rewrite that fits this runner.

Levels. A rule whose statement locks or rewrites a table that may be large
(an index built without CONCURRENTLY, a column type change, a constraint
validated under a lock, ...) is an error. With a database at hand the table is
weighed (pg_class.reltuples, pg_total_relation_size): under
--small-table-rows rows (default 10,000) the finding is a note, above it an
error with the table's size beside it; a table never analyzed (reltuples -1)
keeps its level. A rule about running code that may still use what a script
renames or drops is a warning, a style rule (bigint, identity, text,
timestamptz) a note, a rule whose statement loses data or always fails
(DROP DATABASE, TRUNCATE ... CASCADE) an error. Exit status 1 when an error
remains, 0 with warnings and notes only, 2 for bad usage or no squawk.

Findings this runner makes moot are dropped, each for one reason:

- `require-timeout-settings`, `require-lock-timeout`, `require-statement-timeout`:
  the runner sets lock_timeout before every step (`--ddl-lock-timeout`, 2 s by
  default) and retries a step whose lock was not granted in time
  (`--ddl-retries`), and sets statement_timeout too (`--statement-timeout`,
  or a script's `-- migrate: statement-timeout=` header); see lockwait.py.
- `prefer-robust-stmts`: it asks for IF NOT EXISTS so that a half-applied
  script can run again; the runner runs each script in one transaction, rolled
  back whole when it fails, and a script in steps is recorded step by step.
- `transaction-nesting`, `ban-concurrent-index-creation-in-transaction`,
  `ban-uncommitted-transaction`: the runner gives each script its own
  transaction and runs every statement that cannot run in one (CREATE INDEX
  CONCURRENTLY, ...) on its own outside it (statements.plan_script). A BEGIN or
  COMMIT inside a script is refused by the runner before anything runs; lint
  reports that refusal itself (rule `runner`).
- `syntax-error`: PostgreSQL's own parser (pglast) reads every script; squawk
  has a parser of its own, so its word is dropped and PostgreSQL's error is
  reported instead (rule `syntax-error`, from pglast).
- Locking and compatibility findings on a table created earlier in the same
  script, or in an earlier script of this lint run that the database has not
  run yet (known only with a database at hand): no one uses that table yet,
  and CONCURRENTLY on an empty table buys nothing.

Squawk runs with `--assume-in-transaction` (the runner's own transaction per
script), except for a script with the `-- migrate: no-transaction` header, and
with the server's version (`--pg-version`) when a database is at hand. A
`.squawk.toml` in the working directory still applies (excluded rules, ...).

`-- lint: ignore <rule>[, <rule> ...]` on the line before a statement (or in the
comment lines right above it) silences those rules for that statement.

make_migration lints the file it wrote (without a database: no sizes), and
migrate_tables lists error-level findings before its prompt and shows findings
under each statement of a dry run; there a missing squawk or a failing lint is
skipped silently: lint never stands in a deploy's way.
"""
import bisect
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections import namedtuple

from ..errors import (EXIT_FAILED, EXIT_OK, CheckFailed, ConfigurationError, DatabaseFailure,
                     InvalidScripts, MigrationError, ScriptFailed, UsageError)
from ..console.report import shown_path
from ..source.files import discover, read_script
from ..source.statements import has_no_transaction_header, plan_script, quoted_name

ERROR, WARNING, NOTE = "error", "warning", "note"
LEVELS = (ERROR, WARNING, NOTE)
DEFAULT_SMALL_TABLE_ROWS = 10000
INSTALL = 'pip install -e ".[lint]"'
SQUAWK_ENV = "SQUAWK_BIN"  # the squawk binary to use, instead of the one found next to Python
RULE_PAGE = "https://squawkhq.com/docs/%s"

# What a rule is about decides its level (and whether a table's size and newness matter).
LOCKING = "locking"     # locks or rewrites an existing table: error, a note on a small table
BREAKING = "breaking"   # running code may still use what is renamed or dropped: warning
DANGER = "danger"       # loses data or always fails: error
STYLE = "style"         # a type or naming choice: note
OTHER = "other"         # anything else, and rules this module does not know yet: warning
LEVEL = {LOCKING: ERROR, BREAKING: WARNING, DANGER: ERROR, STYLE: NOTE, OTHER: WARNING}

_OUTSIDE = "the runner runs it on its own, outside the script's transaction"
_LATER = ("VALIDATE CONSTRAINT in a later script (or under `-- migrate: no-transaction`, "
          "where each statement commits on its own)")
_USING_INDEX = ("CREATE UNIQUE INDEX CONCURRENTLY ix ON t (col); then ALTER TABLE t ADD CONSTRAINT "
                "c %s USING INDEX ix")
_LATER_RELEASE = "stop using it in the code first; %s in a later release"

# rule: (kind, the safe rewrite with this runner)
RULES = {
    "require-concurrent-index-creation": (LOCKING, "CREATE INDEX CONCURRENTLY ...; " + _OUTSIDE),
    "require-concurrent-index-deletion": (LOCKING, "DROP INDEX CONCURRENTLY ...; " + _OUTSIDE),
    "require-concurrent-reindex": (LOCKING, "REINDEX ... CONCURRENTLY (PostgreSQL 12+); " + _OUTSIDE),
    "require-concurrent-partition-detach": (
        LOCKING, "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+); " + _OUTSIDE),
    "adding-field-with-default": (
        LOCKING, "add the column without the volatile default, SET DEFAULT for new rows, "
                 "then backfill old rows in batches in a later script"),
    "changing-column-type": (
        LOCKING, "add a column of the new type, fill it (a trigger for new writes, batches for "
                 "old rows), move the code to it, then drop the old column"),
    "adding-foreign-key-constraint": (
        LOCKING, "ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID here; " + _LATER),
    "constraint-missing-not-valid": (LOCKING, "add the constraint NOT VALID here; " + _LATER),
    "adding-not-nullable-field": (
        LOCKING, "ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; in a later script VALIDATE "
                 "CONSTRAINT c, then SET NOT NULL (PostgreSQL 12+ then skips the scan)"),
    "disallowed-unique-constraint": (LOCKING, _USING_INDEX % "UNIQUE"),
    "adding-serial-primary-key-field": (LOCKING, _USING_INDEX % "PRIMARY KEY"),
    "adding-primary-key-constraint": (LOCKING, _USING_INDEX % "PRIMARY KEY"),
    "prefer-repack": (LOCKING, "rebuild the table with pg_repack instead of VACUUM FULL or CLUSTER"),
    "renaming-column": (
        BREAKING, "add the new column, write both, backfill, move the readers, then drop the old "
                  "one in a later release"),
    "renaming-table": (
        BREAKING, "rename it in a release where no running code uses the old name (or leave a "
                  "view under the old name meanwhile)"),
    "ban-drop-column": (BREAKING, _LATER_RELEASE % "drop the column"),
    "ban-drop-table": (BREAKING, _LATER_RELEASE % "drop the table"),
    "ban-drop-not-null": (BREAKING, "make sure every reader copes with NULL before dropping NOT NULL"),
    "adding-required-field": (
        BREAKING, "give the column a non-volatile DEFAULT, or add it nullable, backfill, then "
                  "SET NOT NULL"),
    "ban-drop-database": (DANGER, "never drop a database from a migration"),
    "ban-truncate-cascade": (DANGER, "TRUNCATE exactly the tables you mean, without CASCADE"),
    "ban-duplicate-column-assignments": (DANGER, "assign each column once (PostgreSQL refuses it)"),
    "prefer-bigint-over-int": (STYLE, "bigint (bigserial), so the ids do not run out"),
    "prefer-bigint-over-smallint": (STYLE, "bigint, so the values do not run out"),
    "prefer-identity": (STYLE, "bigint GENERATED ALWAYS AS IDENTITY instead of serial"),
    "prefer-text-field": (STYLE, "text with a CHECK (length(col) <= n) constraint"),
    "prefer-timestamp-tz": (STYLE, "timestamptz"),
    "prefer-timestamptz": (STYLE, "timestamptz"),
    "ban-char-field": (STYLE, "text (or varchar): char(n) pads with spaces"),
    "require-enum-value-ordering": (STYLE, "say where the value goes: ADD VALUE ... BEFORE/AFTER"),
    "identifier-too-long": (OTHER, "keep names within 63 bytes: PostgreSQL cuts longer ones"),
    "ban-create-domain-with-constraint": (OTHER, "a CHECK constraint on the table's column instead"),
    "ban-alter-domain-with-add-constraint": (OTHER, "a CHECK constraint on the table's column instead"),
}

# rule: why this runner makes it moot (the module docstring and README say more)
DROPPED = {
    "require-timeout-settings": "the runner sets lock_timeout and statement_timeout for every step",
    "require-lock-timeout": "the runner sets lock_timeout for every step, and retries",
    "require-statement-timeout": "the runner sets statement_timeout for every step",
    "prefer-robust-stmts": "each script runs in one transaction, or is recorded step by step",
    "transaction-nesting": "the runner gives each script its own transaction",
    "ban-concurrent-index-creation-in-transaction": "the runner runs CONCURRENTLY outside one",
    "ban-uncommitted-transaction": "the runner gives each script its own transaction",
    "syntax-error": "PostgreSQL's own parser (pglast) reads the scripts",
}


class SquawkMissing(UsageError):
    """squawk is not installed (exit status 2)."""


class LintFailed(ConfigurationError):
    """squawk itself failed, or its output could not be read (exit status 2)."""


Finding = namedtuple("Finding", "file line rule level message fix statement_line")
Finding.__new__.__defaults__ = (None,)
JSON_KEYS = ("file", "line", "rule", "level", "message", "fix")


def finding_dict(finding):
    return {key: getattr(finding, key) for key in JSON_KEYS}


def kind_of(rule):
    if rule in RULES:
        return RULES[rule][0]
    if rule.startswith(("ban-drop-", "renaming-")):
        return BREAKING
    return OTHER


def fix_for(rule, squawk_help=None):
    if rule in RULES:
        return RULES[rule][1]
    return (squawk_help or "").strip() or "see %s" % (RULE_PAGE % rule)


# -- squawk --------------------------------------------------------------------------------

def find_squawk():
    """The squawk binary: $SQUAWK_BIN, else the one installed beside this Python, else PATH's."""
    name = "squawk.exe" if os.name == "nt" else "squawk"
    if SQUAWK_ENV in os.environ:
        candidates = [os.environ[SQUAWK_ENV]]
    else:
        candidates = [os.path.join(os.path.dirname(sys.executable), name),
                      os.path.join(sysconfig.get_path("scripts") or "", name)]
        try:  # where pip put the wheel's binary (a --user install, a different scripts folder)
            from importlib.metadata import distribution
            candidates += [str(entry.locate()) for entry in distribution("squawk-cli").files or ()
                           if entry.name == name]
        except Exception:
            pass
        candidates.append(shutil.which(name) or "")
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise SquawkMissing("squawk is not installed; install the lint extra: %s" % INSTALL)


def squawk_version(binary):
    try:
        output = subprocess.run([binary, "--version"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, universal_newlines=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return "squawk"
    return output.strip() or "squawk"


def _run_squawk(binary, paths, in_transaction, pg_version, timeout):
    """squawk's JSON findings for some files (one run)."""
    command = [binary, "--reporter", "json",
               "--assume-in-transaction" if in_transaction else "--no-assume-in-transaction"]
    if pg_version:
        command.append("--pg-version=%s" % pg_version)
    try:
        done = subprocess.run(command + paths, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              encoding="utf-8", errors="replace", timeout=timeout)
    except (OSError, subprocess.SubprocessError) as error:
        raise LintFailed("squawk did not run: %s" % error)
    try:
        findings = json.loads(done.stdout or "null")
        if not isinstance(findings, list):
            raise ValueError
    except ValueError:
        said = (done.stderr.strip().splitlines() or ["exit status %d" % done.returncode])[0]
        raise LintFailed("squawk failed: %s" % said)
    return findings


# -- what each statement touches ------------------------------------------------------------

Analysed = namedtuple("Analysed", "start line table new ignores")
_IGNORE = re.compile(r"--\s*lint:\s*ignore\b(.*)", re.IGNORECASE)


def _key(schema, name):
    """How a table is compared: schema-qualified unless it is public (or unqualified)."""
    return name if schema in (None, "", "public") else "%s.%s" % (schema, name)


def _range_var(node):
    return (node.schemaname, node.relname) if node is not None and node.relname else None


def _touched(node, indexes):
    """(the table a statement works on, the tables and indexes it makes), from pglast's tree."""
    from pglast import ast
    from pglast.enums import ObjectType
    made = []
    table = None
    if isinstance(node, ast.CreateStmt):
        made.append(_range_var(node.relation))
    elif isinstance(node, ast.CreateTableAsStmt) and node.into is not None:
        made.append(_range_var(node.into.rel))
    elif isinstance(node, ast.IndexStmt):
        table = _range_var(node.relation)
        if node.idxname and table:
            indexes[_key(node.relation.schemaname, node.idxname)] = table
    elif isinstance(node, (ast.AlterTableStmt, ast.RenameStmt, ast.ClusterStmt, ast.ReindexStmt)):
        table = _range_var(getattr(node, "relation", None))
    elif isinstance(node, ast.TruncateStmt) and node.relations:
        table = _range_var(node.relations[0])
    elif isinstance(node, ast.VacuumStmt) and node.rels:
        table = _range_var(node.rels[0].relation)
    elif isinstance(node, ast.DropStmt) and node.objects and node.removeType in (
            ObjectType.OBJECT_TABLE, ObjectType.OBJECT_INDEX):
        names = [part.sval for part in node.objects[0] if hasattr(part, "sval")]
        if names:
            table = (names[-2] if len(names) > 1 else None, names[-1])
    if table is not None and _key(*table) in indexes:  # an index: its table
        table = indexes[_key(*table)]
    return table, [m for m in made if m]


def _ignores(lines, line):
    """Rules named by `-- lint: ignore` in the comment lines right above a statement's line."""
    rules = set()
    number = line - 1  # the line before, 1-based
    while number >= 1:
        text = lines[number - 1].strip()
        if not text.startswith("--"):
            break
        match = _IGNORE.match(text)
        if match:
            rules.update(rule for rule in re.split(r"[\s,]+", match.group(1)) if rule)
        number -= 1
    return rules


def _analyse(text, statements, created):
    """Each statement's table, whether that table is new in this run, and its ignores.

    `created` (keys of tables made earlier in the run) grows with what these statements make.
    """
    from pglast import ast, parse_sql
    from pglast.parser import ParseError
    lines = text.split("\n")
    indexes = {}
    analysed = []
    for statement in statements:
        try:
            node = parse_sql(statement.text)[0].stmt
        except (ParseError, IndexError):
            node = None
        table, made = _touched(node, indexes) if node is not None else (None, [])
        new = table is not None and _key(*table) in created
        if isinstance(node, ast.RenameStmt) and new and node.newname and not node.subname:
            created.add(_key(node.relation.schemaname, node.newname))  # a new table renamed
        analysed.append(Analysed(statement.start, statement.line, table, new,
                                 _ignores(lines, statement.line)))
        created.update(_key(*m) for m in made)
    return analysed


# -- table sizes ---------------------------------------------------------------------------

Size = namedtuple("Size", "name rows pretty")

# pg_total_relation_size takes a share lock on the table: a table another session locks
# (a migration, a VACUUM FULL) makes its size unknown after a second, never a wait. SET LOCAL
# holds for this one query string (one implicit transaction), so a pooler sees no session state.
_SIZE_SQL = (
    "SET LOCAL lock_timeout = '1s'; SET LOCAL statement_timeout = '10s'; "
    "SELECT c.relname, c.reltuples, pg_catalog.pg_size_pretty(pg_catalog.pg_total_relation_size(c.oid))"
    "  FROM pg_catalog.pg_class c"
    " WHERE c.oid = COALESCE((SELECT i.indrelid FROM pg_catalog.pg_index i"
    "                          WHERE i.indexrelid = pg_catalog.to_regclass(%(name)s)),"
    "                        pg_catalog.to_regclass(%(name)s))")


class TableSizes:
    """Row estimates and sizes of tables, read once each over one psycopg2 connection."""

    def __init__(self, connection):
        self.connection = connection
        self.known = {}
        number = connection.server_version
        self.pg_version = "%d.%d" % divmod(number, 10000) if number >= 100000 else None

    def __call__(self, table):
        key = _key(*table)
        if key not in self.known:
            import psycopg2
            try:
                with self.connection.cursor() as cursor:
                    cursor.execute(_SIZE_SQL, {"name": quoted_name(*table)})
                    row = cursor.fetchone()
            except psycopg2.Error:  # no rights on it, a lost server: its size is unknown
                row = None
            self.known[key] = Size(row[0], int(row[1]) if row[1] >= 0 else None, row[2]) \
                if row else None
        return self.known[key]


def open_sizes(migrator):
    """TableSizes over the app's database (DATABASE_URL), or raise a ConfigurationError."""
    from ..pg import connection as conn
    return TableSizes(conn.connect(conn.connect_params(migrator.url)))


def close_sizes(sizes):
    if sizes is not None:
        sizes.connection.close()


# -- linting -----------------------------------------------------------------------------

Result = namedtuple("Result", "findings scripts dropped ignored")


def _refusal(error):
    """(line, message) of the runner's own refusal of a script."""
    text = str(error)
    match = re.search(r"\bline (\d+)[:,]\s*(.*)", text)
    if not match:
        return 1, text
    message = re.sub(r"; nothing was run\Z", "", match.group(2))
    return int(match.group(1)), message


def _offset(text, line_starts, line, column):
    """The character offset of squawk's 0-based line and byte column."""
    if line >= len(line_starts):
        return len(text)
    start = line_starts[line]
    end = text.find("\n", start)
    end = len(text) if end == -1 else end
    chars = len(text[start:end].encode("utf-8")[:max(column, 0)].decode("utf-8", "ignore"))
    return start + chars


def _with_size(finding, size, small_table_rows):
    if size is None:
        return finding
    if size.rows is None:
        return finding._replace(message="%s [table %s: never analyzed, size unknown]"
                                % (finding.message, size.name))
    shown = "[table %s: ~%s rows, %s]" % (size.name, "{:,}".format(size.rows), size.pretty)
    if size.rows < small_table_rows:
        return finding._replace(level=NOTE, message="%s %s" % (
            finding.message, shown[:-1] + "; small: under --small-table-rows %d]" % small_table_rows))
    return finding._replace(level=ERROR, message="%s %s" % (finding.message, shown))


def lint(scripts, sizes=None, pending=(), small_table_rows=DEFAULT_SMALL_TABLE_ROWS, binary=None,
         timeout=None, largest=None):
    """Lint `scripts` (scripts.Script, in version order); a Result.

    `sizes`: TableSizes for the levels of locking findings (None: no database).
    `pending`: versions the database has not run; what one of them creates counts as new
    in the later ones. `largest`: skip scripts longer than that many characters.
    """
    binary = binary or find_squawk()
    pg_version = getattr(sizes, "pg_version", None)
    findings, dropped, ignored = [], 0, 0
    created = set()
    entries = []  # (script, shown, text, analysed, line_starts)
    for script in scripts:
        text = read_script(script.path)
        if largest is not None and len(text) > largest:
            continue
        shown = shown_path(script.path)
        if script.version not in pending:
            created = set()
        try:
            plan = plan_script(text, script.name, list_statements=True)
        except (InvalidScripts, ScriptFailed) as error:
            line, message = _refusal(error)
            rule = "syntax-error" if isinstance(error, ScriptFailed) else "runner"
            fix = ("correct the SQL" if rule == "syntax-error"
                   else "change the script as the message says")
            findings.append(Finding(shown, line, rule, ERROR, message, fix, None))
            created = set()
            continue
        prepared = plan.prepared.text if plan.prepared is not None else text
        analysed = _analyse(prepared, plan.statements or [], created)
        starts = [0] + [match.end() for match in re.finditer("\n", prepared)]
        entries.append((script, shown, prepared, analysed, starts))
        if script.version not in pending:
            created = set()

    raw = _squawk_all(binary, entries, pg_version, timeout) if entries else {}
    for number, (script, shown, text, analysed, starts) in enumerate(entries):
        seen = set()
        statement_starts = [a.start for a in analysed]
        for item in raw.get(number, ()):
            rule = item.get("rule_name") or "unknown"
            if rule in DROPPED:
                dropped += 1
                continue
            line = int(item.get("line") or 0)
            offset = _offset(text, starts, line, int(item.get("column") or 0))
            at = bisect.bisect_right(statement_starts, offset) - 1
            statement = analysed[max(at, 0)] if analysed else None
            if statement is not None and rule in statement.ignores:
                ignored += 1
                continue
            kind = kind_of(rule)
            if kind in (LOCKING, BREAKING) and statement is not None and statement.new:
                dropped += 1
                continue
            message = " ".join((item.get("message") or rule).split())
            finding = Finding(shown, line + 1, rule, LEVEL[kind], message,
                              fix_for(rule, item.get("help")),
                              statement.line if statement is not None else None)
            if (finding.line, rule) in seen:
                continue
            seen.add((finding.line, rule))
            if kind == LOCKING and sizes is not None and statement is not None and statement.table:
                finding = _with_size(finding, sizes(statement.table), small_table_rows)
            findings.append(finding)
    order = {shown_path(script.path): number for number, script in enumerate(scripts)}
    findings.sort(key=lambda finding: (order.get(finding.file, 0), finding.line))
    return Result(findings, list(scripts), dropped, ignored)


def _squawk_all(binary, entries, pg_version, timeout):
    """squawk's findings for every entry, by entry number: one run per transaction mode."""
    found = {}
    folder = tempfile.mkdtemp(prefix="lint-")
    try:
        groups = {True: [], False: []}
        for number, (script, shown, text, analysed, starts) in enumerate(entries):
            path = os.path.join(folder, "%06d.sql" % number)
            with open(path, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            groups[not has_no_transaction_header(text)].append((number, path))
        for in_transaction, members in groups.items():
            for first in range(0, len(members), 200):
                chunk = members[first:first + 200]
                numbers = {os.path.basename(path): number for number, path in chunk}
                for item in _run_squawk(binary, [path for _, path in chunk], in_transaction,
                                        pg_version, timeout):
                    number = numbers.get(os.path.basename(str(item.get("file", ""))))
                    if number is not None:
                        found.setdefault(number, []).append(item)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for items in found.values():
        items.sort(key=lambda item: (item.get("line") or 0, item.get("column") or 0))
    return found


# -- printing ----------------------------------------------------------------------------

def format_finding(finding):
    return ["%s:%d: %s: %s: %s" % (finding.file, finding.line, finding.level, finding.rule,
                                   finding.message),
            "    fix: %s" % finding.fix]


def _plural(count, word):
    return "%d %s%s" % (count, word, "" if count == 1 else "s")


def summary(result, version):
    counts = [sum(1 for f in result.findings if f.level == level) for level in LEVELS]
    scripts = _plural(len(result.scripts), "script")
    extra = [version]
    if result.dropped:
        extra.append("%s dropped: moot with this runner, or on tables new in this run"
                     % _plural(result.dropped, "finding"))
    if result.ignored:
        extra.append("%d silenced by `-- lint: ignore`" % result.ignored)
    if not result.findings:
        return "No findings in %s (%s)" % (scripts, "; ".join(extra))
    return "%s, %s, %s in %s (%s)" % (_plural(counts[0], "error"), _plural(counts[1], "warning"),
                                      _plural(counts[2], "note"), scripts, "; ".join(extra))


# -- the command -------------------------------------------------------------------------

def _database(migrator):
    """migrate_status's reading of the database, or (None, why) when it cannot be reached."""
    import psycopg2
    from sqlalchemy.exc import SQLAlchemyError
    from ..errors import database_failure
    try:
        return migrator.status(history_limit=1), None
    except (ConfigurationError, DatabaseFailure) as error:
        return None, str(error)
    except (psycopg2.Error, SQLAlchemyError) as error:
        return None, str(database_failure(error))


def lint_command(migrator, versions=(), lint_all=False, as_json=False, small_table_rows=None,
                 out=None):
    """`lint_migrations`: print the findings; the exit status (raises CheckFailed on an error)."""
    out = out or sys.stdout
    versions = list(versions or ())
    small_table_rows = DEFAULT_SMALL_TABLE_ROWS if small_table_rows is None else small_table_rows
    if versions and lint_all:
        raise UsageError("give versions or --all, not both")
    if small_table_rows < 0:
        raise UsageError("--small-table-rows %d: give a number of rows, 0 or more" % small_table_rows)
    binary = find_squawk()
    scripts = discover(migrator.migration_dir).scripts
    by_version = {script.version: script for script in scripts}
    missing = [str(v) for v in versions if v not in by_version]
    if missing:
        raise UsageError("no script for version %s in %s" % (", ".join(missing), shown_path(
            migrator.migration_dir)))

    status, unreachable = _database(migrator)
    notes = []
    pending = set()
    if status is not None:
        pending = {entry["version"] for entry in status["pending"]}
    if versions:
        chosen = [by_version[v] for v in sorted(set(versions))]
        what = "Linting %s" % ", ".join(script.name for script in chosen)
    elif lint_all or status is None:
        chosen = scripts
        what = "Linting all %s" % _plural(len(chosen), "script")
    else:
        chosen = [script for script in scripts if script.version in pending]
        what = "Linting %s (the database is at version %d)%s" % (
            _plural(len(chosen), "pending script"), status["current_version"],
            ": " + ", ".join(s.name for s in chosen) if 0 < len(chosen) <= 10 else "")
    if status is None:
        notes.append("note: no database at hand (%s): linting %s without table sizes"
                     % (unreachable, "the versions given" if versions else "every script"))

    sizes = None
    if status is not None and chosen:
        try:
            sizes = open_sizes(migrator)
        except MigrationError as error:
            notes.append("note: table sizes unknown: %s" % error)
    try:
        result = lint(chosen, sizes, pending, small_table_rows, binary) if chosen \
            else Result([], [], 0, 0)
    finally:
        close_sizes(sizes)

    errors = sum(1 for f in result.findings if f.level == ERROR)
    if as_json:
        for note in notes:
            print(note, file=sys.stderr)
        print(json.dumps([finding_dict(f) for f in result.findings], indent=2), file=out)
        return EXIT_FAILED if errors else EXIT_OK
    for note in notes:
        print(note, file=out)
    if not chosen:
        print("Nothing to lint: the database is at version %d and runs no script "
              "(lint_migrations --all lints every script)" % status["current_version"], file=out)
        return EXIT_OK
    print(what, file=out)
    for finding in result.findings:
        for line in format_finding(finding):
            print(line, file=out)
    print(summary(result, squawk_version(binary)), file=out)
    out.flush()
    if errors:
        raise CheckFailed("%s; make the safe rewrite, or silence one with `-- lint: ignore <rule>` "
                          "on the line before its statement" % _plural(errors, "error-level finding"))
    return EXIT_OK


# -- the other commands' use of it ---------------------------------------------------------

QUIET_LARGEST = 1000000  # a prompt or a dry run does not wait for a large data script's lint
QUIET_TIMEOUT = 30


def lint_written(script, say=print):
    """make_migration: lint the file it wrote and print what lint found; never raises."""
    try:
        binary = find_squawk()
        result = lint([script], binary=binary)
    except SquawkMissing:
        say("Lint skipped: squawk is not installed (%s)" % INSTALL)
        return
    except (MigrationError, OSError) as error:
        say("Lint skipped: %s" % error)
        return
    version = squawk_version(binary)
    if not result.findings:
        say("Lint: no findings (%s)" % version)
        return
    say("Lint (%s; without the database, so no table sizes: `python manage.py lint_migrations "
        "%d` weighs them):" % (version, script.version))
    for finding in result.findings:
        for line in format_finding(finding):
            say("  " + line)


def lint_quietly(migrator, scripts):
    """Findings for scripts about to run, by script name; {} when squawk is missing or lint fails.

    Used by migrate_tables (the prompt, the dry run): lint must never stand in a deploy's way.
    """
    if not scripts:
        return {}
    try:
        binary = find_squawk()
    except SquawkMissing:
        return {}
    sizes = None
    try:
        try:
            sizes = open_sizes(migrator)
        except Exception:
            sizes = None
        result = lint(scripts, sizes, {s.version for s in scripts}, binary=binary,
                      timeout=QUIET_TIMEOUT, largest=QUIET_LARGEST)
    except Exception:  # a lint problem is no reason to stop a migration
        return {}
    finally:
        try:
            close_sizes(sizes)
        except Exception:
            pass
    found = {}
    for finding in result.findings:
        found.setdefault(os.path.basename(finding.file), []).append(finding)
    return found
