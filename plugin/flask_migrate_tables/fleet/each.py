"""What each database of a fleet is worked with: its own Migrator, the pool of workers, and one
line for what stopped it. Used by run.py (migrate), dry_run.py and status.py."""
import signal
import threading
from collections import namedtuple

from ..errors import MigrationError, database_failure

Failure = namedtuple("Failure", "error")  # what a probe found instead of a Probe


def error_text(error):
    """One line for what stopped one database (a project error, or a database error)."""
    if not isinstance(error, MigrationError):
        error = database_failure(error)
    return str(error)


def places(migrator):
    """(the scripts' folder, the instance folder) of the app: read once, where the app is current
    (the workers are threads without the app's context)."""
    try:
        instance_path = migrator.settings.instance_path
    except RuntimeError:  # no app context (a Migrator given UrlSettings has its own)
        instance_path = None
    return migrator.sql_dir, instance_path


def fleet_migrator(migrator, url, where):
    """A Migrator for the database at `url`: the app's model, scripts and target, its own engine;
    `where`: places(migrator). The engine's pool keeps its one connection for the whole run (the
    session commits after each script), and `settings.close()` closes it when the database is done."""
    from ..migrator import Migrator
    from ..settings import UrlSettings
    settings = UrlSettings(url, where[0], instance_path=where[1],
                           engine_options={"pool_size": 1, "max_overflow": 0})
    return Migrator(migrator.db, migrator.version_model, migrator.code_version,
                    history_table=migrator.history_table, settings=settings)


def run_pool(targets, jobs, work, stopped):
    """`work(target)` for each target, `jobs` at a time, in file order; none started once
    `stopped` is set (the running ones finish). Ctrl-C or SIGTERM stops starting new ones and is
    raised (exit 130); the running ones end with the process, their transactions rolled back."""
    pending, lock = iter(targets), threading.Lock()

    def worker():
        while not stopped.is_set():
            with lock:
                target = next(pending, None)
            if target is None:
                return
            work(target)
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(jobs, len(targets)))]
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main else None
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    except KeyboardInterrupt:
        stopped.set()
        raise
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def _terminate(signum, frame):
    raise KeyboardInterrupt  # SIGTERM (a cancelled deploy) ends a fleet run as Ctrl-C does
