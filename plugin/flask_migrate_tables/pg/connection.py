"""The scripts' psycopg2 connection, made from the same URL Flask-SQLAlchemy uses.

Deriving it from `db.engine.url` means the version row (written through
db.session) and the scripts can never land in two different databases.
"""
import getpass
import os
import re
import socket

import psycopg2

from ..errors import ConfigurationError
from ..redact import mask_text, masked, redact  # noqa: F401 (conn.masked, conn.redact for callers)

APPLICATION_NAME = "migrate_tables"


def normalise_url(url):
    """Name psycopg2 explicitly: SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def connect_params(url):
    """psycopg2.connect() keyword arguments for a SQLAlchemy URL."""
    if not url.drivername.startswith("postgres"):
        raise ConfigurationError("the database URL is for %s; migrate_tables needs PostgreSQL"
                                 % url.drivername)
    params = {key: value for key, value in (
        ("host", url.host), ("port", url.port), ("user", url.username),
        ("password", url.password), ("dbname", url.database)) if value is not None}
    # Query arguments (host=/run/postgresql, sslmode=...) are libpq's own.
    for key, value in dict(url.query).items():
        params[key] = value if isinstance(value, str) else value[-1]
    return params


def url_problem(error):
    """Why a URL is unusable, in one line that never echoes the URL (it may hold a password)."""
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return mask_text(re.sub(r"'[^']*'|\"[^\"]*\"", "(not shown)", reason))


# The driver modules SQLAlchemy loads for PostgreSQL URLs, and the package that brings each.
DRIVER_PACKAGES = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary", "pg8000": "pg8000",
                   "asyncpg": "asyncpg", "psycopg2cffi": "psycopg2cffi"}


def unusable_url(error):
    """One line for a database URL the app's SQLAlchemy cannot use, naming the fix when a
    driver is missing (SQLAlchemy 2.1 reads a plain postgresql:// as psycopg 3)."""
    missing = getattr(error, "name", None) if isinstance(error, ImportError) else None
    if missing in DRIVER_PACKAGES:
        return ("the database URL needs the driver %s, which is not installed: pip install %s, or "
                "name the installed one in the URL (postgresql+psycopg2://...)"
                % (missing, DRIVER_PACKAGES[missing]))
    # Flask 2.2+ explains a missing app context over several lines: keep the first.
    return "no usable database URL: %s" % url_problem(error)


def who():
    """OS user, host and pid of this migrator, for the history and for waiters."""
    try:
        os_user = getpass.getuser()
    except Exception:  # no login name in some containers
        os_user = str(os.getuid())
    return os_user, socket.gethostname(), os.getpid()


def connect(params):
    """Open the autocommit connection the scripts run on."""
    os_user, host, pid = who()
    try:
        connection = psycopg2.connect(
            application_name="%s %s@%s pid %d" % (APPLICATION_NAME, os_user, host, pid)[:63],
            **params)
    except psycopg2.Error as error:
        reason = redact(str(error).strip().splitlines()[0] if str(error).strip() else repr(error), params)
        host = str(params.get("host", "localhost"))
        if "@" in host:  # the URL's password had an @ that was not written %40
            secret, host = host.rsplit("@", 1)
            reason = reason.replace(secret, "***")
            host = "%s (is there an unencoded @ in the URL's password? write it as %%40)" % host
        raise ConfigurationError("cannot connect to database %s on %s: %s" % (
            params.get("dbname", "?"), host, mask_text(reason)))
    connection.autocommit = True
    return connection


def read_rows(url, queries):
    """{name: rows} of each query in `queries` ({name: SQL}), run on one read-only connection
    to the database at `url` (a URL string, password and all)."""
    from sqlalchemy.engine.url import make_url
    connection = connect(connect_params(make_url(url)))
    try:
        connection.set_session(readonly=True)
        found = {}
        with connection.cursor() as cursor:
            for name, query in queries.items():
                cursor.execute(query)
                found[name] = cursor.fetchall()
        return found
    finally:
        connection.close()
