"""Tables' sizes (row estimates, bytes): what decides the level of a locking finding."""
from collections import namedtuple

from ..source.statements import quoted_name
from .rules import ERROR, NOTE
from .touched import table_key

DEFAULT_SMALL_TABLE_ROWS = 10000

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
        key = table_key(*table)
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


def with_size(finding, size, small_table_rows):
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
