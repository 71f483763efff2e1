"""A second, minimal Flask-Script app that uses myapp's migration machinery.

Its own models, its own Version model, its own SQL directory and its own
__db_version__: the tests copy it and edit all of them.
"""
import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

__db_version__ = 2

db = SQLAlchemy()


class Version(db.Model):
    __tablename__ = "version"
    version_id = db.Column(db.Integer, primary_key=True)
    version = db.Column(db.Integer)


class Note(db.Model):
    __tablename__ = "notes"
    id = db.Column(db.Integer, primary_key=True)
    text = db.Column(db.Text, nullable=False)


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    app.config["SQLALCHEMY_TRACK_MODIFICATIONS"] = False
    db.init_app(app)
    return app
