"""myapp: a small Flask app whose schema is migrated forward with plain SQL files.

Raise `__db_version__` together with each new `sql/migration/vN.sql`.
"""
from flask import Flask

from .config import load_config
from .models import db

__db_version__ = 5


def create_app(**overrides):
    app = Flask(__name__)
    app.config.update(load_config(app.instance_path))
    app.config.update(overrides)
    db.init_app(app)

    from .views import bp
    app.register_blueprint(bp)
    return app
