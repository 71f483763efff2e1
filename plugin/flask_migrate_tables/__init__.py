"""Forward-only PostgreSQL migrations from plain versioned SQL files.

Independent of the demo app: give it an app's `db`, `Version` model and
`__db_version__`, then register the commands (see README, "Add it to your app").

    scripts.py     find sql/migration/vN.sql, sorted by version; read one
    statements.py  split a script (pglast) and decide what runs in a transaction
    state.py       read the database's bookkeeping and judge it against the scripts
    history.py     the version_history table
    lock.py        the migration lock: polled, never waited for inside a statement
    lockwait.py    lock-wait policy for the scripts: lock timeouts, retries, who blocks
    session.py     keeping the tool's own statements immune to what scripts do to the session
    pooling.py     refusing a pooler in transaction mode; MIGRATION_DATABASE_URL's database
    indexes.py     INVALID indexes left by CONCURRENTLY: dropped before a rerun, listed by status
    runner.py      running one script and recording it
    backup.py      --backup: a pg_dump -Fc new enough for the server, into an owner-only file
    migrator.py    the library functions: migrate, plan, baseline, status
    report.py      what the commands print
    authoring.py   make_migration and check_migrations: build A from the scripts, B from the models
    scratch.py     the scratch server and databases authoring and drift build on, always removed
    generate.py    the SQL between two schemas: refusals, then the engine's, repaired, supplemented
    schema_diff.py the diff engine (pgmig, the authoring extra) behind one function
    repair.py      the engine's statements known to fail or to give another schema, made right
    supplement.py  what the engine does not write: grants, comments, statistics, CLUSTER ON, ...
    snapshot.py    the independent comparison: catalog snapshots of two databases and what differs
    drift.py       the live schema against what its applied scripts give (migrate_status --drift)
    lint.py        lint_migrations: squawk (the lint extra) minus what the runner makes moot
    commands.py    Flask-Script commands; cli.py the flask CLI group
"""
import logging

from .migrator import Migrator

logging.getLogger("flask_migrate_tables").addHandler(logging.NullHandler())

__all__ = ["Migrator"]
