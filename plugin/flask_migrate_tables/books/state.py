"""Reading the database's migration state and judging it against the scripts on disk.

`read_state` only reads. `assess` is a pure function of what was read, the
scripts and the code's version: it says what is applied, what is pending,
what must be repaired, and what is wrong. `migrate`, `migrate_status` and
`--dry-run` all judge the database through it, so they never disagree.
"""
from collections import namedtuple

from psycopg2 import sql

from .history import APPLIED_OUTCOMES
from .repeatables import is_repeatable
from ..source.statements import NO_TRANSACTION

DatabaseState = namedtuple(
    "DatabaseState",
    "server_version version_table stored_versions history_rows other_tables")

Problem = namedtuple("Problem", "kind message")

Assessment = namedtuple(
    "Assessment",
    "current stored applied pending problems warnings repair adopt interrupted dirty changed")


def read_state(connection, schema, version_table, version_column, history):
    """Read what the database says about its migrations, changing nothing."""
    table = sql.Identifier(schema, version_table)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_catalog.to_regclass(%s) IS NOT NULL", (table.as_string(connection),))
        has_version_table = cursor.fetchone()[0]
        stored = []
        if has_version_table:
            cursor.execute(sql.SQL("SELECT {} FROM {}").format(sql.Identifier(version_column), table))
            stored = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT c.relname FROM pg_catalog.pg_class c"
            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm')"
            " AND c.relname NOT IN (%s, %s) ORDER BY 1", (schema, version_table, history.table_name))
        other_tables = [row[0] for row in cursor.fetchall()]
    return DatabaseState(connection.server_version, has_version_table, stored, history.rows(),
                         other_tables)


def _latest_by_version(rows):
    latest = {}
    for row in rows:
        latest[row.version] = row
    return latest


def assess(state, scripts, code_version, file_checksum, allow_changed=False):
    """Judge the database against the scripts.

    `file_checksum(script)` returns a script's checksum on disk (called only
    for applied scripts that have one recorded).
    """
    problems, warnings = [], []
    rows = [row for row in state.history_rows if not is_repeatable(row)]  # the versioned books only
    latest = _latest_by_version(rows)
    applied = {version: row for version, row in latest.items() if row.outcome in APPLIED_OUTCOMES}
    baseline = max((row.version for row in rows if row.outcome == "baseline"), default=0)
    stored = _stored_version(state.stored_versions, problems)
    current, adopt, repair = _current_version(stored, max(applied, default=None), problems)

    if not state.version_table and not rows and state.other_tables:
        problems.append(Problem("needs-baseline", (
            "the database has tables (%s) but no version table; if its schema is that of version N, "
            "adopt it with `migrate_tables --baseline N`" % ", ".join(state.other_tables[:5]))))

    if current > code_version:
        problems.append(Problem("newer-than-code", (
            "the database is at version %d, newer than this code (__db_version__ = %d); "
            "deploy the newer code instead of migrating" % (current, code_version))))

    interrupted, dirty = _interrupted(latest)
    if dirty is not None:
        problems.append(Problem("dirty", dirty_message(dirty)))

    changed = _changed(applied, scripts, baseline, file_checksum)
    if changed and not allow_changed:
        problems.append(Problem("changed", (
            "applied scripts differ from what ran: %s; restore them, or rerun with --allow-changed "
            "to accept them as they are now" % ", ".join(
                "%s %s" % (name, kind) for _, name, kind in changed))))

    pending = [script for script in scripts if current < script.version <= code_version]
    if pending and pending[0].version != current + 1:
        problems.append(Problem("gap", (
            "the database is at version %d but the next script is %s; the scripts for versions "
            "%d to %d are missing" % (current, pending[0].name, current + 1, pending[0].version - 1))))

    return Assessment(current, stored, applied, pending, problems, warnings, repair, adopt,
                      interrupted, dirty, changed)


def _stored_version(stored_versions, problems):
    """The version table's one version (None when it has none, or more than one: a problem)."""
    if len(stored_versions) > 1:
        problems.append(Problem("version-rows", (
            "the version table has %d rows (%s); it must have exactly one: delete the wrong ones"
            % (len(stored_versions), ", ".join(map(str, stored_versions))))))
    return stored_versions[0] if len(stored_versions) == 1 else None


def _current_version(stored, history_version, problems):
    """(the current version, the version to adopt, the repair (stored, history's version)).

    The history decides; without one, the version table. A version table ahead of the
    history is a problem.
    """
    adopt = repair = None
    if history_version is None:
        current = stored or 0
        if stored:
            adopt = stored  # a database the recipe migrated before there was a history
    else:
        current = history_version
        if stored is not None and stored > history_version:
            problems.append(Problem("version-ahead", (
                "the version table says %d but the history records scripts applied only up to "
                "version %d; nothing runs until they agree: check the database, and for each "
                "script from version %d on that is in it (applied by hand, or its history row "
                "was deleted), in order, run `migrate_tables --mark-applied N`, which records it "
                "and runs nothing; only if none of them is in the database, set the version "
                "table back to %d" % (stored, history_version, history_version + 1, history_version))))
        elif stored is None or stored < history_version:
            repair = (stored, history_version)
    return current, adopt, repair


def _interrupted(latest):
    """(the rows of scripts interrupted inside a transaction, the row of one left half-applied)."""
    interrupted, dirty = [], None
    for row in latest.values():
        if row.outcome == "running" and row.mode != NO_TRANSACTION:
            interrupted.append(row)  # rolled back when its connection died
        elif row.outcome == "running" or (row.outcome == "failed" and row.mode == NO_TRANSACTION
                                           and row.steps_done > 0):
            dirty = row
    return interrupted, dirty


def _changed(applied, scripts, baseline, file_checksum):
    """[(version, name, "missing" | "changed")] for applied scripts that differ from what ran."""
    by_version = {script.version: script for script in scripts}
    changed = []
    for version, row in sorted(applied.items()):
        if row.checksum is None or version <= baseline:
            continue
        script = by_version.get(version)
        if script is None:
            changed.append((version, row.filename, "missing"))
        elif file_checksum(script) != row.checksum:
            changed.append((version, script.name, "changed"))
    return changed


def dirty_message(row):
    """What an operator must know and do about a script interrupted outside a transaction."""
    if row.steps_total:
        progress = "%d of its %d steps were committed" % (row.steps_done, row.steps_total)
    else:
        progress = "%d steps were committed" % row.steps_done
    what = "was interrupted" if row.outcome == "running" else "failed (%s)" % (row.error or "?")
    return (
        "%s %s while running outside a transaction (started %s by %s@%s); %s and the next may be "
        "half-applied. Check the database, then run `migrate_tables --mark-applied %d` if you "
        "finished it by hand, or `migrate_tables --retry %d` to run the whole script again"
        % (row.filename, what, row.started_at, row.os_user, row.host, progress, row.version,
           row.version))
