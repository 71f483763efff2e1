"""myapp: a small Flask app whose schema is migrated forward with plain SQL files.

Raise `__db_version__` together with each new `sql/migration/vN.sql`.
"""
from flask import Flask

from .config import load_config
from .models import db

__db_version__ = 5


def create_app(**overrides):
    app = Flask(__name__)
    app.config.update(load_config(app.instance_path,
                                  with_database="SQLALCHEMY_DATABASE_URI" not in overrides))
    app.config.update(overrides)
    try:
        db.init_app(app)
    except Exception as error:  # Flask-SQLAlchemy 3 makes the engine here, 2 on first use
        from flask_migrate_tables.pg.connection import url_problem
        from flask_migrate_tables.errors import ConfigurationError
        raise ConfigurationError("no usable database URL: %s" % url_problem(error))

    from .views import bp
    app.register_blueprint(bp)

    if getattr(app, "cli", None) is not None:  # `flask migrate-tables` (Flask's own click CLI)
        from flask_migrate_tables import Migrator
        from .models import Version
        Migrator(db, Version, __db_version__).init_app(app)
    return app
