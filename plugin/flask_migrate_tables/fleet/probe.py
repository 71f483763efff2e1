"""The one cheap read that tells a database is at the target with nothing to do.

One query on one short connection, no lock, nothing written. It says "at the target"
only when a full run would change nothing either (reconcile.nothing_to_do): exactly one
version row, at the target; the history's latest row of every version applied (nothing
running, failed or interrupted); the latest applied version the target; every applied
script's recorded checksum that of the file on disk; the tables where the run would look
(the schema the run decides); no repeatable script due (books/repeatables.py, its rows
left out of the versioned books). Anything else (no tables yet, another state) is "not
known to be done", and the full `migrate()` reads, judges and runs as for one database.
"""
import json
from collections import namedtuple

import psycopg2
from psycopg2 import errorcodes, sql

from ..books.history import APPLIED_OUTCOMES
from ..books.repeatables import due_count_sql, due_query
from ..pg import connection as conn
from ..source.files import checksum, read_script

Probe = namedtuple("Probe", "done version")
Probe.__doc__ = """done: at the target with nothing to do; version: the version row's value when
it could be read (None: no version table, or not one row)."""

_QUERY = """
WITH latest AS (
    SELECT DISTINCT ON (version) version, outcome, checksum FROM {history} WHERE mode <> 'repeatable'
    ORDER BY version, id DESC),
base AS (
    SELECT coalesce(max(version) FILTER (WHERE outcome = 'baseline'), 0) AS version FROM {history})
SELECT
    (SELECT array_agg({column}) FROM {version}),
    (SELECT max(version) FROM latest WHERE outcome = ANY (%(applied)s)),
    (SELECT count(*) FROM latest WHERE NOT outcome = ANY (%(applied)s)),
    (SELECT count(*) FROM latest, base WHERE latest.outcome = ANY (%(applied)s)
        AND latest.checksum IS NOT NULL AND latest.version > base.version
        AND latest.checksum IS DISTINCT FROM (%(sums)s::jsonb ->> latest.version::text)),
    (SELECT count(DISTINCT c.relnamespace) = 1 AND min(n.nspname) = {schema}
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid IN (%(history_name)s::regclass, %(version_name)s::regclass)),
    {due}
"""


class Prober:
    """The probe of one fleet: the query and the scripts' checksums made once, used per database."""

    def __init__(self, scripts, version_model, history_table, target, repeatables=()):
        table = version_model.__table__
        schema = table.schema
        self.target = target

        def quoted(name):
            return sql.Identifier(schema, name) if schema else sql.Identifier(name)
        self.names = (quoted(history_table), quoted(table.name))
        # The repeatable scripts due (their own query, composed in): 0 when there are none.
        due, self.due_params = due_query(self.names[0], repeatables) if repeatables else (None, {})
        self.query = sql.SQL(_QUERY).format(
            history=self.names[0], version=self.names[1], column=sql.Identifier("version"),
            schema=sql.Literal(schema) if schema else sql.SQL("pg_catalog.current_schema()"),
            due=sql.SQL(due_count_sql()).format(due=due) if due is not None else sql.SQL("0"))
        self.sums = json.dumps({str(s.version): checksum(read_script(s.path)) for s in scripts})
        self.applied = list(APPLIED_OUTCOMES)

    def probe(self, url):
        """Probe the database at `url` (a SQLAlchemy URL); raises what connecting raises."""
        connection = conn.connect(conn.connect_params(url))
        try:
            params = {"applied": self.applied, "sums": self.sums,
                      "history_name": self.names[0].as_string(connection),
                      "version_name": self.names[1].as_string(connection), **self.due_params}
            with connection.cursor() as cursor:
                try:
                    cursor.execute(self.query, params)
                except psycopg2.Error as error:
                    if error.pgcode in (errorcodes.UNDEFINED_TABLE, errorcodes.UNDEFINED_COLUMN):
                        return Probe(False, None)  # a new database, or not the recipe's tables
                    raise
                stored, applied, unfinished, changed, same_schema, due = cursor.fetchone()
        finally:
            connection.close()
        version = stored[0] if stored and len(stored) == 1 else None
        done = (version == self.target and applied == self.target and not unfinished
                and not changed and bool(same_schema) and not due)
        return Probe(done, version)
