"""A large script that runs whole goes to the server in pieces (runner._pieces).

The runner is used in-process with tiny sizes, so that every cut rule is hit
by a few lines of SQL.
"""
import pytest

from myapp.migrate import runner
from myapp.migrate.errors import ScriptFailed
from myapp.migrate.history import History
from myapp.migrate.lock import MigrationLock
from myapp.migrate.lockwait import policy
from myapp.migrate.runner import ScriptRunner, _pieces
from myapp.migrate.session import Session, read_start
from myapp.migrate.scripts import Script
from myapp.migrate.statements import plan_script

WHO = ("tester", "localhost", 1)


@pytest.fixture
def small_pieces(monkeypatch):
    monkeypatch.setattr(runner, "LARGE_SCRIPT", 10)
    monkeypatch.setattr(runner, "PIECE", 40)
    sent = []
    execute = runner._execute

    def spy(cursor, query):
        if isinstance(query, bytes):  # the script's pieces (the runner's own statements are text)
            sent.append(query)
        return execute(cursor, query)
    monkeypatch.setattr(runner, "_execute", spy)
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
    monkeypatch.setattr(runner, "PIECE", 10)
    data = b"SELECT 1;\nSELECT 22222222;\nSELECT 3 -- not here;\nSELECT 4;\nSELECT 5;"
    pieces = [data[start:end] for start, end in _pieces(data)]
    assert b"".join(pieces) == data
    assert pieces == [b"SELECT 1;\nSELECT 22222222;\n",
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
