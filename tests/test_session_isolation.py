"""Scripts cannot break the bookkeeping: what a script does to its session stays in that script.

A script may change its session (SET search_path, set_config(..., false) as
every pg_dump starts, SET LOCAL, SET ROLE, RESET ALL, SET statement_timeout).
The tool's history rows and the migration lock must not notice, the state
carries across the steps of ONE script (as in psql), and the next script
starts in the same session state as the first one of a run.

Every script after a session-changing one here snapshots its session
(pg_settings, current_user, current_schema) into a table; that snapshot must
equal the one taken by the first script of a later run (a fresh session).

Also: the bookkeeping schema when the role's or the database's search_path starts
elsewhere than `public` (the connection's initial current_schema()).
"""
import uuid

import pytest
from sqlalchemy.engine.url import make_url

from tests.conftest import SampleApp
from tests.helpers import Database, applications, counted, failed_with_one_line, succeeded

NO_TRANSACTION = "-- migrate: no-transaction\n"
MODES = ("transaction", "no-transaction")


# -- helpers ---------------------------------------------------------------------------





def script(mode, body, version):
    """A script that counts itself, in one transaction or (with the header) in steps."""
    text = counted(version, body)
    return (NO_TRANSACTION + text) if mode == "no-transaction" else text


def steps_of(mode, body):
    """steps_done of an applied script (its whole text, one statement a line): one per
    statement outside a transaction, else 1."""
    return body.count(";\n") if mode == "no-transaction" else 1


def snapshot_script(version):
    """A transactional script recording its session state in public-or-wherever table snapN.

    The table is unqualified: it lands where the session's search_path says. A
    pg_sleep(0.05) must not be cancelled by a statement_timeout left behind.
    """
    return counted(version, (
        "CREATE TABLE snap{v} AS SELECT name, setting FROM pg_catalog.pg_settings"
        " WHERE name <> 'application_name'"
        " UNION ALL SELECT 'current_user', current_user::text"
        " UNION ALL SELECT 'session_user', session_user::text"
        " UNION ALL SELECT 'current_schema', coalesce(current_schema()::text, '(none)');\n"
        "SELECT pg_sleep(0.05);\n").format(v=version))


def snapshot(db, version):
    return dict(db.query("SELECT name, setting FROM public.snap%d" % version))


def table_place(db, name):
    """(schema, owner) of every table called `name`."""
    return db.query("SELECT schemaname, tableowner FROM pg_tables WHERE tablename = %s ORDER BY 1",
                    (name,))


def history_rows(db):
    if "version_history" not in db.tables():
        return []
    return db.query("SELECT version, filename, outcome, mode, steps_done, db_user"
                    " FROM public.version_history ORDER BY id")


@pytest.fixture
def script_role(server_url, database):
    """A role (cluster-wide: a unique name) that may create in public, and nothing else."""
    name = "mig_role_%s" % uuid.uuid4().hex[:10]
    maintenance = Database(server_url)
    maintenance.execute("CREATE ROLE %s NOLOGIN" % name)
    try:
        database.execute("GRANT USAGE, CREATE ON SCHEMA public TO %s" % name)
        yield name
    finally:
        database.execute("DROP OWNED BY %s" % name)
        maintenance.execute("DROP ROLE %s" % name)


# -- what the session-changing scripts do ------------------------------------------------
# Each entry: the body of v2 (the INSERT that counts it comes first, as the tool's role),
# and a check of where its own objects went.

def _in_public(table):
    def check(db, mode, role, me):
        assert table_place(db, table) == [("public", me)]
    return check


def _set_local_check(db, mode, role, me):
    # SET LOCAL lasts for the transaction; outside one (each step of a no-transaction
    # script autocommits) PostgreSQL ignores it with a warning, as psql would.
    assert table_place(db, "sl") == [("app" if mode == "transaction" else "public", me)]


def _set_role_check(db, mode, role, me):
    # The role made the table, in a later step of a no-transaction script too.
    assert table_place(db, "owned") == [("public", role)]
    assert db.scalar("SELECT count(*) FROM public.owned") == 1


PG_DUMP_HEADER = (
    "SET statement_timeout = 0;\n"
    "SET lock_timeout = 0;\n"
    "SET idle_in_transaction_session_timeout = 0;\n"
    "SET client_encoding = 'UTF8';\n"
    "SET standard_conforming_strings = on;\n"
    "SELECT pg_catalog.set_config('search_path', '', false);\n"
    "SET check_function_bodies = false;\n"
    "SET xmloption = content;\n"
    "SET client_min_messages = warning;\n"
    "SET row_security = off;\n")

CHANGES = {
    "search-path-empty": (
        "SET search_path = '';\nCREATE TABLE public.sp (id int);\nINSERT INTO public.sp VALUES (1);\n",
        _in_public("sp")),
    "set-config-search-path": (
        "SELECT pg_catalog.set_config('search_path', '', false);\nCREATE TABLE public.sc (id int);\n",
        _in_public("sc")),
    "pg-dump-header": (
        PG_DUMP_HEADER + "CREATE TABLE public.dumped (id integer);\n", _in_public("dumped")),
    "set-local-search-path": (
        "CREATE SCHEMA app;\nSET LOCAL search_path TO app;\nCREATE TABLE sl (id int);\n",
        _set_local_check),
    "set-role": (
        "SET ROLE {role};\nCREATE TABLE owned (id int);\nINSERT INTO owned VALUES (1);\n",
        _set_role_check),
    "reset-all": ("RESET ALL;\nCREATE TABLE ra (id int);\n", _in_public("ra")),
    "statement-timeout-1ms": (
        # Last, so that it is still in force when the tool records the script.
        "CREATE TABLE st (id int);\nSET statement_timeout = 1;\n", _in_public("st")),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_script_changing_its_session_leaves_the_bookkeeping_and_the_next_script_alone(
        counting_app, script_role, change, mode):
    app, db = counting_app, counting_app.database
    me = db.scalar("SELECT current_user")
    body, check_objects = CHANGES[change]
    body = body.format(role=script_role)
    app.write("v2.sql", script(mode, body, 2))
    app.write("v3.sql", snapshot_script(3))  # the next script of the same run
    app.set_version(3)
    assert db.version() is None and history_rows(db) == []

    first = app.manage("migrate_tables", "--yes")

    succeeded(first)
    assert "Migrated from version 0 to 3: 3 scripts" in first.stdout
    assert db.version() == [3]
    assert history_rows(db) == [
        (1, "v1.sql", "applied", "transaction", 1, me),
        (2, "v2.sql", "applied", mode, steps_of(mode, counted(2, body)), me),
        (3, "v3.sql", "applied", "transaction", 1, me)]
    assert applications(db) == {1: 1, 2: 1, 3: 1}
    check_objects(db, mode, script_role, me)
    # The role the script switched to has no rights on the bookkeeping tables at all.
    for table in ("public.version_history", "public.version"):
        assert not db.scalar("SELECT has_table_privilege(%s, %s, 'UPDATE')", (script_role, table))
    # v3 ran with the tool's role and search_path, and was not cancelled by a leaked timeout.
    assert table_place(db, "snap3") == [("public", me)]
    status = app.manage("migrate_status", "--check")
    succeeded(status)
    assert "Applied version: 3" in status.stdout

    app.write("v4.sql", snapshot_script(4))  # the first script of a later run: a fresh session
    app.set_version(4)
    later = app.manage("migrate_tables", "--yes")

    succeeded(later)
    assert db.version() == [4]
    assert [row[:3] for row in history_rows(db)][-1] == (4, "v4.sql", "applied")
    assert table_place(db, "snap4") == [("public", me)]
    same_run, fresh = snapshot(db, 3), snapshot(db, 4)
    assert same_run["current_user"] == me and same_run["current_schema"] == "public"
    differences = {name: (same_run.get(name), fresh.get(name))
                   for name in set(same_run) | set(fresh) if same_run.get(name) != fresh.get(name)}
    assert differences == {}


def test_session_state_carries_across_the_steps_of_one_script(counting_app, script_role):
    app, db = counting_app, counting_app.database
    me = db.scalar("SELECT current_user")
    body = ("CREATE SCHEMA app;\nSET search_path TO app;\nCREATE TABLE t (id int);\n"
            "GRANT USAGE, CREATE ON SCHEMA app TO {role};\nSET ROLE {role};\nCREATE TABLE mine (id int);\n"
            ).format(role=script_role)
    app.write("v2.sql", script("no-transaction", body, 2))
    app.write("v3.sql", snapshot_script(3))
    app.set_version(3)

    result = app.manage("migrate_tables", "--yes")

    succeeded(result)
    assert "Upgrading database to version 2 (v2.sql, in 7 steps)" in result.stdout
    assert table_place(db, "t") == [("app", me)]
    assert table_place(db, "mine") == [("app", script_role)]
    assert history_rows(db)[1] == (2, "v2.sql", "applied", "no-transaction", 7, me)
    assert table_place(db, "snap3") == [("public", me)]
    assert db.version() == [3]
    succeeded(app.manage("migrate_status", "--check"))


def test_a_timeout_a_no_transaction_script_sets_holds_for_its_later_steps(counting_app):
    app, db = counting_app, counting_app.database
    body = ("SET lock_timeout = '10s';\nSET statement_timeout = '7s';\n"
            "CREATE TABLE seen AS SELECT current_setting('lock_timeout') AS lock_timeout,"
            " current_setting('statement_timeout') AS statement_timeout;\n")
    app.write("v2.sql", script("no-transaction", body, 2))
    app.set_version(2)

    succeeded(app.manage("migrate_tables", "--yes"))

    # psql would run these three statements with 10s and 7s; so does a transactional script.
    assert db.query("SELECT lock_timeout, statement_timeout FROM seen") == [("10s", "7s")]


# -- scripts that attack the bookkeeping itself --------------------------------------------

def touched_the_history(app, statement):
    """v1 applied, then v2 (a table and `statement`) run: it must fail, rolled back, recorded as failed."""
    db = app.database
    app.write("v2.sql", counted(2, "CREATE TABLE wiped (id int);\n%s;\n" % statement))
    app.set_version(1)
    succeeded(app.manage("migrate_tables", "--yes"))
    catalog, history = db.catalog(), history_rows(db)
    app.set_version(2)

    result = app.manage("migrate_tables", "--yes")

    line = failed_with_one_line(result, 1)
    assert line.startswith("error: v2.sql: the script changed the migration history table"), line
    assert "rolled back" in line
    assert db.catalog() == catalog and "wiped" not in db.tables()
    assert applications(db) == {1: 1}
    assert db.version() == [1]
    rows = history_rows(db)
    assert rows[:1] == history and [row[:3] for row in rows[1:]] == [(2, "v2.sql", "failed")]


def test_a_script_that_truncates_the_history_is_rolled_back(counting_app):
    app, db = counting_app, counting_app.database
    touched_the_history(app, "TRUNCATE version_history")
    assert "changed the migration history table" in db.scalar(
        "SELECT error FROM version_history WHERE version = 2")
    status = app.manage("migrate_status", "--check")
    assert status.returncode == 1 and "Applied version: 1" in status.stdout

    # Fixed, the script runs (once) on the next run.
    app.write("v2.sql", counted(2, "CREATE TABLE wiped (id int);\n"))
    succeeded(app.manage("migrate_tables", "--yes"))
    assert applications(db) == {1: 1, 2: 1} and db.version() == [2]


@pytest.mark.parametrize("statement", [
    "DELETE FROM version_history WHERE version = 1",
    "UPDATE version_history SET note = 'edited by a script'",
    "INSERT INTO version_history (version, mode, outcome) VALUES (9, 'transaction', 'applied')",
])
def test_a_transactional_script_that_writes_rows_of_the_history_is_rolled_back(counting_app, statement):
    """Issue 24: no "running" row to lose, so the history table itself is checked: any row the
    script's transaction wrote, deleted or inserted there fails it (rows of other scripts too)."""
    touched_the_history(counting_app, statement)


@pytest.mark.parametrize("mode", MODES)
def test_a_script_that_releases_the_migration_lock_fails(counting_app, mode):
    app, db = counting_app, counting_app.database
    body = "CREATE TABLE unlocked (id int);\nSELECT pg_advisory_unlock_all();\n"
    app.write("v2.sql", script(mode, body, 2))
    app.write("v3.sql", counted(3))
    app.set_version(1)
    succeeded(app.manage("migrate_tables", "--yes"))
    catalog = db.catalog()
    app.set_version(3)

    result = app.manage("migrate_tables", "--yes")

    line = failed_with_one_line(result, 1)
    assert line.startswith("error: v2.sql: the migration lock was lost while it ran")
    assert "Upgrading database to version 3" not in result.stdout
    assert db.version() == [1]
    rows = history_rows(db)
    assert [row[:4] for row in rows] == [(1, "v1.sql", "applied", "transaction"),
                                         (2, "v2.sql", "failed", mode)]
    if mode == "transaction":
        # Rolled back whole: nothing of v2 is left.
        assert db.catalog() == catalog and applications(db) == {1: 1}
        assert rows[1][4] == 0
    else:
        # Steps commit one by one: those before the unlock stay, and the history says so.
        assert "unlocked" in db.tables() and applications(db) == {1: 1, 2: 1}
        assert rows[1][4] == 3


# -- session state beyond settings -------------------------------------------------------

def test_a_temporary_table_of_one_script_is_gone_when_the_next_one_starts(counting_app):
    app, db = counting_app, counting_app.database
    # The usual data-migration pattern, in two scripts of one run.
    staging = ("CREATE TEMP TABLE staging AS SELECT version FROM applications;\n"
               "CREATE TABLE IF NOT EXISTS copied (version int);\n"
               "INSERT INTO copied SELECT version FROM staging;\n")
    app.write("v2.sql", counted(2, staging))
    app.write("v3.sql", counted(3, staging))
    app.set_version(3)

    result = app.manage("migrate_tables", "--yes")

    # Run one by one (psql, or one migrate_tables each) both work: v2 starts in the state v1 did.
    succeeded(result)
    assert db.version() == [3]


def test_a_read_only_default_set_by_a_no_transaction_script_does_not_stop_the_bookkeeping(
        counting_app):
    app, db = counting_app, counting_app.database
    body = "CREATE TABLE before_ro (id int);\nSET default_transaction_read_only = on;\nSELECT 1;\n"
    app.write("v2.sql", script("no-transaction", body, 2))
    app.write("v3.sql", counted(3, "CREATE TABLE after_ro (id int);\n"))
    app.set_version(3)

    result = app.manage("migrate_tables", "--yes")

    succeeded(result)
    assert history_rows(db)[1][2:5] == ("applied", "no-transaction", 4)
    assert {"before_ro", "after_ro"} <= db.tables() and db.version() == [3]


# -- the bookkeeping schema: the connection's initial current_schema() --------------------

def _where(database):
    """{table: schema} of every table outside the system schemas."""
    rows = database.query("SELECT tablename, schemaname FROM pg_tables"
                          " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")
    tables = {}
    for name, schema in rows:
        tables.setdefault(name, []).append(schema)
    return {name: sorted(schemas) for name, schemas in tables.items()}


def _as_user(url, user):
    parsed = make_url(url)
    if hasattr(parsed, "set"):
        return parsed.set(username=user).render_as_string(hide_password=False)
    parsed.username = user  # SQLAlchemy 1.3: URLs are mutable and str() shows the password
    return str(parsed)


@pytest.fixture(params=["database", "role"])
def app_schema_first(request, server_url, sample_app):
    """(app, superuser's Database): the sample app on a database whose sessions start with
    search_path = app, public, set on the database (ALTER DATABASE), or on a role of its
    own that the app logs in as (ALTER ROLE ... IN DATABASE)."""
    db = sample_app.database
    db.execute("CREATE SCHEMA app")
    if request.param == "database":
        db.execute('ALTER DATABASE "%s" SET search_path = app, public' % db.name)
        assert db.scalar("SELECT current_schema()") == "app"
        yield sample_app, db
        return
    role = "mig_%s" % uuid.uuid4().hex[:10]
    maintenance = Database(server_url)
    maintenance.execute("CREATE ROLE %s LOGIN" % role)
    try:
        db.execute("ALTER SCHEMA app OWNER TO %s" % role)
        db.execute("GRANT CREATE ON SCHEMA public TO %s" % role)
        db.execute('ALTER ROLE %s IN DATABASE "%s" SET search_path = app, public' % (role, db.name))
        as_role = Database(_as_user(db.url, role))
        assert as_role.scalar("SELECT current_user || ' ' || current_schema()") == "%s app" % role
        assert db.scalar("SELECT current_schema()") == "public"  # the superuser's is unchanged
        yield SampleApp(sample_app.root, as_role), db
    finally:
        db.execute("DROP OWNED BY %s" % role)
        maintenance.execute("DROP ROLE %s" % role)


def test_the_bookkeeping_stays_in_the_initial_schema(app_schema_first):
    app, superuser = app_schema_first
    app.clear_scripts()
    app.write("v1.sql", "CREATE TABLE first_t (id int);\n")
    # The script's own SET holds for the script only, not for the tool's rows.
    app.write("v2.sql", "SET search_path = public;\nCREATE TABLE moved_t (id int);\n")
    app.write("v3.sql", "-- migrate: no-transaction\n"
                        "SELECT pg_catalog.set_config('search_path', '', false);\n"
                        "CREATE TABLE public.empty_path_t (id int);\n"
                        "CREATE TABLE app.also_t (id int);\n")
    app.set_version(3)
    result = succeeded(app.manage("migrate_tables", "--yes"))
    assert "Migrated from version 0 to 3" in result.stdout

    app.write("v4.sql", "CREATE TABLE next_run_t (id int);\n")  # starts as v1 did
    app.set_version(4)
    succeeded(app.manage("migrate_tables", "--yes"))

    where = _where(superuser)
    assert where == {"version": ["app"], "version_history": ["app"], "first_t": ["app"],
                     "moved_t": ["public"], "empty_path_t": ["public"], "also_t": ["app"],
                     "next_run_t": ["app"]}, where
    assert superuser.query("SELECT version FROM app.version") == [(4,)]
    assert superuser.query("SELECT version, outcome FROM app.version_history ORDER BY id") == [
        (1, "applied"), (2, "applied"), (3, "applied"), (4, "applied")]
    status = succeeded(app.manage("migrate_status", "--check"))
    assert "Stored version:  4" in status.stdout
    again = succeeded(app.manage("migrate_tables", "--yes"))
    assert again.stdout.strip() == "DB is at correct version 4"


@pytest.mark.parametrize("text, changes", [
    ("SET search_path TO x;\n", True), ("SELECT pg_catalog.set_config('role', 'x', false);\n", True),
    ("reset all;\n", True), ("CREATE TEMP TABLE t (id int);\n", True), ("LISTEN jobs;\n", True),
    ("SET ROLE app;\n", True), ("PREPARE p AS SELECT 1;\n", True), ("DISCARD PLANS;\n", True),
    ("UPDATE t SET a = 1;\n", True),  # a false alarm: the session is only put back
    ("CREATE TABLE w (id int);\nCREATE INDEX w_i ON w (id);\nINSERT INTO w VALUES (1);\n", False),
    ("SELECT * FROM dataset WHERE offset_x > 0;\n", False),
])
def test_the_session_is_put_back_after_a_script_whose_text_can_change_it(text, changes):
    """Issue 24: the reset (and the timeouts after it) is sent only after such a script."""
    from flask_migrate_tables.pg.session import may_change_session
    assert may_change_session(text) is changes
