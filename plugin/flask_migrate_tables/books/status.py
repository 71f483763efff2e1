"""What `migrate_status` shows, as one JSON-ready dict, built from what a read found."""


def status_dict(database, code_version, state, assessment, holder, invalid, warnings, history_limit,
                running, repeatables=(), above=()):
    """The status dict (shape in the README); `warnings` holds the scripts' own, more are added.

    `repeatables`: the repeatable scripts a run would run, [{"file", "reason", "object"}];
    `above`: the scripts above the code's version (not a warning: a fleet says them once).
    """
    problems = list(assessment.problems)
    if holder is not None:
        # A migration is running now: its "running" row is not a crash.
        problems = [p for p in problems if p.kind != "dirty"]
    warnings += [p.message for p in problems]
    warnings += ["invalid index %s on %s: a CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY "
                 "failed or was interrupted%s; queries do not use it, writes still update it; "
                 "the script that builds it drops it when it runs again (--retry), or drop it "
                 "with DROP INDEX CONCURRENTLY" % (index, table, " (or a running migration "
                                                   "is building it now)" if holder else "")
                 for index, table in invalid]
    if assessment.repair:
        warnings.append("the version table says %s but the history says %d; the next "
                        "migrate_tables repairs it" % assessment.repair)
    rows = state.history_rows if history_limit is None else state.history_rows[-history_limit:]
    pending = assessment.pending
    return {
        "database": database,
        "server_version": server_version(state.server_version),
        "stored_version": assessment.stored,
        "current_version": assessment.current,
        "code_version": code_version,
        "up_to_date": assessment.current == code_version and not pending and not repeatables,
        "pending": [{"version": s.version, "file": s.name} for s in pending],
        "repeatables": list(repeatables),
        "above_target": [{"version": s.version, "file": s.name} for s in above],
        "migration_running": running,
        "history_total": len(state.history_rows),
        "history": [history_entry(row) for row in reversed(rows)],
        "warnings": warnings,
    }


def server_version(number):
    major, minor = divmod(number, 10000)
    return "%d.%d" % (major, minor)


def history_entry(row):
    return {
        "id": row.id, "version": row.version, "file": row.filename, "outcome": row.outcome,
        "mode": row.mode, "started_at": row.started_at.isoformat() if row.started_at else None,
        "duration_s": round(row.duration_s, 3) if row.duration_s is not None else None,
        "db_user": row.db_user, "os_user": row.os_user, "host": row.host, "error": row.error,
        "note": row.note, "backup": row.backup,
    }
