"""The SQL that turns one schema into another, as make_migration, check_migrations and diff_schema write it.

    generate()   refuse what is not supported (table inheritance), then the engine's SQL
                 (schema_diff.py) with its known mistakes made right (repair.py), then what
                 it does not write at all (supplement.py)

Whether the result is right is not judged here: snapshot.py compares the
databases independently of all three.
"""
from collections import namedtuple

from ..pg import connection as conn
from ..errors import UsageError
from .repair import repair
from .schema_diff import schema_diff
from .supplement import supplement

Generated = namedtuple("Generated", "sql engine_sql added_sql")

SUPPLEMENT_HEADER = ("-- Grants, comments, statistics targets, CLUSTER ON and sequence types the diff "
                     "engine does not write:\n")

# Legacy table inheritance (INHERITS; partitions are fine).
_INHERITANCE = """
SELECT c.oid::regclass::text, p.oid::regclass::text FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
WHERE NOT c.relispartition AND c.relkind IN ('r', 'p', 'f') AND p.relkind IN ('r', 'p', 'f')
ORDER BY 1, 2 LIMIT 1
"""


class Unsupported(UsageError):
    """A schema holds something the generated migrations do not cover."""


def refuse_unsupported(*urls, labels=None):
    """Raise Unsupported naming the first table that inherits (INHERITS) in any of the databases.

    pgmig refuses some inheritance with its own words and diffs other cases
    wrongly (the columns children inherit), so every one is refused here.
    """
    labels = labels or ["the %s database" % n for n in ("first", "second", "third")]
    for url, label in zip(urls, labels):
        found = conn.read_rows(url, {"inherits": _INHERITANCE})["inherits"]
        if found:
            raise Unsupported(
                "table %s inherits from %s (INHERITS) in %s: generated migrations do not support "
                "table inheritance (partitioned tables are fine); write this migration by hand"
                % (found[0][0], found[0][1], label))


def generate(source_url, target_url, labels=None):
    """The SQL that turns the schema at `source_url` into that at `target_url`, as a Generated.

    `sql` is "" when neither the engine nor the supplement finds anything to write.
    """
    try:
        engine_sql = schema_diff(source_url, target_url)  # first: it checks both URLs
    except UsageError:  # the engine refused: say it in our words when it is inheritance
        refuse_unsupported(source_url, target_url, labels=labels)
        raise
    refuse_unsupported(source_url, target_url, labels=labels)
    engine_sql = repair(engine_sql, source_url, target_url)
    added = supplement(source_url, target_url, engine_sql)
    sql = engine_sql
    if added:
        sql = (sql + "\n" if sql else "") + SUPPLEMENT_HEADER + added
    return Generated(sql, engine_sql, added)
