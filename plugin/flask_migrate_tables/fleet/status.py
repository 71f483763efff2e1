"""`migrate_status --databases FILE [--json] [--check]`: the fleet's state, read-only.

Each database read as `migrate_status` reads one (Migrator.status), four at a time, and
kept as one small entry: counts by version, then the databases behind, ahead, with a
failed script, locked by a running migration, or unreachable.
"""
import json
import threading
from collections import Counter

import psycopg2
from sqlalchemy.exc import SQLAlchemyError

from ..errors import EXIT_FAILED, EXIT_OK, InvalidScripts, MigrationError
from ..source.files import above_target, discover
from .each import error_text, fleet_migrator, places, run_pool
from .targets import read_targets

STATUS_JOBS = 4
KINDS = ("behind", "ahead", "failed", "locked", "unreachable")


def entry(migrator, target, where):
    """One database's state: {database, position, version, state, detail}."""
    found = {"database": target.label, "position": target.position, "version": None}
    one = fleet_migrator(migrator, target.url, where)
    try:
        status = one.status(history_limit=None)
    except (MigrationError, psycopg2.Error, SQLAlchemyError) as error:
        return dict(found, state="unreachable", detail=error_text(error))
    finally:
        one.settings.close()
    latest = {}
    for row in reversed(status["history"]):  # oldest first: the last one of a version stays
        latest[row["version"]] = row
    failed = [row for row in latest.values() if row["outcome"] == "failed"]
    found["version"] = status["current_version"]
    if status["migration_running"]:
        return dict(found, state="locked", detail="running now: %s" % status["migration_running"])
    if failed:
        return dict(found, state="failed", detail="; ".join(
            "%s failed: %s" % (row["file"], row["error"]) for row in failed))
    if status["current_version"] > status["code_version"]:
        return dict(found, state="ahead", detail="at version %d" % status["current_version"])
    if not status["up_to_date"]:
        return dict(found, state="behind", detail="at version %d; pending %s" % (
            status["current_version"], ", ".join(p["file"] for p in status["pending"])))
    return dict(found, state="at-target", detail="; ".join(status["warnings"]) or None)


def read_fleet(migrator, targets):
    entries, where = {}, places(migrator)

    def read(target):
        entries[target.position] = entry(migrator, target, where)
    run_pool(targets, STATUS_JOBS, read, threading.Event())
    return [entries[t.position] for t in targets]


def above(migrator):
    """The scripts above the code's version, said once for the fleet ([] when unreadable: each
    database's entry says why)."""
    try:
        return above_target(discover(migrator.migration_dir), migrator.code_version).above
    except InvalidScripts:
        return []


def fleet_document(code_version, entries, above_scripts=()):
    versions = Counter(str(e["version"]) for e in entries if e["state"] != "unreachable")
    document = {"code_version": code_version, "databases": len(entries),
                "above_target": [{"version": s.version, "file": s.name} for s in above_scripts],
                "by_version": dict(sorted(versions.items())),
                "at_target": sum(1 for e in entries if e["state"] == "at-target")}
    for kind in KINDS:
        document[kind] = [e for e in entries if e["state"] == kind]
    return document


def format_fleet(document, total, note=None):
    """`note`: what to say of the scripts above the code's version (Migrator.above_note)."""
    lines = ["Fleet:           %d databases; code version %d (__db_version__)"
             % (document["databases"], document["code_version"])]
    if note:
        lines.append("Above target:    %s" % note)
    lines += ["  version %-7s %d" % (version, count) for version, count in document["by_version"].items()]
    lines.append("At the target:   %d" % document["at_target"])
    for kind in KINDS:
        rows = document[kind]
        lines.append("%-16s %d" % (kind.capitalize() + ":", len(rows)))
        lines += ["  [%d/%d %s] %s" % (e["position"], total, e["database"], e["detail"]) for e in rows]
    return "\n".join(lines)


def fleet_status(migrator, options):
    """The command's body: print, and with --check exit 1 unless every database is at the target."""
    targets = read_targets(options.databases)
    found = above(migrator)
    document = fleet_document(migrator.code_version, read_fleet(migrator, targets), found)
    print(json.dumps(document, indent=2) if options.as_json else format_fleet(
        document, len(targets), migrator.above_note(found) if found else None))
    if options.check and (document["at_target"] != document["databases"] or found):
        return EXIT_FAILED
    return EXIT_OK
