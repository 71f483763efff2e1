"""The named failures of the migration tool and the exit status each one means.

Every message is one line that says what is wrong and what to do next. The
command layers turn these into an exit status and a line on stderr, in one
place (`console.exits.outcome`).

Exit statuses, the same for every command:
    0  done, or nothing to do
    1  a migration or a check failed, or the operator declined
    2  bad usage or configuration, no answer to the prompt, or the migrations
       or the database are inconsistent and nothing was run
    3  the migration lock, or a lock a script needs, could not be taken in time
"""
from .redact import mask_text

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REFUSED = 2
EXIT_LOCKED = 3
EXIT_INTERRUPTED = 130

# What Ctrl-C leaves behind, said the same by every command layer.
INTERRUPTED = ("interrupted; a script running in a transaction was rolled back; "
               "run migrate_status to see what was applied")


class MigrationError(Exception):
    """Base of every error the tool reports without a traceback."""

    exit_code = EXIT_FAILED


class ScriptFailed(MigrationError):
    """A migration script failed; the database is as it was before that script."""


class Declined(MigrationError):
    """The operator answered no."""


class CheckFailed(MigrationError):
    """A read-only check found the database or the migrations not as they should be."""


class ConfigurationError(MigrationError):
    """Bad configuration, or the database cannot be reached with it."""

    exit_code = EXIT_REFUSED


class NoAnswer(MigrationError):
    """The prompt got no answer (standard input empty or closed)."""

    exit_code = EXIT_REFUSED


class UsageError(MigrationError):
    """Options that do not fit together or do not fit the database."""

    exit_code = EXIT_REFUSED


class InvalidScripts(MigrationError):
    """The migration scripts on disk are not a valid sequence, or one cannot be read."""

    exit_code = EXIT_REFUSED


class InconsistentDatabase(MigrationError):
    """The database's bookkeeping does not fit the scripts or the code; nothing was run."""

    exit_code = EXIT_REFUSED


class LockTimeout(MigrationError):
    """Another migrator held the lock for longer than --lock-timeout."""

    exit_code = EXIT_LOCKED


class LockWaitExhausted(MigrationError):
    """A script's step did not get its locks within --ddl-lock-timeout in any attempt."""

    exit_code = EXIT_LOCKED


class BackupFailed(MigrationError):
    """--backup could not make the backup (pg_dump failed, no such folder, ...); nothing was run."""

    exit_code = EXIT_REFUSED


class PgDumpTooOld(BackupFailed):
    """--backup found no pg_dump at least as new as the server; nothing was run."""


class BookkeepingFailed(MigrationError):
    """The tool could not record a script (lost lock, history changed by the script, ...)."""


class DatabaseFailure(MigrationError):
    """A database error the tool did not expect (from psycopg2 or SQLAlchemy), or a lost server.

    Exit status 1: something may have been applied before it; migrate_status tells.
    """


def database_failure(error, doing=None):
    """One line for an unexpected database error: its first line, never a traceback or the SQL."""
    original = getattr(error, "orig", None) or error  # SQLAlchemy wraps the driver's error
    text = (str(original).strip().splitlines() or [type(original).__name__])[0]
    lost = "server closed the connection" in text or "terminating connection" in text \
        or "connection already closed" in text or "could not receive data" in text \
        or "SSL connection has been closed" in text or "no connection to the server" in text
    if lost:
        what = "the connection to the server was lost%s (%s)" % (" while " + doing if doing else "", text)
    else:
        what = "database error%s: %s" % (" while " + doing if doing else "", text)
    return DatabaseFailure("%s; run migrate_status to see what was applied" % mask_text(what))


class Interrupted(MigrationError):
    """Ctrl-C or SIGTERM while a script ran: its statement was cancelled, the message says what stays."""

    exit_code = EXIT_INTERRUPTED
