"""Running the repeatable scripts of a run (sql/migration/repeatable/NAME.sql), after the versioned ones.

`RepeatableStep` is what Migrator.migrate() holds: the files (read and ordered by
source/repeatables.py), which are due before the lock (nothing due: the run
stays lock-free) and again under it after the versioned scripts ran (one query,
books/repeatables.py), then each due file in its dependency order, in its own
transaction with its history row (mode `repeatable`), with the same lock check,
timeouts, lock-wait retries and session isolation as a versioned script. A
view whose new definition cannot replace the old one is dropped and made again
with its dependents in that transaction (pg/views.py).

A failure is one line (file, line, SQLSTATE), the file's transaction rolled
back, a `failed` row written after the rollback; the versioned scripts stay.
`--to N` below the code's version, and --mark-applied, run none.
"""
import logging
import time
from collections import namedtuple

import psycopg2

from ..books.history import History
from ..books.repeatables import REPEATABLE_MODE, REPEATABLE_VERSION, read_due, reason_text
from ..errors import BookkeepingFailed, Interrupted, InvalidScripts, ScriptFailed, database_failure
from ..pg import run as runs
from ..pg import views
from ..pg.session import may_change_session
from ..source.repeatables import discover_repeatables
from . import failures, retries
from .wire import Frame, Message, execute, rollback

log = logging.getLogger("flask_migrate_tables")

# How a repeatable is named in failures.py's messages (they read .name and .version).
_Named = namedtuple("_Named", "name version")

CONSEQUENCE = ("the file's changes were rolled back (the versioned scripts stay applied); "
               "fix it and run migrate_tables again")


class RepeatableStep:
    """The repeatable scripts of one migrate() call."""

    def __init__(self, migration_dir, runs_them):
        """`runs_them`: the run goes to the code's version (no --to below it, no --mark-applied)."""
        # Read (and a cycle refused) before anything runs.
        self.files = discover_repeatables(migration_dir) if runs_them else []
        self.due = []

    def check(self, connection, history, state):
        """Before the lock: which files are due now (one query; none when there are no files)."""
        self.due = read_due(connection, history.table if state.history_rows else None, self.files)

    def __bool__(self):
        return bool(self.due)

    def run(self, locked, history, who, policy, listener):
        """Under the lock, after the versioned scripts: the due files run; [(Due, seconds)]."""
        if not self.files:
            return []
        runner = _Runner(locked, history, who, policy, listener, self.files)
        return [(item, runner.run(item)) for item in read_due(locked.connection, history.table,
                                                              self.files)]


class _Runner:
    def __init__(self, locked, history, who, policy, listener, files):
        self.connection, self.session, self.watch = locked.connection, locked.session, locked.watch
        self.history, self.who, self.policy, self.listener = history, who, policy, listener
        self.frame = Frame(self.connection, history, locked.session, who)
        self.views = [(o, r) for r in files for o in r.creates if o.kind in ("view", "matview")]

    def file_of(self, schema, name):
        """The repeatable that creates the view schema.name, or None."""
        return next((r for o, r in self.views if o.name == name and o.schema in (None, schema)), None)

    def run(self, due):
        """Run one due file in its own transaction with its history row; its seconds."""
        r, started = due.repeatable, time.monotonic()
        script, note = _Named(r.filename, REPEATABLE_VERSION), reason_text(due)
        self.listener.repeatable_started(r.filename, note)
        with self.connection.cursor() as cursor:
            m = Message(cursor, self.history, script, r.text, r.checksum, r.plan)
            def send(attempt):
                m.head = self._head()
                self._send(m, r)
            try:
                retries.attempts(send, script, self.policy, self.policy.lock_timeout,
                                 self.policy.retries, self.watch, self.listener,
                                 lambda: rollback(self.connection))
            except (psycopg2.Error, views.RebuildFailed) as error:
                self._fail(m, r, error, note)
            except KeyboardInterrupt:
                message = "interrupted while %s ran; %s" % (r.filename, CONSEQUENCE)
                self._record(cursor, r, message, note)
                raise Interrupted(message)
            self._end(cursor, r, script, note)
            m.release()
        seconds = time.monotonic() - started
        log.info("Applied %s in %.3fs", r.filename, seconds)
        self.listener.repeatable_finished(r.filename, seconds)
        return seconds

    def _head(self):
        """The timeouts (when the session lacks them), BEGIN, the history mark, a savepoint: one text."""
        return self.frame.start(self.policy) + "SAVEPOINT %s;\n" % views.SAVEPOINT

    def _send(self, m, r):
        """The file after the head; a view that cannot be replaced made again with its dependents."""
        step = r.plan.steps[0] if r.plan.steps else None
        try:
            if step is not None:
                m.send_range(step.start, step.end)
            else:
                m.send("")
        except psycopg2.Error as error:
            if error.pgcode not in views.VIEW_ERRORS or self.connection.closed:
                raise
            with self.connection.cursor() as cursor:
                cursor.execute("ROLLBACK TO SAVEPOINT %s" % views.SAVEPOINT)
                remade = views.rebuild(cursor, r, self.file_of, execute)
            if remade is None:
                raise error
            if remade:
                self.listener.notice("%s: its views could not be replaced; dropped and made again "
                                     "with the views that depend on them (%s)"
                                     % (r.filename, ", ".join(v.shown for v in remade)))

    def _end(self, cursor, r, script, note):
        """The history table checked, the session put back when the file could have changed it,
        the row "applied" (only while the lock is ours), COMMIT: wire.Frame.end's."""
        query, params = self.frame.end(script, r.checksum, r.plan, note, may_change_session(r.text),
                                       mode=REPEATABLE_MODE)
        try:
            cursor.execute(query, params)
        except psycopg2.Error as error:
            if self.connection.closed:
                raise database_failure(error, "recording %s" % r.filename) from None
            message = failures.bookkeeping_failure(_Named(r.filename, 0), self.history.table_name,
                                                   error)
            self._record(cursor, r, message, note)
            raise BookkeepingFailed(message) from None

    def _fail(self, m, r, error, note):
        """One line for the failure, the transaction rolled back, a `failed` row, raised."""
        if self.connection.closed:
            raise database_failure(error, "running %s" % r.filename) from None
        script, head = m.script, m.head_length
        rollback(self.connection)
        if isinstance(error, retries.Exhausted):
            failure = failures.lock_wait_exhausted(script, error, CONSEQUENCE)
        elif isinstance(error, views.RebuildFailed):
            failure = _rebuild_failure(error)
        elif head and error.diag.statement_position and int(error.diag.statement_position) <= head:
            failure = failures.start_not_recorded(script, self.history.table_name, error)
        else:
            text, offset = m.failed_text()
            failure = failures.sqlstate_failure(script, text, error, offset, CONSEQUENCE, head)
        self._record(m.cursor, r, str(failure), note)
        raise failure from None

    def _record(self, cursor, r, message, note):
        """The `failed` row, after the rollback; a second error must not hide the first."""
        self.frame.forget_timeouts()  # the session is put back: RESET ALL
        try:
            rollback(self.connection)
            cursor.execute(self.session.restore())
            self.history.record(REPEATABLE_VERSION, r.filename, r.checksum, REPEATABLE_MODE, "failed",
                                self.who, note=note, error=message, steps_total=1)
        except psycopg2.Error as error:
            log.warning("could not record the failure in the history: %s", str(error).strip())


def _rebuild_failure(failed):
    error = failed.error
    if failed.text is not None:  # a file's text: its line
        return failures.sqlstate_failure(_Named(failed.filename, 0), failed.text, error, 0,
                                         "while %s; %s" % (failed.what, CONSEQUENCE))
    message = (error.diag.message_primary or str(error)).strip()
    return ScriptFailed("%s: %s: SQLSTATE %s: %s; %s" % (failed.filename, failed.what, error.pgcode,
                                                         message, CONSEQUENCE))


def pending(migrator, to=None):
    """--dry-run: the repeatables a run would run now (after the versioned scripts), [Due]; read-only."""
    if migrator.target(to) != migrator.code_version:
        return []
    files = discover_repeatables(migrator.migration_dir)
    if not files:
        return []
    with runs.connection(migrator.settings, migrator.version_model.__table__.schema) as (
            connection, start, _):
        history = History(connection, migrator.history_table, start.schema)
        exists = history.later_columns() is not None
        return read_due(connection, history.table if exists else None, files)


def status_entries(connection, history, state, migration_dir, warnings):
    """migrate_status: the repeatables that would run and why, as dicts; a bad folder is a warning."""
    try:
        files = discover_repeatables(migration_dir)
    except InvalidScripts as error:
        warnings.append(str(error))
        return []
    return [{"file": due.repeatable.filename, "reason": due.reason, "object": due.missing}
            for due in read_due(connection, history.table if state.history_rows else None, files)]
