"""INVALID indexes: what a failed or interrupted CREATE INDEX CONCURRENTLY leaves behind.

A CONCURRENTLY build that fails or is killed leaves its index in the catalog,
marked INVALID: never used by queries, still updated by every write. Run
again, the script would trip over it (`already exists`) or, with
`IF NOT EXISTS`, keep it broken. Before such a step runs again, the runner
drops the INVALID index of that name (`DROP INDEX CONCURRENTLY`);
`migrate_status` lists every INVALID index as a warning.
"""
from psycopg2 import sql

from ..source.statements import quoted_name


def is_concurrent(statement):
    """True for a statement run outside a transaction because of CONCURRENTLY."""
    return bool(statement.why) and "CONCURRENTLY" in statement.why


_INVALID = ("SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname)"
            " FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE NOT i.indisvalid AND ")
# REINDEX CONCURRENTLY builds <name>_ccnew (and swaps in <name>_ccold), <name> shortened
# to fit 63 bytes, with a number added when the name is taken.
_CC_SUFFIX = "_cc(new|old)[0-9]*$"
_CC_OF = ("c.relname ~ '" + _CC_SUFFIX + "' AND pg_catalog.starts_with(%s,"
          " pg_catalog.regexp_replace(c.relname, '" + _CC_SUFFIX + "', ''))")


def _leftovers(text):
    """(query, params) finding what an earlier attempt of this statement may have left, or None."""
    from pglast import ast, parse_sql  # only when a CONCURRENTLY step runs again

    node = parse_sql(text)[0].stmt
    if isinstance(node, ast.IndexStmt) and node.concurrent and node.idxname:
        return (_INVALID + "i.indrelid = pg_catalog.to_regclass(%s) AND c.relname = %s",
                (quoted_name(node.relation.schemaname, node.relation.relname), node.idxname))
    if not isinstance(node, ast.ReindexStmt):
        return None
    kind = node.kind.name
    if kind == "REINDEX_OBJECT_INDEX":
        return (_INVALID + "i.indrelid = (SELECT indrelid FROM pg_catalog.pg_index"
                " WHERE indexrelid = pg_catalog.to_regclass(%s)) AND " + _CC_OF,
                (quoted_name(node.relation.schemaname, node.relation.relname), node.relation.relname))
    if kind == "REINDEX_OBJECT_TABLE":
        return (_INVALID + "i.indrelid = pg_catalog.to_regclass(%s) AND c.relname ~ %s",
                (quoted_name(node.relation.schemaname, node.relation.relname), _CC_SUFFIX))
    if kind == "REINDEX_OBJECT_SCHEMA":
        return (_INVALID + "n.nspname = %s AND c.relname ~ %s", (node.name, _CC_SUFFIX))
    return (_INVALID + "n.nspname NOT IN ('pg_catalog', 'pg_toast') AND c.relname ~ %s",
            (_CC_SUFFIX,))  # DATABASE, SYSTEM


def drop_invalid(cursor, text):
    """Drop the INVALID indexes an earlier attempt of this statement left; return their names."""
    found = _leftovers(text)
    if found is None:  # an unnamed CREATE INDEX CONCURRENTLY cannot be matched
        return []
    query, params = found
    cursor.execute(query, params)
    dropped = []
    for (name,) in cursor.fetchall():
        cursor.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.SQL(name)))
        dropped.append(name)
    return dropped


def invalid_indexes(connection):
    """Every INVALID index of the database's own schemas: (index, table)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname),"
            " pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.quote_ident(t.relname)"
            " FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " JOIN pg_catalog.pg_class t ON t.oid = i.indrelid"
            " JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace"
            " WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'pg_toast')"
            " ORDER BY 1")
        return cursor.fetchall()
