"""Where the database is: DATABASE_URL, the recipe's DB_* settings, or the embedded default."""
import os
import sys

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover - Python 2 apps
    from urllib import quote

from flask_migrate_tables.pg.connection import normalise_url  # noqa: F401 (re-exported)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


# Commands that never touch the app's own database: they get the URLs they work on as
# options (diff_schema) or make scratch databases (make_migration, check_migrations).
# For them, and for every help (`--help`, `flask --help`), no embedded server is started.
WITHOUT_APP_DATABASE = {"diff_schema", "make_migration", "check_migrations"}
# The URL the app gets then: never connected to; a use would fail to connect, not start a server.
UNUSED_URL = "postgresql+psycopg2://unused@/unused?host=/nonexistent-no-app-database"
_FLASK_OPTIONS_WITH_VALUES = {"-A", "--app", "-e", "--env-file"}


def running_command(argv=None):
    """The command `manage.py` or `flask` was asked to run (dashes as underscores), or None."""
    argv = sys.argv if argv is None else argv
    skip = False
    for argument in argv[1:]:
        if skip:
            skip = False
        elif argument in _FLASK_OPTIONS_WITH_VALUES:
            skip = True
        elif not argument.startswith("-"):
            return argument.replace("-", "_")
    return None


def _command_line(argv):
    """Whether the program is `manage.py` or the flask command (`flask`, `python -m flask`)."""
    program = argv[0] if argv else ""
    name = os.path.basename(program)
    return name in ("manage.py", "flask") or (
        name == "__main__.py" and os.path.basename(os.path.dirname(program)) == "flask")


def touches_database(argv=None):
    """Whether the program may use the app's database: not a help of `manage.py` or `flask`
    (`--help`, `-?`, no command), not a command in WITHOUT_APP_DATABASE; anything else (a
    script of the user's, a shell, a WSGI server) may."""
    argv = sys.argv if argv is None else argv
    command = running_command(argv)
    if command is None:
        return not _command_line(argv)
    if command in WITHOUT_APP_DATABASE:
        return False
    given = argv[1:argv.index("--")] if "--" in argv else argv[1:]
    return not ("--help" in given or "-?" in given)  # Flask-Script's and click's (-h: a host)


def database_url(instance_path, environ=os.environ, argv=None):
    url = environ.get("DATABASE_URL") or url_from_settings(environ)
    if url:
        return normalise_url(url)
    if not touches_database(argv):
        return UNUSED_URL
    from flask_migrate_tables.embedded import start_embedded
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
