"""Running one script over the psycopg2 connection, and recording it in the history.

A script that can run in a transaction runs whole in one, and its history
row is marked applied inside that same transaction, so "applied" and
"recorded" never come apart. A script in steps records its progress with
each committed step, so a crash says exactly how far it got.

Each step waits at most the policy's lock timeout for its locks and is
retried when that runs out (lockwait.py); the tool's own statements are
immune to what the script did to the session (session.py) and fail unless
the migration lock is still ours. A CONCURRENTLY step run again first drops
the INVALID index an earlier attempt left (indexes.py).
"""
import io
import logging
import os
import re
import signal
import time

import psycopg2
import psycopg2.errors
from psycopg2 import sql

from . import indexes
from .errors import BookkeepingFailed, Interrupted, LockWaitExhausted, ScriptFailed
from .lockwait import describe_blockers, pause, pg_duration
from .session import LOCK_LOST, bookkeeping_error
from .statements import TRANSACTION, line_at

log = logging.getLogger("myapp.migrate")

_CRASH_AT = os.environ.get("MIGRATE_TABLES_CRASH_AT")


def crash_point(name):
    """Fault injection for the crash tests: die here like a killed process would."""
    if _CRASH_AT == name:
        os.kill(os.getpid(), signal.SIGKILL)


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


def _timeouts(policy):
    return "SET lock_timeout = '%s'; SET statement_timeout = '%s'; " % (
        pg_duration(policy.lock_timeout), pg_duration(policy.statement_timeout))


_COPY_LINE = re.compile(r"\bline (\d+)")


def _copy_failure(script, copy, error, consequence):
    """A failed COPY names the file's line of the bad row (PostgreSQL counts the rows' lines)."""
    diag = error.diag
    match = _COPY_LINE.search(diag.context or "")
    where = (" line %d:" % (copy.data_line + int(match.group(1)) - 1) if match
             else " COPY at line %d:" % (copy.data_line - 1))
    message = (diag.message_primary or str(error)).strip()
    return ScriptFailed("%s:%s SQLSTATE %s: %s; %s" % (script.name, where, error.pgcode, message,
                                                         consequence))


def _execute(cursor, query):
    try:
        cursor.execute(query)
    except psycopg2.ProgrammingError as error:
        # A script of comments only: PostgreSQL answers "empty query"; nothing to run.
        if error.pgcode is not None or "empty query" not in str(error):
            raise


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


class Attempt:
    """One try of one step: its lock timeout and how it ended."""

    def __init__(self, policy, number, total, lock_timeout):
        self.policy, self.number, self.total, self.lock_timeout = policy, number, total, lock_timeout


class ScriptRunner:
    """Applies one script at a time on an autocommit psycopg2 connection."""

    _copies = ()
    _copying = None
    _steps_done = 0

    def __init__(self, connection, history, who, session, policy, watch=None, listener=None):
        self.connection = connection
        self.history = history
        self.who = who
        self.session = session
        self.policy = policy
        self.watch = watch
        self.listener = listener

    def encode(self, text, plan):
        """A large script that runs whole as the bytes psycopg2 would send; any other, as it is.

        A caller that rebinds its only reference to what this returns lets the
        text go before the script is sent (in pieces, see _pieces), so a large
        data script costs little more than one copy of itself. run() takes either.
        """
        step = plan.steps[0] if plan.mode == TRANSACTION and len(plan.steps) == 1 else None
        if step is None or len(text) < LARGE_SCRIPT or (step.start, step.end) != (0, len(text)) \
                or plan.prepared is not None:
            return text
        return text.encode(self._codec)

    @property
    def _codec(self):
        return psycopg2.extensions.encodings[self.connection.encoding]

    def run(self, script, text, checksum, plan, note=None, policy=None, rerun=False):
        """Apply one script and record it; raise ScriptFailed with the database as before it.

        `policy` is the script's lock-wait policy (default: the runner's); `rerun`
        says an earlier attempt of this script failed or was interrupted.
        """
        policy = policy or self.policy
        self._copying = None
        if plan.prepared is not None:  # psql's own lines taken out; the COPYs run on their own
            text, self._copies = plan.prepared.text, plan.prepared.copies
        else:
            self._copies = ()
        with self.connection.cursor() as cursor:
            # The "running" row is visible at once; it reaches the disk with the script's
            # own commit (or its first step's), so a server crash loses it only together
            # with everything the script did, as if it had never started.
            # The script's timeouts are session settings from here on, so that a script's
            # own SET of them holds for its later statements, as in psql.
            row_id = self.history.start(cursor, script.version, script.name, checksum, plan.mode,
                                        "running", self.who, len(plan.steps), note, flush=False,
                                        before=_timeouts(policy))
            self._steps_done = 0
            try:
                if plan.mode == TRANSACTION:
                    self._run_transaction(cursor, script, text, plan, row_id, policy)
                else:
                    self._run_steps(cursor, script, text, plan, row_id, policy, rerun)
            except KeyboardInterrupt:
                raise self._interrupted(cursor, script, plan, row_id)
        return row_id

    @property
    def steps_done(self):
        """Steps of the script being run that are committed (for what a fault leaves behind)."""
        return self._steps_done

    def _interrupted(self, cursor, script, plan, row_id):
        """Ctrl-C (the statement was cancelled on the server): record and say what is true."""
        done = self._steps_done
        if plan.mode == TRANSACTION or done == 0:
            truth = "nothing of %s was committed (rolled back); run migrate_tables again" % script.name
        else:
            truth = ("steps 1 to %d of %d of %s were committed and stay applied; check the database, "
                     "then `migrate_tables --retry %d` runs the whole script again, or "
                     "`migrate_tables --mark-applied %d` records it finished by hand"
                     % (done, len(plan.steps), script.name, script.version, script.version))
        message = "interrupted while %s ran; %s" % (script.name, truth)
        try:
            self._record_failure(cursor, row_id, message, done, outcome="interrupted"
                                 if plan.mode == TRANSACTION else "failed")
        except KeyboardInterrupt:
            pass
        return Interrupted(message)

    # -- lock waits and retries ----------------------------------------------------

    def _attempts(self, script, policy, lock_timeout, retries, send):
        """Run `send(attempt)` until its locks are granted in time; at most 1 + retries times.

        `send` must leave nothing committed when it raises (a transaction it
        rolls back, or one statement outside a transaction that failed).
        """
        total = retries + 1
        for number in range(1, total + 1):
            attempt = Attempt(policy, number, total, lock_timeout)
            if self.watch is not None:
                self.watch.expect_lock_wait(lock_timeout)
            try:
                return send(attempt)
            except psycopg2.errors.LockNotAvailable as error:
                if not lock_timeout:  # the script's own lock_timeout or NOWAIT: its error
                    raise
                blockers = describe_blockers(self.watch.blockers if self.watch else [])
                self._rollback()
                if number == total:
                    raise _Exhausted(error, blockers, lock_timeout, total)
                wait = pause(number)
                message = ("%s: lock not granted within %gs (attempt %d of %d); %s; retrying in %.1fs"
                           % (script.name, lock_timeout, number, total, blockers, wait))
                log.warning(message)
                if self.listener is not None:
                    self.listener.lock_retry(message)
                time.sleep(wait)
            finally:
                if self.watch is not None:
                    self.watch.expect_lock_wait(0)


    # -- a script in one transaction -------------------------------------------------

    def _run_transaction(self, cursor, script, text, plan, row_id, policy):
        step = plan.steps[0] if plan.steps else None
        sent = [0]  # where the piece being sent starts, for the line of an error
        applied = self.session.checked(*self.history.finish_sql(row_id, "applied",
                                                                steps_done=len(plan.steps)))

        def send(attempt):
            cursor.execute("BEGIN")
            if isinstance(text, bytes):  # a large script, whole (see encode)
                self._send_in_pieces(cursor, script, text, sent, attempt)
            elif step is not None:
                self._execute_range(cursor, text, step.start, step.end)
            crash_point("before-script-commit")

        try:
            self._attempts(script, policy, policy.lock_timeout, policy.retries, send)
        except psycopg2.Error as error:
            self._fail_script(cursor, script, text, error, step.start if step else 0, sent, row_id)
        # The history row says "applied" in the script's own transaction, after the
        # session is put back as it started (whatever the script set), and only while
        # the migration lock is still ours.
        self._bookkeeping(cursor, script, row_id, sql.SQL(self.session.restore()) + applied[0]
                          + sql.SQL("; COMMIT"), applied[1], steps_done=0)

    def _fail_script(self, cursor, script, text, error, offset, sent, row_id):
        if isinstance(error, _Exhausted):
            self._record_failure(cursor, row_id, str(error.failure(script)), 0)
            raise error.failure(script)
        self._rollback()
        if self._copying is not None:
            failure = _copy_failure(script, self._copying, error, "the script's changes were rolled back")
            self._record_failure(cursor, row_id, str(failure), 0)
            raise failure
        if isinstance(text, bytes):  # read back, for the line of the error
            offset = len(text[:sent[0]].decode(self._codec))
            text = text.decode(self._codec)
        failure = _sqlstate_failure(script, text, error, offset, "the script's changes were rolled back")
        self._record_failure(cursor, row_id, str(failure), 0)
        raise failure

    def _send_in_pieces(self, cursor, script, data, sent, attempt):
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

    def _execute_range(self, cursor, text, start, end):
        """Send text[start:end], the COPYs inside it through copy_expert with their rows."""
        position = start
        for copy in self._copies:
            if not start <= copy.start < end:
                continue
            _execute(cursor, text[position:copy.start])
            self._copy(cursor, copy)
            position = copy.end
        _execute(cursor, text if (position, end) == (0, len(text)) else text[position:end])

    def _copy(self, cursor, copy):
        # psycopg2 runs COPY only without a wait callback (see lockwait.watching).
        callback = psycopg2.extensions.get_wait_callback()
        psycopg2.extensions.set_wait_callback(None)
        self._copying = copy
        try:
            cursor.copy_expert(copy.statement, io.StringIO(copy.data))
        finally:
            psycopg2.extensions.set_wait_callback(callback)
        self._copying = None

    # -- a script in steps --------------------------------------------------------------

    def _run_steps(self, cursor, script, text, plan, row_id, policy, rerun):
        for number, step in enumerate(plan.steps, 1):
            body = text[step.start:step.end]
            progress = self.session.checked(*self.history.progress_sql(row_id, number))
            concurrent = not step.transactional and indexes.is_concurrent(step.statements[0])

            def send(attempt, step=step, body=body):
                if step.transactional:
                    cursor.execute("BEGIN")
                    self._execute_range(cursor, text, step.start, step.end)
                    return
                log.info("%s: running line %d outside a transaction", script.name, step.line)
                if concurrent:  # no lock timeout for it; the script's own setting back after it
                    cursor.execute("SELECT pg_catalog.current_setting('lock_timeout'),"
                                   " pg_catalog.set_config('lock_timeout', '0', false)")
                    saved = cursor.fetchone()[0]
                    try:
                        cursor.execute(body)
                    finally:
                        if self.connection.info.transaction_status == 0:
                            cursor.execute("SELECT pg_catalog.set_config('lock_timeout', %s, false)",
                                           (saved,))
                else:
                    cursor.execute(body)
                crash_point("after-autocommit-step")

            try:
                if concurrent and rerun:
                    for dropped in indexes.drop_invalid(cursor, step.statements[0].text):
                        message = ("dropped the invalid index %s left by an earlier attempt of %s"
                                   % (dropped, script.name))
                        log.warning(message)
                        if self.listener is not None:
                            self.listener.notice(message)
                # CONCURRENTLY blocks no reads or writes, and waiting for older transactions
                # is how it works: no lock timeout for it.
                self._attempts(script, policy, 0 if concurrent else policy.lock_timeout,
                               0 if concurrent else policy.retries, send)
            except psycopg2.Error as error:
                if number == 1:
                    consequence = "nothing of the script was committed"
                else:
                    consequence = ("steps 1 to %d of %d (up to line %d) were committed and stay applied"
                                   % (number - 1, len(plan.steps), step.line - 1))
                if isinstance(error, _Exhausted):
                    failure = error.failure(script, consequence)
                elif self._copying is not None:
                    self._rollback()
                    failure = _copy_failure(script, self._copying, error, consequence)
                else:
                    self._rollback()
                    failure = _sqlstate_failure(script, text, error, step.start, consequence)
                self._record_failure(cursor, row_id, str(failure), number - 1)
                raise failure
            if not step.transactional:  # committed by itself, whatever the bookkeeping does next
                self._steps_done = number
            # Bookkeeping with the tool's role and settings, the script's session kept.
            suffix = sql.SQL("; COMMIT") if step.transactional else sql.SQL("")
            self._bookkeeping(cursor, script, row_id,
                              sql.SQL(self.session.in_script()) + progress[0] + suffix, progress[1],
                              steps_done=number - 1 if step.transactional else number)
            self._steps_done = number
        applied = self.session.checked(*self.history.finish_sql(row_id, "applied",
                                                                steps_done=len(plan.steps)))
        self._bookkeeping(cursor, script, row_id, sql.SQL(self.session.restore()) + applied[0],
                          applied[1], steps_done=len(plan.steps))

    # -- the tool's own statements ----------------------------------------------------

    def _bookkeeping(self, cursor, script, row_id, query, params, steps_done):
        """Run a checked history update; its failure is the tool's, never a line of the script."""
        try:
            cursor.execute(query, params)
        except psycopg2.Error as error:
            self._rollback()
            marker = bookkeeping_error(error)
            if marker == LOCK_LOST:
                message = ("%s: the migration lock was lost while it ran (a script that calls "
                           "pg_advisory_unlock_all(), or a pooler in transaction mode); what was not "
                           "committed was rolled back; run migrate_status, then migrate_tables again"
                           % script.name)
            elif marker:
                message = ("%s: the script changed the migration history table (its row is gone); "
                           "what was not committed was rolled back; a migration must not touch %s"
                           % (script.name, self.history.table_name))
            else:
                message = ("%s: recording it in %s failed: SQLSTATE %s: %s" % (
                    script.name, self.history.table_name, error.pgcode,
                    (getattr(error.diag, "message_primary", None) or str(error)).strip()))
            self._record_failure(cursor, row_id, message, steps_done)
            raise BookkeepingFailed(message)

    def _record_failure(self, cursor, row_id, message, steps_done, outcome="failed"):
        """Mark the attempt failed; a second error (a lost connection) must not hide the first."""
        query, params = self.history.finish_sql(row_id, outcome, message, steps_done=steps_done)
        try:
            self._rollback()
            cursor.execute(sql.SQL(self.session.restore()) + query, params)
        except psycopg2.Error as error:
            log.warning("could not record the failure in the history: %s", str(error).strip())

    def _rollback(self):
        if self.connection.closed:
            return
        if self.connection.info.transaction_status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
            with self.connection.cursor() as cursor:
                cursor.execute("ROLLBACK")


class _Exhausted(psycopg2.Error):
    """Lock waits used up; turned into LockWaitExhausted once the script is known."""

    def __init__(self, error, blockers, lock_timeout, attempts):
        super().__init__(str(error))
        self.blockers, self.lock_timeout, self.attempts = blockers, lock_timeout, attempts

    def failure(self, script, consequence="the script was rolled back"):
        return LockWaitExhausted(
            "%s: lock not granted within %gs in %d attempt%s; %s; %s. Wait for that session to "
            "finish (or end it), then run migrate_tables again; --ddl-lock-timeout and "
            "--ddl-retries give the script longer" % (
                script.name, self.lock_timeout, self.attempts, "" if self.attempts == 1 else "s",
                self.blockers, consequence))
