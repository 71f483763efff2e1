"""--bind NAME and --all-binds: a command run on each chosen database in turn (binds.py chooses).

With more than one database each one's output follows a header line (`== bind analytics ==`);
migrate_tables stops at the first failure, whose line names the bind; migrate_status shows every
database (one JSON list with --json) and --check fails unless all are at their target.
"""
import json
import sys
from types import SimpleNamespace

import psycopg2
from sqlalchemy.exc import SQLAlchemyError

from .. import binds
from ..errors import EXIT_FAILED, EXIT_OK, CheckFailed, MigrationError, UsageError, database_failure

# migrate_tables options that name versions of one database: not for --all-binds.
ONE_DATABASE = (("to", "--to"), ("baseline", "--baseline"), ("retry", "--retry"),
                ("mark_applied", "--mark-applied"))


def chosen(options):
    """Whether the command was given --bind NAME or --all-binds."""
    return getattr(options, "bind", None) is not None or getattr(options, "all_binds", False)


def picked(migrator, options):
    return binds.targets(migrator, getattr(options, "bind", None), getattr(options, "all_binds", False))


def one(options):
    """The options for one database: the same, without --bind and --all-binds."""
    return SimpleNamespace(**dict(vars(options), bind=None, all_binds=False))


def each(migrator, options, run):
    """`run(migrator, options)` on each chosen database; the first failure ends the command; the
    worst exit status."""
    if getattr(options, "all_binds", False):
        given = [flag for dest, flag in ONE_DATABASE if getattr(options, dest, None) is not None]
        if given:
            raise UsageError("%s names a version of one database: use it with --bind NAME (or "
                             "neither), not --all-binds" % given[0])
    targets, worst = picked(migrator, options), EXIT_OK
    for name, target in targets:
        if len(targets) > 1:
            header(name)
        try:
            worst = max(worst, run(target, one(options)) or EXIT_OK)
        except (MigrationError, psycopg2.Error, SQLAlchemyError) as error:
            raise named(error, name)
        finally:
            binds.close(target)
    return worst


def header(name):
    print("== %s ==" % binds.label(name))
    sys.stdout.flush()


def named(error, name):
    """The error, its line naming the bind it happened on."""
    if not isinstance(error, MigrationError):
        error = database_failure(error)
    if name is not None:
        error.args = ("bind %s: %s" % (name, error),)
    return error


def status(migrator, options):
    """migrate_status on each chosen database: all shown, then --check over all of them."""
    from .authoring import read_status
    from .report import above_text, format_status, status_exit_code
    targets, shown, behind = picked(migrator, options), [], []
    for name, target in targets:
        try:
            found, stopped = read_status(target, options.show_all, options.as_json, options.drift,
                                         options.scratch_url)
        finally:
            binds.close(target)
        if stopped is not None:
            return stopped
        found["bind"] = name
        shown.append(found)
        if status_exit_code(found) != EXIT_OK:
            why = above_text(found)
            behind.append(binds.label(name) + (" (%s)" % why if why else ""))
        if not options.as_json:
            if len(targets) > 1:
                header(name)
            print(format_status(found) + ("\n" if len(targets) > 1 else ""))
    if options.as_json:
        print(json.dumps(shown if options.all_binds else shown[0], indent=2))
    if options.check and behind:
        if options.as_json:
            return EXIT_FAILED
        raise CheckFailed("not exactly at its target version with no warnings: %s" % ", ".join(behind))
    return EXIT_OK
