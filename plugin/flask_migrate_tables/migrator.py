"""The library functions the commands call: migrate, status, plan, baseline.

`Migrator` knows one app's migrations: its Flask-SQLAlchemy `db`, its
`Version` model, its `__db_version__` and its SQL directory. It follows the
recipe: the `Version` row is read with `Version.query.one_or_none()` and
committed through `db.session` after each script, while the scripts run on
a direct psycopg2 autocommit connection made from the same URL.
"""
import logging
import os
import re
import time
from collections import namedtuple
from contextlib import contextmanager

import psycopg2
from psycopg2 import sql
from flask import current_app
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy import text as sql_text
from sqlalchemy.orm.attributes import set_committed_value

from .apply import backup as backups
from .pg import connection as conn
from .pg import indexes
from .pg import lockwait
from .pg import pooling
from .errors import (BookkeepingFailed, ConfigurationError, DatabaseFailure, Declined,
                     InconsistentDatabase, Interrupted, InvalidScripts, MigrationError, ScriptFailed,
                     UsageError, database_failure)
from .books.history import History
from .pg.lock import MigrationLock, describe_holder, lock_key
from .source.psql import may_have_psql_lines
from .apply.runner import LARGE_SCRIPT, ScriptRunner, crash_point
from .source.files import (check_sequence, checksum, checksum_bytes, decoded_chunks, discover, read_script,
                      read_script_bytes)
from .pg.session import Session, read_start
from .books.state import assess, read_state
from .source.statements import (TRANSACTION, has_no_transaction_header, may_need_splitting, plain_plan,
                         plan_script)

log = logging.getLogger("flask_migrate_tables")

DEFAULT_LOCK_TIMEOUT = 60.0

Result = namedtuple("Result", "from_version to_version applied seconds")
PlannedScript = namedtuple("PlannedScript", "script plan")


class Listener:
    """What the library tells its caller while it works; the command layer prints it."""

    def notice(self, message):
        pass

    def waiting_for_lock(self, holder):
        pass

    def script_started(self, script, plan):
        pass

    def script_finished(self, script, seconds):
        pass

    def lock_retry(self, message):
        """A step's lock was not granted in time; it is tried again (one line)."""
        self.notice(message)

    def planned(self, database, current, target, pending):
        """What this run is about to do, before it asks and before it takes the lock."""
        pass

    def backing_up(self, database, version, path, pg_dump):
        """--backup: pg_dump (backup.PgDump) starts writing the backup; it may take a while."""
        pass

    def backed_up(self, backup):
        """--backup: the backup (backup.Backup) is written; no script has run yet."""
        pass


class Migrator:
    def __init__(self, db, version_model, code_version, sql_dir=None, history_table="version_history"):
        """`sql_dir` defaults to the app's SQL_DIR setting, read when a command runs."""
        self.db = db
        self.version_model = version_model
        self.code_version = code_version
        self._sql_dir = sql_dir
        self.history_table = history_table

    # -- what is on disk -------------------------------------------------

    @property
    def sql_dir(self):
        return self._sql_dir or current_app.config["SQL_DIR"]

    @property
    def migration_dir(self):
        return os.path.join(self.sql_dir, "migration")

    def scripts(self):
        """The scripts on disk, checked to form a sequence up to the code's version."""
        discovery = discover(self.migration_dir)
        check_sequence(discovery.scripts, self.code_version)
        return discovery

    # -- connections -------------------------------------------------------

    @property
    def url(self):
        try:
            return self.db.engine.url
        except Exception as error:  # no URI configured, no app context, bad URL
            # Flask 2.2+ explains a missing app context over several lines: keep the first.
            raise ConfigurationError("no usable database URL: %s" % conn.url_problem(error))

    @property
    def direct_url(self):
        """MIGRATION_DATABASE_URL (app config or environment): the scripts' own connection, or None."""
        try:
            configured = current_app.config.get("MIGRATION_DATABASE_URL")
        except RuntimeError:  # no app context: the environment alone
            configured = None
        configured = configured or os.environ.get("MIGRATION_DATABASE_URL")
        if not configured:
            return None
        from sqlalchemy.engine.url import make_url
        try:
            return make_url(conn.normalise_url(configured))
        except Exception:
            raise ConfigurationError("MIGRATION_DATABASE_URL is not a usable database URL; "
                                     "write it as postgresql://user:password@host:port/name")

    @property
    def migration_url(self):
        app_url = self.url  # a broken app URL is reported first, whatever the direct one is
        return self.direct_url or app_url

    def describe_database(self):
        return conn.masked(self.url)

    @contextmanager
    def _connection(self):
        """The scripts' autocommit connection and how its session started (session.py)."""
        params = conn.connect_params(self.migration_url)
        connection = conn.connect(params)
        try:
            start = read_start(connection, self.version_model.__table__.schema)
            yield connection, start, params
        except psycopg2.Error as error:
            if connection.closed:  # the server went away: something may have run before
                raise database_failure(error)
            raise ConfigurationError("database error: %s" % conn.redact(
                (str(error).strip().splitlines() or [repr(error)])[0], params))
        finally:
            connection.close()

    @contextmanager
    def _session(self, lock_timeout):
        """The scripts' connection, ready to take the migration lock (`_Run.lock`)."""
        lock_timeout = _check_lock_timeout(lock_timeout)
        with self._connection() as (connection, start, params):
            if self.direct_url is not None:
                pooling.check_same_database(start, self._app_identity(),
                                            conn.masked(self.direct_url), self.describe_database())
            session = Session(connection, start, MigrationLock(connection, lock_key(self._version_table)))
            with connection.cursor() as cursor:
                session.apply_settings(cursor)
            watch = lockwait.Watch(connection, lambda: conn.connect(params))
            watch.backend_pid = start.backend_pid
            run = _Run(connection, start, session, watch, params, lock_timeout)
            with lockwait.watching(watch):
                try:
                    yield run
                finally:
                    run.unlock()

    def _app_identity(self):
        """(system_identifier, database name) of the app's own URL, read through its engine."""
        with self.db.engine.connect() as connection:
            row = connection.execute(sql_text(
                "SELECT (SELECT system_identifier FROM pg_catalog.pg_control_system()),"
                " pg_catalog.current_database()")).fetchone()
        return tuple(row)

    @property
    def _version_table(self):
        return self.version_model.__table__.name

    def _read(self, connection, start, scripts, allow_changed=False):
        history = History(connection, self.history_table, start.schema)
        state = read_state(connection, self.version_model.__table__.schema or start.schema,
                           self._version_table, "version", history)
        assessment = assess(state, scripts, self.code_version, _disk_checksum, allow_changed)
        return history, state, assessment

    # -- migrate -------------------------------------------------------------

    def target(self, to, current=None):
        if to is None:
            return self.code_version
        _check_version("--to", to)
        if to > self.code_version:
            raise UsageError("--to %d is above the version this code needs (__db_version__ = %d)"
                             % (to, self.code_version))
        if current is not None and to < current:
            raise UsageError("--to %d is below the database's version %d; migrations only go forward"
                             % (to, current))
        return to

    def migrate(self, to=None, confirm=None, lock_timeout=DEFAULT_LOCK_TIMEOUT, allow_changed=False,
                retry=None, mark_applied=None, listener=None, policy=None, backup=None):
        """Bring the database to `to` (default: the code's version). Returns a Result.

        `policy` (lockwait.policy(...)) bounds the scripts' lock waits; default:
        --ddl-lock-timeout 2 s, 5 retries, no statement timeout.
        `backup` (--backup): None for none, "" for the default path, or a path: a
        pg_dump made under the lock before anything changes, when a script is to run.
        """
        listener = listener or Listener()
        policy = policy or lockwait.policy()
        _check_version("--retry", retry)
        _check_version("--mark-applied", mark_applied)
        discovery = self.scripts()
        for name in discovery.ignored:
            listener.notice("ignored %s: not a migration name (vN.sql or vN_description.sql)" % name)
        target = self.target(to)
        started = time.monotonic()
        with self._session(lock_timeout) as locked:
            connection = locked.connection
            _, _, assessment = self._read(connection, locked.start, discovery.scripts, allow_changed)
            upcoming = [s for s in assessment.pending if s.version <= target]
            # A pg_dump too old for the server is refused before the question, not after.
            dump = backups.find_pg_dump(connection.server_version) \
                if backup is not None and upcoming else None
            if upcoming:
                # Said with --yes too, so that a deploy log tells what was migrated.
                listener.planned(self.describe_database(), assessment.current, target, upcoming)
                if confirm is not None and not confirm(upcoming):
                    raise Declined("declined; the database was not changed")
            # Nothing to do needs no lock (and no check of the connection for it).
            if _nothing_to_do(assessment, target, retry, mark_applied):
                self.target(to, assessment.current)
                if backup is not None:
                    listener.notice("no backup made (--backup): no script to run")
                return Result(assessment.current, assessment.current, [], time.monotonic() - started)
            locked.lock(listener)
            # Read again under the lock: another server may have just migrated.
            history, state, assessment = self._read(connection, locked.start, discovery.scripts,
                                                    allow_changed)
            self.target(to, assessment.current)
            _refuse(assessment, retry, mark_applied)
            pending = [s for s in assessment.pending if s.version <= target]
            if mark_applied is not None:  # refused here, before anything changes
                _check_mark_applied(assessment, mark_applied, pending)
            checked, plans, policies, texts = _preflight(pending, connection.server_version, policy,
                                                         utf8=connection.encoding in ("UTF8", "UNICODE"))
            to_run = [s for s in pending if mark_applied is None or s.version > mark_applied]
            backing_up = backup is not None and bool(to_run)
            self._check_privileges(connection, history, state, backup_column=backing_up)
            if backup is not None:  # the database as it is before this run changes anything
                history.backup = self._back_up(backup, locked, dump, assessment.current, to_run,
                                               listener)

            history.create()
            version_row = self._version_row()
            who = conn.who()
            current = self._reconcile(history, assessment, version_row, who, listener)
            if mark_applied is not None:
                current = self._mark_applied(history, assessment, mark_applied, pending, who,
                                             version_row, listener)
                pending = [s for s in pending if s.version > mark_applied]
                if assessment.stored is not None and assessment.stored > mark_applied:
                    # The version table was ahead of the history: the operator records, one
                    # by one, what is in the database; nothing runs until the two agree.
                    listener.notice("the version table still says %d: record the next script the "
                                    "same way if it is in the database" % assessment.stored)
                    pending = []
            if assessment.dirty is not None and retry == assessment.dirty.version:
                history.close_interrupted(assessment.dirty.id, "run again with --retry")

            from_version = current
            self.db.session.commit()  # no idle transaction may block the scripts' DDL
            runner = ScriptRunner(connection, history, who, locked.session, policy, locked.watch,
                                  listener)
            commit_version = self._version_committer(version_row)
            attempted = {row.version for row in state.history_rows
                         if row.outcome in ("failed", "interrupted", "running")}
            applied = []
            for script in pending:
                if script.version in texts and texts[script.version] is None:  # see _plain_large
                    text = read_script_bytes(script.path, checked=True)
                    if text is None or checksum_bytes(text) != checked[script.version]:
                        raise InconsistentDatabase("%s changed while migrating; run again" % script.name)
                else:
                    text = texts.pop(script.version, None)  # what the preflight read and checked
                if text is None:
                    text = read_script(script.path)
                    if checksum(text) != checked[script.version]:
                        raise InconsistentDatabase("%s changed while migrating; run again" % script.name)
                plan = plans.get(script.version) if isinstance(text, bytes) or "\r" not in text else None
                if plan is None:
                    plan = plan_script(text, script.name, server_version=connection.server_version)
                listener.script_started(script, plan)
                log.info("Upgrading database to version %d (%s, %s)", script.version, script.name,
                         plan.mode)
                script_started = time.monotonic()
                note = "--retry" if retry == script.version else None
                text = runner.encode(text, plan)  # a large script's text goes before it is sent
                try:
                    runner.run(script, text, checked[script.version], plan, note,
                               policies[script.version], rerun=script.version in attempted)
                except Interrupted:
                    if connection.closed:  # psycopg2 closes it when a Ctrl-C cancels a statement
                        _record_interrupted(locked.params, script, plan, runner, who)
                    raise
                except (MigrationError, psycopg2.Error) as error:
                    if not connection.closed:
                        raise
                    raise _lost(script, plan, runner, error, applied) from None
                del text
                crash_point("after-script-commit")
                try:
                    commit_version(script.version, flush=script is pending[-1])
                except (SQLAlchemyError, self.db.engine.dialect.dbapi.Error) as error:
                    _rollback_quietly(self.db.session)
                    failure = database_failure(error, "writing the version row after %s" % script.name)
                    raise type(failure)(
                        "%s was applied and recorded in the history, but %s; the next migrate_tables "
                        "repairs the version row from the history" % (script.name, failure))
                seconds = time.monotonic() - script_started
                log.info("Applied %s in %.3fs", script.name, seconds)
                listener.script_finished(script, seconds)
                applied.append((script, seconds))
                current = script.version
        return Result(from_version, current, applied, time.monotonic() - started)

    def _check_privileges(self, connection, history, state, backup_column=False):
        """Refuse in one line, before anything changes, when the role cannot keep the books.

        `backup_column`: this run records a --backup, so a history table made before the
        `backup` column must get it (History.create), which only its owner may do.
        """
        version_schema = self.version_model.__table__.schema or history.schema
        version_table = sql.Identifier(version_schema, self._version_table).as_string(connection)
        history_table = history.table.as_string(connection)
        shown = {version_table: "%s.%s" % (version_schema, self._version_table),
                 history_table: "%s.%s" % (history.schema, history.table_name)}
        missing = []
        with connection.cursor() as cursor:
            def lacking(kind, target, privileges):
                lacks = []
                for privilege in privileges:
                    cursor.execute("SELECT pg_catalog.has_%s_privilege(%%s, %%s)" % kind,
                                   (target, privilege))
                    if not cursor.fetchone()[0]:
                        lacks.append(privilege)
                return lacks

            for schema in sorted({history.schema, version_schema}):
                lacks = lacking("schema", schema, ["USAGE"])
                if lacks:
                    missing.append("USAGE on schema %s" % schema)
            present = history.later_columns()  # None: no history table yet
            if present is not None:
                lacks = lacking("table", history_table, ["SELECT", "INSERT", "UPDATE"])
                if lacks:
                    missing.append("%s on %s" % (", ".join(lacks), shown[history_table]))
                cursor.execute("SELECT pg_catalog.pg_get_serial_sequence(%s, 'id')", (history_table,))
                sequence = cursor.fetchone()[0]
                if sequence and lacking("sequence", sequence, ["USAGE"]) \
                        and lacking("sequence", sequence, ["UPDATE"]):
                    missing.append("USAGE (or UPDATE) on %s" % sequence)
                if backup_column and "backup" not in present:
                    cursor.execute("SELECT pg_catalog.pg_has_role(relowner, 'USAGE') FROM"
                                   " pg_catalog.pg_class WHERE oid = pg_catalog.to_regclass(%s)",
                                   (history_table,))
                    if not cursor.fetchone()[0]:
                        missing.append("ownership of %s, to add its column backup for --backup "
                                       "(or add it once as its owner: ALTER TABLE %s ADD COLUMN "
                                       "backup text)" % (shown[history_table], history_table))
            elif lacking("schema", history.schema, ["CREATE"]):
                missing.append("CREATE on schema %s (to create %s)" % (history.schema, shown[history_table]))
            if state.version_table:
                wanted = ["SELECT", "UPDATE"] + ([] if state.stored_versions else ["INSERT"])
                lacks = lacking("table", version_table, wanted)
                if lacks:
                    missing.append("%s on %s" % (", ".join(lacks), shown[version_table]))
            elif lacking("schema", version_schema, ["CREATE"]):
                missing.append("CREATE on schema %s (to create %s)" % (version_schema, shown[version_table]))
            if missing:
                cursor.execute("SELECT current_user")
                role = cursor.fetchone()[0]
        if missing:
            raise ConfigurationError(
                "the role %s lacks %s; nothing was changed; grant it (README, \"Promises\") or "
                "migrate as a role that has it" % (role, "; ".join(missing)))

    def _back_up(self, requested, locked, dump, version, to_run, listener):
        """--backup under the lock, before anything changes: the file's path, or None.

        No script to run (another server just migrated, or only bookkeeping to
        repair) means nothing to back up. `dump` was chosen before the prompt.
        """
        if not to_run:
            listener.notice("no backup made (--backup): no script to run")
            return None
        dump = dump or backups.find_pg_dump(locked.connection.server_version)
        database = backups.database_name(locked.params)
        path, folder = backups.resolve(requested, current_app.instance_path, database, version)
        made = backups.make(locked.params, path, folder, dump, version,
                            lambda: listener.backing_up(database, version, path, dump))
        listener.backed_up(made)
        return made.path

    def backup_preview(self, requested, version):
        """--dry-run --backup: (path, backup.PgDump) of the backup a run would make now.

        Refuses (PgDumpTooOld) as the run would; creates nothing.
        """
        with self._connection() as (connection, _, params):
            dump = backups.find_pg_dump(connection.server_version)
        path, _ = backups.resolve(requested, current_app.instance_path,
                                  backups.database_name(params), version)
        return path, dump

    def _version_committer(self, version_row):
        """commit(version, flush): the recipe's Version row set to N and committed through `db.session`.

        One UPDATE of the row by its primary key, as the ORM would flush for
        `version_row.version = N`, but without its per-commit cost: a commit
        expires the row, and the ORM would first read it all back (a SELECT)
        to learn its key. The row object is then given the committed value.
        The statements are made once per run and sent on the session's own
        connection, in its transaction (`session.connection()`), which the
        session then commits: the app's driver, pool and settings, without the
        cost of SQLAlchemy's statement execution for one known UPDATE.

        With `flush=False` (every script but the last) the commit is visible at
        once but does not wait for the disk: the next script's commit flushes it.
        A server crash in between leaves the version row one behind the history,
        which the next run repairs, as after a kill between the two commits.
        """
        state = inspect(version_row)
        statement = self._version_update(state.mapper)
        if self.db.engine.dialect.driver == "psycopg2":  # one message (rowcount: the UPDATE's)
            deferred, set_local = "SET LOCAL synchronous_commit TO off; " + statement, None
        else:
            # A statement of its own: psycopg 3, which an app's engine may use, binds
            # parameters on the server and refuses two commands in one.
            deferred, set_local = statement, "SET LOCAL synchronous_commit TO off"
        keys = {"pk%d" % number: value for number, value in enumerate(state.identity)}
        session = self.db.session

        def commit(version, flush=True):
            cursor = session.connection().connection.cursor()
            try:
                if not flush and set_local is not None:
                    cursor.execute(set_local)
                cursor.execute(statement if flush else deferred, dict(keys, version=version))
                updated = cursor.rowcount
            finally:
                cursor.close()
            if updated != 1:
                session.rollback()
                raise InconsistentDatabase("the version row went away while migrating (after %s); "
                                           "run again" % version)
            session.commit()
            set_committed_value(version_row, "version", version)
        return commit

    def _version_update(self, mapper):
        """The UPDATE of the version row by its key, in the driver's own parameter style."""
        preparer = self.db.engine.dialect.identifier_preparer

        def quoted(name):
            return preparer.quote(name).replace("%", "%%")
        column = mapper.get_property("version").columns[0]
        where = " AND ".join("%s = %%(pk%d)s" % (quoted(key.name), number)
                             for number, key in enumerate(mapper.primary_key))
        table = preparer.format_table(mapper.local_table).replace("%", "%%")
        return "UPDATE %s SET %s = %%(version)s WHERE %s" % (table, quoted(column.name), where)

    def _version_row(self):
        """The recipe's Version row, made when missing (the table too, on a new database)."""
        self.version_model.__table__.create(bind=self.db.engine, checkfirst=True)
        row = self.version_model.query.one_or_none()
        if row is None:
            row = self.version_model(version=0, version_id=1)
            self.db.session.add(row)
            self.db.session.commit()
        return row

    def _reconcile(self, history, assessment, version_row, who, listener):
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
            version_row.version = applied
            self.db.session.commit()
            listener.notice("the version table said %s but version %d was applied (see the history); "
                            "repaired it to %d without running anything" % (stored, applied, applied))
        for version, name, kind in assessment.changed:
            path = os.path.join(self.migration_dir, name)
            new_checksum = checksum(read_script(path)) if kind == "changed" else None
            history.record(version, name, new_checksum, "accepted-change", "accepted-change", who,
                           note="--allow-changed: applied script %s" % kind)
            listener.notice("accepted %s %s (--allow-changed); recorded in the history" % (name, kind))
        return assessment.current

    def _mark_applied(self, history, assessment, version, pending, who, version_row, listener):
        dirty = assessment.dirty
        script = next((s for s in pending if s.version == version), None)
        if dirty is not None and dirty.version == version and dirty.outcome == "running":
            history.close_interrupted(dirty.id, "operator finished it by hand (--mark-applied)")
        name = script.name if script else dirty.filename
        file_checksum = checksum(read_script(script.path)) if script else None
        history.record(version, name, file_checksum, "marked-applied", "marked-applied", who,
                       note="--mark-applied: finished by hand, not run")
        # Never lowered: a version table ahead of the history stays ahead until all is recorded.
        version_row.version = max(version_row.version or 0, version)
        self.db.session.commit()
        listener.notice("recorded %s as applied without running it (--mark-applied)" % name)
        return version

    # -- read-only operations -------------------------------------------------

    def plan(self, to=None):
        """What `migrate` would run, script by script with its statements; changes nothing."""
        discovery = self.scripts()
        target = self.target(to)
        with self._connection() as (connection, start, _):
            _, _, assessment = self._read(connection, start, discovery.scripts)
            server_version = connection.server_version
        self.target(to, assessment.current)
        _refuse(assessment, None, None)
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
            if state.stored_versions or state.history_rows:
                raise UsageError("--baseline: the database already has a version (%s); baseline is "
                                 "only for a database that never had one" % assessment.current)
            history.create()
            history.record(version, None, None, "baseline", "baseline", conn.who(),
                           note="--baseline: adopted an existing schema")
            version_row = self._version_row()
            version_row.version = version
            self.db.session.commit()
        log.info("Baselined the database at version %d", version)
        return version

    def status(self, history_limit=10):
        """What `migrate_status` shows, as one JSON-ready dict (shape in the README)."""
        discovery = discover(self.migration_dir)
        warnings = ["ignored %s: not a migration name" % name for name in discovery.ignored]
        try:
            check_sequence(discovery.scripts, self.code_version)
        except InvalidScripts as error:
            warnings.append(str(error))
        with self._connection() as (connection, start, _):
            _, state, assessment = self._read(connection, start, discovery.scripts)
            holder = MigrationLock(connection, lock_key(self._version_table)).holder()
            invalid = indexes.invalid_indexes(connection)
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
            "database": self.describe_database(),
            "server_version": _server_version(state.server_version),
            "stored_version": assessment.stored,
            "current_version": assessment.current,
            "code_version": self.code_version,
            "up_to_date": assessment.current == self.code_version and not pending,
            "pending": [{"version": s.version, "file": s.name} for s in pending],
            "migration_running": describe_holder(holder) if holder else None,
            "history_total": len(state.history_rows),
            "history": [_history_entry(row) for row in reversed(rows)],
            "warnings": warnings,
        }


def _server_version(number):
    major, minor = divmod(number, 10000)
    return "%d.%d" % (major, minor)


def _history_entry(row):
    return {
        "id": row.id, "version": row.version, "file": row.filename, "outcome": row.outcome,
        "mode": row.mode, "started_at": row.started_at.isoformat() if row.started_at else None,
        "duration_s": round(row.duration_s, 3) if row.duration_s is not None else None,
        "db_user": row.db_user, "os_user": row.os_user, "host": row.host, "error": row.error,
        "note": row.note, "backup": row.backup,
    }


class _Run:
    """What a run works with: the connection, its start, the session rules, the watch."""

    def __init__(self, connection, start, session, watch, params, lock_timeout):
        self.connection, self.start, self.session, self.watch = connection, start, session, watch
        self.params, self.lock_timeout = params, lock_timeout

    def lock(self, listener):
        """Check the connection is one server session, then take the migration lock.

        The check comes first: behind a pooler in transaction mode the lock would
        stay behind on a pooled server connection after we refuse.
        """
        pooling.check_stable_session(self.connection, self.start.backend_pid,
                                     lambda: conn.connect(self.params))
        self.session.lock.acquire(self.lock_timeout, listener.waiting_for_lock)
        self.locked = True

    locked = False

    def unlock(self):
        if not self.locked or self.connection.closed:
            return
        self.locked = False
        try:
            if self.connection.info.transaction_status != 0:  # a failure left a transaction open
                self.connection.rollback()
            self.session.lock.release()
        except psycopg2.Error as error:  # a lost connection took the locks with it
            log.info("could not release the migration lock: %s", str(error).strip())


def _nothing_to_do(assessment, target, retry, mark_applied):
    """True when a run would change nothing: up to date, nothing to repair, record or refuse."""
    return not (any(s.version <= target for s in assessment.pending) or assessment.problems
                or assessment.repair or assessment.adopt or assessment.interrupted
                or assessment.changed or retry is not None or mark_applied is not None)


def _driver_error(error):
    """The psycopg2 error behind a project error (raised while handling it), or None."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, psycopg2.Error):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _lost(script, plan, runner, error, applied):
    """The connection died while `script` ran: one line that says so and what is known."""
    cause = _driver_error(error)
    text = str(cause if cause is not None else error).strip().splitlines() or [type(error).__name__]
    reason = re.sub(r"^(FATAL|ERROR|PANIC):\s+", "", text[0].strip())
    if plan.mode == TRANSACTION:
        if isinstance(error, ScriptFailed) or (isinstance(error, psycopg2.Error)
                                               and runner.steps_done == 0
                                               and not isinstance(error, BookkeepingFailed)):
            known = "it ran in one transaction, which was not committed"
        else:
            known = "it ran in one transaction; whether its COMMIT reached the server the history tells"
    else:
        done = runner.steps_done
        known = ("it runs in %d steps outside a transaction: %d committed before the fault (the step "
                 "running then may have completed too)" % (len(plan.steps), done))
    before = ("; %s applied before it stay%s applied" % (
        ", ".join(s.name for s, _ in applied), "s" if len(applied) == 1 else "")) if applied else ""
    return DatabaseFailure(
        "the connection to the server was lost while %s was running (%s); %s%s; when the server is "
        "back, run migrate_status, then migrate_tables" % (
            script.name, conn.mask_text(reason), known, before))


def _record_interrupted(params, script, plan, runner, who):
    """Ctrl-C closed the scripts' connection: record the attempt's end over a short new one.

    Only this run's own "running" row of the script is touched (matched by version, host
    and pid); a transactional script's transaction died with its connection.
    """
    if plan.mode == TRANSACTION:
        outcome, error = "interrupted", "interrupted (Ctrl-C or SIGTERM); rolled back"
    else:
        outcome, error = "failed", "interrupted (Ctrl-C or SIGTERM) after %d of %d steps" % (
            runner.steps_done, len(plan.steps))
    try:
        connection = conn.connect(dict(params, connect_timeout=5))
    except (MigrationError, psycopg2.Error, KeyboardInterrupt):
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute(*runner.history.finish_running_sql(script.version, who, outcome, error,
                                                              steps_done=runner.steps_done))
    except (psycopg2.Error, KeyboardInterrupt) as failure:
        log.info("could not record the interrupted attempt: %s", str(failure).strip())
    finally:
        connection.close()


def _rollback_quietly(session):
    try:
        session.rollback()
    except Exception:  # a lost connection: nothing left to roll back
        pass


def _check_lock_timeout(value):
    return lockwait.check_seconds(value, "--lock-timeout")


def _disk_checksum(script):
    return checksum(read_script(script.path))


def _check_version(option, value):
    if value is not None and value < 1:
        raise UsageError("%s %d: versions start at 1" % (option, value))


def _check_mark_applied(assessment, version, pending):
    dirty = assessment.dirty
    if dirty is not None and dirty.version == version:
        return
    if not any(s.version == version for s in pending) or version != assessment.current + 1:
        raise UsageError("--mark-applied %d: version %d is neither interrupted nor the next "
                         "pending script" % (version, version))


def _refuse(assessment, retry, mark_applied):
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


# The preflight keeps the texts of small scripts, up to this much in all, for the run.
KEPT_TEXTS = 16 << 20
KEPT_TEXT = 64 << 10


def _preflight(scripts, server_version, policy, utf8=True):
    """Read every pending script once before anything runs: unreadable or non-UTF-8 files stop here.

    Returns each script's checksum, its lock-wait policy (its header lines over
    `policy`), its plan when the checksum pins its exact text (no carriage
    return: the checksum is taken with CRLF made LF), and the texts of small
    scripts (KEPT_TEXT each, KEPT_TEXTS in all): the run uses those as read
    here (what runs is what was checked and is recorded), and reads the others
    again, checking that they did not change meanwhile. A large script that
    simply runs whole (see _plain_large) is kept as its bytes (the only one), or
    marked by a `None` text (read again as bytes): the run sends its bytes as
    they are on disk.
    """
    checked, plans, policies, texts = {}, {}, {}, {}
    kept = 0
    large = [s for s in scripts if _size(s) > LARGE_SCRIPT] if utf8 else []
    for script in scripts:
        plain = _plain_large(script, policy) if script in large else None
        if plain is not None:
            checked[script.version], plans[script.version], policies[script.version], data = plain
            # The only large script keeps its bytes for the run (read, checked and hashed
            # once); with several, each is read again when its turn comes.
            texts[script.version] = data if len(large) == 1 else None
            continue
        text = read_script(script.path)
        plan = plan_script(text, script.name, server_version=server_version)
        checked[script.version] = checksum(text)
        policies[script.version] = lockwait.script_policy(text, script.name, policy) \
            if lockwait.has_header(text) else policy
        if "\r" not in text:
            plans[script.version] = plan
        if len(text) <= KEPT_TEXT and kept + len(text) <= KEPT_TEXTS:
            texts[script.version] = text
            kept += len(text)
    return checked, plans, policies, texts


def _plain_large(script, policy):
    """(checksum, plan, policy) of a large script that runs whole as it is on disk, else None.

    Large (LARGE_SCRIPT), UTF-8 without a BOM or a carriage return, nothing in it
    for psql, no no-transaction header and no word that could need a split: its
    bytes are what the server gets, so the run never holds its text and its
    bytes at once (a 100 MB data script costs about 100 MB, not 200).
    """
    data = read_script_bytes(script.path)
    if data is None or b"\r" in data or may_have_psql_lines(data):
        return None
    head = next(decoded_chunks(data[:KEPT_TEXT]))
    head = head[:head.rfind("\n") + 1]  # whole lines only
    if not any(line.strip() and not line.strip().startswith("--") for line in head.splitlines()) \
            or has_no_transaction_header(head) or may_need_splitting(decoded_chunks(data)):
        return None
    if lockwait.has_header(head):
        policy = lockwait.script_policy(head, script.name, policy)
    return checksum_bytes(data), plain_plan(len(data)), policy, data


def _size(script):
    try:
        return os.path.getsize(script.path)
    except OSError:
        return 0  # read_script says why
