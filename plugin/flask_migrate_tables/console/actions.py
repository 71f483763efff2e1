"""Each command's work, once for both command layers: one function per command.

Each takes the Migrator and the parsed options (attributes named by options.py's
`dest`s), prints, and returns the exit status or raises a MigrationError; the layers
(commands.py for Flask-Script, cli.py for the flask CLI) parse the options and end
the command through console/exits.py.
"""
import sys

from ..errors import EXIT_OK, UsageError
from ..pg.lockwait import policy
from . import authoring
from . import binds as bound
from .report import Reporter, confirmation, dry_run_repeatables, pending_lint


def migrate_tables(migrator, options, ask, rerun):
    """`ask`: the layer's prompt (exits.asker); `rerun()`: the command as the operator ran it,
    with --backup added, for the prompt's hint."""
    _one_kind_of_target(options)
    if bound.chosen(options):  # --bind NAME, --all-binds: each database in turn
        return bound.each(migrator, options, lambda target, one: migrate_tables(target, one, ask, rerun))
    reporter = Reporter(sys.stdout, options.backup)
    waits = policy(options.ddl_lock_timeout, options.ddl_retries, options.statement_timeout)
    if options.databases is not None:  # a fleet (fleet/): the app's own database is not touched
        from ..fleet.run import migrate_fleet
        return migrate_fleet(migrator, options, ask, waits)
    if options.dry_run:
        return _dry_run(migrator, options, reporter)
    confirm = None if options.yes else confirmation(migrator, options.baseline, ask, options.backup,
                                                    rerun())
    if options.baseline is not None:
        migrator.baseline(options.baseline, confirm, options.lock_timeout, reporter)
        reporter.line("Baselined the database at version %d; no script ran" % options.baseline)
        if options.backup is not None:
            reporter.notice("no backup made (--backup): --baseline runs no script")
        return EXIT_OK
    result = migrator.migrate(options.to, confirm, options.lock_timeout, options.allow_changed,
                              options.retry, options.mark_applied, reporter, waits,
                              backup=options.backup)
    reporter.summary(result)
    return EXIT_OK


def _dry_run(migrator, options, reporter):
    assessment, planned = migrator.plan(options.to)
    above = migrator.scripts().above
    if above:  # the forgotten bump, said as the run would say it
        reporter.scripts_above(migrator.above_note(above))
    reporter.dry_run(assessment, planned, pending_lint(migrator, [item.script for item in planned]))
    from ..apply.repeatables import pending  # the repeatable scripts, after the versioned ones
    for line in dry_run_repeatables(pending(migrator, options.to)):
        reporter.line(line)
    if options.backup is not None:
        preview = migrator.backup_preview(options.backup, assessment.current) if planned else None
        reporter.backup_preview(preview, planned)
    return EXIT_OK


def migrate_status(migrator, options):
    _one_kind_of_target(options)
    if bound.chosen(options):  # --bind NAME, --all-binds
        return bound.status(migrator, options)
    if options.databases is not None:
        from ..fleet.status import fleet_status
        return fleet_status(migrator, options)
    return authoring.status_command(migrator, options.show_all, options.as_json, options.check,
                                    options.drift, options.scratch_url)


def lint_migrations(migrator, options):
    from ..lint import lint_command  # lazily: squawk and its helpers only for this command
    if bound.chosen(options):  # --bind NAME: that bind's scripts and database
        return bound.each(migrator, options, lambda target, one: lint_migrations(target, one))
    return lint_command(migrator, options.versions, options.lint_all, options.as_json,
                        options.small_table_rows)


def make_migration(migrator, options):
    return authoring.make_migration_command(migrator, options.message, options.scratch_url)


def check_migrations(migrator, options):
    return authoring.check_migrations_command(migrator, options.scratch_url)


def diff_schema(migrator, options):
    """Needs no Migrator (None): it compares two databases given by URL."""
    return authoring.diff_schema_command(options.source, options.target)


def check_drift(migrator, options):
    return authoring.check_drift_command(migrator, options.scratch_url)


def _one_kind_of_target(options):
    """--databases names other databases than the app's binds: not both."""
    if options.databases is not None and bound.chosen(options):
        raise UsageError("--databases cannot go with --bind or --all-binds: a fleet's databases "
                         "are its file's")
