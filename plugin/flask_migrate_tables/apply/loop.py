"""The per-script loop of a run (the hot path): each prepared script run, then its version committed."""
import logging
import time

import psycopg2

from ..errors import Interrupted, MigrationError, database_failure
from . import failures
from .runner import crash_point

log = logging.getLogger("flask_migrate_tables")


def apply_scripts(prepared, runner, locked, version_row, retry, attempted, who, listener):
    """Run `prepared` (preflight.Prepared, in order) on the locked connection; [(script, seconds)].

    After each script its version is committed through the Version row's session
    (the last one flushed to disk, see VersionRow.committer).
    """
    connection = locked.connection
    commit_version = version_row.committer()
    applied = []
    last = prepared[-1] if prepared else None
    for item in prepared:
        script = item.script
        text, plan = item.take(connection.server_version)
        listener.script_started(script, plan)
        log.info("Upgrading database to version %d (%s, %s)", script.version, script.name, plan.mode)
        script_started = time.monotonic()
        note = "--retry" if retry == script.version else None
        text = runner.encode(text, plan)  # a large script's text goes before it is sent
        _run(runner, locked, item, text, plan, note, script.version in attempted, who, applied)
        del text
        crash_point("after-script-commit")
        _commit(commit_version, version_row, script, item is last)
        seconds = time.monotonic() - script_started
        log.info("Applied %s in %.3fs", script.name, seconds)
        listener.script_finished(script, seconds)
        applied.append((script, seconds))
    return applied


def _run(runner, locked, item, text, plan, note, rerun, who, applied):
    """One script through the runner; a lost connection or a Ctrl-C said (and recorded) as such."""
    script, connection = item.script, locked.connection
    try:
        runner.run(script, text, item.checksum, plan, note, item.policy, rerun=rerun)
    except Interrupted:
        if connection.closed:  # psycopg2 closes it when a Ctrl-C cancels a statement
            failures.record_interrupted(locked.params, script, plan, runner, who)
        raise
    except (MigrationError, psycopg2.Error) as error:
        if not connection.closed:
            raise
        raise failures.lost(script, plan, runner, error, applied) from None


def _commit(commit_version, version_row, script, flush):
    """The script's version committed to the Version row; a failure says the history has it."""
    try:
        commit_version(script.version, flush=flush)
    except version_row.errors as error:
        version_row.rollback_quietly()
        failure = database_failure(error, "writing the version row after %s" % script.name)
        raise type(failure)(
            "%s was applied and recorded in the history, but %s; the next migrate_tables "
            "repairs the version row from the history" % (script.name, failure))
