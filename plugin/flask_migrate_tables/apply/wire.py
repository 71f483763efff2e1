"""The message sent for one script, and what is known about it while it runs.

ScriptRunner.run makes one `Message` per script: the script, its text (or the
bytes of a large one) and plan, the COPYs psql's lines became, the statements
due in front of the next message (`head`: the transactional script's BEGIN, and
its timeouts when the session lacks them), how far the sending got (for the line of an error) and how
many steps are committed. The runner reads it to word a failure (failures.py)
and to record it; nothing else keeps per-script state.
"""
import io
import logging

import psycopg2
import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql

from ..pg.lockwait import pg_duration

log = logging.getLogger("flask_migrate_tables")

# A UTF-8 script sent whole goes to the server in pieces of about PIECE bytes.
PIECE = 1 << 20


def execute(cursor, query):
    """Send `query`; a script of comments only (PostgreSQL's "empty query") runs nothing."""
    try:
        cursor.execute(query)
    except psycopg2.ProgrammingError as error:
        if error.pgcode is not None or "empty query" not in str(error):
            raise


def pieces(data):
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


def codec(connection):
    """The Python codec of the connection's client encoding (what psycopg2 encodes text with)."""
    return psycopg2.extensions.encodings[connection.encoding]


def rollback(connection):
    """End the transaction in progress, if any (nothing on a closed connection)."""
    if connection.closed:
        return
    if connection.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
        with connection.cursor() as cursor:
            cursor.execute("ROLLBACK")


class Frame:
    """The statements around every transactional script of a run, their text made once.

    No "running" row: a transactional script that dies mid-way leaves nothing
    behind, its history row included, and its row is written as it ends, inside
    its own transaction ("applied") or after its rollback ("failed",
    "interrupted"). The session is put back (and the script timeouts set again)
    only after a script that could have changed it (`may_change_session`).
    """

    def __init__(self, connection, history, session, who):
        self.connection, self.history, self.session, self.who = connection, history, session, who
        self._timeouts = None  # (lock, statement) as the session has them now; None: unknown
        self._end_sql = {}

    def forget_timeouts(self):
        """The session was put back (RESET ALL) or may have changed: set the timeouts again."""
        self._timeouts = None

    def start(self, policy):
        """The statements that start a transactional script, as text ending in its BEGIN.

        The script's timeouts (session settings, so that a script's own SET of them
        holds for its later statements, as in psql) in a transaction of their own,
        which a failure of the script cannot roll back, only when the session does
        not have them already; then the script's BEGIN, and the mark the end checks the
        history table against (Session.history_mark). Sent with the script's text.
        """
        mark = self.session.history_mark(self.history.oid)
        timeouts = (pg_duration(policy.lock_timeout), pg_duration(policy.statement_timeout))
        if timeouts == self._timeouts:
            return "BEGIN; " + mark
        self._timeouts = timeouts
        return "BEGIN; SET lock_timeout = %s; SET statement_timeout = %s; COMMIT; BEGIN; %s" % (
            sql.Literal(timeouts[0]).as_string(self.connection),
            sql.Literal(timeouts[1]).as_string(self.connection), mark)

    def end(self, script, checksum, plan, note, changed, mode=None):
        """The statements that end a transactional script: the history table checked (the script
        must not have touched it), the session put back when `changed`, the "applied" row
        (checked against the migration lock; its mode `mode`, default the plan's), COMMIT; and
        its parameters."""
        insert, params = self.history.finished_sql(script.version, script.name, checksum,
                                                   mode or plan.mode,
                                                   "applied", self.who, len(plan.steps), note,
                                                   steps_done=len(plan.steps))
        if changed:
            self.forget_timeouts()
        text = self._end_sql.get(changed)
        if text is None:  # the same text for every script of the run
            before = self.session.history_check(self.history.oid) + (
                self.session.restore() if changed else "")
            text = self._end_sql[changed] = (sql.SQL(before) + self.session.checked(insert, params)[0]
                                             + sql.SQL("; COMMIT")).as_string(self.connection)
        return text, params


class Message:
    """One script on its way to the server over `cursor`, and how far it got."""

    def __init__(self, cursor, history, script, text, checksum, plan):
        self.cursor, self.connection, self.history = cursor, cursor.connection, history
        self.script, self.checksum, self.plan = script, checksum, plan
        if plan.prepared is not None:  # psql's own lines taken out; the COPYs run on their own
            text, self.copies = plan.prepared.text, plan.prepared.copies
        else:
            self.copies = ()
        self.text = text
        self.row_id = None        # the history row of a script in steps
        self.note = None          # the history row's note ("--retry")
        self.steps_done = 0       # steps committed (for what a fault leaves behind)
        self.head = None          # statements due before the script's next message (see send)
        self.head_length = 0      # their length in the message being sent (0 when none)
        self.offset = 0           # where in the text the message being sent starts
        self.sent = 0             # where in a large script's bytes the piece being sent starts
        self.copying = None       # the COPY being loaded

    def release(self):
        """Let the text go with the caller's last reference; what is known stays."""
        self.text = self.copies = self.cursor = None

    def send(self, body):
        """Send `body` with the statements still due before it (`head`) in front, in one message.

        After a failure `head_length` still says how long they were in that
        message (for the line of an error); the head is sent again with the next
        attempt (its BEGIN, and its timeouts when it had them: see Frame.start).
        """
        head = self.head or ""
        self.head_length = len(head)
        execute(self.cursor, head + body if head else body)
        self.head, self.head_length = None, 0

    def send_in_pieces(self):
        """Send a large script's bytes (see pieces); a syntax error sends them again whole."""
        data, cursor = self.text, self.cursor
        cuts = list(pieces(data)) if codec(self.connection) == "utf_8" else [(0, len(data))]
        try:
            for start, end in cuts:
                self.sent = start
                execute(cursor, data[start:end])
        except psycopg2.errors.SyntaxError:
            if len(cuts) == 1:
                raise
            # Maybe a cut in the wrong place (see pieces): the whole script decides.
            log.info("%s: a syntax error in the piece at byte %d; sending the whole script again",
                     self.script.name, self.sent)
            cursor.execute("ROLLBACK")
            cursor.execute("BEGIN")
            self.sent = 0
            execute(cursor, data)

    def send_range(self, start, end):
        """Send text[start:end], the COPYs inside it through copy_expert with their rows.

        `offset` says where the piece being sent starts, for the line of an error.
        """
        text, position = self.text, start
        for copy in self.copies:
            if not start <= copy.start < end:
                continue
            self.offset = position
            self.send(text[position:copy.start])
            self._copy(copy)
            position = copy.end
        self.offset = position
        self.send(text if (position, end) == (0, len(text)) else text[position:end])

    def has_copy(self, step):
        return any(step.start <= copy.start < step.end for copy in self.copies)

    def _copy(self, copy):
        # psycopg2 runs COPY only without a wait callback (see lockwait.watching).
        callback = psycopg2.extensions.get_wait_callback()
        psycopg2.extensions.set_wait_callback(None)
        self.copying = copy
        try:
            self.cursor.copy_expert(copy.statement, io.StringIO(copy.data))
        finally:
            psycopg2.extensions.set_wait_callback(callback)
        self.copying = None

    def failed_text(self):
        """(text, offset) for the line of an error: the script's text and where the failed part starts."""
        if isinstance(self.text, bytes):  # read back
            name = codec(self.connection)
            return self.text.decode(name), len(self.text[:self.sent].decode(name))
        return self.text, self.offset
