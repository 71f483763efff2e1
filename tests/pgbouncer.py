"""Real PgBouncers in front of the test server (issue 10).

`start_poolers(server_url)` starts two pgbouncer processes on free local TCP
ports, both forwarding every database name (a `*` entry) to the test server:

  transaction  pool_mode=transaction, 2 server connections per database, so
               several clients really share few server connections;
  session      pool_mode=session, a server connection per client for as long
               as the client stays connected (as a direct connection).

`pooled_url(url, pooler)` is a test database's URL through one of them: the
same database name, host 127.0.0.1, the pooler's port, user postgres.

pgbouncer refuses to run as root. When the tests run as root it runs as the
owner of the server's unix socket directory (the embedded server's
`embedded_postgres`, CI's `pgci`: the one user sure to reach a socket in a
mode 700 folder), or as a system user `pgbouncer-test` (made when missing) for
a server on TCP. Where pgbouncer is not installed the fixtures skip, except in
CI (CI=true), where that is a failure.
"""
import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import psycopg2
import pytest
from sqlalchemy.engine.url import make_url

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover
    from urllib import quote

from tests.helpers import connect_params

PGBOUNCER = os.environ.get("PGBOUNCER_BIN") or shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
RUN_AS_FALLBACK = "pgbouncer-test"
TRANSACTION_POOL_SIZE = 2
SESSION_POOL_SIZE = 20
START_TIMEOUT = 15.0


def require_pgbouncer():
    """Skip (fail in CI) when the pgbouncer binary is missing."""
    if os.path.isfile(PGBOUNCER) and os.access(PGBOUNCER, os.X_OK):
        return PGBOUNCER
    reason = "pgbouncer not installed: apt-get install pgbouncer"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("%s (CI=true: the PgBouncer tests must run in CI)" % reason, pytrace=False)
    pytest.skip(reason)


def pooled_url(url, pooler):
    """`url`'s database through `pooler` (a PgBouncer or its port): 127.0.0.1, the pooler's port, user postgres."""
    port = pooler if isinstance(pooler, int) else pooler.port
    parsed = make_url(str(url))
    user = pooler.user if hasattr(pooler, "user") else "postgres"
    return "%s://%s@127.0.0.1:%d/%s" % (parsed.drivername, quote(user, safe=""), port,
                                         quote(parsed.database, safe=""))


class PgBouncer:
    """One pgbouncer process in the foreground, stopped by stop()."""

    def __init__(self, name, pool_mode, pool_size, server, run_as):
        self.name = name
        self.pool_mode = pool_mode
        self.pool_size = pool_size
        self.server = server  # host, port, user, password of the test server
        self.user = server["user"]
        self.run_as = run_as  # a pwd entry, or None to run as ourselves
        self.dir = None
        self.port = None
        self.process = None

    # -- life cycle ------------------------------------------------------------------

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="pgbouncer-%s-" % self.name)
        last_error = None
        for _ in range(5):  # a free port can be taken between our check and pgbouncer's bind
            self.port = _free_port()
            self._write_config()
            log = open(self.log_path, "ab")
            try:
                self.process = subprocess.Popen(
                    [PGBOUNCER, self.config_path], stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, cwd=self.dir, preexec_fn=self._child_setup)
            finally:
                log.close()
            error = self._wait_until_ready()
            if error is None:
                return self
            last_error = error
            self._end_process()
        raise RuntimeError("pgbouncer (%s pooling) did not start: %s\n%s"
                           % (self.pool_mode, last_error, self.log()))

    def stop(self):
        self._end_process()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def _end_process(self):
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)  # pgbouncer: immediate shutdown
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _wait_until_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return "exited with status %s" % self.process.returncode
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except OSError:
                time.sleep(0.02)
                continue
            return None
        return "not listening on 127.0.0.1:%d after %gs" % (self.port, START_TIMEOUT)

    def _child_setup(self):
        """In the child before exec: drop root, and die with the test session."""
        if self.run_as is not None:
            os.setgroups([])
            os.setgid(self.run_as.pw_gid)
            os.setuid(self.run_as.pw_uid)
        try:  # after setuid, which clears it: SIGTERM when pytest dies, even by SIGKILL
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except Exception:
            pass

    # -- configuration -----------------------------------------------------------------

    @property
    def config_path(self):
        return os.path.join(self.dir, "pgbouncer.ini")

    @property
    def log_path(self):
        return os.path.join(self.dir, "pgbouncer.log")

    def _write_config(self):
        server = self.server
        target = "host=%s port=%d" % (_quoted(server["host"]), server["port"])
        if server.get("password"):
            target += " password=%s" % _quoted(server["password"])
        userlist = os.path.join(self.dir, "userlist.txt")
        with open(userlist, "w") as handle:
            handle.write('"%s" ""\n' % self.user.replace('"', '""'))
        with open(self.config_path, "w") as handle:
            handle.write("\n".join([
                "[databases]",
                "* = %s" % target,
                "",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                "listen_port = %d" % self.port,
                "unix_socket_dir =",
                "auth_type = trust",
                "auth_file = %s" % userlist,
                "admin_users = %s" % self.user,
                "pool_mode = %s" % self.pool_mode,
                "default_pool_size = %d" % self.pool_size,
                "min_pool_size = 0",
                "reserve_pool_size = 0",
                "max_client_conn = 500",
                # What production pgbouncers commonly have (JDBC's parameter); nothing more.
                "ignore_startup_parameters = extra_float_digits",
                # A client waiting for a server connection fails instead of hanging the test.
                "query_wait_timeout = 30",
                "server_connect_timeout = 5",
                "server_login_retry = 1",
                "log_connections = 0",
                "log_disconnections = 0",
                "",
            ]))
        if self.run_as is not None:
            for path in (self.dir, userlist, self.config_path, self.log_path):
                if os.path.exists(path) or path == self.dir:
                    os.chown(path, self.run_as.pw_uid, self.run_as.pw_gid)

    # -- looking at it ---------------------------------------------------------------------

    def url_for(self, url):
        return pooled_url(url, self)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as handle:
                return handle.read()
        except (OSError, TypeError):
            return ""

    def admin(self, command):
        """A command on pgbouncer's admin console (SHOW POOLS, ...): the rows as dicts."""
        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user,
                                      dbname="pgbouncer")
        connection.autocommit = True  # the console takes no BEGIN
        try:
            with connection.cursor() as cursor:
                cursor.execute(command)
                names = [column[0] for column in cursor.description]
                return [dict(zip(names, row)) for row in cursor.fetchall()]
        finally:
            connection.close()

    def __repr__(self):
        return "<PgBouncer %s pooling on 127.0.0.1:%s>" % (self.pool_mode, self.port)


class Poolers:
    def __init__(self, transaction, session):
        self.transaction = transaction
        self.session = session


@contextlib.contextmanager
def start_poolers(server_url):
    """A transaction and a session pooling PgBouncer in front of `server_url`'s server."""
    require_pgbouncer()
    server = server_address(server_url)
    run_as = run_as_user(server["host"])
    started = []
    try:
        for name, mode, size in (("transaction", "transaction", TRANSACTION_POOL_SIZE),
                                 ("session", "session", SESSION_POOL_SIZE)):
            started.append(PgBouncer(name, mode, size, server, run_as).start())
        yield Poolers(*started)
    finally:
        for pooler in started:
            pooler.stop()


def server_address(server_url):
    """Where libpq really reached the server (its defaults resolved): host or socket folder, port, user."""
    params = connect_params(server_url)
    connection = psycopg2.connect(**params)
    try:
        info = connection.info
        return {"host": info.host, "port": int(info.port), "user": info.user,
                "password": params.get("password")}
    finally:
        connection.close()


def run_as_user(server_host):
    """The pwd entry pgbouncer runs as: None when we are not root."""
    if os.geteuid() != 0:
        return None
    if server_host.startswith("/"):
        owner = os.stat(server_host).st_uid
        if owner != 0:
            return pwd.getpwuid(owner)
    try:
        return pwd.getpwnam(RUN_AS_FALLBACK)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        RUN_AS_FALLBACK], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return pwd.getpwnam(RUN_AS_FALLBACK)
    except KeyError:
        return pwd.getpwnam("nobody")


def server_connections(database):
    """How many server processes other than ours are connected to `database` (a tests.helpers.Database)."""
    return database.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
        " AND backend_type = 'client backend'", (database.name,))  # not an autovacuum worker


def _free_port():
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _quoted(value):
    return "'%s'" % str(value).replace("\\", "\\\\").replace("'", "\\'")
