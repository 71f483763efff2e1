"""Lock-wait policy for the scripts: bounded lock waits, retries with jitter, who blocks.

On a busy server an `ALTER TABLE` that waits for a lock makes every later
query on that table queue behind it. So each step of a script waits at most
`lock_timeout` for its locks (PostgreSQL's own `lock_timeout`), is rolled
back when that runs out, and is tried again after a pause with jitter, at
most `retries` times (GitLab's `with_lock_retries`, strong_migrations'
`lock_timeout_retries`). No application query then waits much longer than
`lock_timeout` behind a migration.

While a step waits, a second connection (opened only when a statement has
waited half of its lock timeout) asks `pg_blocking_pids` who holds the lock,
so a retry can name the blocking session. The sampling and Ctrl-C
cancellation happen in psycopg2's wait callback, installed while a migration
runs: a Ctrl-C cancels the running statement on the server at once.
"""
import logging
import random
import select
import signal
import threading
import time
from collections import namedtuple
from contextlib import contextmanager

import psycopg2
import psycopg2.extensions
from psycopg2.extensions import POLL_OK, POLL_READ, POLL_WRITE

from ..errors import UsageError
from ..source import headers

log = logging.getLogger("flask_migrate_tables")

DEFAULT_DDL_LOCK_TIMEOUT = 2.0
DEFAULT_DDL_RETRIES = 5
DEFAULT_STATEMENT_TIMEOUT = 0.0  # off: data migrations can be long
MAX_SECONDS = 2147483.647        # PostgreSQL's timeouts are at most INT_MAX milliseconds
MAX_RETRIES = 100
FIRST_PAUSE = 0.5
LONGEST_PAUSE = 5.0

Policy = namedtuple("Policy", "lock_timeout retries statement_timeout")
Blocker = namedtuple("Blocker", "pid application user client open_seconds state query")


def check_seconds(value, option):
    """A timeout option's value: finite, 0 or at least 1 ms (PostgreSQL's unit), within its range.

    0 means no limit, as it does to PostgreSQL.
    """
    if not isinstance(value, (int, float)) or value != value or not (
            value == 0 or 0.001 <= value <= MAX_SECONDS):
        raise UsageError("%s %s: give 0 (no limit) or a number of seconds from 0.001 to %d"
                         % (option, value, MAX_SECONDS))
    return float(value)


def check_retries(value, option="--ddl-retries"):
    if not isinstance(value, int) or not 0 <= value <= MAX_RETRIES:
        raise UsageError("%s %s: give a whole number from 0 to %d" % (option, value, MAX_RETRIES))
    return value


def policy(lock_timeout=DEFAULT_DDL_LOCK_TIMEOUT, retries=DEFAULT_DDL_RETRIES,
           statement_timeout=DEFAULT_STATEMENT_TIMEOUT):
    return Policy(check_seconds(lock_timeout, "--ddl-lock-timeout"), check_retries(retries),
                  check_seconds(statement_timeout, "--statement-timeout"))


def script_policy(text, name, base):
    """The policy for one script: `base` with the script's `-- migrate: key=value` header lines."""
    return base._replace(**headers.settings(text, name, MAX_RETRIES, MAX_SECONDS))


has_header = headers.may_have_header  # cheap screen: could the script carry a lock-wait header line?


def pg_duration(seconds):
    return "%dms" % round(seconds * 1000)


def pause(attempt):
    """Seconds to wait before attempt `attempt + 1`: 0.5, 1, 2, ... up to 5, times 0.5-1.5."""
    return min(FIRST_PAUSE * 2 ** (attempt - 1), LONGEST_PAUSE) * random.uniform(0.5, 1.5)


def describe_blockers(blockers):
    if not blockers:
        return "the blocking session was not seen"
    described = []
    for blocker in blockers[:3]:
        opened = ("transaction open %.1fs" % blocker.open_seconds if blocker.open_seconds is not None
                  else "no transaction open")
        query = " ".join((blocker.query or "").split())[:100] or "(query not visible)"
        described.append("pid %d (%s) %s@%s, %s, %s: %s" % (
            blocker.pid, blocker.application or "no application name", blocker.user or "?",
            blocker.client, opened, blocker.state or "state hidden", query))
    more = " and %d more" % (len(blockers) - 3) if len(blockers) > 3 else ""
    return "blocked by " + "; ".join(described) + more


class Watch:
    """Who blocks the scripts' connection: sampled while one of its statements waits."""

    def __init__(self, connection, open_observer):
        self.connection = connection
        self.backend_pid = None       # the server's own pid (a pooler shows libpq another one)
        self.sample_after = None      # seconds a statement waits before the first sample
        self.blockers = []
        self._open_observer = open_observer
        self._observer = None

    def expect_lock_wait(self, lock_timeout):
        """Sample blockers of the next statements once they waited half of `lock_timeout`."""
        self.sample_after = lock_timeout / 2 if lock_timeout else None
        self.blockers = []

    def sample(self):
        try:
            if self._observer is None:
                self._observer = self._open_observer()
            with self._observer.cursor() as cursor:
                cursor.execute(
                    "SELECT a.pid, a.application_name, a.usename,"
                    " coalesce(host(a.client_addr), 'local socket'),"
                    " extract(epoch FROM pg_catalog.clock_timestamp() - a.xact_start)::float8,"
                    " a.state, a.query FROM pg_catalog.pg_stat_activity a"
                    " WHERE a.pid = ANY (pg_catalog.pg_blocking_pids(%s)) ORDER BY a.xact_start",
                    (self.backend_pid,))
                blockers = [Blocker(*row) for row in cursor.fetchall()]
        except Exception as error:  # only a diagnosis: never let it end the migration
            log.info("could not see who blocks the migration: %s", str(error).strip())
            return
        if blockers:
            self.blockers = blockers

    def close(self):
        if self._observer is not None:
            self._observer.close()
            self._observer = None


# Each thread's own watch (a fleet runs several migrations at once, one per thread): `.watch`,
# and `.inside` while _wait samples; the wait callback is installed while any thread watches.
_local = threading.local()
_watching = {"threads": 0, "previous": None}
_watching_lock = threading.Lock()


def _wait(connection):
    """psycopg2's wait callback: wait_select, plus blocker samples and Ctrl-C cancellation."""
    watch, inside = getattr(_local, "watch", None), getattr(_local, "inside", False)
    watched = watch is not None and connection is watch.connection and not inside \
        and watch.sample_after is not None
    next_sample = time.monotonic() + watch.sample_after if watched else None
    interval = max(watch.sample_after, 0.1) / 2 if watched else None
    interrupted = False
    try:
        while True:
            try:
                state = connection.poll()
                if state == POLL_OK:
                    break
                timeout = None if next_sample is None else max(0.0, next_sample - time.monotonic())
                if state == POLL_READ:
                    select.select([connection.fileno()], [], [], timeout)
                elif state == POLL_WRITE:
                    select.select([], [connection.fileno()], [], timeout)
                else:
                    raise psycopg2.OperationalError("bad state from poll: %s" % state)
                if next_sample is not None and time.monotonic() >= next_sample:
                    _local.inside = True
                    try:
                        watch.sample()
                    finally:
                        _local.inside = False
                    interval = min(interval * 2, 10.0)  # a long statement is sampled less and less
                    next_sample = time.monotonic() + interval
            except KeyboardInterrupt:
                if interrupted:
                    raise
                interrupted = True  # cancel it on the server, then report the interrupt
                connection.cancel()
    except psycopg2.Error:
        if interrupted:
            raise KeyboardInterrupt
        raise
    if interrupted:
        raise KeyboardInterrupt


def _terminate(signum, frame):
    raise KeyboardInterrupt  # SIGTERM (a cancelled deploy) ends a migration as Ctrl-C does


def _hold_callback():
    with _watching_lock:
        if not _watching["threads"]:
            _watching["previous"] = psycopg2.extensions.get_wait_callback()
            psycopg2.extensions.set_wait_callback(_wait)
        _watching["threads"] += 1


def _release_callback():
    with _watching_lock:
        _watching["threads"] -= 1
        if not _watching["threads"]:
            psycopg2.extensions.set_wait_callback(_watching["previous"])


@contextmanager
def wait_callback():
    """The wait callback installed while this lasts: a fleet holds it over all its threads, so
    one thread's run ending never takes it away from another's connection being made."""
    _hold_callback()
    try:
        yield
    finally:
        _release_callback()


@contextmanager
def watching(watch):
    """Install the wait callback (and SIGTERM as Ctrl-C) for the duration of a migration."""
    _hold_callback()
    main = threading.current_thread() is threading.main_thread()
    previous_term = signal.signal(signal.SIGTERM, _terminate) if main else None
    _local.watch = watch
    try:
        yield watch
    finally:
        _local.watch = None
        watch.close()
        _release_callback()
        if main:
            signal.signal(signal.SIGTERM, previous_term)
