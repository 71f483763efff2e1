"""The authoring, drift and status commands' work, called by console/actions.py for both layers.

Each function runs one command: it calls the library, prints, and returns
the exit status or raises a MigrationError; the command layers only parse
options and turn errors into an exit status and one line. The authoring
modules are imported inside the functions: only these commands need them.
"""
import os
import sys
from functools import partial

from ..errors import EXIT_INTERRUPTED, EXIT_OK, CheckFailed
from ..paths import shown_path


class Printed:
    """authoring.Progress that prints each step."""

    def step(self, message):
        print(message)
        sys.stdout.flush()


def interrupted():
    print("interrupted; the scratch databases were removed", file=sys.stderr)
    return EXIT_INTERRUPTED


def on_scratch(scratch_url, work, migrator=None):
    """`work(scratch, progress)` on scratch databases, which are always removed: (its result,
    None), or (None, the exit status) when Ctrl-C stopped it. The scratch server is of the
    major version of `migrator`'s database (when it can be reached: a note says when not)."""
    from ..authoring.scratch import Scratch
    from ..authoring.servers import live_major
    major = live_major(migrator.url) if migrator is not None else None
    if migrator is not None and major is None:
        print("Note: the app's database cannot be reached, so the scratch server's version is "
              "not matched to it")
    try:
        with Scratch(scratch_url, major) as scratch:
            return work(scratch, Printed()), None
    except KeyboardInterrupt:
        return None, interrupted()


def make_migration_command(migrator, message=None, scratch_url=None):
    from ..authoring.build import make_migration, version_line  # the authoring extra, only here
    draft, stopped = on_scratch(scratch_url, lambda scratch, progress: make_migration(
        migrator, scratch, message, progress), migrator)
    if stopped is not None:
        return stopped
    current = draft.version - 1
    if draft.path is None and draft.problems:
        print("The models differ from what the migrations up to version %d give, in ways "
              "make_migration cannot write:" % current)
        for line in draft.problems:
            print("    %s" % line)
        raise CheckFailed("nothing written; write v%d.sql by hand for the differences above"
                          % draft.version)
    if draft.path is None:
        print("No difference: the migrations up to version %d give the models' schema; "
              "nothing written" % current)
        return EXIT_OK
    name = os.path.basename(draft.path)
    print("Wrote %s (%d statement%s)" % (shown_path(draft.path), draft.statements,
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
    from ..lint import lint_written  # lazily: prints the findings; errors fail the command below
    from ..source.files import Script
    lint_errors = lint_written(Script(draft.version, draft.path))
    location = version_line(migrator)
    if location is not None:
        print("Then raise the version in %s, line %d:" % (shown_path(location[0]), location[1]))
    else:
        print("Then raise the version where the app sets it:")
    print("    __db_version__ = %d" % draft.version)
    if draft.problems:
        raise CheckFailed("%s does not give the models' schema (see the WARNING at its end); "
                          "complete it by hand before committing" % name)
    if lint_errors:
        sys.stdout.flush()
        raise CheckFailed("%s is written, but lint finds %d error%s in it (%s): make the safe "
                          "rewrite by hand before committing (docs/lint.md)" % (
                              name, len(lint_errors), "" if len(lint_errors) == 1 else "s",
                              ", ".join(sorted({f.rule for f in lint_errors}))))
    return EXIT_OK


def check_migrations_command(migrator, scratch_url=None):
    from ..authoring.build import compare
    comparison, stopped = on_scratch(scratch_url, partial(compare, migrator), migrator)
    if stopped is not None:
        return stopped
    if not comparison.sql and not comparison.missed:
        print("OK: the migrations up to version %d give exactly the models' schema"
              % comparison.version)
        for note in comparison.notes:
            print("Note: %s (left as it is: PostgreSQL adds a column at the end)" % note)
        return EXIT_OK
    if comparison.missed:
        print("The models differ from what the migrations up to version %d give, in ways the "
              "diff engine does not write:" % comparison.version)
        for line in comparison.missed:
            print("    %s" % line)
        sys.stdout.flush()
        raise _differ(migrator, comparison, "write the missing script by hand")
    print("The models differ from what the migrations up to version %d give. "
          "Missing from the migrations:\n" % comparison.version)
    print(comparison.sql, end="")
    sys.stdout.flush()
    raise _differ(migrator, comparison, "write the missing script with `python manage.py "
                                         "make_migration`")


def _differ(migrator, comparison, advice):
    """check_migrations' failure: a script above the code's version is named (the forgotten
    bump, most likely the missing part), else `advice`."""
    above = migrator.scripts().above
    if above:
        return CheckFailed("the migrations up to version %d do not give the models' schema, and "
                           "%s" % (comparison.version, migrator.above_note(above)))
    return CheckFailed("the migrations do not give the models' schema; %s" % advice)


def diff_schema_command(source, target):
    from ..authoring.generate import generate
    from ..authoring.snapshot import compare, describe, failures
    sql = generate(source, target, labels=["the --from database", "the --to database"]).sql
    if sql:
        print(sql, end="")
        return EXIT_OK
    missed = failures(compare(source, target))
    if not missed:
        print("-- the schemas are identical")
        return EXIT_OK
    print("-- WARNING: the diff engine finds nothing to write, but the schemas differ:")
    for difference in missed:
        print("--   %s" % describe(difference, "--from", "--to"))
    sys.stdout.flush()
    raise CheckFailed("the schemas differ in ways diff_schema cannot write (listed above)")


def check_drift_command(migrator, scratch_url=None):
    from ..authoring.drift import drift
    from .report import format_drift
    found, stopped = on_scratch(scratch_url, partial(drift, migrator), migrator)
    if stopped is not None:
        return stopped
    for line in format_drift(found._asdict()):
        print(line)
    if found.differences:
        sys.stdout.flush()
        raise CheckFailed("the schema of %s has drifted from what the scripts up to version %d "
                          "give" % (migrator.describe_database(), found.version))
    return EXIT_OK


def status_command(migrator, show_all=False, as_json=False, check=False, drift=False,
                   scratch_url=None):
    from .report import show_status
    status, stopped = read_status(migrator, show_all, as_json, drift, scratch_url)
    return stopped if stopped is not None else show_status(status, as_json, check)


def read_status(migrator, show_all=False, as_json=False, drift=False, scratch_url=None):
    """migrate_status's dict, with --drift's entry: (it, None), or (None, the exit status) on Ctrl-C."""
    status = migrator.status(history_limit=None if show_all else 10)
    if drift:
        from ..authoring.drift import with_drift
        try:
            with_drift(status, migrator, scratch_url, None if as_json else Printed())
        except KeyboardInterrupt:
            return None, interrupted()
    return status, None
