"""A small shop: an app that is not the demo, for the install tests (tests/install).

Its own models, its own `Version`, `__db_version__` and scripts in `../sql/migration`
(the plugin's default folder: `sql/` beside the app package). The database URL is the
environment's DATABASE_URL. The flask command gets the plugin's commands from
`Migrator(...).init_app(app)`; `manage.py` gets them from Flask-Script.
"""
import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_migrate_tables import Migrator

__db_version__ = 2

db = SQLAlchemy()


class Version(db.Model):
    __tablename__ = "version"
    version_id = db.Column(db.Integer, primary_key=True)
    version = db.Column(db.Integer)


class Product(db.Model):
    __tablename__ = "products"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.Text, nullable=False)
    price_cents = db.Column(db.Integer, nullable=False)


class Order(db.Model):
    __tablename__ = "orders"
    id = db.Column(db.Integer, primary_key=True)
    product_id = db.Column(db.Integer, db.ForeignKey("products.id"), nullable=False)
    quantity = db.Column(db.Integer, nullable=False, server_default="1")


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    app.config["SQLALCHEMY_TRACK_MODIFICATIONS"] = False
    db.init_app(app)
    Migrator(db, Version, __db_version__).init_app(app)
    return app
