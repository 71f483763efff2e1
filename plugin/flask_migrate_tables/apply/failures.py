"""Every failure message of a run, built in one place.

What the runner says when a script fails (failed, interrupted or exhausted
lock waits), and what a run says when its connection is lost or it is
interrupted while a script runs. Each is a single line naming the script (and
its line where that is known), what PostgreSQL said, what stays committed, and
what to do next. The runner (runner.py) and the loop (loop.py) decide when;
this module only words it.
"""
import logging
import re

import psycopg2

from ..errors import (BookkeepingFailed, DatabaseFailure, LockWaitExhausted, MigrationError,
                      ScriptFailed)
from ..pg import connection as conn
from ..pg.session import LOCK_LOST, ROW_GONE, bookkeeping_error
from ..source.statements import TRANSACTION, line_at

log = logging.getLogger("flask_migrate_tables")

ROLLED_BACK = "the script's changes were rolled back"


def sqlstate_failure(script, text, error, offset, consequence, head=0):
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
        line = statement_line(text, offset, message)
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


def statement_line(text, offset, message):
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
        fits = [s for s in statements if first_words(s.text, len(words)) == words]
    else:
        names = [name.replace('""', '"').lower() for name in _QUOTED.findall(message)]
        fits = [s for s in statements if names and any(
            re.search(r"(?<![\w$])%s(?![\w$])" % re.escape(name), s.text.lower()) for name in names)]
    if len(fits) != 1:
        return None
    return line_at(text, offset) + fits[0].line - 1


def first_words(statement, count):
    """The first `count` words of a statement, upper case, its comments left out."""
    words = re.sub(r"--[^\n]*|/\*.*?\*/", " ", statement, flags=re.S).upper().split()
    return [word.strip(";(") for word in words[:count]]


_COPY_LINE = re.compile(r"\bline (\d+)")


def copy_failure(script, copy, error, consequence):
    """A failed COPY names the file's line of the bad row (PostgreSQL counts the rows' lines)."""
    diag = error.diag
    match = _COPY_LINE.search(diag.context or "")
    where = (" line %d:" % (copy.data_line + int(match.group(1)) - 1) if match
             else " COPY at line %d:" % (copy.data_line - 1))
    message = (diag.message_primary or str(error)).strip()
    return ScriptFailed("%s:%s SQLSTATE %s: %s; %s" % (script.name, where, error.pgcode, message,
                                                         consequence))


def lock_wait_exhausted(script, exhausted, consequence="the script was rolled back", committed=0):
    """The LockWaitExhausted of `exhausted` (retries.Exhausted), once the script is known.

    `committed`: steps of the script that stay committed (the next run then asks for --retry).
    """
    then = ("then `migrate_tables --retry %d` runs the whole script again (or finish it by hand "
            "and run `migrate_tables --mark-applied %d`)" % (script.version, script.version)
            if committed else "then run migrate_tables again")
    return LockWaitExhausted(
        "%s: lock not granted within %gs in %d attempt%s; %s; %s. Wait for that session to "
        "finish (or end it), %s; --ddl-lock-timeout and --ddl-retries give the script longer" % (
            script.name, exhausted.lock_timeout, exhausted.attempts,
            "" if exhausted.attempts == 1 else "s", exhausted.blockers, consequence, then))


def step_consequence(number, plan, step):
    """What stays committed when step `number` (`step`) of a script in steps fails."""
    if number == 1:
        return "nothing of the script was committed"
    return ("steps 1 to %d of %d (up to line %d) were committed and stay applied"
            % (number - 1, len(plan.steps), step.line - 1))


def script_interrupted(script, plan, done, transactional):
    """The message of a Ctrl-C while `script` ran, `done` of its steps committed."""
    if transactional or done == 0:
        truth = "nothing of %s was committed (rolled back); run migrate_tables again" % script.name
    else:
        truth = ("steps 1 to %d of %d of %s were committed and stay applied; check the database, "
                 "then `migrate_tables --retry %d` runs the whole script again, or "
                 "`migrate_tables --mark-applied %d` records it finished by hand"
                 % (done, len(plan.steps), script.name, script.version, script.version))
    return "interrupted while %s ran; %s" % (script.name, truth)


def start_not_recorded(script, table_name, error):
    """The tool's own statements before a transactional script failed, not a line of the script."""
    return BookkeepingFailed("%s: starting it (its timeouts, BEGIN; the history is %s) failed:"
                             " SQLSTATE %s: %s; nothing of the script was run" % (
                                 script.name, table_name, error.pgcode,
                                 (error.diag.message_primary or str(error)).strip()))


def bookkeeping_failure(script, table_name, error):
    """The message of a failed history update: the tool's failure, never a line of the script."""
    marker = bookkeeping_error(error)
    if marker == LOCK_LOST:
        return ("%s: the migration lock was lost while it ran (a script that calls "
                "pg_advisory_unlock_all(), or a pooler in transaction mode); what was not "
                "committed was rolled back; run migrate_status, then migrate_tables again"
                % script.name)
    if marker:
        return ("%s: the script changed the migration history table%s; "
                "what was not committed was rolled back; a migration must not touch %s"
                % (script.name, " (its row is gone)" if marker == ROW_GONE else "", table_name))
    return ("%s: recording it in %s failed: SQLSTATE %s: %s" % (
        script.name, table_name, error.pgcode,
        (getattr(error.diag, "message_primary", None) or str(error)).strip()))


def driver_error(error):
    """The psycopg2 error behind a project error (raised while handling it), or None."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, psycopg2.Error):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def lost(script, plan, runner, error, applied):
    """The connection died while `script` ran: one line that says so and what is known."""
    cause = driver_error(error)
    text = str(cause if cause is not None else error).strip().splitlines() or [type(error).__name__]
    reason = re.sub(r"^(FATAL|ERROR|PANIC):\s+", "", text[0].strip())
    if plan.mode == TRANSACTION:
        if isinstance(error, ScriptFailed) or (isinstance(error, psycopg2.Error)
                                               and runner.steps_done == 0
                                               and not isinstance(error, BookkeepingFailed)):
            known = "it ran in one transaction, which was not committed"
        else:
            known = "it ran in one transaction; whether its COMMIT reached the server the history tells"
    else:
        done = runner.steps_done
        known = ("it runs in %d steps outside a transaction: %d committed before the fault (the step "
                 "running then may have completed too)" % (len(plan.steps), done))
    before = ("; %s applied before it stay%s applied" % (
        ", ".join(s.name for s, _ in applied), "s" if len(applied) == 1 else "")) if applied else ""
    return DatabaseFailure(
        "the connection to the server was lost while %s was running (%s); %s%s; when the server is "
        "back, run migrate_status, then migrate_tables" % (
            script.name, conn.mask_text(reason), known, before))


def record_interrupted(params, script, plan, runner, who):
    """Ctrl-C closed the scripts' connection: record the attempt's end over a short new one.

    A script in steps: only this run's own "running" row of it is touched (matched by
    version, host and pid). A transactional script (its transaction died with its
    connection, and it has no row yet): its "interrupted" row is inserted.
    """
    if plan.mode == TRANSACTION:
        outcome, error = "interrupted", "interrupted (Ctrl-C or SIGTERM); rolled back"
    else:
        outcome, error = "failed", "interrupted (Ctrl-C or SIGTERM) after %d of %d steps" % (
            runner.steps_done, len(plan.steps))
    try:
        connection = conn.connect(dict(params, connect_timeout=5))
    except (MigrationError, psycopg2.Error, KeyboardInterrupt):
        return
    try:
        with connection.cursor() as cursor:
            if plan.mode == TRANSACTION:
                cursor.execute(*runner.failure_row(outcome, error, 0))
            else:
                cursor.execute(*runner.history.finish_running_sql(script.version, who, outcome, error,
                                                                  steps_done=runner.steps_done))
    except (psycopg2.Error, KeyboardInterrupt) as failure:
        log.info("could not record the interrupted attempt: %s", str(failure).strip())
    finally:
        connection.close()
