"""The lint_migrations command, and the other commands' use of lint (prompt, dry run, make_migration)."""
import json
import os
import sys

from ..errors import (EXIT_FAILED, EXIT_OK, CheckFailed, ConfigurationError, DatabaseFailure,
                      MigrationError, UsageError)
from ..paths import shown_path
from ..source.files import above_target, discover
from .filter import Result, lint
from .repeatables import chosen_repeatables, repeatable_name, with_repeatable_findings
from .rules import ERROR, LEVELS, finding_dict
from .sizes import DEFAULT_SMALL_TABLE_ROWS, close_sizes, open_sizes
from .squawk import INSTALL, SquawkMissing, find_squawk, squawk_version


def format_finding(finding):
    return ["%s:%d: %s: %s: %s" % (finding.file, finding.line, finding.level, finding.rule,
                                   finding.message),
            "    fix: %s" % finding.fix]


def _plural(count, word):
    return "%d %s%s" % (count, word, "" if count == 1 else "s")


def summary(result, version):
    counts = [sum(1 for f in result.findings if f.level == level) for level in LEVELS]
    scripts = _plural(len(result.scripts), "script")
    extra = [version]
    if result.dropped:
        extra.append("%s dropped: moot with this runner, or on tables new in this run"
                     % _plural(result.dropped, "finding"))
    if result.ignored:
        extra.append("%d silenced by `-- lint: ignore`" % result.ignored)
    if not result.findings:
        return "No findings in %s (%s)" % (scripts, "; ".join(extra))
    return "%s, %s, %s in %s (%s)" % (_plural(counts[0], "error"), _plural(counts[1], "warning"),
                                      _plural(counts[2], "note"), scripts, "; ".join(extra))


# -- the command -------------------------------------------------------------------------

def _database(migrator):
    """migrate_status's reading of the database, or (None, why) when it cannot be reached."""
    import psycopg2
    from sqlalchemy.exc import SQLAlchemyError
    from ..errors import database_failure
    try:
        return migrator.status(history_limit=1), None
    except (ConfigurationError, DatabaseFailure) as error:
        return None, str(error)
    except (psycopg2.Error, SQLAlchemyError) as error:
        return None, str(database_failure(error))


def lint_command(migrator, versions=(), lint_all=False, as_json=False, small_table_rows=None,
                 out=None):
    """`lint_migrations`: print the findings; the exit status (raises CheckFailed on an error)."""
    out = out or sys.stdout
    values = list(versions or ())
    small_table_rows = DEFAULT_SMALL_TABLE_ROWS if small_table_rows is None else small_table_rows
    if values and lint_all:
        raise UsageError("give versions or --all, not both")
    if small_table_rows < 0:
        raise UsageError("--small-table-rows %d: give a number of rows, 0 or more" % small_table_rows)
    versions, names = _targets(values)
    binary = find_squawk()
    discovery = above_target(discover(migrator.migration_dir), migrator.code_version)
    scripts = discovery.scripts
    by_version = {script.version: script for script in scripts}
    missing = [str(v) for v in versions if v not in by_version]
    if missing:
        raise UsageError("no script for version %s in %s" % (", ".join(missing), shown_path(
            migrator.migration_dir)))
    repeatables = chosen_repeatables(migrator.migration_dir, names) if names or not versions \
        else []

    status, unreachable = _database(migrator)
    notes = []
    pending = set()
    if status is not None:
        pending = {entry["version"] for entry in status["pending"]}
    above = discovery.above if status is not None and not (versions or names or lint_all) else []
    chosen, what = _chosen(scripts, by_version, versions, lint_all, status, pending, names, above)
    if above:  # the forgotten bump: linted with the pending ones, and said
        notes.append("note: %s" % migrator.above_note(above))
    if repeatables and not names:
        what += " and %s" % _plural(len(repeatables), "repeatable script")
    chosen = chosen + repeatables
    if status is None:
        notes.append("note: no database at hand (%s): linting %s without table sizes"
                     % (unreachable, "the scripts given" if values else "every script"))
    result = _lint_chosen(migrator, chosen, status is not None, pending, small_table_rows, binary,
                          notes)
    result = with_repeatable_findings(result, repeatables)
    if as_json:
        return _print_json(result, notes, out)
    for note in notes:
        print(note, file=out)
    if not chosen:
        print("Nothing to lint: the database is at version %d and runs no script "
              "(lint_migrations --all lints every script)" % status["current_version"], file=out)
        return EXIT_OK
    print(what, file=out)
    return _print_findings(result, binary, out)


def _targets(values):
    """(versions, names of repeatable scripts) of the positional arguments: `N` or
    `repeatable/NAME.sql`."""
    versions, names = [], []
    for value in values:
        if isinstance(value, int) or str(value).isdigit():
            versions.append(int(value))
        elif repeatable_name(str(value)):
            names.append(repeatable_name(str(value)))
        else:
            raise UsageError("%s: give a version N or a repeatable script repeatable/NAME.sql"
                             % value)
    return versions, names


def _chosen(scripts, by_version, versions, lint_all, status, pending, names=(), above=()):
    """(the versioned scripts to lint, the line that says which, with the repeatables `names`);
    `above`: the scripts above the code's version, linted with the pending ones by default."""
    if versions or names:
        chosen = [by_version[v] for v in sorted(set(versions))]
        return chosen, "Linting %s" % ", ".join([script.name for script in chosen] + [
            "repeatable/%s.sql" % name for name in sorted(set(names))])
    if lint_all or status is None:
        return scripts, "Linting all %s" % _plural(len(scripts), "script")
    chosen = [script for script in scripts if script.version in pending]
    what = "Linting %s (the database is at version %d)%s" % (
        _plural(len(chosen), "pending script"), status["current_version"],
        ": " + ", ".join(s.name for s in chosen) if 0 < len(chosen) <= 10 else "")
    names = ", ".join(s.name for s in above)
    if above and not chosen:
        what = "Linting %s, above the code's version (the database is at version %d and runs " \
            "no script)" % (names, status["current_version"])
    elif above:
        what += "; and %s, above the code's version" % names
    return chosen + list(above), what


def _lint_chosen(migrator, chosen, with_database, pending, small_table_rows, binary, notes):
    """lint's Result for the chosen scripts, weighing tables when the database is at hand."""
    sizes = None
    if with_database and chosen:
        try:
            sizes = open_sizes(migrator)
        except MigrationError as error:
            notes.append("note: table sizes unknown: %s" % error)
    try:
        return lint(chosen, sizes, pending, small_table_rows, binary) if chosen \
            else Result([], [], 0, 0)
    finally:
        close_sizes(sizes)


def _errors(result):
    return sum(1 for f in result.findings if f.level == ERROR)


def _print_json(result, notes, out):
    for note in notes:
        print(note, file=sys.stderr)
    print(json.dumps([finding_dict(f) for f in result.findings], indent=2), file=out)
    return EXIT_FAILED if _errors(result) else EXIT_OK


def _print_findings(result, binary, out):
    for finding in result.findings:
        for line in format_finding(finding):
            print(line, file=out)
    print(summary(result, squawk_version(binary)), file=out)
    out.flush()
    errors = _errors(result)
    if errors:
        raise CheckFailed("%s; make the safe rewrite, or silence one with `-- lint: ignore <rule>` "
                          "on the line before its statement" % _plural(errors, "error-level finding"))
    return EXIT_OK


# -- the other commands' use of it ---------------------------------------------------------

QUIET_LARGEST = 1000000  # a prompt or a dry run does not wait for a large data script's lint
QUIET_TIMEOUT = 30


def lint_written(script, say=print):
    """make_migration: lint the file it wrote and print what lint found; never raises.

    Returns the error-level findings ([] when lint was skipped)."""
    try:
        binary = find_squawk()
        result = lint([script], binary=binary)
    except SquawkMissing:
        say("Lint skipped: squawk is not installed (%s)" % INSTALL)
        return []
    except (MigrationError, OSError) as error:
        say("Lint skipped: %s" % error)
        return []
    version = squawk_version(binary)
    if not result.findings:
        say("Lint: no findings (%s)" % version)
        return []
    say("Lint (%s; without the database, so no table sizes: `python manage.py lint_migrations "
        "%d` weighs them):" % (version, script.version))
    for finding in result.findings:
        for line in format_finding(finding):
            say("  " + line)
    return [finding for finding in result.findings if finding.level == ERROR]


def lint_quietly(migrator, scripts):
    """Findings for scripts about to run, by script name; {} when squawk is missing or lint fails.

    Used by migrate_tables (the prompt, the dry run): lint must never stand in a deploy's way.
    """
    if not scripts:
        return {}
    try:
        binary = find_squawk()
    except SquawkMissing:
        return {}
    sizes = None
    try:
        try:
            sizes = open_sizes(migrator)
        except Exception:
            sizes = None
        result = lint(scripts, sizes, {s.version for s in scripts}, binary=binary,
                      timeout=QUIET_TIMEOUT, largest=QUIET_LARGEST)
    except Exception:  # a lint problem is no reason to stop a migration
        return {}
    finally:
        try:
            close_sizes(sizes)
        except Exception:
            pass
    found = {}
    for finding in result.findings:
        found.setdefault(os.path.basename(finding.file), []).append(finding)
    return found
