"""Flask-SQLAlchemy binds: each bind its own scripts folder, target version, Version row and history.

A copy of tests/sample_app given SQLALCHEMY_BINDS (analytics, audit: databases of their own on the
test server) and `Migrator(..., binds=__bind_versions__)`, run through its manage.py.
"""
import json

import pytest

from tests.helpers import fresh_databases, succeeded

BINDS_CONFIG = '''    app.config["SQLALCHEMY_BINDS"] = {
        name: os.environ[variable] for name, variable in
        (("analytics", "ANALYTICS_URL"), ("audit", "AUDIT_URL")) if variable in os.environ}
'''


class BoundApp:
    """The sample app with two binds; `manage` runs its manage.py with their URLs."""

    def __init__(self, app, analytics, audit):
        self.app, self.analytics, self.audit = app, analytics, audit
        self.database = app.database
        self.env = {"ANALYTICS_URL": analytics.url, "AUDIT_URL": audit.url}

    def manage(self, *args, **kwargs):
        return self.app.manage(*args, env=dict(self.env, **kwargs.pop("env", {})), **kwargs)

    def write(self, bind, name, text):
        folder = self.app.migration_dir / bind
        folder.mkdir(exist_ok=True)
        (folder / name).write_text(text)

    def declare(self, versions):
        init = self.app.root / "notes" / "__init__.py"
        lines = [line for line in init.read_text().splitlines() if not line.startswith("__bind_versions__ =")]
        at = lines.index(next(line for line in lines if line.startswith("__db_version__ ="))) + 1
        lines.insert(at, "__bind_versions__ = %r" % (versions,))
        init.write_text("\n".join(lines) + "\n")


@pytest.fixture
def bound(sample_app, server_url):
    init = sample_app.root / "notes" / "__init__.py"
    text = init.read_text()
    anchor = '    app.config["SQLALCHEMY_TRACK_MODIFICATIONS"] = False\n'
    init.write_text(text.replace(anchor, anchor + BINDS_CONFIG))
    manage_py = sample_app.root / "manage.py"
    manage_py.write_text(manage_py.read_text()
                         .replace("__db_version__, create_app",
                                  "__bind_versions__, __db_version__, create_app")
                         .replace("Migrator(db, Version, __db_version__)",
                                  "Migrator(db, Version, __db_version__, binds=__bind_versions__)"))
    with fresh_databases(server_url, 2, prefix="bind") as (analytics, audit):
        app = BoundApp(sample_app, analytics, audit)
        app.declare({"analytics": 2, "audit": 1})
        app.write("analytics", "v1.sql", "CREATE TABLE events (id bigint PRIMARY KEY);\n")
        app.write("analytics", "v2_add_kind.sql", "ALTER TABLE events ADD COLUMN kind text;\n")
        app.write("audit", "v1.sql", "CREATE TABLE entries (id bigint PRIMARY KEY, what text);\n")
        yield app


def test_all_binds_migrates_the_default_database_then_each_bind_by_name(bound):
    result = succeeded(bound.manage("migrate_tables", "--yes", "--all-binds"))

    out = result.stdout
    headers = [line for line in out.splitlines() if line.startswith("== ")]
    assert headers == ["== the default database ==", "== bind analytics ==", "== bind audit =="]
    default, analytics, audit = out.split("== bind analytics ==")[0], \
        out.split("== bind analytics ==")[1].split("== bind audit ==")[0], out.split("== bind audit ==")[1]
    assert "Migrated from version 0 to 2: 2 scripts" in default
    assert "Upgrading database to version 2 (v2_add_kind.sql)" in analytics
    assert "Migrated from version 0 to 2: 2 scripts" in analytics
    assert "Migrated from version 0 to 1: 1 script" in audit
    # Each database has its own Version row, history and schema; none has another's tables.
    assert bound.database.version() == [2] and "events" not in bound.database.tables()
    assert bound.analytics.version() == [2]
    assert [row[:3] for row in bound.analytics.history()] == [
        (1, "v1.sql", "applied"), (2, "v2_add_kind.sql", "applied")]
    assert {"events", "version", "version_history"} == bound.analytics.tables()
    assert bound.audit.version() == [1]
    assert {"entries", "version", "version_history"} == bound.audit.tables()

    again = succeeded(bound.manage("migrate_tables", "--yes", "--all-binds"))
    assert again.stdout.count("DB is at correct version") == 3


def test_bind_migrates_that_bind_alone_to_its_own_target(bound):
    result = succeeded(bound.manage("migrate_tables", "--yes", "--bind", "analytics"))

    assert "Migrated from version 0 to 2: 2 scripts" in result.stdout
    assert "== " not in result.stdout  # one database: no headers
    assert bound.analytics.version() == [2]
    assert bound.database.version() is None and bound.audit.version() is None

    # A raised target and a new script in the bind's folder: only that bind moves on.
    bound.write("analytics", "v3.sql", "CREATE INDEX events_kind ON events (kind);\n")
    bound.declare({"analytics": 3, "audit": 1})
    result = succeeded(bound.manage("migrate_tables", "--yes", "--bind", "analytics"))
    assert "Migrated from version 2 to 3: 1 script" in result.stdout
    assert bound.analytics.version() == [3]


def test_status_shows_each_database_and_check_fails_while_one_is_behind(bound):
    succeeded(bound.manage("migrate_tables", "--yes"))  # the default database only
    assert bound.analytics.version() is None

    text = bound.manage("migrate_status", "--all-binds", "--check")
    assert text.returncode == 1
    assert "error: not exactly at its target version with no warnings: bind analytics, bind audit" \
        in text.stderr
    assert "Bind:            none (the default database)" in text.stdout
    assert "Code version:    2 (binds['analytics'])" in text.stdout
    assert "Pending:         v1.sql, v2_add_kind.sql" in text.stdout
    assert "Code version:    1 (binds['audit'])" in text.stdout

    succeeded(bound.manage("migrate_tables", "--yes", "--all-binds"))
    as_json = succeeded(bound.manage("migrate_status", "--all-binds", "--json", "--check"))
    statuses = json.loads(as_json.stdout)
    assert [(s["bind"], s["current_version"], s["code_version"], s["up_to_date"]) for s in statuses] \
        == [(None, 2, 2, True), ("analytics", 2, 2, True), ("audit", 1, 1, True)]
    one = json.loads(succeeded(bound.manage("migrate_status", "--bind", "audit", "--json")).stdout)
    assert (one["bind"], one["history"][0]["file"]) == ("audit", "v1.sql")


def test_a_failing_bind_script_stops_the_run_and_its_line_names_the_bind(bound):
    bound.write("audit", "v1.sql", "CREATE TABLE entries (id bigint PRIMARY KEY);\nSELECT 1/0;\n")

    result = bound.manage("migrate_tables", "--yes", "--all-binds")

    assert result.returncode == 1
    assert result.stderr.startswith("error: bind audit: "), result.stderr
    assert bound.database.version() == [2] and bound.analytics.version() == [2]
    assert bound.audit.version() in (None, [0]) and "entries" not in bound.audit.tables()


def test_dry_run_of_all_binds_changes_nothing(bound):
    result = succeeded(bound.manage("migrate_tables", "--dry-run", "--all-binds"))

    assert "v2_add_kind.sql" in result.stdout and "ALTER TABLE events ADD COLUMN kind text" in result.stdout
    assert bound.analytics.version() is None and bound.audit.tables() == set()


@pytest.mark.parametrize("args, declared, line", [
    (("--bind", "nosuch"), None, "error: --bind nosuch: no such bind in SQLALCHEMY_BINDS (analytics, audit)"),
    (("--bind", "audit"), {"analytics": 2}, "error: bind audit has no target version; declare it"),
    (("--all-binds",), {"analytics": 2}, "error: bind audit has scripts ("),
    (("--all-binds",), {"analytics": 2, "audit": 1, "other": 1}, "error: binds= names other, not in"),
    (("--all-binds", "--to", "1"), None, "error: --to names a version of one database"),
    (("--bind", "audit", "--all-binds"), None, "error: --bind and --all-binds: give one of them"),
    (("--all-binds",), {"analytics": "2", "audit": 1}, "error: a bind's target version must be an"),
])
def test_bind_mistakes_are_refused_before_anything_runs(bound, args, declared, line):
    if declared is not None:
        bound.declare(declared)

    result = bound.manage("migrate_tables", "--yes", *args)

    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith(line), result.stderr
    assert "Traceback" not in result.stderr
    assert bound.database.version() is None and bound.analytics.version() is None


def test_a_bind_on_the_default_database_is_refused(bound):
    result = bound.manage("migrate_tables", "--yes", "--all-binds",
                          env={"ANALYTICS_URL": bound.database.url})

    assert result.returncode == 2
    assert "the default database and bind analytics are one database" in result.stderr
    assert bound.database.version() is None


def test_lint_migrations_lints_the_binds_own_scripts_against_its_database(bound):
    pending = succeeded(bound.manage("lint_migrations", "--bind", "analytics"))
    assert "Linting 2 pending scripts (the database is at version 0): v1.sql, v2_add_kind.sql" \
        in pending.stdout

    succeeded(bound.manage("migrate_tables", "--yes", "--bind", "audit"))
    done = succeeded(bound.manage("lint_migrations", "--bind", "audit"))
    assert done.stdout.startswith("Nothing to lint: the database is at version 1 and runs no script")


def test_drift_of_a_bind_builds_that_binds_own_scripts(bound, server_url):
    succeeded(bound.manage("migrate_tables", "--yes", "--all-binds"))

    status = succeeded(bound.manage("migrate_status", "--bind", "analytics", "--drift", "--check",
                                    "--scratch-url", server_url))
    assert "Drift:           none (the schema is what the scripts up to version 2 give)" in status.stdout

    bound.analytics.execute("ALTER TABLE events ADD COLUMN extra int")
    drifted = bound.manage("migrate_status", "--bind", "analytics", "--drift", "--check",
                           "--scratch-url", server_url)
    assert drifted.returncode == 1
    assert "extra" in drifted.stdout and "Drift:           1 difference" in drifted.stdout
