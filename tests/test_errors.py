"""Expected errors end with one clear line and a non-zero exit, never a traceback or a password."""
from tests.conftest import run_manage
from tests.helpers import REPO_ROOT

SECRET = "s3cr3t-Pa55word"


def test_unreachable_database_is_one_line_without_the_password(database):
    url = "postgresql://someone:%s@127.0.0.1:1/nowhere" % SECRET
    result = run_manage(REPO_ROOT, ["migrate_tables", "--yes"], database, env={"DATABASE_URL": url})

    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "cannot connect to database nowhere" in result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_missing_database_is_one_line(database):
    url = database.url.replace(database.name, database.name + "_missing")
    result = run_manage(REPO_ROOT, ["migrate_tables", "--yes"], database, env={"DATABASE_URL": url})

    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_url_is_a_configuration_error(database):
    result = run_manage(REPO_ROOT, ["migrate_tables", "--yes"], database,
                        env={"DATABASE_URL": "mysql://root:%s@localhost/x" % SECRET})

    assert result.returncode == 2
    assert "error:" in result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_password_is_one_line_without_the_password(database, password_role):
    from tests.helpers import connect_params
    role, _ = password_role
    params = connect_params(database.url)
    url = "postgresql://%s:%s@/%s?host=%s&port=%s" % (
        role, SECRET, params["dbname"], params["host"], params.get("port", 5432))
    result = run_manage(REPO_ROOT, ["migrate_tables", "--yes"], database, env={"DATABASE_URL": url})

    assert result.returncode == 2
    assert "password authentication failed for user \"%s\"" % role in result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert database.tables() == set()
