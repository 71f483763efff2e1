"""What differs between the supported stacks (requirements/*.txt), checked on whichever one is installed."""
import importlib.util

import pytest

from myapp import __db_version__


def test_the_installed_flask_script_is_the_one_imported():
    from flask_migrate_tables import commands

    expected = "flask_script" if importlib.util.find_spec("flask_script") else "flask_script_ng"
    assert commands.Manager.__module__.split(".")[0] == expected


def test_a_plain_postgresql_url_is_read_as_psycopg2(monkeypatch):
    """SQLAlchemy 2.1 would take postgresql:// for psycopg 3."""
    from myapp import create_app
    from myapp.models import db

    monkeypatch.setenv("DATABASE_URL", "postgresql://someone@localhost:1/nowhere")
    app = create_app()
    with app.app_context():
        assert db.engine.dialect.driver == "psycopg2"
        db.engine.dispose()


def test_outside_an_app_context_the_error_is_one_line(monkeypatch):
    """Flask-SQLAlchemy 3 has no db.engine outside an app context, and Flask explains it at length."""
    from myapp import create_app
    from flask_migrate_tables import Migrator
    from flask_migrate_tables.errors import ConfigurationError
    from myapp.models import Version, db

    monkeypatch.setenv("DATABASE_URL", "postgresql://someone@localhost:1/nowhere")
    create_app()
    with pytest.raises(ConfigurationError) as raised:
        Migrator(db, Version, __db_version__, sql_dir="sql").status()
    assert "\n" not in str(raised.value)
    assert str(raised.value).startswith("no usable database URL: ")
