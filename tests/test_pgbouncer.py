"""migrate_tables behind a real PgBouncer, and MIGRATION_DATABASE_URL (issue 10).

The `pgbouncer` fixture (tests/pgbouncer.py) runs two pgbouncers in front of
the test server: one with pool_mode=transaction and 2 server connections per
database, one with pool_mode=session. Every run is `python manage.py` in a
subprocess whose DATABASE_URL / MIGRATION_DATABASE_URL point through them.
"""
import contextlib
import threading

import psycopg2
import pytest

from tests.helpers import applications, connect_params, counted, fresh_databases, wait_for
from tests.pgbouncer import pooled_url, server_connections

NOT_A_SESSION = "error: the database connection is not a stable session"
OTHER_DATABASE = "error: MIGRATION_DATABASE_URL reaches"


# -- helpers --------------------------------------------------------------------------

def everything(database):
    """All of a database that a run could change: every relation outside the system
    schemas (whatever schema the bookkeeping uses), the public catalog, version and history."""
    relations = database.query(
        "SELECT n.nspname, c.relname, c.relkind FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')"
        " AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'"
        " ORDER BY 1, 2")
    schemas = database.query(
        "SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema')"
        " AND nspname NOT LIKE 'pg\\_%' ORDER BY 1")
    return {"relations": relations, "schemas": schemas, "catalog": database.catalog(),
            "version": database.version(), "history": database.history()}


def advisory_locks(database):
    """Advisory locks held in `database` by anyone (a pooler's server connection too)."""
    return database.query(
        "SELECT l.pid, l.objid::bigint, a.application_name FROM pg_locks l"
        " LEFT JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory'"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())")


@contextlib.contextmanager
def busy(url, clients=1):
    """Other clients running short transactions through `url` all the time (an app's traffic)."""
    stop = threading.Event()
    errors = []

    def work():
        try:
            connection = psycopg2.connect(**connect_params(url))
            connection.autocommit = True
            try:
                while not stop.is_set():
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT 1")
            finally:
                connection.close()
        except Exception as error:  # reported by the test, not lost in a thread
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        yield errors
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)


def error_line(result):
    """stderr must be exactly one line and no traceback; return it."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def assert_ok(result):
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def applied(database):
    return [(row[0], row[2]) for row in database.history()]


def env_for(app, pgbouncer, database_url, migration_url=None):
    """DATABASE_URL / MIGRATION_DATABASE_URL by name: direct, transaction or session."""
    def url(how):
        if how == "direct":
            return app.database.url
        return pooled_url(app.database.url, getattr(pgbouncer, how))
    env = {"DATABASE_URL": url(database_url)}
    if migration_url is not None:
        env["MIGRATION_DATABASE_URL"] = url(migration_url)
    return env


@pytest.fixture
def other_database(server_url):
    """A second, empty database on the same server, dropped afterwards."""
    with fresh_databases(server_url, prefix="test_other") as (other,):
        yield other


@pytest.fixture
def two_scripts(counting_app):
    app = counting_app
    app.write("v2.sql", counted(2, "CREATE TABLE t2 (id int);\n"))
    app.set_version(2)
    return app


# -- the poolers themselves ---------------------------------------------------------------

def _connect(url):
    connection = psycopg2.connect(**connect_params(url))
    connection.autocommit = True
    return connection


def _one(connection, query):
    with connection.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchone()[0]


def _pool(pooler, database):
    """The pooler's SHOW POOLS row of `database`."""
    return next(p for p in pooler.admin("SHOW POOLS") if p["database"] == database.name)


def test_transaction_pooler_shares_two_server_connections_among_many_clients(pgbouncer, database):
    url = pooled_url(database.url, pgbouncer.transaction)
    clients = [_connect(url) for _ in range(6)]
    try:
        assert {_one(c, "SELECT current_database()") for c in clients} == {database.name}
        pids = {_one(c, "SELECT pg_backend_pid()") for c in clients}
        assert len(pids) <= 2
        assert server_connections(database) <= 2
        # Two clients inside transactions hold both server connections...
        holders = clients[:2]
        for client in holders:
            client.autocommit = False
            _one(client, "SELECT 1")
        held = {_one(client, "SELECT pg_backend_pid()") for client in holders}
        assert len(held) == 2
        # ...and a third client waits for one: its statement runs once a transaction ends.
        pooler = pgbouncer.transaction
        waiter = {}
        thread = threading.Thread(target=lambda: waiter.update(
            pid=_one(clients[2], "SELECT pg_backend_pid()")))
        thread.start()
        try:
            wait_for(lambda: _pool(pooler, database)["cl_waiting"] == 1)
            assert _pool(pooler, database)["sv_active"] == 2
        finally:
            holders[0].commit()
            thread.join(30)
        assert waiter["pid"] in held
    finally:
        for client in clients:
            client.close()
    assert _pool(pgbouncer.transaction, database)["pool_mode"] == "transaction"


def test_session_pooler_gives_each_client_a_server_connection_of_its_own(pgbouncer, database):
    url = pooled_url(database.url, pgbouncer.session)
    clients = [_connect(url) for _ in range(4)]
    try:
        pids = [_one(c, "SELECT pg_backend_pid()") for c in clients]
        assert len(set(pids)) == 4
        assert [_one(c, "SELECT pg_backend_pid()") for c in clients] == pids
        assert server_connections(database) == 4
    finally:
        for client in clients:
            client.close()
    assert _pool(pgbouncer.session, database)["pool_mode"] == "session"


def test_pooled_url_keeps_the_database_and_goes_to_the_poolers_port(pgbouncer, database):
    url = pooled_url(database.url, pgbouncer.transaction)
    assert url.endswith("@127.0.0.1:%d/%s" % (pgbouncer.transaction.port, database.name))
    assert "postgres@" in url
    assert pgbouncer.transaction.port != pgbouncer.session.port


# -- transaction pooling: refused ------------------------------------------------------------

@pytest.mark.parametrize("database_url,migration_url", [
    ("transaction", None),
    ("direct", "transaction"),
    ("session", "transaction"),
])
def test_transaction_pooling_for_the_migration_is_refused_before_anything_changes(
        two_scripts, pgbouncer, database_url, migration_url):
    app = two_scripts
    before = everything(app.database)

    result = app.manage("migrate_tables", "--yes", env=env_for(app, pgbouncer, database_url, migration_url))

    assert result.returncode == 2, result.stdout + result.stderr
    line = error_line(result)
    assert line.startswith(NOT_A_SESSION), line
    assert "MIGRATION_DATABASE_URL" in line
    after = everything(app.database)
    assert after == before
    assert after["relations"] == []
    assert after["version"] is None and after["history"] == []
    # Nor a migration lock left on a server connection the pooler keeps for others.
    assert advisory_locks(app.database) == []


def test_after_the_refusal_the_suggested_fix_works_at_once(two_scripts, pgbouncer):
    """The refused run must not leave its lock on a server connection that the pooler keeps."""
    app = two_scripts
    refused = app.manage("migrate_tables", "--yes", env=env_for(app, pgbouncer, "transaction"))
    assert refused.returncode == 2, refused.stdout + refused.stderr

    fixed = app.manage("migrate_tables", "--yes", "--lock-timeout", "3",
                       env=env_for(app, pgbouncer, "transaction", "direct"))

    assert_ok(fixed)
    assert "Waiting for another migration" not in fixed.stdout
    assert app.database.version() == [2]
    assert applied(app.database) == [(1, "applied"), (2, "applied")]


def test_transaction_pooling_is_refused_while_the_app_keeps_the_pool_busy(two_scripts, pgbouncer):
    """Other clients on the same pool (as in production) must not let the check pass by chance."""
    app = two_scripts
    env = env_for(app, pgbouncer, "transaction")
    with busy(pooled_url(app.database.url, pgbouncer.transaction)) as errors:
        results = [app.manage("migrate_tables", "--yes", env=env) for _ in range(5)]
    assert errors == []

    assert [r.returncode for r in results] == [2] * 5, "\n".join(
        "exit %d:\n%s%s" % (r.returncode, r.stdout, r.stderr) for r in results if r.returncode != 2)
    for result in results:
        assert error_line(result).startswith(NOT_A_SESSION)
    assert everything(app.database)["relations"] == []
    assert advisory_locks(app.database) == []


# -- session pooling: as a direct connection ----------------------------------------------------

def test_session_pooling_migrates_as_a_direct_connection(two_scripts, pgbouncer):
    app = two_scripts
    env = env_for(app, pgbouncer, "session")

    first = app.manage("migrate_tables", "--yes", env=env)

    assert_ok(first)
    assert "Migrated from version 0 to 2" in first.stdout
    assert app.database.version() == [2]
    assert applications(app.database) == {1: 1, 2: 1}
    assert applied(app.database) == [(1, "applied"), (2, "applied")]
    assert {"applications", "hold", "t2", "version"} <= app.database.tables()
    history = app.database.history()

    again = app.manage("migrate_tables", "--yes", env=env)

    assert_ok(again)
    assert "DB is at correct version 2" in again.stdout
    assert app.database.history() == history
    assert applications(app.database) == {1: 1, 2: 1}


# -- transaction pooling for the app, the migration elsewhere ---------------------------------------

@pytest.mark.parametrize("migration_url", ["direct", "session"])
def test_transaction_pooled_app_with_a_migration_url_migrates(two_scripts, pgbouncer, migration_url):
    app = two_scripts
    env = env_for(app, pgbouncer, "transaction", migration_url)

    first = app.manage("migrate_tables", "--yes", env=env)

    assert_ok(first)
    assert app.database.version() == [2]
    assert applications(app.database) == {1: 1, 2: 1}
    assert applied(app.database) == [(1, "applied"), (2, "applied")]

    app.write("v3.sql", counted(3, "CREATE TABLE t3 (id int);\n"))
    app.set_version(3)
    second = app.manage("migrate_tables", "--yes", env=env)

    assert_ok(second)
    assert "Migrated from version 2 to 3" in second.stdout
    assert app.database.version() == [3]
    assert applied(app.database) == [(1, "applied"), (2, "applied"), (3, "applied")]

    again = app.manage("migrate_tables", "--yes", env=env)
    assert_ok(again)
    assert "DB is at correct version 3" in again.stdout


def test_eight_migrators_at_once_behind_transaction_pooling_apply_each_script_once(counting_app, pgbouncer):
    """The app's db.session through 2 shared server connections, the scripts direct: 3 rounds."""
    app = counting_app
    env = env_for(app, pgbouncer, "transaction", "direct")
    version = 1
    for round_number in range(3):
        start = version
        for _ in range(3):
            version += 1
            app.write("v%d.sql" % version, counted(version, "SELECT pg_sleep(0.2);\n"
                                                            "CREATE TABLE t%d (id int);\n" % version))
        app.set_version(version)

        processes = [app.start("migrate_tables", "--yes", env=env) for _ in range(8)]
        results = []
        for process in processes:
            out, err = process.communicate(timeout=120)
            results.append((process.returncode, out, err))

        assert [code for code, _, _ in results] == [0] * 8, (round_number, [e for _, _, e in results])
        assert not any("Traceback" in err for _, _, err in results)
        assert applications(app.database) == {v: 1 for v in range(1, version + 1)}
        assert applied(app.database) == [(v, "applied") for v in range(1, version + 1)]
        assert app.database.version() == [version]
        outputs = [out for _, out, _ in results]
        migrated_from = 0 if round_number == 0 else start
        assert sum("Migrated from version %d to %d" % (migrated_from, version) in out
                   for out in outputs) == 1, outputs
        assert sum("DB is at correct version %d" % version in out for out in outputs) == 7, outputs


# -- MIGRATION_DATABASE_URL must reach the same database ----------------------------------------------

@pytest.mark.parametrize("database_url", ["direct", "transaction", "session"])
def test_migration_url_reaching_another_database_is_refused(two_scripts, other_database, request,
                                                            database_url):
    app = two_scripts
    pgbouncer = request.getfixturevalue("pgbouncer") if database_url != "direct" else None
    before, other_before = everything(app.database), everything(other_database)
    env = env_for(app, pgbouncer, database_url)
    env["MIGRATION_DATABASE_URL"] = other_database.url

    result = app.manage("migrate_tables", "--yes", env=env)

    assert result.returncode == 2, result.stdout + result.stderr
    line = error_line(result)
    assert line.startswith(OTHER_DATABASE), line
    assert everything(app.database) == before
    assert everything(other_database) == other_before
    assert before["relations"] == [] and other_before["relations"] == []
