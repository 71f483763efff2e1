"""The diff engine, behind one function: the SQL that turns one database's schema into another's.

The engine is pgmig (the `authoring` extra: Python 3.11+ and psycopg 3). It is
imported only when a diff is wanted, so the runtime commands never need it.
To use another engine, replace `schema_diff` (and `engine_name`); nothing else
in the project knows which engine it is.
"""
from sqlalchemy.engine.url import make_url

from ..pg.connection import connect_params, redact
from ..errors import ConfigurationError, UsageError

INSTALL_HINT = 'pip install "Flask-Migrate-Tables[authoring]"'


def require_engine():
    """Raise ConfigurationError saying how to install the engine when it is missing."""
    try:
        import pgmig  # noqa: F401
    except ImportError:
        raise ConfigurationError(
            "writing and checking migrations needs pgmig (Python 3.11+), which is not installed; "
            "install the authoring extra: %s" % INSTALL_HINT)


def engine_name():
    """The engine and its version, for the header of a generated script."""
    require_engine()
    try:
        from importlib.metadata import version
        return "pgmig %s" % version("pgmig")
    except Exception:
        return "pgmig"


def libpq_dsn(url):
    """A libpq connection string for a URL as this project writes them.

    `postgresql+psycopg2://user@/name?host=/socket/dir` (SQLAlchemy's form),
    `postgresql://...` and `postgres://...` all work; the keyword form keeps
    a socket directory or a password with odd characters intact.
    """
    if isinstance(url, str):
        try:
            url = make_url(url)
        except Exception:
            raise UsageError("not a database URL (postgresql://user@host:port/database)")
    params = connect_params(url)
    return " ".join("%s='%s'" % (key, str(value).replace("\\", "\\\\").replace("'", "\\'"))
                    for key, value in sorted(params.items()))


def schema_diff(source_url, target_url):
    """The SQL that turns the schema of the database at `source_url` into that at `target_url`.

    Returns "" when the schemas are the same. Raises ConfigurationError when a
    database cannot be reached (the message never holds a password) and
    UsageError when a schema holds something the engine cannot diff.
    """
    require_engine()
    import pgmig

    source, target = libpq_dsn(source_url), libpq_dsn(target_url)
    try:
        text = pgmig.generate(source=source, target=target)
    except pgmig.PgmigDbConnectionError as error:
        failures = [(label, failure) for label, failure in (
            ("source", error.source_error), ("target", error.target_error)) if failure is not None]
        reasons = ["%s database: %s" % (label, _first_line(failure.driver_error))
                   for label, failure in failures]
        raise ConfigurationError(_clean("cannot connect to the %s" % "; cannot connect to the ".join(
            reasons), source_url, target_url))
    except pgmig.PgmigUnsupportedError as error:
        raise UsageError(_clean("pgmig cannot compare these schemas: %s" % _first_line(error),
                                source_url, target_url))
    except pgmig.PgmigError as error:
        raise ConfigurationError(_clean("pgmig failed: %s" % _first_line(error), source_url,
                                        target_url))
    text = text.strip()
    return text + "\n" if text else ""


def _first_line(error):
    text = str(error).strip()
    if text.startswith("connection failed: "):
        text = text[len("connection failed: "):]
    return " ".join(text.split()) if text else repr(error)


def _clean(message, *urls):
    for url in urls:
        message = redact(message, connect_params(make_url(url) if isinstance(url, str) else url))
    return message
