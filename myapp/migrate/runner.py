"""Running scripts over the psycopg2 connection: the lock, the steps, the history rows.

A script that can run in a transaction runs whole in one, and its history
row is marked applied inside that same transaction, so "applied" and
"recorded" never come apart. A script in steps records its progress with
each committed step, so a crash says exactly how far it got.
"""
import logging
import os
import signal
import zlib
from collections import namedtuple

import psycopg2
import psycopg2.errors
from psycopg2 import sql

from .errors import LockTimeout, ScriptFailed
from .statements import TRANSACTION, line_at

log = logging.getLogger("myapp.migrate")

LockHolder = namedtuple("LockHolder", "pid application client since state")

_CRASH_AT = os.environ.get("MIGRATE_TABLES_CRASH_AT")


def crash_point(name):
    """Fault injection for the crash tests: die here like a killed process would."""
    if _CRASH_AT == name:
        os.kill(os.getpid(), signal.SIGKILL)


def lock_key(version_table):
    """One advisory lock per version table (advisory locks are per database already)."""
    return zlib.crc32(("migrate_tables:" + version_table).encode())


class MigrationLock:
    """A session-level advisory lock held for the whole run."""

    def __init__(self, connection, key):
        self.connection = connection
        self.key = key

    def holder(self):
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT a.pid, a.application_name, coalesce(host(a.client_addr), 'local socket'),"
                " a.backend_start, a.state FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted AND l.objid = %s::bigint::oid"
                " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                (self.key,))
            row = cursor.fetchone()
        return LockHolder(*row) if row else None

    def acquire(self, timeout, on_wait):
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
            if cursor.fetchone()[0]:
                return
            on_wait(self.holder())
            cursor.execute("SET lock_timeout = %s", ("%dms" % max(1, timeout * 1000),))
            try:
                cursor.execute("SELECT pg_advisory_lock(%s)", (self.key,))
            except psycopg2.errors.LockNotAvailable:
                holder = self.holder()
                raise LockTimeout(
                    "another migration still holds the lock after %gs (%s); wait for it to finish, "
                    "or raise --lock-timeout" % (timeout, describe_holder(holder)))
            finally:
                cursor.execute("RESET lock_timeout")

    def release(self):
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", (self.key,))


def describe_holder(holder):
    if holder is None:
        return "holder unknown"
    return "held by %s, server pid %d, from %s, since %s, %s" % (
        holder.application or "a session", holder.pid, holder.client,
        holder.since.strftime("%Y-%m-%d %H:%M:%S"), holder.state)


def _sqlstate_failure(script, text, error, offset, consequence):
    """A one-line ScriptFailed naming file, line, SQLSTATE and PostgreSQL's message."""
    diag = error.diag
    where = ""
    if diag.statement_position:
        where = " line %d:" % line_at(text, offset + int(diag.statement_position) - 1)
    elif offset:
        where = " statement at line %d:" % line_at(text, offset)
    message = (diag.message_primary or str(error)).strip()
    detail = "; " + diag.message_detail if diag.message_detail else ""
    return ScriptFailed("%s:%s SQLSTATE %s: %s%s; %s"
                        % (script.name, where, error.pgcode, message, detail, consequence))


def _execute(cursor, query):
    try:
        cursor.execute(query)
    except psycopg2.ProgrammingError as error:
        # A script of comments only: PostgreSQL answers "empty query"; nothing to run.
        if error.pgcode is not None or "empty query" not in str(error):
            raise


def _and_commit(statement):
    """A history update and the COMMIT of its transaction, in one round trip."""
    query, params = statement
    return query + sql.SQL("; COMMIT"), params


# A script at least this large that runs whole is handed to run() already encoded,
# and a UTF-8 one goes to the server in pieces of about PIECE bytes.
LARGE_SCRIPT = 1 << 20
PIECE = 8 << 20


def _pieces(data):
    """(start, end) of the pieces of a large UTF-8 script, each ending after a ";" that ends a line.

    psycopg2 sends a query from one bytes object and libpq keeps two more copies
    of it (its output buffer and the text it keeps for error reports): sent
    whole, a script costs three times its size. A cut is never made after a ";"
    on a line with "--" before it (a comment, where a cut could leave two valid
    statements that mean something else, as `CREATE SCHEMA s -- ;` before a
    `CREATE TABLE`). A cut inside a string, a quoted name, a block comment,
    parentheses or a BEGIN ATOMIC body leaves the piece before it unfinished,
    and PostgreSQL refuses that piece with a syntax error: the runner then sends
    the whole script again in a new transaction.
    """
    start, size = 0, len(data)
    while size - start > PIECE:
        cut = data.find(b";\n", start + PIECE)
        while cut != -1 and b"--" in data[max(data.rfind(b"\n", start, cut) + 1, start):cut]:
            cut = data.find(b";\n", cut + 2)
        if cut == -1:
            break
        yield start, cut + 2
        start = cut + 2
    yield start, size


class ScriptRunner:
    """Applies one script at a time on an autocommit psycopg2 connection."""

    def __init__(self, connection, history, who):
        self.connection = connection
        self.history = history
        self.who = who

    def encode(self, text, plan):
        """A large script that runs whole as the bytes psycopg2 would send; any other, as it is.

        A caller that rebinds its only reference to what this returns lets the
        text go before the script is sent (in pieces, see _pieces), so a large
        data script costs little more than one copy of itself. run() takes either.
        """
        step = plan.steps[0] if plan.mode == TRANSACTION and len(plan.steps) == 1 else None
        if step is None or len(text) < LARGE_SCRIPT or (step.start, step.end) != (0, len(text)):
            return text
        return text.encode(self._codec)

    @property
    def _codec(self):
        return psycopg2.extensions.encodings[self.connection.encoding]

    def run(self, script, text, checksum, plan, note=None):
        """Apply one script and record it; raise ScriptFailed with the database as before it."""
        with self.connection.cursor() as cursor:
            # The "running" row is visible at once; it reaches the disk with the script's
            # own commit (or its first step's), so a server crash loses it only together
            # with everything the script did, as if it had never started.
            row_id = self.history.start(cursor, script.version, script.name, checksum, plan.mode,
                                        "running", self.who, len(plan.steps), note, flush=False)
            if plan.mode == TRANSACTION:
                self._run_transaction(cursor, script, text, plan, row_id)
            else:
                self._run_steps(cursor, script, text, plan, row_id)
        return row_id

    def _run_transaction(self, cursor, script, text, plan, row_id):
        step = plan.steps[0] if plan.steps else None
        sent = [0]  # where the piece being sent starts, for the line of an error
        try:
            cursor.execute("BEGIN")
            if isinstance(text, bytes):  # a large script, whole (see encode)
                self._send_in_pieces(cursor, script, text, sent)
            elif step is not None:
                _execute(cursor, text if (step.start, step.end) == (0, len(text))
                         else text[step.start:step.end])
            crash_point("before-script-commit")
            # The history row says "applied" in the script's own transaction.
            cursor.execute(*_and_commit(self.history.finish_sql(row_id, "applied",
                                                                steps_done=len(plan.steps))))
        except psycopg2.Error as error:
            self._rollback(cursor)
            offset = step.start if step else 0
            if isinstance(text, bytes):  # read back, for the line of the error
                offset = len(text[:sent[0]].decode(self._codec))
                text = text.decode(self._codec)
            failure = _sqlstate_failure(script, text, error, offset,
                                        "the script's changes were rolled back")
            self.history.finish(cursor, row_id, "failed", str(failure), steps_done=0)
            raise failure

    def _send_in_pieces(self, cursor, script, data, sent):
        pieces = list(_pieces(data)) if self._codec == "utf_8" else [(0, len(data))]
        try:
            for start, end in pieces:
                sent[0] = start
                _execute(cursor, data[start:end])
        except psycopg2.errors.SyntaxError:
            if len(pieces) == 1:
                raise
            # Maybe a cut in the wrong place (see _pieces): the whole script decides.
            log.info("%s: a syntax error in the piece at byte %d; sending the whole script again",
                     script.name, sent[0])
            cursor.execute("ROLLBACK")
            cursor.execute("BEGIN")
            sent[0] = 0
            _execute(cursor, data)

    def _run_steps(self, cursor, script, text, plan, row_id):
        for number, step in enumerate(plan.steps, 1):
            body = text[step.start:step.end]
            try:
                if step.transactional:
                    cursor.execute("BEGIN")
                    _execute(cursor, body)
                    cursor.execute(*_and_commit(self.history.progress_sql(row_id, number)))
                else:
                    log.info("%s: running line %d outside a transaction", script.name, step.line)
                    cursor.execute(body)
                    crash_point("after-autocommit-step")
                    cursor.execute(*self.history.progress_sql(row_id, number))
            except psycopg2.Error as error:
                self._rollback(cursor)
                if number == 1:
                    consequence = "nothing of the script was committed"
                else:
                    consequence = ("steps 1 to %d of %d (up to line %d) were committed and stay applied"
                                   % (number - 1, len(plan.steps), step.line - 1))
                failure = _sqlstate_failure(script, text, error, step.start, consequence)
                self.history.finish(cursor, row_id, "failed", str(failure), steps_done=number - 1)
                raise failure
        self.history.finish(cursor, row_id, "applied", steps_done=len(plan.steps))

    def _rollback(self, cursor):
        if self.connection.closed:
            return
        if self.connection.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
            cursor.execute("ROLLBACK")
