"""The other migration tools bench/run.py races: dbmate and Alembic (issue 24), and the server's CPU.

Set up by the bench itself, never by the test requirements:

    npm install --prefix bench/.tools dbmate          # dbmate, a Go binary (its npm package)
    pip install -e ".[bench]"                         # yoyo-migrations and alembic

bench/run.py finds dbmate at --dbmate, $DBMATE, bench/.tools (the platform binary
itself, not npm's node shim, so node's start is not counted), or on PATH; a tool
that is missing leaves its rows empty with a line saying so.

Server CPU: the postmaster's `cutime + cstime` (/proc/<pid>/stat) counts the CPU of
every child process it has reaped. A run's backends exit when it disconnects, so
the difference across one measured command, after its backends are gone, is the
CPU its server processes used (the server's own long-lived processes, the
checkpointer, WAL writer and background writer, are not in it). Only for a server
on this machine whose data folder is known (the embedded one).
"""
import glob
import os
import shutil
import time

from common import BENCH_DIR

TOOLS_DIR = os.path.join(BENCH_DIR, ".tools")

DBMATE_MISSING = ("not run: dbmate is not installed (npm install --prefix bench/.tools dbmate,"
                  " or --dbmate PATH)")
ALEMBIC_MISSING = "not run: alembic is not installed (pip install -e '.[bench]')"


# -- dbmate -----------------------------------------------------------------------

def find_dbmate(option=None):
    """The dbmate binary, or None."""
    candidates = [option, os.environ.get("DBMATE")]
    candidates += sorted(glob.glob(os.path.join(TOOLS_DIR, "node_modules", "@dbmate", "*", "bin", "dbmate")))
    candidates += [os.path.join(TOOLS_DIR, "node_modules", ".bin", "dbmate"), shutil.which("dbmate")]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def write_dbmate_copy(workload, directory):
    """dbmate's files: `<version>_vN.sql`, each `-- migrate:up` (transaction:false when it must)."""
    os.makedirs(directory)
    width = len(str(workload.count))
    for version, text, needs_autocommit in workload.scripts:
        header = "-- migrate:up%s\n" % (" transaction:false" if needs_autocommit else "")
        with open(os.path.join(directory, "%0*d_v%d.sql" % (width, version, version)), "w",
                  encoding="utf-8") as handle:
            handle.write(header + text + "\n-- migrate:down\n")


def dbmate_url(params, dbname):
    """dbmate's URL for psycopg2's connection parameters (a unix socket as ?socket=)."""
    from urllib.parse import quote, urlencode
    user = quote(str(params.get("user", "")), safe="")
    if params.get("password"):
        user += ":" + quote(str(params["password"]), safe="")
    host = str(params.get("host") or "localhost")
    query = {"sslmode": "disable"}
    if host.startswith("/"):
        query["socket"] = host
        netloc = "%s@" % user if user else ""
        if params.get("port"):
            query["port"] = str(params["port"])
    else:
        netloc = "%s%s%s" % (user + "@" if user else "", host,
                             ":%s" % params["port"] if params.get("port") else "")
    return "postgres://%s/%s?%s" % (netloc, quote(dbname, safe=""), urlencode(query))


def dbmate_argv(dbmate, directory):
    return [dbmate, "--migrations-dir", directory, "--no-dump-schema", "up"]


# -- Alembic ----------------------------------------------------------------------

ALEMBIC_INI = """[alembic]
script_location = %(here)s
"""

ALEMBIC_ENV = '''import os

from alembic import context
from sqlalchemy import create_engine

engine = create_engine(os.environ["BENCH_ALEMBIC_URL"])
with engine.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
'''

ALEMBIC_REVISION = '''"""v%(version)d"""
from alembic import op
from sqlalchemy import text

revision = %(revision)r
down_revision = %(down)r
branch_labels = None
depends_on = None
STATEMENTS = %(statements)r


def upgrade():
%(body)s
'''


def write_alembic_copy(workload, directory):
    """An Alembic project: one revision per script, its SQL run by op.execute.

    A script that must run outside a transaction runs in autocommit_block(), one
    statement at a time (PostgreSQL runs a multi-statement message as one transaction).
    """
    from flask_migrate_tables.source.statements import split_statements
    versions = os.path.join(directory, "versions")
    os.makedirs(versions)
    with open(os.path.join(directory, "alembic.ini"), "w") as handle:
        handle.write(ALEMBIC_INI.replace("%(here)s", directory))
    with open(os.path.join(directory, "env.py"), "w") as handle:
        handle.write(ALEMBIC_ENV)
    with open(os.path.join(directory, "script.py.mako"), "w") as handle:
        handle.write("")
    down = None
    for version, text, needs_autocommit in workload.scripts:
        revision = "r%05d" % version
        if needs_autocommit:
            statements = [s.text for s in split_statements(text, "v%d.sql" % version)]
            body = ("    with op.get_context().autocommit_block():\n"
                    "        for statement in STATEMENTS:\n"
                    "            op.execute(text(statement))")
        else:
            statements = [text]
            body = "    op.execute(text(STATEMENTS[0]))" if text.strip("\n").strip() and \
                not all(line.startswith("--") for line in text.strip().splitlines()) else "    pass"
        with open(os.path.join(versions, "%s.py" % revision), "w", encoding="utf-8") as handle:
            handle.write(ALEMBIC_REVISION % {"version": version, "revision": revision, "down": down,
                                             "statements": statements, "body": body})
        down = revision
    return down


def have_alembic():
    import importlib.util
    return importlib.util.find_spec("alembic") is not None


def alembic_argv(python, directory):
    return [python, "-m", "alembic", "-c", os.path.join(directory, "alembic.ini"), "upgrade", "head"]


# -- the server's CPU -----------------------------------------------------------------

class ServerCPU:
    """CPU seconds of the server processes that exited, from the postmaster's cutime + cstime."""

    def __init__(self, pgdata):
        self.pid = None
        try:
            with open(os.path.join(pgdata, "postmaster.pid")) as handle:
                self.pid = int(handle.readline())
            self._times()
        except (OSError, ValueError, TypeError):
            self.pid = None
        self._ticks = os.sysconf("SC_CLK_TCK")

    @property
    def available(self):
        return self.pid is not None

    def _times(self):
        with open("/proc/%d/stat" % self.pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return int(fields[13]) + int(fields[14])  # cutime, cstime (fields 16 and 17 of stat)

    def _children(self):
        children = set()
        for path in glob.glob("/proc/%d/task/*/children" % self.pid):
            try:
                with open(path) as handle:
                    children.update(handle.read().split())
            except OSError:
                pass
        return children

    def mark(self):
        """Before a command: which server processes run, and the CPU of the exited ones."""
        if not self.available:
            return None
        time.sleep(0.05)  # the bench's own short connections' backends exit and are reaped
        return self._children(), self._times()

    def since(self, mark, timeout=5.0):
        """After it: seconds of CPU of the server processes that exited since `mark`, once every
        process started since (its backends) is gone; None when unknown."""
        if mark is None:
            return None
        before, ticks = mark
        deadline = time.monotonic() + timeout
        while self._children() - before and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.02)
        return (self._times() - ticks) / self._ticks
