"""How a command ends: its exit status and the one line on stderr, the prompt, and Ctrl-C.

`outcome` is the one place a project error (or a database error, or Ctrl-C) becomes
an exit status and one line; the command layers only hand the two to their library:
`exit_on_error` prints the line and returns the status (Flask-Script), cli.py raises
them as a click exception.
"""
import signal
import sys
from functools import wraps

import psycopg2
from sqlalchemy.exc import SQLAlchemyError

from ..errors import (EXIT_INTERRUPTED, EXIT_OK, INTERRUPTED, MigrationError, NoAnswer,
                      database_failure)

YES_ANSWERS = ("y", "yes", "1", "on", "true", "t")
NO_ANSWERS = ("n", "no", "0", "off", "false", "f")


def outcome(run, *args, **kwargs):
    """Run a command's body: (its exit status, the line for stderr or None)."""
    took_over = command_started()
    try:
        return run(*args, **kwargs) or EXIT_OK, None
    except (MigrationError, psycopg2.Error, SQLAlchemyError) as error:
        if not isinstance(error, MigrationError):  # from db.session, or a lost server
            error = database_failure(error)
        return error.exit_code, "error: %s" % error
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED, INTERRUPTED
    finally:
        command_ended(took_over)


def exit_on_error(run):
    """`run` that prints its error's line on stderr and returns its exit status."""
    @wraps(run)
    def wrapper(*args, **kwargs):
        code, line = outcome(run, *args, **kwargs)
        if line is not None:
            print(line, file=sys.stderr)
        return code
    return wrapper


def asker(prompt_bool=None):
    """The question before migrating: Flask-Script's `prompt_bool` where Flask-Script is used,
    else one that answers the same (default no); no answer on stdin is NoAnswer (exit 2)."""
    def ask(question):
        try:
            return (prompt_bool or _prompt_bool)(question)
        except (EOFError, RuntimeError):
            print(file=sys.stderr)
            raise NoAnswer("no answer on standard input; pass --yes to run without asking")
    return ask


def _prompt_bool(question):
    while True:
        answer = input("%s [n] " % question).strip().lower()
        if not answer or answer in NO_ANSWERS:
            return False
        if answer in YES_ANSWERS:
            return True


# Whether SIG_IGN on SIGINT is this module's (set when a command ended), not the process's own.
_IGNORING = {"ours": False}


def command_started():
    """Python's own Ctrl-C handler again, in place of the one manage.py installs while starting.

    Decided once per process: a command that starts after an earlier wrapped call ended (the
    app factory, run inside `exit_on_error`) takes over again from the ignoring that call left;
    a command nested inside another finds Python's handler and leaves it. Returns whether it
    took over; `command_ended` then ignores a Ctrl-C that comes while the finished process
    exits (it would only print a traceback).
    """
    handler = signal.getsignal(signal.SIGINT)
    if getattr(handler, "while_starting", False) or (handler is signal.SIG_IGN and _IGNORING["ours"]):
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _IGNORING["ours"] = False
        return True
    return False


def command_ended(took_over):
    if took_over:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _IGNORING["ours"] = True
