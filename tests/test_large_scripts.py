"""A large script that runs whole goes to the server in pieces (wire.pieces).

The runner is used in-process with tiny sizes, so that every cut rule is hit
by a few lines of SQL. At the end, through manage.py: a large script that runs
whole is sent as the bytes on disk, never decoded whole (migrator._plain_large).
"""
import pytest

from flask_migrate_tables.apply import runner, wire
from flask_migrate_tables.errors import ScriptFailed
from flask_migrate_tables.books.history import History
from flask_migrate_tables.pg.lock import MigrationLock
from flask_migrate_tables.pg.lockwait import policy
from flask_migrate_tables.apply.runner import ScriptRunner
from flask_migrate_tables.apply.wire import pieces
from flask_migrate_tables.pg.session import Session, read_start
from flask_migrate_tables.source.files import Script, checksum
from flask_migrate_tables.source.statements import plan_script
from tests.helpers import failed_with_one_line, succeeded

WHO = ("tester", "localhost", 1)


@pytest.fixture
def small_pieces(monkeypatch):
    monkeypatch.setattr(runner, "LARGE_SCRIPT", 10)
    monkeypatch.setattr(wire, "PIECE", 40)
    sent = []
    execute = wire.execute

    def spy(cursor, query):
        if isinstance(query, bytes):  # the script's pieces (the runner's own statements are text)
            sent.append(query)
        return execute(cursor, query)
    monkeypatch.setattr(wire, "execute", spy)
    return sent


def apply(database, text, tmp_path):
    path = tmp_path / "v1.sql"
    path.write_text(text)
    connection = database.connect()
    try:
        start = read_start(connection)
        session = Session(connection, start, MigrationLock(connection, 1))
        assert session.lock.try_acquire()
        history = History(connection, "version_history", start.schema)
        history.create()
        script_runner = ScriptRunner(connection, history, WHO, session, policy())
        plan = plan_script(text, "v1.sql")
        script_runner.run(Script(1, str(path)), script_runner.encode(text, plan), "x", plan)
    finally:
        connection.close()


def test_pieces_end_after_a_semicolon_that_ends_a_line(monkeypatch):
    monkeypatch.setattr(wire, "PIECE", 10)
    data = b"SELECT 1;\nSELECT 22222222;\nSELECT 3 -- not here;\nSELECT 4;\nSELECT 5;"
    parts = [data[start:end] for start, end in pieces(data)]
    assert b"".join(parts) == data
    assert parts == [b"SELECT 1;\nSELECT 22222222;\n",
                     b"SELECT 3 -- not here;\nSELECT 4;\n", b"SELECT 5;"]


def test_a_large_script_in_pieces_does_what_it_says(database, tmp_path, small_pieces):
    text = "CREATE TABLE big (id int PRIMARY KEY, note text);\n" + "".join(
        "INSERT INTO big VALUES (%d, 'row; %d');\n" % (i, i) for i in range(1, 21))
    apply(database, text, tmp_path)
    assert len(small_pieces) > 5 and "".join(q.decode() for q in small_pieces) == text
    assert database.scalar("SELECT count(*) FROM big") == 20
    assert database.query("SELECT outcome FROM version_history") == [("applied",)]


def test_a_cut_inside_a_function_body_sends_the_whole_script_again(database, tmp_path, small_pieces):
    text = ("CREATE TABLE t (a int);\n"
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$\n"
            "  INSERT INTO t VALUES (1);\n  INSERT INTO t VALUES (2);\n"
            "  INSERT INTO t VALUES (3);\n  SELECT 7;\n$$;\n"
            "SELECT f();\n")
    apply(database, text, tmp_path)
    assert small_pieces[0].endswith(b"INSERT INTO t VALUES (1);\n")  # a cut in the body
    assert small_pieces[-1] == text.encode()  # a piece failed, the whole script ran
    assert database.scalar("SELECT count(*) FROM t") == 3
    assert database.scalar("SELECT f()") == 7


def test_a_semicolon_in_a_line_comment_is_never_a_cut(database, tmp_path, small_pieces):
    text = ("SELECT 'long enough to need a cut soon';\n"
            "CREATE SCHEMA s -- one statement with the next line;\n"
            "CREATE TABLE t (a int);\n")
    apply(database, text, tmp_path)
    assert database.scalar("SELECT to_regclass('s.t') IS NOT NULL") is True
    assert database.scalar("SELECT to_regclass('public.t') IS NULL") is True


def test_an_error_in_a_later_piece_names_its_line_and_rolls_everything_back(
        database, tmp_path, small_pieces):
    text = "CREATE TABLE t (a int);\n" + "".join(
        "INSERT INTO t VALUES (%d);\n" % i for i in range(10)) + "INSERT INTO nowhere VALUES (1);\n"
    with pytest.raises(ScriptFailed) as failed:
        apply(database, text, tmp_path)
    assert "v1.sql: line 12: SQLSTATE 42P01" in str(failed.value)
    assert database.scalar("SELECT to_regclass('t') IS NULL") is True
    assert database.query("SELECT outcome FROM version_history") == [("failed",)]


# -- a large script that runs whole is sent as its bytes on disk (migrator._plain_large) ----------

def _data_script(rows, tail=""):
    """Over 1 MB of INSERTs into table big (and `tail` at the end)."""
    body = "".join("INSERT INTO big VALUES (%d, '%s');\n" % (i, "x" * 40) for i in range(1, rows + 1))
    return "CREATE TABLE big (id int PRIMARY KEY, note text);\n" + body + tail


def test_a_large_plain_script_runs_from_its_bytes_and_records_the_text_checksum(counting_app):
    app = counting_app
    text = _data_script(25000) + "-- all rows are in: café\n"
    assert len(text.encode()) > runner.LARGE_SCRIPT and "\r" not in text
    app.write("v2.sql", text)
    app.set_version(2)

    succeeded(app.manage("migrate_tables", "--yes"))

    assert app.database.scalar("SELECT count(*) FROM big") == 25000
    # The checksum recorded is the one of the text, as for any other script.
    assert app.database.query("SELECT checksum, outcome FROM version_history WHERE version = 2") == [
        (checksum(text), "applied")]
    assert app.database.version() == [2]
    succeeded(app.manage("migrate_status", "--check"))


def test_an_error_near_the_end_of_a_large_plain_script_names_its_line(counting_app):
    app = counting_app
    text = _data_script(25000, "INSERT INTO big VALUES (1, 'a duplicate key');\n")
    app.write("v2.sql", text)
    app.set_version(2)

    line = failed_with_one_line(app.manage("migrate_tables", "--yes"), 1)

    assert "v2.sql" in line and "SQLSTATE 23505" in line and "rolled back" in line, line
    assert app.database.scalar("SELECT to_regclass('big') IS NULL")
    assert app.database.version() == [1]


@pytest.mark.parametrize("tail, why", [
    ("SELECT 1;\x00\n", "NUL"),
    ("SELECT 'caf\xe9';\n", "not UTF-8"),
])
def test_a_large_script_with_bad_bytes_is_refused_before_anything_runs(counting_app, tail, why):
    app = counting_app
    succeeded(app.manage("migrate_tables", "--yes"))
    rows = 25000
    text = _data_script(rows, tail)
    app.write("v2.sql", text.encode("latin-1") if why == "not UTF-8" else text)
    app.set_version(2)
    before = app.database.catalog()

    line = failed_with_one_line(app.manage("migrate_tables", "--yes"), 2)

    assert "v2.sql" in line and "line %d" % (rows + 2) in line, line
    assert (why == "NUL") == ("NUL character" in line) and (why == "NUL" or "UTF-8" in line), line
    assert app.database.catalog() == before and app.database.version() == [1]


def test_a_large_script_that_needs_splitting_still_runs_in_steps(counting_app):
    app = counting_app
    text = _data_script(25000, "CREATE INDEX CONCURRENTLY big_note_idx ON big (note);\n")
    app.write("v2.sql", text)
    app.set_version(2)

    result = succeeded(app.manage("migrate_tables", "--yes"))

    assert "in 2 steps" in result.stdout, result.stdout
    assert app.database.scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_note_idx'::regclass")
