"""The library functions the commands call: migrate, status, plan, baseline.

`Migrator` knows one app's migrations: its Flask-SQLAlchemy `db`, its
`Version` model, its `__db_version__` and its SQL directory. It follows the
recipe: the `Version` row is read with `db.session.query(Version).one_or_none()` and
committed through `db.session` after each script, while the scripts run on
a direct psycopg2 autocommit connection made from the same URL.

It is a facade: each method reads as its steps; the work is done in
settings.py (where the inputs come from), pg/run.py (the scripts'
connection and lock), source/preflight.py, books/ (the books kept),
pg/privileges.py and apply/ (the per-script loop, the backup).
"""
import logging
import os
import time
from collections import namedtuple

from .apply import backup as backups
from .apply import backup_step
from .apply import repeatables
from .apply.loop import apply_scripts
from .apply.runner import ScriptRunner
from .books import reconcile
from .books.history import History
from .books.state import assess, read_state
from .books.status import status_dict
from .books.version_row import VersionRow
from .errors import Declined, InvalidScripts, UsageError
from .events import Listener
from .pg import connection as conn
from .pg import indexes
from .pg import lockwait
from .pg import run as runs
from .pg.lock import DEFAULT_LOCK_TIMEOUT, MigrationLock, describe_holder, lock_key
from .refusals import refuse_early
from .settings import AppSettings
from .source.files import above_note, above_target, check_sequence, checksum, discover, read_script
from .source.statements import plan_script

log = logging.getLogger("flask_migrate_tables")

Result = namedtuple("Result", "from_version to_version applied seconds repeatables")
Result.__new__.__defaults__ = ((),)  # repeatables: [(books.repeatables.Due, seconds)] run
PlannedScript = namedtuple("PlannedScript", "script plan")

# One migrate() call's options, as its steps read them.
_Request = namedtuple("_Request", "to target allow_changed retry mark_applied backup listener policy")
# What a read under the lock found: the history, the state, its assessment, the scripts to consider.
_Books = namedtuple("_Books", "history state assessment pending")
# What the checks before the prompt leave for the run: pg_dump for --backup (or None), the preflight's.
_Early = namedtuple("_Early", "dump prepared")


class Migrator:
    target_name = "__db_version__"  # what messages call the target (a bind's: binds['name'])

    def __init__(self, db, version_model, code_version, sql_dir=None, history_table="version_history",
                 settings=None, app=None, binds=None):
        """`sql_dir` defaults to the app's SQL_DIR setting, else `sql/` beside the app's package,
        read when a command runs; `settings` (settings.UrlSettings) replaces the app as the source
        of URLs, folder and session; `app` registers the flask CLI commands (init_app);
        `binds`: {bind name: its target version, or a binds.Bind} (docs/binds.md)."""
        self.db = db
        self.version_model = version_model
        self.code_version = code_version
        self.history_table = history_table
        self.binds = dict(binds or {})
        self.settings = settings or AppSettings(db, sql_dir)
        if app is not None:
            self.init_app(app)

    def init_app(self, app):
        """Register the flask CLI commands (`flask migrate-tables`, ...) on `app`."""
        from .cli import register_cli
        register_cli(app, self)

    @property
    def sql_dir(self):
        return self.settings.sql_dir

    @property
    def migration_dir(self):
        return getattr(self.settings, "migration_dir", None) or os.path.join(self.sql_dir, "migration")

    def scripts(self):
        """The scripts on disk, checked to form a sequence up to the code's version; those above it."""
        discovery = discover(self.migration_dir)
        check_sequence(discovery.scripts, self.code_version)
        return above_target(discovery, self.code_version)

    def above_note(self, above):
        """What to say of scripts above the code's version: they do not run until it is raised."""
        return above_note(above, self.code_version, self.target_name)

    @property
    def url(self):
        return self.settings.url

    def describe_database(self):
        return conn.masked(self.url)

    def _connection(self):
        return runs.connection(self.settings, self.version_model.__table__.schema)

    def _session(self, lock_timeout):
        return runs.session(self.settings, self.version_model.__table__.schema, self._version_table,
                            lock_timeout)

    @property
    def _version_table(self):
        return self.version_model.__table__.name

    def _version_row(self):
        return VersionRow(self.version_model, self.settings.session, self.settings.engine)

    def _read(self, connection, start, scripts, allow_changed=False):
        history = History(connection, self.history_table, start.schema)
        state = read_state(connection, self.version_model.__table__.schema or start.schema,
                           self._version_table, "version", history)
        assessment = assess(state, scripts, self.code_version, _disk_checksum, allow_changed)
        return history, state, assessment

    def target(self, to, current=None):
        """The version a run goes to: --to N, checked against the code and the database."""
        return reconcile.target(self.code_version, to, current)

    def migrate(self, to=None, confirm=None, lock_timeout=DEFAULT_LOCK_TIMEOUT, allow_changed=False,
                retry=None, mark_applied=None, listener=None, policy=None, backup=None):
        """Bring the database to `to` (default: the code's version). Returns a Result.

        `policy` (lockwait.policy(...)) bounds the scripts' lock waits; default:
        --ddl-lock-timeout 2 s, 5 retries, no statement timeout.
        `backup` (--backup): None for none, "" for the default path, or a path: a
        pg_dump made under the lock before anything changes, when a script is to run.
        """
        listener, policy = listener or Listener(), policy or lockwait.policy()
        reconcile.check_version("--retry", retry)
        reconcile.check_version("--mark-applied", mark_applied)
        discovery = self._discover(listener)
        request = _Request(to, self.target(to), allow_changed, retry, mark_applied, backup, listener,
                           policy)
        due = repeatables.RepeatableStep(self.migration_dir,  # read (a cycle refused) before anything
                                         request.target == self.code_version and mark_applied is None)
        started = time.monotonic()
        with self._session(lock_timeout) as locked:
            early, unchanged = self._announce(locked, discovery, request, confirm, due)
            if unchanged is not None:  # nothing to do needs no lock
                return Result(unchanged, unchanged, [], time.monotonic() - started)
            locked.lock(listener)
            books = self._read_locked(locked, discovery, request)
            prepared = early.prepared
            self._back_up(locked, books, request, early.dump)
            version_row, who = self._version_row(), conn.who()
            from_version, pending = self._keep_books(books, request, version_row, who)
            to_run = {s.version for s in pending}
            applied = self._apply(locked, books, request, version_row, who,
                                  [p for p in prepared if p.script.version in to_run])
            ran = due.run(locked, books.history, who, request.policy, listener)
        current = applied[-1][0].version if applied else from_version
        return Result(from_version, current, applied, time.monotonic() - started, ran)

    def _discover(self, listener):  # the scripts, and the files that are not ones said
        discovery = self.scripts()
        for name in discovery.ignored:
            listener.notice("ignored %s: not a migration name (vN.sql or vN_description.sql)" % name)
        if discovery.above:  # the forgotten bump: said, and the run still goes to the target only
            listener.scripts_above(self.above_note(discovery.above))
        return discovery

    def _announce(self, locked, discovery, request, confirm, due):
        """Before the lock: read, refuse what cannot run (refusals.py), say what will run, ask;
        (_Early, None) or, with nothing to do, (None, the version)."""
        history, state, assessment = self._read(locked.connection, locked.start, discovery.scripts,
                                                request.allow_changed)
        self.target(request.to, assessment.current)
        due.check(locked.connection, history, state)  # the repeatable scripts due now
        if reconcile.nothing_to_do(assessment, request.target, request.retry, request.mark_applied) \
                and not due:
            if request.backup is not None:
                request.listener.notice("no backup made (--backup): no script to run")
            return None, assessment.current
        upcoming = [s for s in assessment.pending if s.version <= request.target]
        prepared = refuse_early(locked, _Books(history, state, assessment, upcoming), request,
                                self.version_model.__table__.schema, self._version_table)
        # A pg_dump too old for the server is refused before the question, not after.
        dump = backups.find_pg_dump(locked.connection.server_version) \
            if request.backup is not None and upcoming else None
        if upcoming or due:
            # Said with --yes too, so that a deploy log tells what was migrated.
            request.listener.planned(self.describe_database(), assessment.current, request.target,
                                     upcoming, len(due.due))
            if confirm is not None and not confirm(upcoming):
                raise Declined("declined; the database was not changed")
        return _Early(dump, prepared), None

    def _read_locked(self, locked, discovery, request):
        """Read again under the lock (another server may have just migrated); refuse what cannot run."""
        history, state, assessment = self._read(locked.connection, locked.start, discovery.scripts,
                                                request.allow_changed)
        self.target(request.to, assessment.current)
        reconcile.refuse(assessment, request.retry, request.mark_applied)
        pending = [s for s in assessment.pending if s.version <= request.target]
        if request.mark_applied is not None:  # refused here, before anything changes
            reconcile.check_mark_applied(assessment, request.mark_applied, pending)
        return _Books(history, state, assessment, pending)

    def _back_up(self, locked, books, request, dump):
        """--backup made under the lock, before anything changes (the role was checked before the
        prompt: refusals.py)."""
        mark = request.mark_applied
        to_run = [s for s in books.pending if mark is None or s.version > mark]
        if request.backup is not None:  # the database as it is before this run changes anything
            books.history.backup = backup_step.back_up(
                request.backup, locked, dump, books.assessment.current, to_run, request.listener,
                self.settings.instance_path)

    def _keep_books(self, books, request, version_row, who):
        """History and version row set right before any script runs: (the version, the scripts to run)."""
        history, assessment, pending = books.history, books.assessment, books.pending
        mark = request.mark_applied
        history.create()
        version_row.load()
        current = reconcile.reconcile(history, assessment, version_row, who, request.listener,
                                      self.migration_dir)
        if mark is not None:
            current = reconcile.mark_applied(history, assessment, mark, pending, who, version_row,
                                             request.listener)
            pending = [] if reconcile.still_ahead(assessment, mark, request.listener) \
                else [s for s in pending if s.version > mark]
        if assessment.dirty is not None and request.retry == assessment.dirty.version:
            history.close_interrupted(assessment.dirty.id, "run again with --retry")
        return current, pending

    def _apply(self, locked, books, request, version_row, who, prepared):
        """The scripts run one by one, each version committed after it: [(script, seconds)]."""
        version_row.commit()  # no idle transaction may block the scripts' DDL
        runner = ScriptRunner(locked.connection, books.history, who, locked.session, request.policy,
                              locked.watch, request.listener)
        attempted = {row.version for row in books.state.history_rows
                     if row.outcome in ("failed", "interrupted", "running")}
        return apply_scripts(prepared, runner, locked, version_row, request.retry, attempted, who,
                             request.listener)

    def backup_preview(self, requested, version):
        """--dry-run --backup: (path, backup.PgDump) of the backup a run would make now.

        Refuses (PgDumpTooOld) as the run would; creates nothing.
        """
        with self._connection() as (connection, _, params):
            dump = backups.find_pg_dump(connection.server_version)
        return backup_step.preview_path(requested, version, params, self.settings.instance_path), dump

    # -- read-only operations -------------------------------------------------

    def plan(self, to=None):
        """What `migrate` would run, script by script with its statements; changes nothing."""
        discovery = self.scripts()
        target = self.target(to)
        with self._connection() as (connection, start, _):
            _, _, assessment = self._read(connection, start, discovery.scripts)
            server_version = connection.server_version
        self.target(to, assessment.current)
        reconcile.refuse(assessment, None, None)
        pending = [s for s in assessment.pending if s.version <= target]
        return assessment, [PlannedScript(s, plan_script(read_script(s.path), s.name, True,
                                                         server_version))
                            for s in pending]

    def baseline(self, version, confirm=None, lock_timeout=DEFAULT_LOCK_TIMEOUT, listener=None):
        """Adopt an existing database whose schema is that of `version`; run no script."""
        listener = listener or Listener()
        if not 1 <= version <= self.code_version:
            raise UsageError("--baseline %d: the version must be between 1 and __db_version__ (%d)"
                             % (version, self.code_version))
        discovery = discover(self.migration_dir)
        if confirm is not None and not confirm():
            raise Declined("declined; the database was not changed")
        with self._session(lock_timeout) as locked:
            locked.lock(listener)
            history, state, assessment = self._read(locked.connection, locked.start, discovery.scripts)
            reconcile.adopt(history, state, assessment, version, self._version_row(), conn.who())
        log.info("Baselined the database at version %d", version)
        return version

    def status(self, history_limit=10):
        """What `migrate_status` shows, as one JSON-ready dict (shape in the README)."""
        discovery = above_target(discover(self.migration_dir), self.code_version)
        warnings = ["ignored %s: not a migration name" % name for name in discovery.ignored]
        try:
            check_sequence(discovery.scripts, self.code_version)
        except InvalidScripts as error:
            warnings.append(str(error))
        with self._connection() as (connection, start, _):
            history, state, assessment = self._read(connection, start, discovery.scripts)
            due = repeatables.status_entries(connection, history, state, self.migration_dir, warnings)
            holder = MigrationLock(connection, lock_key(self._version_table)).holder()
            invalid = indexes.invalid_indexes(connection)
        return status_dict(self.describe_database(), self.code_version, state, assessment, holder,
                           invalid, warnings, history_limit,
                           describe_holder(holder) if holder else None, due, discovery.above)


def _disk_checksum(script):
    return checksum(read_script(script.path))
