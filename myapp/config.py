"""Where the database is: DATABASE_URL, the recipe's DB_* settings, or the embedded default."""
import os

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover - Python 2 apps
    from urllib import quote

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def normalise_url(url):
    """Name psycopg2 explicitly: SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def url_from_settings(environ):
    """The recipe's DB_NAME, DB_USER, DB_PASSWORD, DB_HOST, DB_PORT as one URL, or None."""
    if not environ.get("DB_NAME"):
        return None
    credentials = ""
    if environ.get("DB_USER"):
        credentials = quote(environ["DB_USER"], safe="")
        if environ.get("DB_PASSWORD"):
            credentials += ":" + quote(environ["DB_PASSWORD"], safe="")
        credentials += "@"
    host = environ.get("DB_HOST", "localhost")
    port = environ.get("DB_PORT")
    name = quote(environ["DB_NAME"], safe="")
    if host.startswith("/"):  # a unix socket directory goes in the query, as libpq takes it
        query = "?host=" + quote(host, safe="") + ("&port=" + port if port else "")
        return "postgresql+psycopg2://%s/%s%s" % (credentials, name, query)
    return "postgresql+psycopg2://%s%s%s/%s" % (credentials, host, ":" + port if port else "", name)


def database_url(instance_path, environ=os.environ):
    url = environ.get("DATABASE_URL") or url_from_settings(environ)
    if url:
        return normalise_url(url)
    from .embedded import start_embedded
    return start_embedded(os.path.join(instance_path, "pgdata"), "myapp")


def load_config(instance_path, environ=os.environ, with_database=True):
    """The app's settings; `with_database=False` when the caller gives the URL itself
    (no embedded server is started for a URL that would not be used)."""
    config = {
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "SQL_DIR": environ.get("SQL_DIR") or os.path.join(REPO_ROOT, "sql"),
    }
    if with_database:
        config["SQLALCHEMY_DATABASE_URI"] = database_url(instance_path, environ)
    return config
