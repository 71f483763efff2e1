"""The history table: one row per attempt to apply a script, and what became of it.

Outcomes:
    running          a script in steps started and has not ended (a crash leaves it so);
                     a transactional script has no such row (its row is written as it ends,
                     in its own transaction: a killed one leaves nothing, as the script did)
    applied          the script ran to the end
    failed           the script failed; `steps_done` says how much was committed
    interrupted      a transactional attempt stopped by Ctrl-C or SIGTERM (rolled back), or one
                     found "running" by a later run (histories of versions before issue 24)
    baseline         the database was adopted at this version; no script ran
    marked-applied   an operator said this script was finished by hand
    accepted-change  an applied script changed on disk and --allow-changed took it
"""
from collections import namedtuple

from psycopg2 import sql

APPLIED_OUTCOMES = ("applied", "baseline", "marked-applied", "accepted-change")

COLUMNS = ("id", "version", "filename", "checksum", "mode", "outcome", "steps_done", "steps_total",
           "started_at", "finished_at", "duration_s", "error", "db_user", "os_user", "host", "pid",
           "note", "backup")
HistoryRow = namedtuple("HistoryRow", COLUMNS)

# Columns added after the first release: a table made before them lacks them until a run
# that needs one adds it (`History.create`); reads give NULL for them meanwhile.
LATER_COLUMNS = {"backup": "text"}  # --backup's file, on every row a run with --backup writes

# The history table as this version makes it ({table}: its schema-qualified, quoted name).
CREATE_SQL = """
CREATE TABLE IF NOT EXISTS {table} (
    id bigserial PRIMARY KEY,
    version integer NOT NULL,
    filename text,
    checksum text,
    mode text NOT NULL,
    outcome text NOT NULL,
    steps_done integer NOT NULL DEFAULT 0,
    steps_total integer,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    duration_s double precision,
    error text,
    db_user text NOT NULL DEFAULT current_user,
    os_user text,
    host text,
    pid integer,
    note text,
    backup text
)"""


class History:
    """Reads and writes the history table over the runner's psycopg2 connection."""

    def __init__(self, connection, table, schema):
        """`schema` is decided once at start (see session.py): every statement names it."""
        self.connection = connection
        self.table = sql.Identifier(schema, table)
        self.table_name = table
        self.schema = schema
        self.backup = None  # --backup's file: written on every row this run inserts
        self.oid = None  # the table's oid, read by create() (see Session.checked_insert)
        self._composed = {}

    def _sql(self, template):
        composed = self._composed.get(template)
        if composed is None:
            composed = self._composed[template] = sql.SQL(template).format(table=self.table)
        return composed

    def later_columns(self):
        """None when the table is missing; else which of LATER_COLUMNS it has."""
        name = self.table.as_string(self.connection)
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_catalog.to_regclass(%s) IS NOT NULL, ARRAY(SELECT attname::text"
                " FROM pg_catalog.pg_attribute WHERE attrelid = pg_catalog.to_regclass(%s)"
                " AND attname = ANY (%s) AND attnum > 0 AND NOT attisdropped)",
                (name, name, sorted(LATER_COLUMNS)))
            exists, present = cursor.fetchone()
        return set(present) if exists else None

    def create(self):
        """Create the table when it is missing; no DDL at all when it is there.

        Except for a run with --backup (`self.backup` set) on a table made before the
        `backup` column: that run adds it (the role must own the table: see
        Migrator._check_privileges). Other runs leave an older table as it is.
        """
        present = self.later_columns()
        sequence = sql.SQL("SELECT pg_catalog.to_regclass({name})::pg_catalog.oid").format(
            name=sql.Literal(self.table.as_string(self.connection)))
        with self.connection.cursor() as cursor:
            if present is None:
                cursor.execute(self._sql(CREATE_SQL) + sql.SQL("; ") + sequence)
            elif self.backup is not None and "backup" not in present:
                cursor.execute(self._sql("ALTER TABLE {table} ADD COLUMN IF NOT EXISTS backup text; ")
                               + sequence)
            else:
                cursor.execute(sequence)
            self.oid = cursor.fetchone()[0]

    def rows(self):
        """Every row, oldest first; no rows when the table does not exist yet."""
        present = self.later_columns()
        if present is None:
            return []
        columns = [("NULL::%s AS %s" % (LATER_COLUMNS[c], c))
                   if c in LATER_COLUMNS and c not in present else c for c in COLUMNS]
        with self.connection.cursor() as cursor:
            cursor.execute(self._sql("SELECT %s FROM {table} ORDER BY id" % ", ".join(columns)))
            return [HistoryRow(*row) for row in cursor.fetchall()]

    def _row(self, version, filename, checksum, mode, outcome, who, steps_total, note):
        os_user, host, pid = who
        columns = ["version", "filename", "checksum", "mode", "outcome", "steps_total", "os_user",
                   "host", "pid", "note"]
        values = [version, filename, checksum, mode, outcome, steps_total, os_user, host, pid, note]
        if self.backup is not None:  # else no new column named: an older table takes the row as it is
            columns.append("backup")
            values.append(self.backup)
        return columns, values

    def start_sql(self, version, filename, checksum, mode, outcome, who, steps_total=None, note=None):
        """The INSERT of an attempt's row (RETURNING id), and its parameters."""
        columns, values = self._row(version, filename, checksum, mode, outcome, who, steps_total, note)
        return self._sql("INSERT INTO {table} (%s) VALUES (%s) RETURNING id" % (
            ", ".join(columns), ", ".join(["%s"] * len(columns)))), values

    def finished_sql(self, version, filename, checksum, mode, outcome, who, steps_total=None, note=None,
                     error=None, steps_done=0):
        """The INSERT of an attempt's row as it ended, and its parameters (no "running" row before it).

        A transactional script's: "applied" inside its own transaction (started when
        that transaction began: `transaction_timestamp()`), or "failed"/"interrupted"
        after its rollback. The statement's text is the same for every script of a
        run (made once).
        """
        columns, values = self._row(version, filename, checksum, mode, outcome, who, steps_total, note)
        query = self._sql(
            "INSERT INTO {table} (%s, error, steps_done, started_at, finished_at, duration_s)"
            " VALUES (%s, %%s, %%s, pg_catalog.transaction_timestamp(), pg_catalog.clock_timestamp(),"
            " pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()"
            " - pg_catalog.transaction_timestamp()))" % (", ".join(columns), ", ".join(["%s"] * len(columns))))
        return query, values + [error, steps_done]

    def start(self, cursor, version, filename, checksum, mode, outcome, who, steps_total=None,
              note=None, flush=True, before=""):
        """Insert an attempt's row and return its id.

        With `flush=False` (on an autocommit connection) the row's commit does
        not wait for its WAL to reach the disk: the caller's next commit, which
        does wait, flushes it too, as WAL is written in order.
        """
        query, values = self.start_sql(version, filename, checksum, mode, outcome, who, steps_total, note)
        if not flush:
            query = sql.SQL("SET LOCAL synchronous_commit TO off; ") + query
        if before:  # statements the caller folds into this round trip
            query = sql.SQL(before) + query
        cursor.execute(query, values)
        return cursor.fetchone()[0]

    def record(self, version, filename, checksum, mode, outcome, who, note=None, error=None,
               steps_total=None):
        """Insert a finished row (baseline, marked-applied, accepted-change, a failed attempt)."""
        with self.connection.cursor() as cursor:
            row_id = self.start(cursor, version, filename, checksum, mode, outcome, who, steps_total,
                                note=note)
            self.finish(cursor, row_id, outcome, error)
            return row_id

    def progress_sql(self, row_id, steps_done):
        return self._sql("UPDATE {table} SET steps_done = %s WHERE id = %s"), (steps_done, row_id)

    _FINISH = ("UPDATE {table} SET outcome = %s, error = %s,"
               " steps_done = COALESCE(%s, steps_done),"
               " finished_at = pg_catalog.clock_timestamp(),"
               " duration_s = pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - started_at)")

    def finish_sql(self, row_id, outcome, error=None, steps_done=None):
        return self._sql(self._FINISH + " WHERE id = %s"), (outcome, error, steps_done, row_id)

    def finish_running_sql(self, version, who, outcome, error=None, steps_done=None):
        """finish_sql for this process's own "running" row of a version, its id unknown."""
        _, host, pid = who
        return self._sql(self._FINISH + " WHERE id = (SELECT max(id) FROM {table} WHERE version = %s"
                         " AND outcome = 'running' AND host = %s AND pid = %s)"), (
            outcome, error, steps_done, version, host, pid)

    def finish(self, cursor, row_id, outcome, error=None, steps_done=None):
        cursor.execute(*self.finish_sql(row_id, outcome, error, steps_done))

    def close_interrupted(self, row_id, note):
        with self.connection.cursor() as cursor:
            cursor.execute(self._sql(
                "UPDATE {table} SET outcome = 'interrupted', note = %s WHERE id = %s"), (note, row_id))
