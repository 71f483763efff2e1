"""The repeatable scripts applied to a scratch database built from the models.

Side A of make_migration and check_migrations (and drift's build) gets them from
the runner itself, as migrate_tables runs them (build.build_from_migrations); side B
gets them here, after create_all: what a repeatable file defines is on both sides,
so it is never written into a vN.sql nor reported as a difference. Each file runs
whole in one transaction, in dependency order (source/repeatables.py), on a
connection of its own to the scratch database.
"""
from sqlalchemy.engine.url import make_url

from ..errors import ScriptFailed
from ..pg import connection as conn
from ..source.repeatables import discover_repeatables


def apply_repeatables(url, migration_dir, what):
    """Run every repeatable script under `migration_dir` on the database at `url`; how many ran.

    `what` names the build in a failure's line ("version 3 from the migrations").
    """
    repeatables = discover_repeatables(migration_dir)
    if not repeatables:
        return 0
    import psycopg2

    connection = conn.connect(conn.connect_params(make_url(url)))
    try:
        for repeatable in repeatables:
            plan = repeatable.plan
            text = plan.prepared.text if plan.prepared is not None else repeatable.text
            try:
                with connection.cursor() as cursor:
                    cursor.execute("BEGIN")
                    cursor.execute(text)
                    cursor.execute("COMMIT")
            except psycopg2.Error as error:  # its transaction ends with the connection
                raise ScriptFailed("building %s on a scratch database failed: %s: SQLSTATE %s: %s"
                                   % (what, repeatable.filename, error.pgcode,
                                      " ".join(str(error).split())))
    finally:
        connection.close()
    return len(repeatables)
