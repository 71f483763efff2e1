"""The flask CLI (click) commands: `flask migrate-tables` and `flask migrate-status`.

The same options and output as the Flask-Script commands in commands.py, over
the same Migrator functions and the same printing code (report.py). Needs no
Flask-Script. Register them in an app factory with `register_cli(app, migrator)`,
or add the group `make_cli(migrator)` under a name of your own:

    app.cli.add_command(make_cli(migrator), "db")    # flask db migrate-tables

The flask command finds an app factory (`FLASK_APP=myapp`) from Flask 1.0 on;
under Flask 0.12 FLASK_APP must name a module that holds an app instance.
"""
import sys
from functools import wraps

import click
import psycopg2
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from .errors import EXIT_INTERRUPTED, EXIT_OK, INTERRUPTED, MigrationError, NoAnswer, database_failure
from .lockwait import (DEFAULT_DDL_LOCK_TIMEOUT, DEFAULT_DDL_RETRIES, command_ended,
                       command_started, policy)
from .migrator import DEFAULT_LOCK_TIMEOUT
from .report import Reporter, confirmation, show_status

YES_ANSWERS = ("y", "yes", "1", "on", "true", "t")
NO_ANSWERS = ("n", "no", "0", "off", "false", "f")


class CommandFailed(click.ClickException):
    """A project error as click reports it: one line on stderr and the error's exit status."""

    def __init__(self, message, exit_code):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None):
        click.echo(self.message, file=file or sys.stderr, err=True)



def exit_on_error(run):
    """The one place the project's errors become an exit status and a line on stderr."""
    @wraps(run)
    def wrapper(*args, **kwargs):
        took_over = command_started()
        try:
            code = run(*args, **kwargs) or EXIT_OK
        except (MigrationError, psycopg2.Error, SQLAlchemyError) as error:
            if not isinstance(error, MigrationError):  # from db.session, or a lost server
                error = database_failure(error)
            raise CommandFailed("error: %s" % error, error.exit_code)
        except KeyboardInterrupt:
            raise CommandFailed(INTERRUPTED, EXIT_INTERRUPTED)
        finally:
            command_ended(took_over)
        if code != EXIT_OK:
            click.get_current_context().exit(code)
    return wrapper


def ask(question):
    """Flask-Script's prompt_bool, answered the same way: default no, a missing answer exits 2."""
    while True:
        try:
            answer = input("%s [n] " % question).strip().lower()
        except (EOFError, RuntimeError):
            print(file=sys.stderr)
            raise NoAnswer("no answer on standard input; pass --yes to run without asking")
        if not answer or answer in NO_ANSWERS:
            return False
        if answer in YES_ANSWERS:
            return True


def make_cli(migrator):
    """A click group holding `migrate-tables` and `migrate-status` for one Migrator."""

    @click.group("migrate", help="Forward-only migrations from sql/migration/vN.sql.")
    def group():
        pass

    @group.command("migrate-tables")
    @click.option("-y", "--yes", is_flag=True, help="do not ask for confirmation")
    @click.option("--to", type=int, metavar="N", help="stop at version N (at most __db_version__)")
    @click.option("--dry-run", is_flag=True,
                  help="show the scripts and statements that would run; change nothing")
    @click.option("--baseline", type=int, metavar="N",
                  help="adopt an existing database whose schema is version N; run no script")
    @click.option("--lock-timeout", type=float, default=DEFAULT_LOCK_TIMEOUT, show_default=True,
                  metavar="SECONDS", help="how long to wait for another migration to finish")
    @click.option("--ddl-lock-timeout", type=float, default=DEFAULT_DDL_LOCK_TIMEOUT,
                  show_default=True, metavar="SECONDS",
                  help="how long each attempt of a script step may wait for a table lock before it "
                       "is rolled back and retried (0: no limit)")
    @click.option("--ddl-retries", type=int, default=DEFAULT_DDL_RETRIES, show_default=True,
                  metavar="N", help="how many times a step whose lock was not granted in time is retried")
    @click.option("--statement-timeout", type=float, default=0.0, show_default=True, metavar="SECONDS",
                  help="cancel a script statement that runs longer (0: no limit)")
    @click.option("--allow-changed", is_flag=True,
                  help="accept applied scripts that changed on disk, and record that")
    @click.option("--retry", type=int, metavar="N", help="run interrupted script N again from the start")
    @click.option("--mark-applied", type=int, metavar="N",
                  help="record script N as applied without running it (you finished it by hand)")
    @with_appcontext
    @exit_on_error
    def migrate_tables(yes, to, dry_run, baseline, lock_timeout, ddl_lock_timeout, ddl_retries,
                       statement_timeout, allow_changed, retry, mark_applied):
        """Migrate the database to the schema version this code needs (__db_version__)."""
        reporter = Reporter(sys.stdout)
        waits = policy(ddl_lock_timeout, ddl_retries, statement_timeout)
        if dry_run:
            assessment, planned = migrator.plan(to)
            reporter.dry_run(assessment, planned)
            return EXIT_OK
        confirm = None if yes else _confirm(migrator, baseline)
        if baseline is not None:
            migrator.baseline(baseline, confirm, lock_timeout, reporter)
            reporter.line("Baselined the database at version %d; no script ran" % baseline)
            return EXIT_OK
        result = migrator.migrate(to, confirm, lock_timeout, allow_changed, retry, mark_applied,
                                  reporter, waits)
        reporter.summary(result)
        return EXIT_OK

    @group.command("migrate-status")
    @click.option("--all", "show_all", is_flag=True, help="show the whole history")
    @click.option("--json", "as_json", is_flag=True, help="print one JSON document")
    @click.option("--check", is_flag=True,
                  help="exit 1 unless the database is exactly at __db_version__ with no warnings")
    @with_appcontext
    @exit_on_error
    def migrate_status(show_all, as_json, check):
        """Show the database's migration state; change nothing."""
        return show_status(migrator.status(history_limit=None if show_all else 10), as_json, check)

    return group


def _confirm(migrator, baseline):
    return confirmation(migrator, baseline, ask)


def register_cli(app, migrator):
    """Add `migrate-tables` and `migrate-status` to the app's `flask` command."""
    for name, command in make_cli(migrator).commands.items():
        app.cli.add_command(command, name)
