"""INVALID indexes: what a failed or interrupted CREATE INDEX CONCURRENTLY leaves behind.

A CONCURRENTLY build that fails or is killed leaves its index in the catalog,
marked INVALID: never used by queries, still updated by every write. Run
again, the script would trip over it (`already exists`) or, with
`IF NOT EXISTS`, keep it broken. Before such a step runs again, the runner
drops the INVALID index of that name (`DROP INDEX CONCURRENTLY`);
`migrate_status` lists every INVALID index as a warning.
"""
from pglast import ast, parse_sql
from psycopg2 import sql


def is_concurrent(statement):
    """True for a statement run outside a transaction because of CONCURRENTLY."""
    return bool(statement.why) and "CONCURRENTLY" in statement.why


def _name(range_var):
    return ".".join(part for part in (range_var.schemaname, range_var.relname) if part)


def _leftovers(text):
    """(table, index name pattern) of what an earlier attempt of this statement may have left."""
    node = parse_sql(text)[0].stmt
    if isinstance(node, ast.IndexStmt) and node.concurrent and node.idxname:
        table = _name(node.relation)
        schema = node.relation.schemaname
        index = "%s.%s" % (schema, node.idxname) if schema else node.idxname
        return ("SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname)"
                " FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
                " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                " WHERE NOT i.indisvalid AND i.indrelid = pg_catalog.to_regclass(%s)"
                " AND c.relname = %s", (table, node.idxname), index)
    if isinstance(node, ast.ReindexStmt) and node.relation is not None:
        # REINDEX CONCURRENTLY builds <name>_ccnew (and swaps in <name>_ccold).
        target = _name(node.relation)
        if node.kind.name == "REINDEX_OBJECT_INDEX":
            table = ("(SELECT indrelid FROM pg_catalog.pg_index"
                     " WHERE indexrelid = pg_catalog.to_regclass(%s))")
            pattern = "^" + node.relation.relname + "_cc(new|old)[0-9]*$"
        else:
            table = "pg_catalog.to_regclass(%s)"
            pattern = "_cc(new|old)[0-9]*$"
        return ("SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname)"
                " FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
                " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                " WHERE NOT i.indisvalid AND i.indrelid = " + table + " AND c.relname ~ %s",
                (target, pattern), target)
    return None


def drop_invalid(cursor, text):
    """Drop the INVALID indexes an earlier attempt of this statement left; return their names."""
    found = _leftovers(text)
    if found is None:
        return []
    query, params, _ = found
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
