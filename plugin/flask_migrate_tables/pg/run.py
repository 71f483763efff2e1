"""The scripts' autocommit connection for one run (`connection`, `session`) and what a run works with
(`Run`: the connection, its start, the session rules, the lock, the lock-wait watch)."""
import logging
from contextlib import contextmanager

import psycopg2

from ..errors import ConfigurationError, database_failure
from ..settings import migration_url
from . import connection as conn
from . import lockwait
from . import pooling
from .lock import MigrationLock, lock_key
from .session import Session, read_start

log = logging.getLogger("flask_migrate_tables")


@contextmanager
def connection(settings, version_schema):
    """The scripts' autocommit connection and how its session started (session.py)."""
    params = conn.connect_params(migration_url(settings))
    connected = conn.connect(params)
    try:
        start = read_start(connected, version_schema)
        yield connected, start, params
    except psycopg2.Error as error:
        if connected.closed:  # the server went away: something may have run before
            raise database_failure(error)
        raise ConfigurationError("database error: %s" % conn.redact(
            (str(error).strip().splitlines() or [repr(error)])[0], params))
    finally:
        connected.close()


@contextmanager
def session(settings, version_schema, version_table, lock_timeout):
    """The scripts' connection, ready to take the migration lock (`Run.lock`)."""
    lock_timeout = lockwait.check_seconds(lock_timeout, "--lock-timeout")
    with connection(settings, version_schema) as (connected, start, params):
        if settings.direct_url is not None:
            pooling.check_same_database(start, settings.app_identity(),
                                        conn.masked(settings.direct_url), conn.masked(settings.url))
        rules = Session(connected, start, MigrationLock(connected, lock_key(version_table)))
        with connected.cursor() as cursor:
            rules.apply_settings(cursor)
        watch = lockwait.Watch(connected, lambda: conn.connect(params))
        watch.backend_pid = start.backend_pid
        run = Run(connected, start, rules, watch, params, lock_timeout)
        with lockwait.watching(watch):
            try:
                yield run
            finally:
                run.unlock()


class Run:
    """What a run works with: the connection, its start, the session rules, the watch."""

    def __init__(self, connection, start, session, watch, params, lock_timeout):
        self.connection, self.start, self.session, self.watch = connection, start, session, watch
        self.params, self.lock_timeout = params, lock_timeout

    def check_session(self):
        """Refuse a connection that is not one server session (a transaction pooler); once a run,
        before its warning and prompt (refusals.py), else before the lock."""
        if not self.session_checked:
            pooling.check_stable_session(self.connection, self.start.backend_pid,
                                         lambda: conn.connect(self.params))
            self.session_checked = True

    def lock(self, listener):
        """Check the connection is one server session, then take the migration lock.

        The check comes first: behind a pooler in transaction mode the lock would
        stay behind on a pooled server connection after we refuse.
        """
        self.check_session()
        self.session.lock.acquire(self.lock_timeout, listener.waiting_for_lock)
        self.locked = True

    locked = session_checked = False

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
