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

from ..pg import indexes
from ..errors import BookkeepingFailed, Interrupted, LockWaitExhausted, ScriptFailed
from ..pg.lockwait import describe_blockers, pause, pg_duration
from ..pg.session import LOCK_LOST, bookkeeping_error
from ..source.statements import TRANSACTION, line_at

log = logging.getLogger("flask_migrate_tables")

_CRASH_AT = os.environ.get("MIGRATE_TABLES_CRASH_AT")


def crash_point(name):
    """Fault injection for the crash tests: die here like a killed process would."""
    if _CRASH_AT == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _sqlstate_failure(script, text, error, offset, consequence, head=0):
    """A one-line ScriptFailed naming file, line, SQLSTATE and PostgreSQL's message.

    `offset`: where in `text` the failed message's part of the script starts;
    `head`: how many characters of the tool's own statements came before it.
    """
    diag = error.diag
    where = ""
    message = (diag.message_primary or str(error)).strip()
    if diag.statement_position:
        where = " line %d:" % line_at(text, offset + int(diag.statement_position) - 1 - head)
    else:
        line = _statement_line(text, offset, message)
        if line:
            where = " line %d:" % line
        elif offset:
            where = " statement at line %d:" % line_at(text, offset)
    detail = "; " + diag.message_detail if diag.message_detail else ""
    if error.pgcode == "25001":  # a statement PostgreSQL refuses in a transaction (see statements.py)
        consequence += ("; PostgreSQL runs it only outside a transaction: make `-- migrate: "
                        "no-transaction` the script's first line")
    return ScriptFailed("%s:%s SQLSTATE %s: %s%s; %s"
                        % (script.name, where, error.pgcode, message, detail, consequence))


_QUOTED = re.compile(r'"((?:[^"]|"")+)"')
_REFUSED_COMMAND = re.compile(r"^(\w+(?: \w+)*) cannot run inside a transaction block")


def _statement_line(text, offset, message):
    """For an error PostgreSQL reports without a position: the line of the one statement it fits.

    PostgreSQL does not say which statement of a message failed; psql knows, as it
    sends one at a time. So (only when a script has failed) the statements from
    `offset` on are split out and matched: the command a 25001 refusal names, or
    the names in double quotes the message gives (`relation "missing" does not
    exist`). A line only when exactly one statement fits; else None.
    """
    if not isinstance(text, str):
        return None
    from ..source.statements import split_statements
    try:
        statements = split_statements(text[offset:], "")
    except ScriptFailed:
        return None
    refused = _REFUSED_COMMAND.match(message)
    if refused:
        words = refused.group(1).upper().split()
        fits = [s for s in statements if _first_words(s.text, len(words)) == words]
    else:
        names = [name.replace('""', '"').lower() for name in _QUOTED.findall(message)]
        fits = [s for s in statements if names and any(
            re.search(r"(?<![\w$])%s(?![\w$])" % re.escape(name), s.text.lower()) for name in names)]
    if len(fits) != 1:
        return None
    return line_at(text, offset) + fits[0].line - 1


def _first_words(statement, count):
    words = re.sub(r"--[^\n]*|/\*.*?\*/", " ", statement, flags=re.S).upper().split()
    return [word.strip(";(") for word in words[:count]]


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
PIECE = 1 << 20


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
    _head = None          # statements due before the script's next message (see _send)
    _head_length = 0      # their length in the message being sent (0 when none)
    _row_pending = False  # the running row of a transactional script is not made yet
    _checksum = _steps_total = None  # of the script being run, for a failure's own row
    _piece_start = 0                 # where in the text the message being sent starts
    _head_sql = _end_sql = None      # the text around every transactional script (one per run)

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
        if isinstance(text, bytes):  # already the bytes to send (migrator._plain_large)
            return text
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
            self._steps_done = 0
            self._checksum, self._steps_total = checksum, len(plan.steps)
            row_id = None
            try:
                if plan.mode == TRANSACTION:
                    # Its own transaction, sent with the script's BEGIN and text (see _start_sql).
                    self._head = self._start_sql(cursor, script, checksum, plan, note, policy)
                    self._row_pending = True
                    self._run_transaction(cursor, script, text, plan, policy)
                else:
                    row_id = self.history.start(cursor, script.version, script.name, checksum,
                                                plan.mode, "running", self.who, len(plan.steps), note,
                                                flush=False, before=_timeouts(policy))
                    self._run_steps(cursor, script, text, plan, row_id, policy, rerun)
            except KeyboardInterrupt:
                raise self._interrupted(cursor, script, plan, row_id)

    @property
    def steps_done(self):
        """Steps of the script being run that are committed (for what a fault leaves behind)."""
        return self._steps_done

    def _start_sql(self, cursor, script, checksum, plan, note, policy):
        """The statements that start a transactional script, as text ending in its BEGIN.

        The script's timeouts, its "running" row in a transaction of its own (whose
        commit does not wait for the disk: the script's does), then the script's
        BEGIN: one message with the script's text, where a separate round trip each
        cost the time of the script itself.
        """
        insert, values = self.history.start_sql(script.version, script.name, checksum, plan.mode,
                                                "running", self.who, len(plan.steps), note)
        if self._head_sql is None:  # the same text for every script of the run
            self._head_sql = (sql.SQL("BEGIN; SET lock_timeout = %s; SET statement_timeout = %s; "
                                      "SET LOCAL synchronous_commit TO off; ") + insert
                              + sql.SQL("; COMMIT; BEGIN;\n")).as_string(self.connection)
        return cursor.mogrify(self._head_sql, [pg_duration(policy.lock_timeout),
                                               pg_duration(policy.statement_timeout)] + values
                              ).decode(self._codec)

    def _applied_sql(self, version, steps_done):
        """The statements that end a transactional script: the session put back, "applied", COMMIT."""
        update, params = self.history.finish_current_sql(version, "applied", steps_done=steps_done)
        if self._end_sql is None:  # the same text for every script of the run
            self._end_sql = (sql.SQL(self.session.restore()) + self.session.checked(update, params)[0]
                             + sql.SQL("; COMMIT")).as_string(self.connection)
        return self._end_sql, params

    def _row_started(self, cursor, version):
        """Whether this attempt's "running" row was committed (its head ran), after a failure."""
        try:
            cursor.execute(*self.history.current_count_sql(version))
            return cursor.fetchone()[0] == 1
        except psycopg2.errors.ObjectNotInPrerequisiteState:  # currval: nothing inserted yet
            self._rollback()
            return False

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
                                 if plan.mode == TRANSACTION else "failed", script=script)
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

    def _run_transaction(self, cursor, script, text, plan, policy):
        step = plan.steps[0] if plan.steps else None
        sent = [0]  # where the piece being sent starts, for the line of an error
        def send(attempt):
            if not self._head:  # a retry: the running row is there; the BEGIN goes with the text
                self._head = "BEGIN;\n"
            if isinstance(text, bytes):  # a large script, whole (see encode)
                self._send(cursor, script, "")
                self._send_in_pieces(cursor, script, text, sent, attempt)
            elif step is not None:
                self._execute_range(cursor, script, text, step.start, step.end)
            else:
                self._send(cursor, script, "")
            crash_point("before-script-commit")

        self._piece_start = step.start if step else 0
        try:
            self._attempts(script, policy, policy.lock_timeout, policy.retries, send)
        except psycopg2.Error as error:
            self._fail_script(cursor, script, text, error, self._piece_start, sent)
        # The history row says "applied" in the script's own transaction, after the
        # session is put back as it started (whatever the script set), and only while
        # the migration lock is still ours.
        self._bookkeeping(cursor, script, None, *self._applied_sql(script.version, len(plan.steps)),
                          steps_done=0)

    def _send(self, cursor, script, body):
        """Send `body` with the statements still due before it (`_head`) in front, in one message.

        After a failure `_head_length` still says how long they were in that
        message (for the line of an error), and `_row_pending` whether the
        attempt's "running" row is still to be made.
        """
        head = self._head or ""
        self._head_length = len(head)
        try:
            _execute(cursor, head + body if head else body)
        except psycopg2.Error:
            if self._row_pending and head and not self.connection.closed:
                try:
                    self._rollback()
                    if self._row_started(cursor, script.version):
                        self._row_pending, self._head = False, None
                except psycopg2.Error as error:  # the connection went too: the first error tells
                    log.info("could not tell whether %s's history row was made: %s", script.name,
                             str(error).strip())
            raise
        if self._row_pending and head:
            self._row_pending = False
        self._head, self._head_length = None, 0

    def _fail_script(self, cursor, script, text, error, offset, sent):
        if self.connection.closed:  # the server went away: the migrator says what is known
            raise error
        if isinstance(error, _Exhausted):
            self._record_failure(cursor, None, str(error.failure(script)), 0, script=script)
            raise error.failure(script)
        head, self._head_length = self._head_length, 0
        self._rollback()
        position = error.diag.statement_position
        if self._row_pending and head and (position is None or int(position) <= head):
            # The tool's own statements before the script failed, not a line of the script.
            raise BookkeepingFailed("%s: recording its start in %s failed: SQLSTATE %s: %s; nothing "
                                    "of the script was run" % (
                                        script.name, self.history.table_name, error.pgcode,
                                        (error.diag.message_primary or str(error)).strip()))
        if self._copying is not None:
            failure = _copy_failure(script, self._copying, error, "the script's changes were rolled back")
            self._record_failure(cursor, None, str(failure), 0, script=script)
            raise failure
        if isinstance(text, bytes):  # read back, for the line of the error
            offset = len(text[:sent[0]].decode(self._codec))
            text = text.decode(self._codec)
        failure = _sqlstate_failure(script, text, error, offset, "the script's changes were rolled back",
                                    head)
        self._record_failure(cursor, None, str(failure), 0, script=script)
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

    def _execute_range(self, cursor, script, text, start, end):
        """Send text[start:end], the COPYs inside it through copy_expert with their rows.

        `_piece_start` says where the piece being sent starts, for the line of an error.
        """
        position = start
        for copy in self._copies:
            if not start <= copy.start < end:
                continue
            self._piece_start = position
            self._send(cursor, script, text[position:copy.start])
            self._copy(cursor, copy)
            position = copy.end
        self._piece_start = position
        self._send(cursor, script, text if (position, end) == (0, len(text)) else text[position:end])

    def _has_copy(self, step):
        return any(step.start <= copy.start < step.end for copy in self._copies)

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
                    self._head = "BEGIN;\n"
                    self._execute_range(cursor, script, text, step.start, step.end)
                    return
                log.info("%s: running line %d outside a transaction", script.name, step.line)
                self._piece_start = step.start
                if self._has_copy(step):  # COPY ... FROM stdin, committed by itself
                    self._execute_range(cursor, script, text, step.start, step.end)
                elif concurrent:  # no lock timeout for it; the script's own setting back after it
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
                    failure = error.failure(script, consequence, committed=self._steps_done)
                elif self._copying is not None:
                    self._rollback()
                    failure = _copy_failure(script, self._copying, error, consequence)
                else:
                    self._rollback()
                    failure = _sqlstate_failure(script, text, error, self._piece_start, consequence,
                                                self._head_length)
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
            self._record_failure(cursor, row_id, message, steps_done, script=script)
            raise BookkeepingFailed(message)

    def _record_failure(self, cursor, row_id, message, steps_done, outcome="failed", script=None):
        """Mark the attempt failed; a second error (a lost connection) must not hide the first.

        `row_id` None: the attempt of `script` whose row the head inserted (matched by
        version, host and pid, as its id was never read), or, when the head never ran
        (a syntax error anywhere in the message stops all of it), a new row.
        """
        if row_id is not None:
            query, params = self.history.finish_sql(row_id, outcome, message, steps_done=steps_done)
        else:
            query, params = self.history.finish_running_sql(script.version, self.who, outcome, message,
                                                             steps_done=steps_done)
        try:
            self._rollback()
            cursor.execute(sql.SQL(self.session.restore()) + query, params)
            if row_id is None and cursor.rowcount == 0:
                self.history.record(script.version, script.name, self._checksum, TRANSACTION, outcome,
                                    self.who, error=message, steps_total=self._steps_total)
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

    def failure(self, script, consequence="the script was rolled back", committed=0):
        """`committed`: steps of the script that stay committed (the next run then asks for --retry)."""
        then = ("then `migrate_tables --retry %d` runs the whole script again (or finish it by hand "
                "and run `migrate_tables --mark-applied %d`)" % (script.version, script.version)
                if committed else "then run migrate_tables again")
        return LockWaitExhausted(
            "%s: lock not granted within %gs in %d attempt%s; %s; %s. Wait for that session to "
            "finish (or end it), %s; --ddl-lock-timeout and --ddl-retries give the script longer" % (
                script.name, self.lock_timeout, self.attempts, "" if self.attempts == 1 else "s",
                self.blockers, consequence, then))
