"""Running one script over the psycopg2 connection, and recording it in the history.

A script that can run in a transaction runs whole in one, and its history
row is marked applied inside that same transaction, so "applied" and
"recorded" never come apart. A script in steps records its progress with
each committed step, so a crash says exactly how far it got.

Each step waits at most the policy's lock timeout for its locks and is
retried when that runs out (retries.py, lockwait.py); the tool's own
statements are immune to what the script did to the session (session.py) and
fail unless the migration lock is still ours. A CONCURRENTLY step run again
first drops the INVALID index an earlier attempt left (indexes.py).

What is sent for the script and what is known about it live in one
wire.Message; the words of every failure in failures.py.
"""
import logging
import os
import signal

import psycopg2
from psycopg2 import sql

from ..pg import indexes
from ..errors import BookkeepingFailed, Interrupted
from ..pg.lockwait import pg_duration
from ..pg.session import may_change_session
from ..source.statements import TRANSACTION
from . import failures, retries
from .failures import ROLLED_BACK
from .wire import Frame, Message, codec, rollback

log = logging.getLogger("flask_migrate_tables")

_CRASH_AT = os.environ.get("MIGRATE_TABLES_CRASH_AT")

# A script at least this large that runs whole is handed to run() already encoded,
# and a UTF-8 one goes to the server in pieces (wire.pieces).
LARGE_SCRIPT = 1 << 20


def crash_point(name):
    """Fault injection for the crash tests: die here like a killed process would."""
    if _CRASH_AT == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _timeouts(policy):
    return "SET lock_timeout = '%s'; SET statement_timeout = '%s'; " % (
        pg_duration(policy.lock_timeout), pg_duration(policy.statement_timeout))


class ScriptRunner:
    """Applies one script at a time on an autocommit psycopg2 connection."""

    def __init__(self, connection, history, who, session, policy, watch=None, listener=None):
        self.connection = connection
        self.history = history
        self.who = who
        self.session = session
        self.policy = policy
        self.watch = watch
        self.listener = listener
        self._message = None  # of the script being run (or the last one)
        self._frame = Frame(connection, history, session, who)

    def encode(self, text, plan):
        """A large script that runs whole as the bytes psycopg2 would send; any other, as it is.

        A caller that rebinds its only reference to what this returns lets the
        text go before the script is sent (in pieces, see wire.pieces), so a large
        data script costs little more than one copy of itself. run() takes either.
        """
        if isinstance(text, bytes):  # already the bytes to send (migrator._plain_large)
            return text
        step = plan.steps[0] if plan.mode == TRANSACTION and len(plan.steps) == 1 else None
        if step is None or len(text) < LARGE_SCRIPT or (step.start, step.end) != (0, len(text)) \
                or plan.prepared is not None:
            return text
        return text.encode(codec(self.connection))

    def run(self, script, text, checksum, plan, note=None, policy=None, rerun=False):
        """Apply one script and record it; raise ScriptFailed with the database as before it.

        `policy` is the script's lock-wait policy (default: the runner's); `rerun`
        says an earlier attempt of this script failed or was interrupted.
        """
        policy = policy or self.policy
        with self.connection.cursor() as cursor:
            # A transactional script has no "running" row: its row is written as it
            # ends (see Frame). A script in steps has one, visible at once; it reaches
            # the disk with its first step's commit, so a server crash loses it only
            # together with everything the script did, as if it had never started.
            # The script's timeouts are session settings from here on, so that a script's
            # own SET of them holds for its later statements, as in psql.
            self._message = m = Message(cursor, self.history, script, text, checksum, plan)
            m.note = note
            del text
            try:
                if plan.mode == TRANSACTION:
                    m.head = self._frame.start(policy)  # sent with the script's text
                    self._run_transaction(m, policy)
                else:
                    self._frame.forget_timeouts()  # set here; the session is put back after it
                    m.row_id = self.history.start(cursor, script.version, script.name, checksum,
                                                  plan.mode, "running", self.who, len(plan.steps),
                                                  note, flush=False, before=_timeouts(policy))
                    self._run_steps(m, policy, rerun)
            except KeyboardInterrupt:
                raise self._interrupted(m)
            finally:
                m.release()

    @property
    def steps_done(self):
        """Steps of the script being run that are committed (for what a fault leaves behind)."""
        return self._message.steps_done if self._message is not None else 0

    def _interrupted(self, m):
        """Ctrl-C (the statement was cancelled on the server): record and say what is true."""
        done, transactional = m.steps_done, m.plan.mode == TRANSACTION
        message = failures.script_interrupted(m.script, m.plan, done, transactional)
        try:
            self._record_failure(m, message, done,
                                 outcome="interrupted" if transactional else "failed")
        except KeyboardInterrupt:
            pass
        return Interrupted(message)

    def _attempts(self, m, policy, lock_timeout, retries_left, send):
        return retries.attempts(send, m.script, policy, lock_timeout, retries_left, self.watch,
                                self.listener, lambda: rollback(self.connection))

    # -- a script in one transaction -------------------------------------------------

    def _run_transaction(self, m, policy):
        step = m.plan.steps[0] if m.plan.steps else None
        changed = may_change_session(m.text)

        def send(attempt):
            if not m.head:  # a retry after the first message went: BEGIN and the mark go with the text
                m.head = self._frame.start(policy)
            if isinstance(m.text, bytes):  # a large script, whole (see encode)
                m.send("")
                m.send_in_pieces()
            elif step is not None:
                m.send_range(step.start, step.end)
            else:
                m.send("")
            crash_point("before-script-commit")

        m.offset = step.start if step else 0
        try:
            self._attempts(m, policy, policy.lock_timeout, policy.retries, send)
        except psycopg2.Error as error:
            self._fail_script(m, error)
        # The history row says "applied" in the script's own transaction, after the
        # session is put back as it started (when the script could have changed it),
        # and only while the migration lock is still ours.
        self._bookkeeping(m, *self._frame.end(m.script, m.checksum, m.plan, m.note, changed),
                          steps_done=0)

    def _fail_script(self, m, error):
        if self.connection.closed:  # the server went away: the migrator says what is known
            raise error
        if isinstance(error, retries.Exhausted):
            failure = failures.lock_wait_exhausted(m.script, error)
            self._record_failure(m, str(failure), 0)
            raise failure
        head, m.head_length = m.head_length, 0
        rollback(self.connection)
        position = error.diag.statement_position
        if head and position is not None and int(position) <= head:
            # The tool's own statements before the script failed, not a line of the script.
            raise failures.start_not_recorded(m.script, self.history.table_name, error)
        if m.copying is not None:
            failure = failures.copy_failure(m.script, m.copying, error, ROLLED_BACK)
        else:
            text, offset = m.failed_text()
            failure = failures.sqlstate_failure(m.script, text, error, offset, ROLLED_BACK, head)
        self._record_failure(m, str(failure), 0)
        raise failure

    # -- a script in steps --------------------------------------------------------------

    def _run_steps(self, m, policy, rerun):
        for number, step in enumerate(m.plan.steps, 1):
            self._run_step(m, number, step, policy, rerun)
        total = len(m.plan.steps)
        applied = self.session.checked(*self.history.finish_sql(m.row_id, "applied", steps_done=total))
        self._bookkeeping(m, sql.SQL(self.session.restore()) + applied[0], applied[1],
                          steps_done=total)

    def _run_step(self, m, number, step, policy, rerun):
        body = m.text[step.start:step.end]
        progress = self.session.checked(*self.history.progress_sql(m.row_id, number))
        concurrent = not step.transactional and indexes.is_concurrent(step.statements[0])
        try:
            if concurrent and rerun:
                for dropped in indexes.drop_invalid(m.cursor, step.statements[0].text):
                    message = ("dropped the invalid index %s left by an earlier attempt of %s"
                               % (dropped, m.script.name))
                    log.warning(message)
                    if self.listener is not None:
                        self.listener.notice(message)
            # CONCURRENTLY blocks no reads or writes, and waiting for older transactions
            # is how it works: no lock timeout for it.
            self._attempts(m, policy, 0 if concurrent else policy.lock_timeout,
                           0 if concurrent else policy.retries,
                           lambda attempt: self._send_step(m, step, body, concurrent))
        except psycopg2.Error as error:
            self._step_failed(m, number, step, error)
        if not step.transactional:  # committed by itself, whatever the bookkeeping does next
            m.steps_done = number
        # Bookkeeping with the tool's role and settings, the script's session kept.
        suffix = sql.SQL("; COMMIT") if step.transactional else sql.SQL("")
        self._bookkeeping(m, sql.SQL(self.session.in_script()) + progress[0] + suffix, progress[1],
                          steps_done=number - 1 if step.transactional else number)
        m.steps_done = number

    def _send_step(self, m, step, body, concurrent):
        if step.transactional:
            m.head = "BEGIN;\n"
            m.send_range(step.start, step.end)
            return
        cursor = m.cursor
        log.info("%s: running line %d outside a transaction", m.script.name, step.line)
        m.offset = step.start
        if m.has_copy(step):  # COPY ... FROM stdin, committed by itself
            m.send_range(step.start, step.end)
        elif concurrent:  # no lock timeout for it; the script's own setting back after it
            cursor.execute("SELECT pg_catalog.current_setting('lock_timeout'),"
                           " pg_catalog.set_config('lock_timeout', '0', false)")
            saved = cursor.fetchone()[0]
            try:
                cursor.execute(body)
            finally:
                if self.connection.info.transaction_status == 0:
                    cursor.execute("SELECT pg_catalog.set_config('lock_timeout', %s, false)", (saved,))
        else:
            cursor.execute(body)
        crash_point("after-autocommit-step")

    def _step_failed(self, m, number, step, error):
        consequence = failures.step_consequence(number, m.plan, step)
        if isinstance(error, retries.Exhausted):
            failure = failures.lock_wait_exhausted(m.script, error, consequence,
                                                   committed=m.steps_done)
        elif m.copying is not None:
            rollback(self.connection)
            failure = failures.copy_failure(m.script, m.copying, error, consequence)
        else:
            rollback(self.connection)
            failure = failures.sqlstate_failure(m.script, m.text, error, m.offset, consequence,
                                                m.head_length)
        self._record_failure(m, str(failure), number - 1)
        raise failure

    # -- the tool's own statements ----------------------------------------------------

    def _bookkeeping(self, m, query, params, steps_done):
        """Run a checked history update; its failure is the tool's, never a line of the script."""
        try:
            m.cursor.execute(query, params)
        except psycopg2.Error as error:
            rollback(self.connection)
            message = failures.bookkeeping_failure(m.script, self.history.table_name, error)
            self._record_failure(m, message, steps_done)
            raise BookkeepingFailed(message)

    def failure_row(self, outcome, message, steps_done):
        """(query, params) that record how the script being run ended, after its rollback.

        A script in steps: its "running" row updated. A transactional one (no row
        of its own until it ends): its row inserted.
        """
        m = self._message
        if m.row_id is not None:
            return self.history.finish_sql(m.row_id, outcome, message, steps_done=steps_done)
        return self.history.finished_sql(m.script.version, m.script.name, m.checksum, TRANSACTION, outcome,
                                         self.who, len(m.plan.steps), m.note, error=message,
                                         steps_done=steps_done)

    def _record_failure(self, m, message, steps_done, outcome="failed"):
        """Record the attempt's end; a second error (a lost connection) must not hide the first."""
        query, params = self.failure_row(outcome, message, steps_done)
        self._frame.forget_timeouts()
        try:
            rollback(self.connection)
            m.cursor.execute(sql.SQL(self.session.restore()) + query, params)
        except psycopg2.Error as error:
            log.warning("could not record the failure in the history: %s", str(error).strip())
