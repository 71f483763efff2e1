"""What a run says when its connection is lost or it is interrupted while a script runs."""
import logging
import re

import psycopg2

from ..errors import BookkeepingFailed, DatabaseFailure, MigrationError, ScriptFailed
from ..pg import connection as conn
from ..source.statements import TRANSACTION

log = logging.getLogger("flask_migrate_tables")


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

    Only this run's own "running" row of the script is touched (matched by version, host
    and pid); a transactional script's transaction died with its connection.
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
            cursor.execute(*runner.history.finish_running_sql(script.version, who, outcome, error,
                                                              steps_done=runner.steps_done))
    except (psycopg2.Error, KeyboardInterrupt) as failure:
        log.info("could not record the interrupted attempt: %s", str(failure).strip())
    finally:
        connection.close()
