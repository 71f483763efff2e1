"""Lock waits and retries: one step sent again until its locks are granted in time.

Each attempt waits at most its lock timeout (pg/lockwait.py); when that runs
out the step is rolled back, the sessions in its way are logged, and after a
pause it is sent again, at most 1 + retries times. Then `Exhausted`, which the
runner words as LockWaitExhausted once it knows what stays committed
(failures.lock_wait_exhausted).
"""
import logging
import time

import psycopg2
import psycopg2.errors

from ..pg.lockwait import describe_blockers, pause

log = logging.getLogger("flask_migrate_tables")


class Attempt:
    """One try of one step: its lock timeout and how it ended."""

    def __init__(self, policy, number, total, lock_timeout):
        self.policy, self.number, self.total, self.lock_timeout = policy, number, total, lock_timeout


class Exhausted(psycopg2.Error):
    """Lock waits used up; turned into LockWaitExhausted once the script is known."""

    def __init__(self, error, blockers, lock_timeout, attempts):
        super().__init__(str(error))
        self.blockers, self.lock_timeout, self.attempts = blockers, lock_timeout, attempts


def attempts(send, script, policy, lock_timeout, retries, watch, listener, rollback):
    """Run `send(attempt)` until its locks are granted in time; at most 1 + retries times.

    `send` must leave nothing committed when it raises (a transaction it
    rolls back, or one statement outside a transaction that failed);
    `rollback()` ends what a timed-out attempt left open.
    """
    total = retries + 1
    for number in range(1, total + 1):
        attempt = Attempt(policy, number, total, lock_timeout)
        if watch is not None:
            watch.expect_lock_wait(lock_timeout)
        try:
            return send(attempt)
        except psycopg2.errors.LockNotAvailable as error:
            if not lock_timeout:  # the script's own lock_timeout or NOWAIT: its error
                raise
            blockers = describe_blockers(watch.blockers if watch else [])
            rollback()
            if number == total:
                raise Exhausted(error, blockers, lock_timeout, total)
            wait = pause(number)
            message = ("%s: lock not granted within %gs (attempt %d of %d); %s; retrying in %.1fs"
                       % (script.name, lock_timeout, number, total, blockers, wait))
            log.warning(message)
            if listener is not None:
                listener.lock_retry(message)
            time.sleep(wait)
        finally:
            if watch is not None:
                watch.expect_lock_wait(0)
