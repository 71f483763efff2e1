"""Keeping the tool's own statements immune to what a script does to the session.

A script may `SET search_path`, `SET ROLE`, call `set_config(..., false)`,
`RESET ALL` or set `statement_timeout = 1`; pg_dump output starts with
`set_config('search_path', '', false)`. The tool's statements (history rows,
the migration lock) name their tables with the schema decided once at start,
and run with the connection's own role and the tool's own settings:

- between the steps of one script, its session state is kept (as psql keeps
  it), and the bookkeeping overrides it with `SET LOCAL` for its own
  transaction only (`in_script`);
- after each script the session is put back as it was when the run started
  (`restore`): settings, role, cursors, prepared statements, LISTENs and
  temporary tables, so every script starts in the same state as the first one.

Both are folded into statements that are sent anyway: no extra round trip.
The restore (and the script timeouts after it) is sent only after a script
whose text could have changed the session (`may_change_session`): a word of
SQL that changes it (SET, RESET, set_config, DISCARD, LISTEN, PREPARE,
DECLARE, a TEMP table, a ROLE, SESSION AUTHORIZATION, LOAD ...). A function or
trigger made by an earlier script that changes the session when a later one
calls it is not seen there: that script's successor inherits the change, as
in one psql session.
"""
import re
from collections import namedtuple

from psycopg2 import sql

from .lock import held_sql

# What the tool's own statements raise when the bookkeeping cannot hold (see `checked`).
LOCK_LOST = "migrate_tables: the migration lock is no longer held by this session"
ROW_GONE = "migrate_tables: the migration history row of this script is gone"
HISTORY_CHANGED = "migrate_tables: the script changed the migration history table"

# Words without which a script's text cannot change its session (see may_change_session).
_SESSION_WORDS = re.compile(
    r"(?<![\w$])(set|reset|set_config|discard|listen|unlisten|notify|prepare|deallocate|execute|declare"
    r"|close|temp|temporary|role|authorization|load)(?![\w$])", re.IGNORECASE)


# Each of _SESSION_WORDS contains one of these: most scripts have none, found ten times faster.
_SESSION_PARTS = ("set", "discard", "listen", "prepare", "deallocate", "execute", "declare", "close",
                  "temp", "role", "authorization", "load")


def may_change_session(text):
    """Whether a script's text has a word of SQL that changes the session (a cheap screen)."""
    if isinstance(text, bytes):  # a large script's bytes: not screened
        return True
    lowered = text.lower()
    return any(part in lowered for part in _SESSION_PARTS) and _SESSION_WORDS.search(text) is not None


Start = namedtuple("Start", "schema role session_user backend_pid system_identifier database")


def read_start(connection, schema=None):
    """The session as the run starts: schema for the bookkeeping, role, server pid, which database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(%s, pg_catalog.current_schema(), 'public'), current_user, session_user,"
            " pg_catalog.pg_backend_pid(), (SELECT system_identifier FROM pg_catalog.pg_control_system()),"
            " pg_catalog.current_database()", (schema,))
        return Start(*cursor.fetchone())


class Session:
    def __init__(self, connection, start, lock):
        self.start = start
        self.lock = lock
        settings = []
        if connection.server_version >= 140000:
            # A killed migrator's server process then notices within a second and rolls
            # back, instead of finishing a long statement first.
            settings.append("SET client_connection_check_interval = '1s'")
        if not (connection.get_parameter_status("DateStyle") or "ISO").startswith("ISO"):
            settings.append("SET DateStyle TO 'ISO'")  # what psycopg2 set when it connected
        self.settings = "; ".join(settings)
        # Read-write first: a script may have made new transactions read-only.
        restore = ["SET LOCAL transaction_read_only = off", "RESET ALL", "RESET SESSION AUTHORIZATION",
                   "RESET ROLE", "CLOSE ALL", "DEALLOCATE ALL", "UNLISTEN *", "DISCARD TEMP"] + settings
        self._restore = "; ".join(restore) + "; "
        local = ["SET LOCAL transaction_read_only = off", "SET LOCAL SESSION AUTHORIZATION DEFAULT"]
        if start.role != start.session_user:
            local.append("SET LOCAL ROLE %s" % _quote(start.role))
        local += ["SET LOCAL search_path TO pg_catalog", "SET LOCAL statement_timeout = 0",
                  "SET LOCAL lock_timeout = 0"]
        self._in_script = "; ".join(local) + "; "

    def restore(self):
        """SQL that puts the session back as it started, ending in "; " (session-level)."""
        return self._restore

    def in_script(self):
        """SQL that gives the rest of the current transaction the tool's role and settings."""
        return self._in_script

    def apply_settings(self, cursor):
        if self.settings:
            cursor.execute(self.settings)

    def checked(self, update, params):
        """An UPDATE of one history row, made to fail unless it hit exactly that row and the lock is ours.

        The failure is a cast error carrying LOCK_LOST or ROW_GONE, so it needs no
        function of ours in the database and costs no round trip of its own.
        """
        return sql.SQL(
            "WITH done AS ({update} RETURNING 1) SELECT pg_catalog.int4(CASE WHEN NOT {held} THEN {lost}"
            " WHEN (SELECT pg_catalog.count(*) FROM done) <> 1 THEN {gone} ELSE '0' END)").format(
                update=update, held=sql.SQL(held_sql(self.lock.key, self.lock.token)),
                lost=sql.Literal(LOCK_LOST), gone=sql.Literal(ROW_GONE)), params


    @staticmethod
    def history_mark(table_oid):
        """SQL, after a transactional script's BEGIN: this session's counts of the history
        table's written rows, kept for the rest of the transaction (see history_check)."""
        return "SELECT pg_catalog.set_config('%s', %s, true);\n" % (_MARK, _counts(table_oid))

    @staticmethod
    def history_check(table_oid):
        """SQL that fails (HISTORY_CHANGED) when the script changed the history table in its transaction.

        Changed: the table's pg_class row written by this transaction (TRUNCATE, ALTER,
        CLUSTER, DROP), or a row of it inserted, updated or deleted since history_mark
        (this session's own counts; unknown, so not checked, when the script reset the
        mark, e.g. with RESET ALL, or the server counts nothing: track_counts off).
        Catalog reads by oid: nothing proportional to the history's length.
        """
        counts = _counts(table_oid)
        return ("SELECT pg_catalog.int4(CASE WHEN coalesce((SELECT pg_catalog.age(xmin) <= 0"
                " FROM pg_catalog.pg_class WHERE oid = %d::pg_catalog.oid), true)"
                " OR coalesce(NULLIF(pg_catalog.current_setting('%s', true), ''), %s) <> %s"
                " THEN %s ELSE '0' END); " % (table_oid, _MARK, counts, counts, _literal(HISTORY_CHANGED)))


_MARK = "migrate_tables.history_rows"


def _counts(table_oid):
    return ("pg_catalog.concat_ws(',', pg_catalog.pg_stat_get_xact_tuples_inserted(%d::pg_catalog.oid),"
            " pg_catalog.pg_stat_get_xact_tuples_updated(%d::pg_catalog.oid),"
            " pg_catalog.pg_stat_get_xact_tuples_deleted(%d::pg_catalog.oid))" % ((table_oid,) * 3))


def _literal(text):
    return "'%s'" % text.replace("'", "''")


def bookkeeping_error(error):
    """LOCK_LOST, ROW_GONE or HISTORY_CHANGED when a psycopg2 error was raised by
    `Session.checked` or `Session.history_check`, else None."""
    message = getattr(getattr(error, "diag", None), "message_primary", None) or ""
    for marker in (LOCK_LOST, ROW_GONE, HISTORY_CHANGED):
        if marker in message:
            return marker
    return None


def _quote(name):
    return '"%s"' % name.replace('"', '""')
