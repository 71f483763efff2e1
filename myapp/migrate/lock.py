"""The migration lock: one migrator per database at a time, waited for without a snapshot.

A session advisory lock held for the whole run. A waiting run polls
`pg_try_advisory_lock` in short autocommit statements with pauses between
them (as Flyway does since its #1654): a statement blocked inside
`pg_advisory_lock` holds a snapshot, and `CREATE INDEX CONCURRENTLY` in the
holder's run waits for every older snapshot, so the two would wait for each
other until a deadlock ends one of them.

`held_sql` is the check that this session still holds the lock, folded into
the statements that record each script (see session.py), so a script that
calls `pg_advisory_unlock_all()`, or a pooler that hands our statements to
another server connection, cannot go unnoticed.
"""
import random
import time
import zlib
from collections import namedtuple

from .errors import LockTimeout

LockHolder = namedtuple("LockHolder", "pid application client since state")

FIRST_PAUSE = 0.05
LONGEST_PAUSE = 0.5


def lock_key(version_table):
    """One advisory lock per version table (advisory locks are per database already)."""
    return zlib.crc32(("migrate_tables:" + version_table).encode())


def held_sql(key):
    """A boolean SQL expression: this session holds the migration lock (key < 2**32)."""
    return ("EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'advisory'"
            " AND pid = pg_catalog.pg_backend_pid() AND granted AND classid = 0"
            " AND objid = %d AND objsubid = 1)" % key)


class MigrationLock:
    def __init__(self, connection, key):
        self.connection = connection
        self.key = key

    def holder(self):
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT a.pid, a.application_name, coalesce(host(a.client_addr), 'local socket'),"
                " a.backend_start, a.state FROM pg_catalog.pg_locks l"
                " JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted AND l.objid = %s::bigint::oid"
                " AND l.database = (SELECT oid FROM pg_catalog.pg_database"
                " WHERE datname = pg_catalog.current_database())",
                (self.key,))
            row = cursor.fetchone()
        return LockHolder(*row) if row else None

    def try_acquire(self):
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_catalog.pg_try_advisory_lock(%s)", (self.key,))
            return cursor.fetchone()[0]

    def acquire(self, timeout, on_wait, sleep=time.sleep):
        """Take the lock, polling for at most `timeout` seconds; raise LockTimeout after that.

        Between two attempts this session runs nothing: no transaction, no snapshot.
        """
        if self.try_acquire():
            return
        on_wait(self.holder())
        deadline = time.monotonic() + timeout
        pause = FIRST_PAUSE
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockTimeout(
                    "another migration still holds the lock after %gs (%s); wait for it to finish, "
                    "or raise --lock-timeout" % (timeout, describe_holder(self.holder())))
            sleep(min(pause * random.uniform(0.5, 1.5), remaining))
            pause = min(pause * 2, LONGEST_PAUSE)
            if self.try_acquire():
                return

    def release(self):
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_catalog.pg_advisory_unlock(%s)", (self.key,))


def describe_holder(holder):
    if holder is None:
        return "holder unknown"
    # Another role's backend_start is hidden from a role without pg_read_all_stats.
    since = holder.since.strftime("%Y-%m-%d %H:%M:%S") if holder.since else "an unknown time"
    return "held by %s, server pid %d, from %s, since %s, %s" % (
        holder.application or "a session", holder.pid, holder.client, since,
        holder.state or "state hidden")
