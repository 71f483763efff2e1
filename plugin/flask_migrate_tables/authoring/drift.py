"""Drift: the live schema against what the scripts it has applied give.

    drift()   build a scratch database from the scripts up to the database's current
              version (the runner, as check_migrations does), and compare it with the
              live schema by snapshot.py; the live database is only read (one READ ONLY
              transaction of catalog queries)

The runner's own tables (the version table and version_history) are left out:
an older release of this tool may have made them with fewer columns.
"""
import time
from collections import namedtuple

from .build import build_from_migrations
from .scratch import url_text
from .snapshot import compare, describe, failures

Drift = namedtuple("Drift", "version scripts differences notes seconds")

LABELS = ("the migrations", "the server")


def drift(migrator, scratch, progress=None):
    """Compare the live database with the scripts up to its current version; return a Drift.

    `differences` are one line each ("index public.ix: in the server, not in the
    migrations"); `notes` are differences that are not drift (column order).
    """
    started = time.monotonic()
    status = migrator.status(history_limit=0)
    version = status["current_version"] or 0
    scripts = [s for s in migrator.scripts().scripts if s.version <= version]
    built_url = scratch.create_database("migrations")
    if version:
        build_from_migrations(migrator, built_url, version)  # repeatables at the code's version only
    runner_tables = (migrator.version_model.__table__.name, migrator.history_table)
    found = compare(built_url, url_text(migrator.url), exclude_tables=runner_tables)
    real = failures(found)
    seconds = time.monotonic() - started
    if progress is not None:
        progress.step("Built version %d from %d script%s on %s in %.1fs" % (
            version, len(scripts), "" if len(scripts) == 1 else "s", scratch.describe(), seconds))
    return Drift(version, scripts, [describe(d, *LABELS) for d in real],
                 [describe(d, *LABELS) for d in found if d not in real], seconds)


def with_drift(status, migrator, scratch_url=None, progress=None):
    """`migrate_status --drift`: the status dict with a "drift" entry added (and returned)."""
    from .scratch import Scratch
    from .servers import live_major
    with Scratch(scratch_url, live_major(migrator.url)) as scratch:
        found = drift(migrator, scratch, progress)
    status["drift"] = {"version": found.version, "differences": found.differences,
                       "notes": found.notes}
    return status
