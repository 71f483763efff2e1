"""Where a Migrator's inputs come from: the scripts' folder, the database URLs, the backup folder,
the session that commits the Version row; read from the Flask app (AppSettings) or given (UrlSettings)."""
import os

from flask import current_app
from sqlalchemy import text as sql_text

from .errors import ConfigurationError
from .pg import connection as conn


class AppSettings:
    """The Flask glue: each value read from the app (its config, its `db`) when a command runs."""

    def __init__(self, db, sql_dir=None):
        self.db = db
        self._sql_dir = sql_dir

    @property
    def sql_dir(self):
        """`sql_dir=`, else the app's SQL_DIR setting, else `sql/` beside the app's package."""
        return self._sql_dir or current_app.config.get("SQL_DIR") or default_sql_dir(current_app)

    @property
    def url(self):
        try:
            return self.db.engine.url
        except Exception as error:  # no URI configured, no app context, bad URL, no driver
            raise ConfigurationError(conn.unusable_url(error))

    @property
    def direct_url(self):
        """MIGRATION_DATABASE_URL (app config or environment): the scripts' own connection, or None."""
        try:
            configured = current_app.config.get("MIGRATION_DATABASE_URL")
        except RuntimeError:  # no app context: the environment alone
            configured = None
        return parse_direct_url(configured or os.environ.get("MIGRATION_DATABASE_URL"))

    @property
    def instance_path(self):
        return current_app.instance_path

    @property
    def engine(self):
        return self.db.engine

    @property
    def session(self):
        return self.db.session

    def app_identity(self):
        """(system_identifier, database name) of the app's own URL, read through its engine."""
        with self.db.engine.connect() as connection:
            row = connection.execute(sql_text(
                "SELECT (SELECT system_identifier FROM pg_catalog.pg_control_system()),"
                " pg_catalog.current_database()")).fetchone()
        return tuple(row)

    def close(self):
        pass


class OwnSession:
    """A session of these settings' own on `self.engine`, made on first use: the Version row's."""

    _session = None

    @property
    def session(self):
        if self._session is None:
            from sqlalchemy.orm import Session
            self._session = Session(bind=self.engine)
        return self._session

    def close_session(self):
        if self._session is not None:
            self._session.close()
        self._session = None


class UrlSettings(OwnSession):
    """Given values, no Flask app: one database URL (scripts and Version row), a scripts folder.

    Its own engine and session, made on first use; `close()` disposes of them.
    """

    direct_url = None

    def __init__(self, url, sql_dir, instance_path=None, engine_options=None):
        from sqlalchemy.engine.url import make_url
        self.url = make_url(url) if isinstance(url, str) else url
        self.sql_dir = sql_dir
        self.instance_path = instance_path
        self.engine_options = engine_options or {}
        self._engine = None

    @property
    def engine(self):
        if self._engine is None:
            from sqlalchemy import create_engine
            self._engine = create_engine(self.url, **self.engine_options)
        return self._engine

    def close(self):
        self.close_session()
        if self._engine is not None:
            self._engine.dispose()
        self._engine = None


def default_sql_dir(app):
    """`<the folder holding the app's package>/sql`, where the recipe lays the scripts out."""
    return os.path.join(os.path.dirname(app.root_path), "sql")


def parse_direct_url(configured):
    """MIGRATION_DATABASE_URL's text as a URL, or None when not set."""
    if not configured:
        return None
    from sqlalchemy.engine.url import make_url
    try:
        return make_url(conn.normalise_url(configured))
    except Exception:
        raise ConfigurationError("MIGRATION_DATABASE_URL is not a usable database URL; "
                                 "write it as postgresql://user:password@host:port/name")


def migration_url(settings):
    """The scripts' URL: MIGRATION_DATABASE_URL, else the app's (a broken app URL is reported first)."""
    app_url = settings.url
    return settings.direct_url or app_url
