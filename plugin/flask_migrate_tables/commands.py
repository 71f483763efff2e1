"""Flask-Script commands: each one's options built from console/options.py, its run one call
to console/actions.py through console/exits.py (the exit status and the line on stderr).

Register them in an app's manage.py with `add_migration_commands(manager, migrator)`.
Works with Flask-Script 2.0.6 and Flask-Script-NG 2.1; options are declared
on the classes (the @manager.command decorators crash on Python 3.11).
"""
import sys
from functools import wraps
from types import SimpleNamespace

from flask import Flask

from .console import actions
from .errors import ConfigurationError
from .pg import connection as conn
from .console import options as specs
from .console.exits import asker, exit_on_error
from .console.report import rerun_with_backup

try:
    from flask_script import Command, Manager, Option, prompt_bool  # noqa: F401 (manage.py's Manager)
except ImportError:  # Flask >= 2 cannot import Flask-Script 2.0.6; apps use the maintained fork
    from flask_script_ng import Command, Manager, Option, prompt_bool  # noqa: F401

ask = asker(prompt_bool)


def script_option(option):
    """An options.py option as a Flask-Script (argparse) Option."""
    if option.many:
        return Option(option.dest, nargs="*", type=option.type, metavar=option.metavar,
                      help=option.help)
    given = {"dest": option.dest, "help": specs.script_help(option), "required": option.required or None,
             "type": option.type, "default": option.default, "metavar": option.metavar}
    if option.flag:
        given["action"] = "store_true"
    if option.optional_value:
        given.update(nargs="?", const="")
    return Option(*option.flags, **{key: value for key, value in given.items() if value is not None})


class _Command(Command):
    """The command of options.py's `spec` doing `action(migrator, options)` (console/actions.py)."""

    def __init_subclass__(cls, spec, action=None, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.__doc__ = spec.doc
        cls.option_list = tuple(script_option(option) for option in spec.options)
        cls.action = staticmethod(action)

    def __init__(self, migrator=None):
        self.migrator = migrator

    def run(self, **options):
        return exit_on_error(self.act)(SimpleNamespace(**options))

    def act(self, options):
        return self.action(self.migrator, options)


class MigrateTables(_Command, spec=specs.MIGRATE_TABLES):
    def act(self, options):
        return actions.migrate_tables(self.migrator, options, ask,
                                      lambda: rerun_with_backup("python", sys.argv))


def _command(name, spec, action):
    """The Flask-Script command class `name` of options.py's `spec`, doing `action`."""
    return type(name, (_Command,), {}, spec=spec, action=action)


MigrateStatus = _command("MigrateStatus", specs.MIGRATE_STATUS, actions.migrate_status)
CheckDrift = _command("CheckDrift", specs.CHECK_DRIFT, actions.check_drift)
LintMigrations = _command("LintMigrations", specs.LINT_MIGRATIONS, actions.lint_migrations)
MakeMigration = _command("MakeMigration", specs.MAKE_MIGRATION, actions.make_migration)
CheckMigrations = _command("CheckMigrations", specs.CHECK_MIGRATIONS, actions.check_migrations)
DiffSchema = _command("DiffSchema", specs.DIFF_SCHEMA, actions.diff_schema)


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

        def make():
            try:
                made.append(factory(*args, **kwargs))
            except ImportError as error:  # the URL's driver (SQLAlchemy loads it at once)
                if getattr(error, "name", None) not in conn.DRIVER_PACKAGES:
                    raise
                raise ConfigurationError(conn.unusable_url(error))
        code = exit_on_error(make)()
        if not made:
            sys.exit(code)
        return made[0]
    create_app.exits_on_error = True
    return create_app
