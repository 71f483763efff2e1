"""The flask CLI (click) commands: `flask migrate-tables`, `migrate-status`, `lint-migrations`,
`check-drift`, `make-migration`, `check-migrations` and `diff-schema`.

The same options and output as the Flask-Script commands in commands.py: both build
their options from console/options.py, run console/actions.py and end through
console/exits.py. Needs no Flask-Script. Register them in an app factory with
`register_cli(app, migrator)`, or add the group `make_cli(migrator)` under a name of
your own:

    app.cli.add_command(make_cli(migrator), "db")    # flask db migrate-tables

The flask command finds an app factory (`FLASK_APP=myapp`) from Flask 1.0 on;
under Flask 0.12 FLASK_APP must name a module that holds an app instance.
"""
import sys
from functools import partial
from types import SimpleNamespace

import click
from flask.cli import with_appcontext

from .console import actions
from .console import options as specs
from .console.exits import asker, outcome
from .errors import EXIT_OK
from .console.report import rerun_with_backup

ask = asker()


class CommandFailed(click.ClickException):
    """A project error as click reports it: one line on stderr and the error's exit status."""

    def __init__(self, message, exit_code):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None):
        click.echo(self.message, file=file or sys.stderr, err=True)


class _OptionalValues(click.Command):
    """`--backup [PATH]`: options whose value may be left out, as argparse's nargs="?".

    click 8 could declare them (is_flag=False, flag_value=""), but click 7.1 of the legacy
    and oldest stacks cannot (it takes the next option as the value), so on every click a
    bare `--backup` (last, or followed by an option) is read as `--backup=`: "", the default.
    """

    def __init__(self, *args, optional=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.optional = optional

    def parse_args(self, ctx, args):
        given = list(args)
        for index, arg in enumerate(given):
            if arg == "--":
                break
            following = given[index + 1] if index + 1 < len(given) else None
            if arg in self.optional and (following is None or following.startswith("-")):
                given[index] = arg + "="
        return super().parse_args(ctx, given)


def click_param(option):
    """An options.py option as a click option (or, for the positional list, argument)."""
    if option.many:
        return click.argument(option.dest, nargs=-1, type=option.type, metavar="[%s]..." % option.metavar)
    metavar = "[%s]" % option.metavar if option.optional_value else option.metavar
    given = {"help": specs.click_help(option), "is_flag": option.flag or None,
             "required": option.required or None, "type": option.type, "default": option.default,
             "show_default": specs.shows_default(option) or None, "metavar": metavar}
    return click.option(*option.flags, option.dest,
                        **{key: value for key, value in given.items() if value is not None})


def add_command(group, spec, act):
    """Add options.py's command `spec` to the click group, doing `act(options)`."""
    def run(**options):
        code, line = outcome(act, SimpleNamespace(**options))
        if line is not None:
            raise CommandFailed(line, code)
        if code != EXIT_OK:
            click.get_current_context().exit(code)
    callback = with_appcontext(run) if spec.uses_app else run
    for option in reversed(spec.options):
        callback = click_param(option)(callback)
    optional = tuple(flag for option in spec.options if option.optional_value for flag in option.flags)
    group.command(spec.name.replace("_", "-"), cls=_OptionalValues, optional=optional,
                  help=spec.doc)(callback)


def make_cli(migrator):
    """A click group holding `migrate-tables`, `migrate-status`, ... for one Migrator."""

    @click.group("migrate", help="Forward-only migrations from sql/migration/vN.sql.")
    def group():
        pass

    add_command(group, specs.MIGRATE_TABLES,
                lambda options: actions.migrate_tables(migrator, options, ask, _rerun))
    add_command(group, specs.MIGRATE_STATUS, partial(actions.migrate_status, migrator))
    add_command(group, specs.CHECK_DRIFT, partial(actions.check_drift, migrator))
    add_command(group, specs.MAKE_MIGRATION, partial(actions.make_migration, migrator))
    add_command(group, specs.CHECK_MIGRATIONS, partial(actions.check_migrations, migrator))
    add_command(group, specs.DIFF_SCHEMA, partial(actions.diff_schema, None))
    add_command(group, specs.LINT_MIGRATIONS, partial(actions.lint_migrations, migrator))
    return group


def _rerun():
    """The command as the operator ran it, with --backup added (the prompt's hint)."""
    context = click.get_current_context()
    given = sys.argv[1:]  # the options after the command's name
    given = given[given.index(context.info_name) + 1:] if context.info_name in given else []
    return rerun_with_backup(context.command_path, given)


def register_cli(app, migrator):
    """Add the commands (migrate-tables, migrate-status, ...) to the app's `flask` command."""
    for name, command in make_cli(migrator).commands.items():
        app.cli.add_command(command, name)
