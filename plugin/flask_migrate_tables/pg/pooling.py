"""Poolers: refuse a connection that is not one server session, and check a direct URL.

Behind PgBouncer in transaction pooling each transaction may run on another
server connection: the session advisory lock protects nothing and session
settings vanish. A run that would change the database first checks that its
connection is a stable session: a second connection, opened while ours is
idle, must get another server process, and ours must keep its own. A pooler
in transaction mode fails that (it hands our idle server connection to the
newcomer, or ours to someone else). The per-script check that the lock is
still held (session.py) catches what slips through.

The fix is a direct (or session-pooled) URL for the migration's own
connection, `MIGRATION_DATABASE_URL` (as Prisma's `directUrl`); it must reach
the same database as the app's URL, which the version row is written through.
"""
import time

from ..errors import ConfigurationError

NOT_A_SESSION = (
    "the database connection is not a stable session (a pooler in transaction mode, such as "
    "PgBouncer's pool_mode = transaction, hands each transaction to another server connection), so "
    "the migration lock and session settings cannot hold; set MIGRATION_DATABASE_URL to a direct "
    "(or session-pooled) connection to the same database; nothing was changed")


def _backend_pid(connection):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_catalog.pg_backend_pid()")
        return cursor.fetchone()[0]


ROUNDS = 16
PAUSE = 0.0005  # between rounds, so they do not all fall into one lucky moment of the pool


def check_stable_session(connection, backend_pid, connect_again):
    """Raise ConfigurationError unless `connection` keeps one server process of its own.

    Several rounds, once per run that changes something (about 10 ms): on a
    pooler that other clients keep busy one round can miss (measured: 10-25%
    with one to four busy clients), and five back-to-back rounds were once seen
    to miss together on a loaded machine.
    """
    other = connect_again()
    try:
        for round_ in range(ROUNDS):
            if round_:
                time.sleep(PAUSE)
            if _backend_pid(other) == backend_pid or _backend_pid(connection) != backend_pid:
                raise ConfigurationError(NOT_A_SESSION)
    finally:
        other.close()


def check_same_database(start, app_identity, direct_description, app_description):
    """Refuse a MIGRATION_DATABASE_URL that reaches another database than the app's URL."""
    mine = (start.system_identifier, start.database)
    if mine != tuple(app_identity):
        raise ConfigurationError(
            "MIGRATION_DATABASE_URL reaches database %s on server %s (%s), but the app's "
            "DATABASE_URL reaches database %s on server %s (%s); they must be the same database; "
            "nothing was changed" % (start.database, start.system_identifier, direct_description,
                                     app_identity[1], app_identity[0], app_description))
