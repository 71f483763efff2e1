"""The run's options checked against the bookkeeping (refuse, nothing to do) and the books set right
before any script runs: interrupted attempts closed, the version row repaired, --mark-applied recorded."""
import os

from ..errors import InconsistentDatabase, UsageError
from ..source.files import checksum, read_script


def nothing_to_do(assessment, target, retry, mark_applied):
    """True when a run would change nothing: up to date, nothing to repair, record or refuse."""
    return not (any(s.version <= target for s in assessment.pending) or assessment.problems
                or assessment.repair or assessment.adopt or assessment.interrupted
                or assessment.changed or retry is not None or mark_applied is not None)


def refuse(assessment, retry, mark_applied):
    """Stop before changing anything when the database cannot be migrated as it is."""
    dirty = assessment.dirty
    if retry is not None and (dirty is None or dirty.version != retry):
        raise UsageError("--retry %d: version %d is not an interrupted script; nothing to retry"
                         % (retry, retry))
    for problem in assessment.problems:
        if problem.kind == "dirty" and dirty.version in (retry, mark_applied):
            continue
        if problem.kind == "version-ahead" and mark_applied is not None \
                and assessment.current < mark_applied <= assessment.stored:
            continue  # recording, one by one, scripts the database has (see the problem's advice)
        raise InconsistentDatabase(problem.message)


def check_mark_applied(assessment, version, pending):
    dirty = assessment.dirty
    if dirty is not None and dirty.version == version:
        return
    if not any(s.version == version for s in pending) or version != assessment.current + 1:
        raise UsageError("--mark-applied %d: version %d is neither interrupted nor the next "
                         "pending script" % (version, version))


def reconcile(history, assessment, version_row, who, listener, migration_dir):
    """Bring the version row and the history into agreement, saying what was repaired."""
    for row in assessment.interrupted:
        history.close_interrupted(row.id, "killed inside its transaction; rolled back")
        listener.notice("%s was interrupted last time inside its transaction; it was rolled back "
                        "and runs again" % row.filename)
    if assessment.adopt:
        history.record(assessment.adopt, None, None, "baseline", "baseline", who,
                       note="adopted: the version table said %d and there was no history"
                       % assessment.adopt)
        listener.notice("recorded version %d from the version table as the history's baseline"
                        % assessment.adopt)
    if assessment.repair:
        stored, applied = assessment.repair
        version_row.set(applied)
        listener.notice("the version table said %s but version %d was applied (see the history); "
                        "repaired it to %d without running anything" % (stored, applied, applied))
    for version, name, kind in assessment.changed:
        path = os.path.join(migration_dir, name)
        new_checksum = checksum(read_script(path)) if kind == "changed" else None
        history.record(version, name, new_checksum, "accepted-change", "accepted-change", who,
                       note="--allow-changed: applied script %s" % kind)
        listener.notice("accepted %s %s (--allow-changed); recorded in the history" % (name, kind))
    return assessment.current


def mark_applied(history, assessment, version, pending, who, version_row, listener):
    """--mark-applied: record `version` as applied without running it; returns the version."""
    dirty = assessment.dirty
    script = next((s for s in pending if s.version == version), None)
    if dirty is not None and dirty.version == version and dirty.outcome == "running":
        history.close_interrupted(dirty.id, "operator finished it by hand (--mark-applied)")
    name = script.name if script else dirty.filename
    file_checksum = checksum(read_script(script.path)) if script else None
    history.record(version, name, file_checksum, "marked-applied", "marked-applied", who,
                   note="--mark-applied: finished by hand, not run")
    # Never lowered: a version table ahead of the history stays ahead until all is recorded.
    version_row.set(max(version_row.version or 0, version))
    listener.notice("recorded %s as applied without running it (--mark-applied)" % name)
    return version


def still_ahead(assessment, version, listener):
    """After --mark-applied: True (and said) when the version table is still ahead of the history.

    The operator records, one by one, what is in the database; nothing runs until the two agree.
    """
    if assessment.stored is not None and assessment.stored > version:
        listener.notice("the version table still says %d: record the next script the "
                        "same way if it is in the database" % assessment.stored)
        return True
    return False


def check_version(option, value):
    if value is not None and value < 1:
        raise UsageError("%s %d: versions start at 1" % (option, value))


def target(code_version, to, current=None):
    """--to N as a run's target: at least 1, at most the code's version, not below `current`."""
    if to is None:
        return code_version
    check_version("--to", to)
    if to > code_version:
        raise UsageError("--to %d is above the version this code needs (__db_version__ = %d)"
                         % (to, code_version))
    if current is not None and to < current:
        raise UsageError("--to %d is below the database's version %d; migrations only go forward"
                         % (to, current))
    return to


def adopt(history, state, assessment, version, version_row, who):
    """--baseline under the lock: refused on a database that ever had a version; else the
    baseline row recorded and the Version row set."""
    if state.stored_versions or state.history_rows:
        raise UsageError("--baseline: the database already has a version (%s); baseline is "
                         "only for a database that never had one" % assessment.current)
    history.create()
    history.record(version, None, None, "baseline", "baseline", who,
                   note="--baseline: adopted an existing schema")
    version_row.load()
    version_row.set(version)
