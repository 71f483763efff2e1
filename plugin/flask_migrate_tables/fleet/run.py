"""`migrate_tables --databases FILE`: every database of the file brought to the target.

`--jobs N` databases at a time, each a thread of this one process running the same
`Migrator.migrate()` a single database gets (on its own URL: settings.UrlSettings),
after the one cheap read of probe.py that skips a database already at the target.
`--on-error stop` starts no new database after a failure (the running ones finish);
`--canary N` runs the first N alone first. A rerun resumes: the databases at the target
are skipped by the probe, an interrupted one is put right by the history as for one database.
"""
import threading
import time

import psycopg2
from sqlalchemy.exc import SQLAlchemyError

from ..pg import lockwait
from ..errors import EXIT_FAILED, EXIT_OK, Declined, MigrationError, UsageError
from .dry_run import dry_run, fleet_prompt
from .each import Failure, error_text, fleet_migrator, places, run_pool
from ..redact import mask_text
from ..books.repeatables import repeatables_counted
from ..source.repeatables import discover_repeatables
from .probe import Prober
from .report import (AT_TARGET, FAILED, MIGRATED, NOT_STARTED, RUNNING, DatabaseListener,
                     FleetOutput, ReportFile, summary_lines)
from .targets import check_options, parse_shard, read_targets, shard

def selected_targets(options):
    """(The databases this run takes: the file's, in shard K/N when --shard is given; how many
    the file has)."""
    refused = [flag for flag, value in (("--baseline", options.baseline), ("--retry", options.retry),
                                        ("--mark-applied", options.mark_applied)) if value is not None]
    if refused:
        raise UsageError("%s: for one database at a time; run it without --databases, with that "
                         "database's URL" % refused[0])
    check_options(options.jobs, options.on_error, options.canary)
    targets = read_targets(options.databases)
    total = len(targets)
    if options.shard:
        targets = shard(targets, *parse_shard(options.shard))
    return targets, total


class Fleet:
    """One fleet run: the databases, the options, what was found and done."""

    def __init__(self, migrator, options, targets, total, waits):
        self.migrator, self.options, self.targets, self.waits = migrator, options, targets, waits
        self.target_version = migrator.target(options.to)
        self.where = places(migrator)
        discovery = migrator.scripts()
        self.scripts, self.above = discovery.scripts, discovery.above
        self.prober = Prober([s for s in self.scripts if s.version <= migrator.code_version],
                             migrator.version_model, migrator.history_table, self.target_version,
                             discover_repeatables(migrator.migration_dir)
                             if self.target_version == migrator.code_version else ())
        self.output = FleetOutput(total)
        self.report = ReportFile(getattr(options, "report", None), targets, self.target_version)
        self.stopped = threading.Event()
        self.known = {}  # position: Probe or Failure, when the prompt read them first
        self.failures = []
        self.started = time.monotonic()

    def probe(self, target):
        try:
            return self.prober.probe(target.url)
        except (MigrationError, psycopg2.Error) as error:
            return Failure(error_text(error))

    def read_all(self):
        """Probe every database (for the prompt and --dry-run): {position: Probe or Failure}."""
        def read(target):
            self.known[target.position] = self.probe(target)
        run_pool(self.targets, self.options.jobs, read, threading.Event())
        return self.known

    def one(self, target):
        """Bring one database to the target; its outcome (the summary and the report get it).
        Whatever goes wrong is that database's failure, never the end of its worker."""
        try:
            return self._one(target)
        except Exception as error:  # a bug or a local problem (a --backup folder, ...)
            return self.failed(target, DatabaseListener(self.output, target),
                               "unexpected error: %s: %s" % (type(error).__name__, error), None, 0.0)

    def _one(self, target):
        listener = DatabaseListener(self.output, target)
        found = self.known.pop(target.position, None) or self.probe(target)
        if isinstance(found, Failure):
            return self.failed(target, listener, found.error, None, 0.0)
        if found.done:
            listener.say("at version %d; nothing to do" % self.target_version)
            return self.finished(target, AT_TARGET, write=False, **{"from": found.version,
                                                                   "to": found.version, "seconds": 0})
        started = time.monotonic()
        self.report.update(target, outcome=RUNNING, **{"from": found.version})
        migrator = fleet_migrator(self.migrator, target.url, self.where)
        try:
            result = migrator.migrate(self.options.to, None, self.options.lock_timeout,
                                      self.options.allow_changed, None, None, listener, self.waits,
                                      backup=self.options.backup)
        except (MigrationError, psycopg2.Error, SQLAlchemyError) as error:
            return self.failed(target, listener, error_text(error), found.version,
                               time.monotonic() - started)
        finally:
            migrator.settings.close()
        seconds = time.monotonic() - started
        ran = [due.repeatable.filename for due, _ in result.repeatables]
        if result.applied or ran:
            listener.say("migrated from version %d to %d (%d script%s%s) in %.3fs" % (
                result.from_version, result.to_version, len(result.applied),
                "" if len(result.applied) == 1 else "s", repeatables_counted(len(ran)), seconds))
        else:
            listener.say("at version %d; nothing to do" % result.to_version)
        return self.finished(target, MIGRATED if result.applied or ran else AT_TARGET,
                             scripts=[s.name for s, _ in result.applied] + ran,
                             seconds=round(seconds, 3),
                             **{"from": result.from_version, "to": result.to_version})

    def failed(self, target, listener, error, version, seconds):
        error = mask_text(error)
        listener.say("failed: %s" % error)
        self.failures.append((target.position, self.output.prefix(target), error))
        if self.options.on_error == "stop":
            self.stopped.set()
        return self.finished(target, FAILED, error=error, seconds=round(seconds, 3),
                             **{"from": version})

    def finished(self, target, outcome, write=True, **fields):
        self.report.update(target, write=write, outcome=outcome, **fields)
        self.output.counted(outcome)
        return outcome

    def run(self):
        """Every database (the canaries first); the exit status."""
        canary = self.options.canary or 0
        groups = [self.targets[:canary], self.targets[canary:]] if canary else [self.targets]
        for number, group in enumerate(groups):
            if number and self.output.counts[FAILED]:
                self.output.line("canary failed: the other %d database%s were not started" % (
                    len(group), "" if len(group) == 1 else "s"))
                break
            run_pool(group, self.options.jobs, self.one, self.stopped)
        return self.summary()

    def summary(self):
        self.report.flush()
        self.output.finish()
        counts = dict(self.output.counts)
        counts[NOT_STARTED] = len(self.targets) - sum(counts.values())
        failures = [(prefix, error) for _, prefix, error in sorted(self.failures)]
        for line in summary_lines(counts, failures, self.target_version,
                                  time.monotonic() - self.started):
            self.output.line(line)
        return EXIT_OK if counts[MIGRATED] + counts[AT_TARGET] == len(self.targets) else EXIT_FAILED


def migrate_fleet(migrator, options, ask, waits):
    """`migrate_tables --databases FILE`: the exit status."""
    fleet = Fleet(migrator, options, *selected_targets(options), waits=waits)
    if fleet.above:  # once for the fleet: each database's listener keeps it to itself
        fleet.output.line("note: %s" % migrator.above_note(fleet.above))
    with lockwait.wait_callback():  # over every thread's connections, for the whole fleet
        if options.dry_run:
            return dry_run(fleet)
        if not options.yes:
            if not fleet_prompt(fleet, ask):
                raise Declined("declined; no database was changed")
        return fleet.run()
