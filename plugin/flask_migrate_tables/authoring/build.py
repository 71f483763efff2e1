"""Writing the next migration from the models, and checking that models and migrations agree.

Two scratch databases: A gets every script up to `__db_version__`, run by the
project's own runner (`Migrator.migrate`, nothing copied); B gets the models'
schema (`db.metadata.create_all`, so DDL events run too) plus the runner's own
bookkeeping tables, which every migrated database has. generate.py gives the
SQL that turns A into B (the diff engine's, and what it does not write), and
snapshot.py compares A and B on its own, so nothing is called the same that
the catalogs tell apart.

    compare()          build A and B on a Scratch (scratch.py) and diff them
    make_migration()   write v{N+1}_{slug}.sql from that diff (lint_safe.py: CONCURRENTLY
                       on existing tables), after applying it to A with the runner and
                       diffing again
    destructive()      the statements of a script that destroy data (found with pglast)
    version_line()     where the app sets __db_version__

A scratch database is reached through its URL alone (settings.UrlSettings:
an engine and a session of its own, with the app's SQLALCHEMY_ENGINE_OPTIONS);
the app's `db` is left as it is.
"""
import datetime
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from collections import namedtuple
from contextlib import contextmanager

from flask import current_app
from pglast import ast, parse_sql
from pglast.enums import AlterTableType, ObjectType
from sqlalchemy import create_engine
from sqlalchemy.engine.url import make_url

from ..pg import connection as conn
from ..errors import Interrupted, MigrationError, UsageError
from ..books.history import History
from ..migrator import Migrator
from ..settings import UrlSettings
from .generate import generate
from .lint_safe import lint_safe, partitioned
from .repeatables import apply_repeatables
from .schema_diff import engine_name, require_engine
from .snapshot import compare as compare_schemas
from .snapshot import describe, failures
from ..source.statements import split_statements

log = logging.getLogger("flask_migrate_tables")


Comparison = namedtuple("Comparison", "version scripts sql source_url target_url seconds missed notes")
Mark = namedtuple("Mark", "line statement reason")
Draft = namedtuple("Draft", "path version statements marks problems seconds")


class Progress:
    """What authoring tells its caller while it works; the command layer prints it."""

    def step(self, message):
        pass


# -- pointing the app's db at a scratch database ---------------------------------


@contextmanager
def migrator_on(migrator, url, code_version=None, sql_dir=None):
    """A Migrator like `migrator` whose scripts and Version row go to the database at `url`.

    The scripts are read from `sql_dir` (default: `migrator`'s); its engine is
    disposed of when the block ends.
    """
    settings = UrlSettings(url, sql_dir or migrator.sql_dir, engine_options=_engine_options())
    if sql_dir is None:  # the scripts of `migrator`'s own folder (a bind's: binds.py)
        settings.migration_dir = migrator.migration_dir
    version = migrator.code_version if code_version is None else code_version
    try:
        yield Migrator(migrator.db, migrator.version_model, version,
                       history_table=migrator.history_table, settings=settings)
    finally:
        settings.close()


def _engine_options():
    """The app's SQLALCHEMY_ENGINE_OPTIONS, for the scratch databases' engines."""
    return dict(current_app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})


# -- building and comparing ------------------------------------------------------


LABELS = ("the migrations", "the models")


def compare(migrator, scratch, progress=None):
    """Build A from the migrations and B from the models on `scratch`; diff and compare them.

    Returns a Comparison whose `sql` turns A into B ("" when none is written),
    `missed` the lines for what the catalogs still tell apart that `sql` does
    not address (only when `sql` is ""), and `notes` what differs but is not a
    failure (column order).
    """
    require_engine()
    progress = progress or Progress()
    started = time.monotonic()
    scripts = [s for s in migrator.scripts().scripts if s.version <= migrator.code_version]
    source_url = scratch.create_database("migrations")
    target_url = scratch.create_database("models")
    build_from_migrations(migrator, source_url)
    build_from_models(migrator, target_url)
    sql = generate(source_url, target_url,
                   labels=["the database the migrations give", "the models' database"]).sql
    differences = compare_schemas(source_url, target_url)
    real = failures(differences)
    missed = [] if sql else [describe(d, *LABELS) for d in real]
    notes = [describe(d, *LABELS) for d in differences if d not in real]
    seconds = time.monotonic() - started
    progress.step("Built version %d from %d script%s and from the models on %s in %.1fs" % (
        migrator.code_version, len(scripts), "" if len(scripts) == 1 else "s", scratch.describe(),
        seconds))
    return Comparison(migrator.code_version, scripts, sql, source_url, target_url, seconds, missed,
                      notes)


def build_from_migrations(migrator, url, version=None):
    """Apply every script up to `version` (default: the code's) to the database at `url`, with the
    runner, as `migrate_tables --to` would: at the code's version the repeatable scripts run too."""
    with migrator_on(migrator, url) as builder:
        target = builder.code_version if version is None else version
        try:
            builder.migrate(to=target)
        except Interrupted:  # Ctrl-C: the command removes the scratch databases and says so
            raise KeyboardInterrupt
        except MigrationError as error:
            raise type(error)("building version %d from the migrations on a scratch database "
                              "failed: %s" % (target, error))


def build_from_models(migrator, url):
    """Create the models' tables (DDL events included) and the runner's tables at `url`; then run
    the repeatable scripts, so what they define is on both sides of the diff."""
    engine = create_engine(url, **_engine_options())
    try:
        migrator.db.metadata.create_all(bind=engine)
        # What the runner adds to every database it migrates:
        migrator.version_model.__table__.create(bind=engine, checkfirst=True)
    finally:
        engine.dispose()
    params = conn.connect_params(make_url(url))
    connection = conn.connect(params)
    try:
        History(connection, migrator.history_table,
                migrator.version_model.__table__.schema or "public").create()
    finally:
        connection.close()
    apply_repeatables(url, migrator.migration_dir, "the models' schema")


# -- make_migration ----------------------------------------------------------------


def script_name(version, message=None):
    """`v6.sql`, or `v6_add_email_to_users.sql` for the message "Add email to users"."""
    slug = re.sub(r"[^a-z0-9]+", "_", (message or "").lower()).strip("_")[:60].rstrip("_")
    return "v%d%s.sql" % (version, "_" + slug if slug else "")


def make_migration(migrator, scratch, message=None, progress=None, now=None):
    """Write the script that brings the migrations to the models; return a Draft.

    The Draft's `path` is None when models and migrations agree (nothing is
    written). Its `problems` are what is still different after applying the
    script to A (the file says so too); `marks` are its destructive statements.
    """
    require_engine()
    progress = progress or Progress()
    started = time.monotonic()
    discovery = migrator.scripts()
    above = [s.name for s in discovery.scripts if s.version > migrator.code_version]
    if above:
        raise UsageError(
            "%s %s above __db_version__ (%d): raise __db_version__ if %s to the code, or remove "
            "%s; then run make_migration again" % (
                ", ".join(above), "is" if len(above) == 1 else "are", migrator.code_version,
                "it belongs" if len(above) == 1 else "they belong", "it" if len(above) == 1 else "them"))
    version = migrator.code_version + 1
    name = script_name(version, message)
    path = os.path.join(migrator.migration_dir, name)

    comparison = compare(migrator, scratch, progress)
    if not comparison.sql:
        return Draft(None, version, 0, [], comparison.missed, time.monotonic() - started)

    types = column_types(comparison.source_url)
    sql = lint_safe(comparison.sql, types, partitioned(comparison.source_url))  # CONCURRENTLY, ...
    marks = destructive(sql, types)
    body = annotate(sql, marks)
    text = header(name, comparison.version, now) + notes_comment(comparison.notes) + "\n" + body
    problems = check_draft(migrator, comparison, name, text)
    if problems:
        text += "\n" + problems_comment(comparison.version, problems)
    with open(path, "x", encoding="utf-8") as handle:
        handle.write(text)
    statements = len(split_statements(sql, name))
    log.info("wrote %s", path)
    return Draft(path, version, statements, marks, problems, time.monotonic() - started)


def header(name, version, now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return (
        "-- %s: written by `manage.py make_migration` from the models\n"
        "-- on %s with %s, against the schema of version %d.\n"
        "-- Review it before committing: it says what the models say, not what the data\n"
        "-- may need (backfills, renames written as drop and add, defaults for NOT NULL).\n"
        % (name, now.strftime("%Y-%m-%d %H:%M UTC"), engine_name(), version))


def check_draft(migrator, comparison, name, text):
    """Apply the new script to A as migrate_tables will, diff A and B again; return what is left.

    The runner reads the scripts from a temporary copy of the migration
    folder (links to the scripts, and the new one), so nothing is written to
    the real folder before the check is done.
    """
    folder = tempfile.mkdtemp(prefix="migrate-tables-check-")
    try:
        migration_dir = os.path.join(folder, "migration")
        os.mkdir(migration_dir)
        for script in comparison.scripts:
            _link_or_copy(script.path, os.path.join(migration_dir, script.name))
        with open(os.path.join(migration_dir, name), "w", encoding="utf-8") as handle:
            handle.write(text)
        with migrator_on(migrator, comparison.source_url, comparison.version + 1, folder) as checker:
            try:
                checker.migrate()
            except Interrupted:
                raise KeyboardInterrupt
            except MigrationError as error:
                return ["applying it to version %d failed: %s" % (comparison.version, error)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rest = generate(comparison.source_url, comparison.target_url).sql
    still = [describe(d, *LABELS) for d in failures(
        compare_schemas(comparison.source_url, comparison.target_url))]
    return (rest.splitlines() if rest else []) + still


def _link_or_copy(source, destination):
    try:
        os.symlink(os.path.abspath(source), destination)
    except OSError:
        shutil.copyfile(source, destination)


def notes_comment(notes):
    """Differences the script leaves as they are, on purpose, said in its header."""
    if not notes:
        return ""
    return "".join("-- Note: %s (PostgreSQL adds a column at the end; the order is left as "
                   "it is)\n" % note for note in notes)


def problems_comment(version, problems):
    lines = ["-- WARNING: make_migration applied this script to a scratch database at version %d"
             % version,
             "-- and the result is NOT the models' schema. Still different afterwards:"]
    lines += ["--   " + line for line in problems]
    return "\n".join(lines) + "\n"


# -- destructive statements -----------------------------------------------------------


def column_types(url):
    """{(schema, table, column): (type name, modifiers, is_array)} of the tables at `url`."""
    rows = conn.read_rows(url, {"columns": (
        "SELECT n.nspname, c.relname, a.attname, t.typname, a.atttypmod,"
        " coalesce(e.typname, '') FROM pg_attribute a"
        " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_type e ON e.oid = t.typelem"
        " AND t.typcategory = 'A'"
        " WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped"
        " AND n.nspname NOT IN ('pg_catalog', 'information_schema')")})["columns"]
    types = {}
    for schema, table, column, typname, typmod, element in rows:
        name = element or typname
        types[(schema, table, column)] = (name, _modifiers(name, typmod), bool(element))
    return types


def _modifiers(name, typmod):
    if typmod is None or typmod < 0:
        return ()
    if name in ("varchar", "bpchar"):
        return (typmod - 4,)
    if name == "numeric":
        return (((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF)
    return (typmod,)


_INTEGERS = {"int2": 5, "int4": 10, "int8": 19}  # decimal digits each one holds
_FLOATS = ("float4", "float8")
_STRINGS = ("varchar", "bpchar", "text")
_PRECISION_TYPES = ("timestamp", "timestamptz", "time", "timetz")


def _widens(old, new):
    """True when every value of type `old` fits type `new` unchanged."""
    (old_name, old_mods, old_array), (new_name, new_mods, new_array) = old, new
    if old_array != new_array:
        return False
    if (old_name, tuple(old_mods)) == (new_name, tuple(new_mods)):
        return True
    if old_name in _INTEGERS and new_name in _INTEGERS:
        return _INTEGERS[new_name] >= _INTEGERS[old_name]
    if old_name in _INTEGERS and new_name == "numeric":
        return not new_mods or new_mods[0] - (new_mods[1] if len(new_mods) > 1 else 0) >= \
            _INTEGERS[old_name]
    if old_name in _FLOATS and new_name in _FLOATS:
        return _FLOATS.index(new_name) >= _FLOATS.index(old_name)
    if old_name in _STRINGS and new_name == "text":
        return True
    if old_name == new_name and old_name in ("varchar", "bpchar", "varbit", "bit"):
        return not new_mods or bool(old_mods) and new_mods[0] >= old_mods[0]
    if old_name == new_name == "numeric":
        if not new_mods:
            return True
        if not old_mods:
            return False
        old_scale = old_mods[1] if len(old_mods) > 1 else 0
        new_scale = new_mods[1] if len(new_mods) > 1 else 0
        return new_scale >= old_scale and new_mods[0] - new_scale >= old_mods[0] - old_scale
    if old_name == new_name and old_name in _PRECISION_TYPES:
        return (new_mods[0] if new_mods else 6) >= (old_mods[0] if old_mods else 6)
    return False


def _type_of(type_name):
    """(name, modifiers, is_array) of a pglast TypeName, or None when it is not plain."""
    mods = []
    for mod in type_name.typmods or ():
        value = getattr(getattr(mod, "val", None), "ival", None)
        if value is None:
            return None
        mods.append(value)
    return (type_name.names[-1].sval, tuple(mods), bool(type_name.arrayBounds))


def _show(type_tuple):
    name, mods, array = type_tuple
    return "%s%s%s" % (name, "(%s)" % ",".join(map(str, mods)) if mods else "", "[]" if array else "")


def _qualified(names):
    return ".".join(part.sval for part in names)


def destructive(sql, types=None):
    """The statements of `sql` that destroy data, as Marks (line, statement text, reason).

    DROP TABLE, DROP SCHEMA, DROP COLUMN, and a column type change that is not
    a known widening (`types` gives the old types, from column_types()).
    """
    types = types or {}
    marks = []
    for statement in split_statements(sql, "the generated script"):
        node = parse_sql(statement.text)[0].stmt
        reasons = []
        if isinstance(node, ast.DropStmt) and node.removeType in (ObjectType.OBJECT_TABLE,
                                                                   ObjectType.OBJECT_SCHEMA):
            kind = "table" if node.removeType == ObjectType.OBJECT_TABLE else "schema"
            for names in node.objects:
                names = names if isinstance(names, (tuple, list)) else (names,)
                reasons.append("drops %s %s and its data" % (kind, _qualified(names)))
        elif isinstance(node, ast.AlterTableStmt):
            schema = node.relation.schemaname or "public"
            table = "%s.%s" % (schema, node.relation.relname)
            for command in node.cmds or ():
                if command.subtype == AlterTableType.AT_DropColumn:
                    reasons.append("drops column %s.%s and its data" % (table, command.name))
                elif command.subtype == AlterTableType.AT_AlterColumnType:
                    new = _type_of(command.def_.typeName)
                    old = types.get((schema, node.relation.relname, command.name))
                    if new is None or old is None or not _widens(old, new):
                        reasons.append("changes the type of %s.%s%s: values that do not fit are "
                                       "cut, or the statement fails" % (
                                           table, command.name,
                                           " from %s to %s" % (_show(old), _show(new))
                                           if old and new else ""))
        for reason in reasons:
            marks.append(Mark(statement.line, " ".join(statement.text.split()), reason))
    return marks


def annotate(sql, marks):
    """The script with a warning comment above each destructive statement."""
    by_line = {}
    for mark in marks:
        by_line.setdefault(mark.line, []).append(mark.reason)
    lines = []
    for number, line in enumerate(sql.splitlines(True), 1):
        for reason in by_line.get(number, ()):
            lines.append("-- WARNING: destructive: %s\n" % reason)
        lines.append(line)
    return "".join(lines)


# -- where the app sets __db_version__ ---------------------------------------------------


def version_line(migrator):
    """(path, line number) of `__db_version__ = N` in the app's package, or None."""
    names = [migrator.version_model.__module__]
    try:
        names.append(current_app.import_name)
    except RuntimeError:
        pass
    seen = set()
    for name in names:
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            module = sys.modules.get(".".join(parts[:end]))
            if module is None or module in seen:
                continue
            seen.add(module)
            path = getattr(module, "__file__", None)
            if getattr(module, "__db_version__", None) != migrator.code_version or not path:
                continue
            try:
                with open(path, encoding="utf-8") as handle:
                    for number, line in enumerate(handle, 1):
                        if re.match(r"__db_version__\s*=", line):
                            return path, number
            except OSError:
                continue
    return None
