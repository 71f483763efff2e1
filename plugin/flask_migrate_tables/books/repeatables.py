"""Which repeatable scripts are due, and why: one query for all the files.

A repeatable script is due when it never ran (`new`), when its checksum is not
that of its last applied run (`changed`), or when one of the objects it creates
is missing from the catalog (`object missing`: dropped by a versioned script,
by hand or by a CASCADE). Its runs are rows of the history table with mode
`repeatable` (REPEATABLE_MODE), version 0 and filename `repeatable/NAME.sql`:
the versioned books (books/state.py) and the fleet's probe skip them.

The same query serves migrate_tables (before and under the lock), migrate_status,
--dry-run and the fleet's probe (composed into its one query).
"""
from collections import namedtuple

from psycopg2 import sql

REPEATABLE_MODE = "repeatable"
# A repeatable's history rows carry version 0, below every versioned script's (see the closing
# note of issue 22): a release that does not know them never takes one for a script's row.
REPEATABLE_VERSION = 0

Due = namedtuple("Due", "repeatable reason missing")
Due.__doc__ = """reason: "new" | "changed" | "object missing"; missing: the first missing object
("view public.totals") or None."""

# {history}: the history table, or an empty relation when there is none yet.
_QUERY = """
SELECT f.filename, CASE WHEN l.checksum IS NULL THEN 'new' WHEN l.checksum <> f.checksum THEN 'changed'
        ELSE 'object missing' END,
    (SELECT o.kind || ' ' || o.shown FROM unnest(
        %(r_ofiles)s::text[], %(r_kinds)s::text[], %(r_schemas)s::text[], %(r_names)s::text[],
        %(r_qnames)s::text[], %(r_tables)s::text[], %(r_shown)s::text[])
        WITH ORDINALITY AS o(filename, kind, schema, name, qname, tqname, shown, n)
     WHERE o.filename = f.filename AND NOT CASE
        WHEN o.kind IN ('function', 'procedure') THEN EXISTS (
            SELECT FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace s ON s.oid = p.pronamespace
            WHERE p.proname = o.name AND (s.nspname = o.schema OR o.schema IS NULL
                                          AND s.nspname = ANY (pg_catalog.current_schemas(false))))
        WHEN o.kind = 'trigger' THEN EXISTS (
            SELECT FROM pg_catalog.pg_trigger t
            WHERE t.tgname = o.name AND t.tgrelid = pg_catalog.to_regclass(o.tqname))
        WHEN o.kind IN ('type', 'domain') THEN pg_catalog.to_regtype(o.qname) IS NOT NULL
        WHEN o.kind IN ('view', 'matview', 'table', 'sequence', 'index')
            THEN pg_catalog.to_regclass(o.qname) IS NOT NULL
        ELSE true END
     ORDER BY o.n LIMIT 1)
FROM unnest(%(r_files)s::text[], %(r_sums)s::text[]) WITH ORDINALITY AS f(filename, checksum, n)
LEFT JOIN (SELECT DISTINCT ON (filename) filename, checksum FROM {history}
           WHERE mode = 'repeatable' AND outcome = 'applied' ORDER BY filename, id DESC) l
    ON l.filename = f.filename
ORDER BY f.n
"""
_NO_HISTORY = "(SELECT NULL::text AS filename, NULL::text AS checksum, NULL::text AS mode," \
              " NULL::text AS outcome, NULL::bigint AS id WHERE false) h"


def _quoted(schema, name):
    return ".".join('"%s"' % part.replace('"', '""') for part in (schema, name) if part)


def _shown(schema, name):
    return "%s.%s" % (schema, name) if schema else name


def due_query(history, repeatables):
    """(query, params): one row per file (filename, reason, first missing object); the due ones
    are those whose reason is not "object missing" or whose missing object is not NULL.

    `history`: the history table (a psycopg2 sql.Composable), or None when it does not exist.
    """
    objects = [(r.filename, o) for r in repeatables for o in r.creates]
    params = {
        "r_files": [r.filename for r in repeatables], "r_sums": [r.checksum for r in repeatables],
        "r_ofiles": [f for f, _ in objects], "r_kinds": [o.kind for _, o in objects],
        "r_schemas": [o.schema for _, o in objects], "r_names": [o.name for _, o in objects],
        "r_qnames": [_quoted(o.schema, o.name) for _, o in objects],
        "r_tables": [_quoted(o.table.schema, o.table.name) if o.table else None for _, o in objects],
        "r_shown": [_shown(o.schema, o.name) for _, o in objects],
    }
    source = history if history is not None else sql.SQL(_NO_HISTORY)
    return sql.SQL(_QUERY).format(history=source), params


def due_count_sql():
    """The due files' count from due_query's rows (for a query that composes it in)."""
    return "(SELECT pg_catalog.count(*) FROM ({due}) AS due(filename, reason, missing)" \
           " WHERE due.reason <> 'object missing' OR due.missing IS NOT NULL)"


def read_due(connection, history, repeatables):
    """[Due] in the files' order (their dependency order); no query when there are none."""
    if not repeatables:
        return []
    by_name = {r.filename: r for r in repeatables}
    query, params = due_query(history, repeatables)
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        rows = cursor.fetchall()
    return [Due(by_name[name], reason, missing if reason == "object missing" else None)
            for name, reason, missing in rows if reason != "object missing" or missing is not None]


def reason_text(due):
    """What status, --dry-run and the run say: `new`, `changed`, `object missing: view public.v`."""
    return "%s: %s" % (due.reason, due.missing) if due.reason == "object missing" else due.reason


def is_repeatable(row):
    """A history row of a repeatable script's run (not a versioned script's)."""
    return row.mode == REPEATABLE_MODE


def repeatables_counted(count):
    """` and 2 repeatable scripts` (nothing for none): what a prompt adds for them."""
    return " and %d repeatable script%s" % (count, "" if count == 1 else "s") if count else ""
