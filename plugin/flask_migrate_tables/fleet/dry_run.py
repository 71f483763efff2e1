"""What a fleet run reads before it changes anything: the one prompt for the whole fleet, and
`--dry-run --databases` (each database probed; those not at the target planned, read-only)."""
import sys
from collections import Counter

import psycopg2
from sqlalchemy.exc import SQLAlchemyError

from ..apply.repeatables import pending as repeatable_due
from ..errors import EXIT_FAILED, EXIT_OK, MigrationError
from ..console.report import listed
from .each import Failure, error_text, fleet_migrator
from .report import DatabaseListener


def _state(version):
    return "version %d" % version if version is not None else "no version row"


def behind(fleet, known):
    """(the databases not at the target by version, the unreadable, the scripts to run)."""
    by_version = Counter(found.version for found in known.values()
                         if not isinstance(found, Failure) and not found.done)
    failed = sum(1 for found in known.values() if isinstance(found, Failure))
    lowest = min((v or 0 for v in by_version), default=fleet.target_version)
    scripts = [s for s in fleet.scripts if lowest < s.version <= fleet.target_version]
    return by_version, failed, scripts


def fleet_prompt(fleet, ask):
    """Probe every database, say what the run will do, and ask once; True: go on."""
    known = fleet.read_all()
    by_version, failed, scripts = behind(fleet, known)
    count = sum(by_version.values())
    if not count:
        return True  # nothing to migrate: the run reports the databases, changes nothing
    versions = ", ".join("%d at %s" % (n, _state(v)) for v, n in
                         sorted(by_version.items(), key=lambda item: -1 if item[0] is None else item[0]))
    print("WARNING: this migrates %d of the %d databases to version %d (%s); %d %s at it already%s. "
          "Back them up before you go on." % (
              count, len(fleet.targets), fleet.target_version, versions,
              len(known) - count - failed, "is" if len(known) - count - failed == 1 else "are",
              "; %d could not be read" % failed if failed else ""))
    print("Scripts to run: %s" % listed([s.name for s in scripts]))
    sys.stdout.flush()
    return ask("Do you want to continue?")


def dry_run(fleet):
    """Each database: at the target, or what would run on it; nothing changed. The exit status."""
    known = fleet.read_all()
    would, failed = 0, 0
    for target in fleet.targets:
        listener, found = DatabaseListener(fleet.output, target), known[target.position]
        if isinstance(found, Failure):
            failed += 1
            listener.say("failed: %s" % found.error)
            continue
        if found.done:
            listener.say("at version %d; nothing would run" % fleet.target_version)
            continue
        migrator = fleet_migrator(fleet.migrator, target.url, fleet.where)
        try:
            assessment, planned = migrator.plan(fleet.options.to)
            due = repeatable_due(migrator, fleet.options.to)
        except (MigrationError, psycopg2.Error, SQLAlchemyError) as error:
            failed += 1
            listener.say("failed: %s" % error_text(error))
            continue
        finally:
            migrator.settings.close()
        would += bool(planned or due)
        listener.say("at version %d; would run %s" % (assessment.current, listed(
            [item.script.name for item in planned] + [d.repeatable.filename for d in due]) or "nothing"))
    fleet.output.line("Dry run: %d databases: %d would be migrated, %d could not be read; nothing "
                      "was changed" % (len(fleet.targets), would, failed))
    return EXIT_FAILED if failed else EXIT_OK
