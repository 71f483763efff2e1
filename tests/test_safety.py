"""Never lose or double-apply a migration: failures, crashes, concurrent runs, edited history.

Scripts here count their own applications in a table `applications`, so
"applied exactly once" is read from the database, not from our bookkeeping.
"""
import signal
import time

from tests.helpers import (COUNTER, HOLD, SLEEP_WHILE_HELD, applications, counted, kill_while_sleeping,
                           sleeping, wait_for)

# -- a failing script ---------------------------------------------------------

def test_failing_script_names_file_and_line_and_leaves_nothing(counting_app):
    app = counting_app
    assert app.manage("migrate_tables", "--yes").returncode == 0
    app.write("v2.sql", "-- v2: a table and a typo\n\nCREATE TABLE half (id int);\n"
                        "INSERT INTO half VALUES (1);\n\n-- next line is wrong\nCREAT TABLE broken (id int);\n")
    app.set_version(2)

    failed = app.manage("migrate_tables", "--yes")

    assert failed.returncode == 1
    assert "v2.sql: line 7:" in failed.stderr
    assert "SQLSTATE 42601" in failed.stderr
    assert "syntax error" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert "half" not in app.database.tables()
    assert app.database.version() == [1]
    assert all(row[2] != "applied" for row in app.database.history() if row[0] == 2)

    app.write("v2.sql", "CREATE TABLE half (id int);\nINSERT INTO half VALUES (1);\n")
    fixed = app.manage("migrate_tables", "--yes")

    assert fixed.returncode == 0, fixed.stderr
    assert app.database.version() == [2]
    assert app.database.scalar("SELECT count(*) FROM half") == 1


def test_runtime_error_in_a_later_statement_rolls_back_the_whole_script(counting_app):
    app = counting_app
    app.write("v2.sql", counted(2, "CREATE TABLE first (id int);\nINSERT INTO missing VALUES (1);\n"))
    app.set_version(2)

    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 1
    assert "v2.sql: line 3: SQLSTATE 42P01" in result.stderr
    assert 'relation "missing" does not exist' in result.stderr
    assert "first" not in app.database.tables()
    assert applications(app.database) == {1: 1}


def test_scripts_after_a_failing_one_do_not_run(counting_app):
    app = counting_app
    app.write("v2.sql", "SELECT 1/0;\n")
    app.write("v3.sql", counted(3))
    app.set_version(3)

    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 1
    assert "SQLSTATE 22012" in result.stderr
    assert applications(app.database) == {1: 1}
    assert "Upgrading database to version 3" not in result.stdout


# -- statements that cannot run in a transaction ---------------------------------

def test_enum_value_added_and_used_in_the_same_script(counting_app):
    app = counting_app
    app.write("v2.sql", "CREATE TYPE mood AS ENUM ('sad');\nCREATE TABLE people (mood mood);\n")
    app.write("v3.sql", "ALTER TYPE mood ADD VALUE 'happy';\nINSERT INTO people VALUES ('happy');\n"
                        + counted(3))
    app.set_version(3)

    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 0, result.stderr
    assert app.database.scalar("SELECT mood::text FROM people") == "happy"
    assert applications(app.database) == {1: 1, 3: 1}


def test_concurrent_index_in_a_script_with_other_statements(counting_app):
    app = counting_app
    app.write("v2.sql", "CREATE TABLE items (id int);\nCREATE INDEX CONCURRENTLY items_id ON items (id);\n"
                        + counted(2))
    app.set_version(2)

    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 0, result.stderr
    assert app.database.scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_id'::regclass")
    assert app.database.history()[-1][2:4] == ("applied", "no-transaction")


def test_function_with_a_dollar_quoted_body(counting_app):
    app = counting_app
    app.write("v2.sql", "CREATE FUNCTION twice(n int) RETURNS int AS $$\nDECLARE r int;\nBEGIN\n"
                        "    r := n * 2;\n    RETURN r;\nEND;\n$$ LANGUAGE plpgsql;\n" + counted(2))
    app.set_version(2)

    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 0, result.stderr
    assert app.database.scalar("SELECT twice(21)") == 42
    assert app.database.history()[-1][2:4] == ("applied", "transaction")


# -- crashes ---------------------------------------------------------------------

def test_killed_during_a_transactional_script_runs_it_once_next_time(counting_app):
    app = counting_app
    app.write("v1.sql", COUNTER + HOLD + "INSERT INTO hold VALUES (1);\n")
    app.write("v2.sql", counted(2, SLEEP_WHILE_HELD + "CREATE TABLE t2 (id int);\n"))
    app.set_version(2)
    kill_while_sleeping(app)
    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 0, result.stderr
    # Issue 24: a transactional script has no "running" row; killed mid-way it leaves
    # nothing behind (its transaction rolled back), so the history truthfully says it
    # never ran, and nothing is reported as interrupted.
    assert "interrupted" not in result.stdout
    assert applications(app.database) == {2: 1}
    assert app.database.version() == [2]
    outcomes = [row[2] for row in app.database.history() if row[0] == 2]
    assert outcomes == ["applied"]


def test_a_running_transactional_script_has_no_history_row_and_status_names_the_holder(counting_app):
    """Issue 24: no "running" row of its own; migrate_status names the lock holder's session."""
    app = counting_app
    app.write("v1.sql", COUNTER + HOLD + "INSERT INTO hold VALUES (1);\n")
    app.write("v2.sql", counted(2, SLEEP_WHILE_HELD + "CREATE TABLE t2 (id int);\n"))
    app.set_version(2)
    process = app.start("migrate_tables", "--yes")
    try:
        wait_for(sleeping(app.database))
        history_while_running = [row[2] for row in app.database.history() if row[0] == 2]
        status = app.manage("migrate_status")
    finally:
        app.database.execute("DELETE FROM hold")
        out, err = process.communicate(timeout=60)

    assert history_while_running == []
    assert status.returncode == 0, status.stderr
    running_now = [line for line in status.stdout.splitlines() if line.startswith("Running now:")]
    assert running_now and "server pid" in running_now[0], status.stdout
    assert "interrupted" not in status.stdout
    assert process.returncode == 0, out + err
    assert [row[2] for row in app.database.history() if row[0] == 2] == ["applied"]
    assert applications(app.database) == {2: 1}


def test_crash_between_script_commit_and_version_commit_is_repaired_not_rerun(counting_app):
    app = counting_app
    app.write("v2.sql", counted(2))
    app.write("v3.sql", counted(3))
    app.set_version(3)

    crashed = app.manage("migrate_tables", "--yes", "--to", "2",
                         env={"MIGRATE_TABLES_CRASH_AT": "after-script-commit"})
    assert crashed.returncode == -signal.SIGKILL
    assert app.database.version() == [0]  # v1 committed, the version row not yet

    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 0, result.stderr
    assert "the version table said 0 but version 1 was applied" in result.stdout
    assert "Upgrading database to version 1" not in result.stdout
    assert applications(app.database) == {1: 1, 2: 1, 3: 1}
    assert app.database.version() == [3]


def test_killed_outside_a_transaction_refuses_and_names_the_way_on(killed_outside_a_transaction):
    app = killed_outside_a_transaction
    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 2
    assert "v2.sql was interrupted while running outside a transaction" in result.stderr
    assert "1 of its 3 steps were committed" in result.stderr
    assert "--mark-applied 2" in result.stderr and "--retry 2" in result.stderr
    assert applications(app.database) == {2: 1}
    assert "t2" not in app.database.tables()


def test_mark_applied_after_finishing_by_hand(killed_outside_a_transaction):
    app = killed_outside_a_transaction
    app.database.execute("CREATE TABLE t2 (id int)")  # the operator finishes v2

    result = app.manage("migrate_tables", "--yes", "--mark-applied", "2")

    assert result.returncode == 0, result.stderr
    assert "recorded v2.sql as applied without running it" in result.stdout
    assert applications(app.database) == {2: 1, 3: 1}
    assert app.database.version() == [3]
    assert [row[2] for row in app.database.history() if row[0] == 2] == ["interrupted", "marked-applied"]


def test_retry_runs_the_whole_script_again(killed_outside_a_transaction):
    app = killed_outside_a_transaction
    app.database.execute("DELETE FROM applications")  # the operator undid the committed step

    result = app.manage("migrate_tables", "--yes", "--retry", "2")

    assert result.returncode == 0, result.stderr
    assert applications(app.database) == {2: 1, 3: 1}
    assert "t2" in app.database.tables()
    assert [row[2] for row in app.database.history() if row[0] == 2] == ["interrupted", "applied"]


def test_retry_of_a_script_that_was_not_interrupted_is_refused(counting_app):
    app = counting_app
    app.write("v2.sql", counted(2))
    app.set_version(2)

    result = app.manage("migrate_tables", "--yes", "--retry", "2")

    assert result.returncode == 2
    assert "--retry 2: version 2 is not an interrupted script" in result.stderr
    assert app.database.tables() == set()


# -- several servers at once -------------------------------------------------------

def test_eight_migrators_at_once_apply_every_script_exactly_once(counting_app):
    app = counting_app
    for version in range(2, 7):
        app.write("v%d.sql" % version, counted(version, "CREATE TABLE t%d (id int);\n" % version))
    app.set_version(6)

    processes = [app.start("migrate_tables", "--yes") for _ in range(8)]
    results = [(process.wait(timeout=120), process.communicate()) for process in processes]

    assert [code for code, _ in results] == [0] * 8, [err for _, (_, err) in results]
    assert applications(app.database) == {v: 1 for v in range(1, 7)}
    assert [(row[0], row[2]) for row in app.database.history()] == [(v, "applied") for v in range(1, 7)]
    assert app.database.version() == [6]
    outputs = [out for _, (out, _) in results]
    assert sum("Migrated from version 0 to 6" in out for out in outputs) == 1
    assert sum("DB is at correct version 6" in out for out in outputs) == 7


def test_waits_for_the_lock_and_gives_up_with_status_3(counting_app):
    app = counting_app
    from flask_migrate_tables.pg.lock import lock_key
    holder = app.database.connect()
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", (lock_key("version"),))
        started = time.monotonic()
        result = app.manage("migrate_tables", "--yes", "--lock-timeout", "1")
        waited = time.monotonic() - started
    finally:
        holder.close()

    assert result.returncode == 3
    assert "Waiting for another migration to finish" in result.stdout
    assert "another migration still holds the lock after 1s" in result.stderr
    assert waited < 30
    assert app.database.tables() == set()


# -- edited history ----------------------------------------------------------------

def test_changed_applied_script_is_refused_until_allowed(counting_app):
    app = counting_app
    app.write("v2.sql", counted(2))
    app.set_version(2)
    assert app.manage("migrate_tables", "--yes", "--to", "1").returncode == 0
    app.write("v1.sql", COUNTER + HOLD + counted(1) + "-- edited after it ran\n")

    refused = app.manage("migrate_tables", "--yes")

    assert refused.returncode == 2
    assert "v1.sql changed" in refused.stderr and "--allow-changed" in refused.stderr
    assert applications(app.database) == {1: 1}

    allowed = app.manage("migrate_tables", "--yes", "--allow-changed")

    assert allowed.returncode == 0, allowed.stderr
    assert "accepted v1.sql changed" in allowed.stdout
    assert applications(app.database) == {1: 1, 2: 1}
    assert (1, "v1.sql", "accepted-change") in [row[:3] for row in app.database.history()]
    assert app.manage("migrate_tables", "--yes").returncode == 0  # accepted once, for good


def test_missing_applied_script_is_refused(counting_app):
    app = counting_app
    app.write("v2.sql", counted(2))
    app.set_version(2)
    assert app.manage("migrate_tables", "--yes").returncode == 0
    (app.migration_dir / "v1.sql").unlink()

    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 2
    assert "v1.sql missing" in result.stderr


def test_crlf_checkout_is_not_an_edit(counting_app):
    app = counting_app
    assert app.manage("migrate_tables", "--yes").returncode == 0
    path = app.migration_dir / "v1.sql"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))

    result = app.manage("migrate_tables", "--yes")

    assert result.returncode == 0, result.stderr
    assert "DB is at correct version 1" in result.stdout
