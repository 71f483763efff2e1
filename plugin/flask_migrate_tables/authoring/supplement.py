"""What the diff engine does not write: grants, comments, statistics targets, CLUSTER ON, sequence
types, storage parameters and column storage.

pgmig (schema_diff.py) leaves out column grants, grants on views and
sequences, comments on view columns, indexes and sequences, per-column
`SET STATISTICS`, `CLUSTER ON`, and writes an integer column on its own
bigint sequence as `serial`, and leaves table storage parameters (fillfactor,
autovacuum_*) and column STORAGE as they are. These are read here from both catalogs and
written as statements that are safe to run after the engine's: each one only
sets a state (GRANT, REVOKE, COMMENT, SET STATISTICS, CLUSTER ON, ALTER
SEQUENCE AS, SET (...), SET STORAGE), so one the engine already wrote is dropped (compared after
pglast's deparse) and nothing depends on order among them.

The queries read the two databases only. Objects that exist only in the
source are the engine's to drop; objects only in the target are made by the
engine first, and what they get when made (their owner's default privileges)
is the baseline their grants are compared with.
"""
from pglast import parse_sql
from pglast.stream import RawStream

from ..pg import connection as conn
from .repair import dropped_relations, plain
from ..source.statements import literal, split_statements

_USER_SCHEMAS = ("n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'")
_NOT_EXTENSION_MEMBER = ("NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = {cls}::regclass"
                         " AND e.objid = {oid} AND e.deptype = 'e')")

# (keyword, object identity, column or '', grantee, privilege, grantable, is_default)
_GRANTS = """
WITH objects AS (
    SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS keyword,
           (pg_identify_object('pg_class'::regclass, c.oid, 0)).identity AS identity, '' AS col,
           coalesce(c.relacl, acldefault((CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::"char", c.relowner)) AS acl,
           acldefault((CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::"char", c.relowner) AS fresh
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {schemas} AND {c_own}
  UNION ALL
    SELECT 'TABLE', (pg_identify_object('pg_class'::regclass, c.oid, 0)).identity, quote_ident(a.attname),
           a.attacl, NULL::aclitem[]
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped AND {schemas} AND {c_own}
  UNION ALL
    SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
           (pg_identify_object('pg_proc'::regclass, p.oid, 0)).identity, '',
           coalesce(p.proacl, acldefault('f', p.proowner)), acldefault('f', p.proowner)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE p.prokind <> 'a' AND {schemas} AND {p_own}
  UNION ALL
    SELECT 'SCHEMA', quote_ident(n.nspname), '', coalesce(n.nspacl, acldefault('n', n.nspowner)),
           acldefault('n', n.nspowner)
    FROM pg_namespace n WHERE {schemas} AND {n_own}
  UNION ALL
    SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
           (pg_identify_object('pg_type'::regclass, t.oid, 0)).identity, '',
           coalesce(t.typacl, acldefault('T', t.typowner)), acldefault('T', t.typowner)
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE t.typtype IN ('e', 'd', 'r', 'm') AND {schemas} AND {t_own}
)
SELECT o.keyword, o.identity, o.col,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
       a.privilege_type, a.is_grantable, false
FROM objects o, aclexplode(o.acl) a
UNION ALL
SELECT o.keyword, o.identity, o.col,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
       a.privilege_type, a.is_grantable, true
FROM objects o, aclexplode(o.fresh) a
""".format(schemas=_USER_SCHEMAS,
           c_own=_NOT_EXTENSION_MEMBER.format(cls="'pg_class'", oid="c.oid"),
           p_own=_NOT_EXTENSION_MEMBER.format(cls="'pg_proc'", oid="p.oid"),
           n_own=_NOT_EXTENSION_MEMBER.format(cls="'pg_namespace'", oid="n.oid"),
           t_own=_NOT_EXTENSION_MEMBER.format(cls="'pg_type'", oid="t.oid"))

# (object type as pg_identify_object names it, identity, comment)
_COMMENTS = """
SELECT o.type, o.identity, d.description
FROM pg_description d, pg_identify_object(d.classoid, d.objoid, d.objsubid) o
WHERE o.schema IS DISTINCT FROM 'pg_catalog' AND o.schema IS DISTINCT FROM 'information_schema'
  AND coalesce(o.schema, '') NOT LIKE 'pg\\_%'
  AND d.classoid <> 'pg_database'::regclass
  AND NOT (d.classoid = 'pg_namespace'::regclass AND d.objoid = 'pg_catalog'::regnamespace)
  AND NOT (o.type = 'extension' OR EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = d.classoid
                                           AND e.objid = d.objoid AND e.deptype = 'e'))
  AND NOT (d.classoid = 'pg_namespace'::regclass AND d.objoid = 'public'::regnamespace
           AND d.description = 'standard public schema')
"""

# Identities of the objects a comment or grant can be on, to know what exists.
_OBJECTS = """
SELECT (pg_identify_object('pg_class'::regclass, c.oid, 0)).identity FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {schemas}
UNION ALL SELECT (pg_identify_object('pg_class'::regclass, a.attrelid, a.attnum)).identity
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE a.attnum > 0 AND NOT a.attisdropped AND {schemas}
UNION ALL SELECT (pg_identify_object('pg_proc'::regclass, p.oid, 0)).identity FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {schemas}
UNION ALL SELECT (pg_identify_object('pg_type'::regclass, t.oid, 0)).identity FROM pg_type t
  JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {schemas}
UNION ALL SELECT quote_ident(n.nspname) FROM pg_namespace n WHERE {schemas}
UNION ALL SELECT (pg_identify_object('pg_constraint'::regclass, k.oid, 0)).identity FROM pg_constraint k
  JOIN pg_namespace n ON n.oid = k.connamespace WHERE {schemas}
UNION ALL SELECT (pg_identify_object('pg_trigger'::regclass, g.oid, 0)).identity FROM pg_trigger g
  WHERE NOT g.tgisinternal
UNION ALL SELECT (pg_identify_object('pg_policy'::regclass, p.oid, 0)).identity FROM pg_policy p
UNION ALL SELECT (pg_identify_object('pg_rewrite'::regclass, r.oid, 0)).identity FROM pg_rewrite r
  WHERE r.rulename <> '_RETURN'
""".format(schemas=_USER_SCHEMAS)

# (table identity, column, statistics target) for columns whose target is set
_STATISTICS = """
SELECT (pg_identify_object('pg_class'::regclass, c.oid, 0)).identity, quote_ident(a.attname),
       a.attstattarget::int
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'm', 'f')
  AND a.attstattarget IS NOT NULL AND a.attstattarget <> -1 AND {schemas}
""".format(schemas=_USER_SCHEMAS)

# (table identity, index name) of each table's CLUSTER ON index
_CLUSTER = """
SELECT (pg_identify_object('pg_class'::regclass, i.indrelid, 0)).identity, quote_ident(x.relname)
FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_namespace n ON n.oid = x.relnamespace
WHERE i.indisclustered AND {schemas}
""".format(schemas=_USER_SCHEMAS)

# (sequence identity, its type) of the sequences owned by a column (serial, or OWNED BY)
_OWNED_SEQUENCES = """
SELECT (pg_identify_object('pg_class'::regclass, s.seqrelid, 0)).identity, format_type(s.seqtypid, NULL),
       s.seqmin, s.seqmax, format_type(a.atttypid, NULL)
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid AND d.deptype IN ('a', 'i')
  AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
WHERE {schemas}
""".format(schemas=_USER_SCHEMAS)

# (relation identity, relkind, reloptions) of tables and materialized views
_OPTIONS = """
SELECT (pg_identify_object('pg_class'::regclass, c.oid, 0)).identity, c.relkind, c.reloptions
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND {schemas}
""".format(schemas=_USER_SCHEMAS)

# (table identity, column, storage) of columns whose storage is not their type's
_STORAGE = """
SELECT (pg_identify_object('pg_class'::regclass, c.oid, 0)).identity, quote_ident(a.attname), a.attstorage,
       t.typstorage
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'm') AND a.attstorage <> t.typstorage
  AND {schemas}
""".format(schemas=_USER_SCHEMAS)

_STORAGE_NAMES = {"p": "PLAIN", "e": "EXTERNAL", "m": "MAIN", "x": "EXTENDED"}

_COMMENT_KEYWORDS = {
    "table": "TABLE", "view": "VIEW", "materialized view": "MATERIALIZED VIEW", "sequence": "SEQUENCE",
    "index": "INDEX", "foreign table": "FOREIGN TABLE", "table column": "COLUMN",
    "view column": "COLUMN", "materialized view column": "COLUMN", "foreign table column": "COLUMN",
    "function": "FUNCTION", "procedure": "PROCEDURE", "aggregate": "AGGREGATE", "type": "TYPE",
    "composite type": "TYPE", "domain": "DOMAIN", "schema": "SCHEMA", "table constraint": "CONSTRAINT",
    "domain constraint": "CONSTRAINT", "trigger": "TRIGGER", "policy": "POLICY", "rule": "RULE",
}


_QUERIES = {"grants": _GRANTS, "comments": _COMMENTS, "objects": _OBJECTS,
            "statistics": _STATISTICS, "cluster": _CLUSTER, "sequences": _OWNED_SEQUENCES,
            "options": _OPTIONS, "storage": _STORAGE}


def _grant_statements(source, target, recreated):
    def explicit(rows):
        return {row[:5]: row[5] for row in rows if not row[6]}

    def fresh(rows):
        return {row[:5]: row[5] for row in rows if row[6]}

    before, after, baseline = explicit(source), explicit(target), fresh(target)
    source_objects = {(row[0], row[1]) for row in source}
    target_objects = {(row[0], row[1]) for row in target}
    statements = []
    for key in sorted(set(before) | set(after) | set(baseline)):
        keyword, identity, column, grantee, privilege = key
        if (keyword, identity) not in target_objects:
            continue  # dropped by the engine
        if (keyword, identity) in source_objects and plain(identity) not in recreated:
            had = before.get(key)
        else:
            had = baseline.get(key)  # made by the engine: what a new object gets
        wants = after.get(key)
        if had == wants:
            continue
        on = "%s%s ON %s %s" % (privilege, " (%s)" % column if column else "", keyword, identity)
        if wants is None:
            statements.append("REVOKE %s FROM %s;" % (on, grantee))
        elif had is None or (wants and not had):
            statements.append("GRANT %s TO %s%s;" % (on, grantee, " WITH GRANT OPTION" if wants else ""))
        else:  # the grant option only
            statements.append("REVOKE GRANT OPTION FOR %s FROM %s;" % (on, grantee))
    return statements


def _comment_target(kind, identity):
    keyword = _COMMENT_KEYWORDS.get(kind)
    if keyword is None:
        return None
    if kind in ("table constraint", "trigger", "policy", "rule"):
        name, _, table = identity.partition(" on ")
        return "%s %s ON %s" % (keyword, name, table)
    if kind == "domain constraint":
        name, _, domain = identity.partition(" on ")
        return "CONSTRAINT %s ON DOMAIN %s" % (name, domain)
    return "%s %s" % (keyword, identity)


def _comment_statements(source, target, target_objects, recreated):
    before = {(kind, identity): text for kind, identity, text in source
              if not _on_recreated(identity, recreated)}
    after = {(kind, identity): text for kind, identity, text in target}
    statements = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) == after.get(key):
            continue
        kind, identity = key
        if key not in after and identity not in target_objects:
            continue  # the object is dropped
        on = _comment_target(kind, identity)
        if on is None:
            continue  # left to the independent comparison to report
        text = after.get(key)
        statements.append("COMMENT ON %s IS %s;" % (on, "NULL" if text is None else literal(text)))
    return statements


def _statistics_statements(source, target, target_objects):
    before = {(table, column): value for table, column, value in source}
    after = {(table, column): value for table, column, value in target}
    statements = []
    for table, column in sorted(set(before) | set(after)):
        wants = after.get((table, column), -1)
        if before.get((table, column), -1) == wants:
            continue
        if "%s.%s" % (table, column) not in target_objects:
            continue
        statements.append("ALTER TABLE %s ALTER COLUMN %s SET STATISTICS %d;" % (table, column, wants))
    return statements


def _cluster_statements(source, target, target_objects):
    before, after = dict(source), dict(target)
    statements = []
    for table in sorted(set(before) | set(after)):
        if before.get(table) == after.get(table) or table not in target_objects:
            continue
        if table in after:
            statements.append("ALTER TABLE %s CLUSTER ON %s;" % (table, after[table]))
        else:
            statements.append("ALTER TABLE %s SET WITHOUT CLUSTER;" % table)
    return statements


_SERIAL_TYPES = {"integer": "integer", "bigint": "bigint", "smallint": "smallint"}


def _sequence_statements(source, target):
    """An owned sequence (serial, or OWNED BY) whose type or bounds are not the target's.

    One the engine makes for a new column gets the type `serial` of the
    column's type gives, which is wrong when the target's sequence is wider;
    one on both sides with another type is left as it is by the engine.
    """
    existing = {row[0]: row[1:4] for row in source}
    statements = []
    for identity, sequence_type, low, high, column_type in sorted(target):
        if identity in existing:
            if existing[identity] == (sequence_type, low, high):
                continue
        elif sequence_type == _SERIAL_TYPES.get(column_type, sequence_type):
            continue
        statements.append("ALTER SEQUENCE %s AS %s MINVALUE %d MAXVALUE %d;"
                          % (identity, sequence_type, low, high))
    return statements


def _option_statements(source, target):
    before = {identity: dict(o.split("=", 1) for o in options or ()) for identity, _, options in source}
    statements = []
    for identity, kind, options in sorted(target):
        wants = dict(o.split("=", 1) for o in options or ())
        had = before.get(identity, {})
        what = "MATERIALIZED VIEW" if kind == "m" else "TABLE"
        changed = sorted((k, v) for k, v in wants.items() if had.get(k) != v)
        gone = sorted(k for k in had if k not in wants)
        if changed:
            statements.append("ALTER %s %s SET (%s);" % (what, identity, ", ".join(
                "%s = %s" % (k, v) for k, v in changed)))
        if gone:
            statements.append("ALTER %s %s RESET (%s);" % (what, identity, ", ".join(gone)))
    return statements


def _storage_statements(source, target, target_objects):
    before = {(table, column): storage for table, column, storage, _ in source}
    after = {(table, column): storage for table, column, storage, _ in target}
    usual = {(table, column): typstorage for table, column, _, typstorage in source}
    statements = []
    for table, column in sorted(set(before) | set(after)):
        if before.get((table, column)) == after.get((table, column)):
            continue
        if "%s.%s" % (table, column) not in target_objects:
            continue
        storage = after.get((table, column)) or usual[(table, column)]  # back to the type's
        statements.append("ALTER TABLE %s ALTER COLUMN %s SET STORAGE %s;" % (
            table, column, _STORAGE_NAMES[storage]))
    return statements


def _on_recreated(identity, recreated):
    """Whether a comment's object is a relation the engine drops and makes again, or its column."""
    name = plain(identity)
    return name in recreated or name.rsplit(".", 1)[0] in recreated


def _canonical(statement):
    try:
        return RawStream()(parse_sql(statement)[0])
    except Exception:
        return " ".join(statement.split())


def supplement(source_url, target_url, engine_sql=""):
    """Statements after `engine_sql` that give the target's grants, comments, statistics
    targets, CLUSTER ON and sequence types; "" when nothing is missing."""
    source, target = conn.read_rows(source_url, _QUERIES), conn.read_rows(target_url, _QUERIES)
    target_objects = {row[0] for row in target["objects"]}
    recreated = set()
    if engine_sql.strip():  # what the engine drops and makes again starts with a fresh ACL
        recreated = {name for _, name in dropped_relations(
            [s.text for s in split_statements(engine_sql, "the generated script")])}
    statements = (_sequence_statements(source["sequences"], target["sequences"])
                  + _grant_statements(source["grants"], target["grants"], recreated)
                  + _comment_statements(source["comments"], target["comments"], target_objects,
                                        recreated)
                  + _statistics_statements(source["statistics"], target["statistics"], target_objects)
                  + _cluster_statements(source["cluster"], target["cluster"], target_objects)
                  + _option_statements(source["options"], target["options"])
                  + _storage_statements(source["storage"], target["storage"], target_objects))
    if not statements:
        return ""
    written = set()
    if engine_sql.strip():
        try:
            written = {RawStream()(raw) for raw in parse_sql(engine_sql)}
        except Exception:
            written = set()
    missing = [s for s in statements if _canonical(s) not in written]
    return "\n".join(missing) + "\n" if missing else ""
