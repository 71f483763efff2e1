"""The migration lock: one migrator per database at a time, waited for without a snapshot.

A session advisory lock held for the whole run. A waiting run polls
`pg_try_advisory_lock` in short autocommit statements with pauses between
them (as Flyway does since its #1654): a statement blocked inside
`pg_advisory_lock` holds a snapshot, and `CREATE INDEX CONCURRENTLY` in the
holder's run waits for every older snapshot, so the two would wait for each
other until a deadlock ends one of them.

Next to it each run holds a lock of its own, a random token (two-int key
in a namespace of ours): a session advisory lock can be taken again by the
session that holds it, so behind a pooler in transaction mode a second run
on the same server connection would "get" the lock too. It then finds the
first run's token there and refuses; and `held_sql`, the check that this
session still holds both locks, is folded into the statements that record
each script (see session.py), so a script that calls
`pg_advisory_unlock_all()`, or a pooler that hands our statements to another
server connection, cannot go unnoticed.
"""
import random
import time
import zlib
from collections import namedtuple

from ..errors import ConfigurationError, LockTimeout

LockHolder = namedtuple("LockHolder", "pid application client since state")

FIRST_PAUSE = 0.05
LONGEST_PAUSE = 0.5

# How long a run waits for another migration to finish (--lock-timeout), in seconds.
DEFAULT_LOCK_TIMEOUT = 60.0


def lock_key(version_table):
    """One advisory lock per version table (advisory locks are per database already)."""
    return zlib.crc32(("migrate_tables:" + version_table).encode())


# The namespace (first int4) of the runs' token locks.
TOKEN_SPACE = zlib.crc32(b"migrate_tables run token") - (1 << 31)


def held_sql(key, token):
    """A boolean SQL expression: this session still holds this run's token and the migration lock.

    Each is let go and taken again, which only its holder can do: the release
    says whether this session held it (a release of a lock it does not hold is
    false, with a warning), and the migration lock is held twice by the run
    (`try_acquire`), so it stays ours in between. Another server session (a
    pooler in transaction mode), or a script that called
    `pg_advisory_unlock_all()`, fails it. No read of pg_locks, which copies the
    server's whole lock table: this runs with every script.
    """
    return ("(CASE WHEN pg_catalog.pg_advisory_unlock(%d, %d) THEN pg_catalog.pg_try_advisory_lock(%d, %d)"
            " ELSE false END AND CASE WHEN pg_catalog.pg_advisory_unlock(%d)"
            " THEN pg_catalog.pg_try_advisory_lock(%d) ELSE false END)"
            % (TOKEN_SPACE, token, TOKEN_SPACE, token, key, key))


class MigrationLock:
    def __init__(self, connection, key, token=None):
        self.connection = connection
        self.key = key
        self.token = token if token is not None else random.randint(-(1 << 31), (1 << 31) - 1)

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
        """Take the lock and this run's token if the lock is free; refuse a shared server session."""
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_catalog.pg_try_advisory_lock(%s), (SELECT pg_catalog.count(*)"
                " FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_catalog.pg_backend_pid() AND classid = (%s)::int4::oid"
                " AND objsubid = 2)", (self.key, TOKEN_SPACE))
            got, tokens = cursor.fetchone()
            if not got:
                return False
            if tokens:  # another run's lock, on this very server session: a pooler shares it
                cursor.execute("SELECT pg_catalog.pg_advisory_unlock(%s)", (self.key,))
                from .pooling import NOT_A_SESSION
                raise ConfigurationError(NOT_A_SESSION)
            # The migration lock a second time, so that `held_sql` can let one go and take it back.
            cursor.execute("SELECT pg_catalog.pg_advisory_lock(%s, %s), pg_catalog.pg_advisory_lock(%s)",
                           (TOKEN_SPACE, self.token, self.key))
            return True

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
        """Let both locks go (a closed connection does too, but not one kept by a pooler)."""
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_catalog.pg_advisory_unlock(%s, %s), pg_catalog.pg_advisory_unlock(%s),"
                           " pg_catalog.pg_advisory_unlock(%s)", (TOKEN_SPACE, self.token, self.key, self.key))


def describe_holder(holder):
    if holder is None:
        return "holder unknown"
    # Another role's backend_start is hidden from a role without pg_read_all_stats.
    since = holder.since.strftime("%Y-%m-%d %H:%M:%S") if holder.since else "an unknown time"
    return "held by %s, server pid %d, from %s, since %s, %s" % (
        holder.application or "a session", holder.pid, holder.client, since,
        holder.state or "state hidden")
