"""An independent comparison of two schemas: a catalog snapshot of each and the differences.

The diff engine (`schema_diff.py`) can only find what it knows how to emit SQL
for, so a comparison made with it is blind where it is blind. This module
shares no code with it: it reads PostgreSQL's catalog directly into a flat
{(kind, name): detail} dict and compares two such dicts item by item, so it
never says "identical" for schemas whose catalogs differ in what it covers.

    snapshot(url, exclude_tables=())   the catalog of one database, read in a READ ONLY
                                       transaction that is rolled back; its items as
                                       Item(kind, name, detail): [Item(*key, detail) for
                                       key, detail in sorted(snapshot(url).items())]
    differences(left, right)           [Difference(kind, name, left, right)], sorted
    describe(difference)               one line for a person
    compare(left_url, right_url)       snapshot both and diff
    failures(diffs)                    the differences that are not mere notes (NOTE_KINDS)

Covered, in every schema but pg_catalog, information_schema, pg_toast* and
pg_temp*, leaving out objects that belong to an extension (pg_depend 'e') and
the tables of `exclude_tables` (with their columns, constraints, indexes,
owned sequences, triggers, rules, policies, comments and grants):

    schema                 existence
    table, partitioned table, view, materialized view, sequence, foreign table
                           unlogged, reloptions (and the TOAST table's), typed table (OF),
                           table access method if not heap, materialized view not populated,
                           row level security (enabled, forced), replica identity,
                           CLUSTER ON index, inheritance parents (in order),
                           partition key, partition bound and parent,
                           view definition (pg_get_viewdef), foreign server and options,
                           sequence type/start/increment/min/max/cache/cycle and OWNED BY
    column                 type, not null, default, identity (with its sequence's options),
                           generated expression, collation if not the type's,
                           statistics target, storage if not the type's, compression,
                           attribute options (n_distinct...), foreign table column options;
                           columns of tables, views, materialized views, foreign tables
    column order           the order of the columns two tables have in common (a note,
                           not a failure: see NOTE_KINDS)
    constraint             pg_get_constraintdef, deferrable, initially deferred, not valid
                           (table constraints keyed schema.table.name; domain constraints
                           are part of the domain; PostgreSQL 18's named NOT NULL constraints
                           are the column's "not null", their generated names not compared,
                           unless NOT VALID or NO INHERIT)
    index                  pg_get_indexdef, invalid
    enum, domain, composite type, range type
                           labels in order; base type, default, not null, collation and
                           constraints; attributes; subtype, opclass, collation,
                           canonical and subdiff functions
    function, procedure    pg_get_functiondef, keyed schema.name(identity arguments)
    aggregate              signature, result and every pg_aggregate field
    trigger                pg_get_triggerdef, enabled state (not internal triggers)
    event trigger          event, tags, function, enabled state
    rule                   pg_get_ruledef, enabled state (not views' _RETURN rules)
    policy                 command, permissive/restrictive, roles, USING, WITH CHECK
    statistics             extended statistics objects (pg_get_statisticsobjdef, target)
    extension              version and schema
    comment                on all of the above (columns of views and composite types,
                           indexes, constraints, sequences, types, triggers, ...)
    grant                  relacl, attacl (column grants), proacl, typacl, nspacl: one entry
                           per (grantee, privilege, grantable), so the order in the ACL does
                           not matter; a NULL ACL is the default ACL (acldefault); the
                           owner's own entries (grantor = grantee = owner) are left out
    default privileges     pg_default_acl, per schema and global; a global entry is what it
                           changes in the built-in default ("no EXECUTE to PUBLIC"), so one
                           equal to the default is the same as none

Not covered: owners (anywhere: both sides are built by the same role, and owners
are not what migrations are checked for), revoking the owner's own privileges,
grantors, tablespaces, publications and subscriptions, foreign data wrappers and
foreign servers (a foreign table's server name is compared, not the server),
user mappings, collations, operators, operator classes and families, casts,
conversions, text search objects, languages, transforms, access methods, base
types made with CREATE TYPE ... (INPUT = ...), a range type's multirange type
name, statistics targets of index columns, whether a column is inherited and
also local (attislocal), security labels, grants on anything not listed above
(databases, languages, foreign servers, large objects, parameters), database
and role settings, and data (sequence values, materialized views' contents).

Keys: (kind, name), the name being schema.relation for relations, indexes,
sequences, types and statistics; schema.table.column for columns, and
schema.table.name for constraints, triggers, rules and policies;
schema.function(identity arguments) for routines; "<kind> <name>" of the object
for grants and comments ("table public.notes", "column public.notes.body");
"[for role R ]on tables[ in schema S]" for default privileges. Names are quoted
as SQL identifiers where needed (public."Odd Name".col).

Details: "; "-separated fields, each a field name and its value ("type text;
not null; default now()"), a "definition ..." field last (it may hold "; ");
grants and default privileges are the sorted entries ("SELECT to PUBLIC;
UPDATE to reader with grant option"); a comment is its text. Every name that
PostgreSQL prints is schema-qualified: the queries run with search_path =
pg_catalog and fixed DateStyle/IntervalStyle/TimeZone/extra_float_digits, so
two databases whose sessions are set differently still print the same text.
The whole snapshot is one REPEATABLE READ, READ ONLY transaction on one
connection, of about fifteen queries (one per catalog), rolled back.
"""
import re
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.engine.url import make_url

from ..pg import connection as conn

Item = namedtuple("Item", "kind name detail")
Difference = namedtuple("Difference", "kind name left right")

# Kinds that are reported but are not failures: PostgreSQL can only add a column at
# the end of a table, so migrations never reorder columns while models may list them
# in any order.
NOTE_KINDS = {"column order"}

_SET_KINDS = ("grant", "default privileges")  # detail: "; "-separated entries, order-free

_USER_NAMESPACE = (
    "{n}.nspname <> 'pg_catalog' AND {n}.nspname <> 'information_schema'"
    " AND {n}.nspname NOT LIKE 'pg\\_toast%%' AND {n}.nspname NOT LIKE 'pg\\_temp%%'")


def _user(alias="n"):
    return _USER_NAMESPACE.format(n=alias)


_SETTINGS = (
    "SET LOCAL search_path = pg_catalog; SET LOCAL DateStyle = 'ISO, YMD';"
    " SET LOCAL IntervalStyle = 'postgres'; SET LOCAL TimeZone = 'UTC';"
    " SET LOCAL extra_float_digits = 1; SET LOCAL bytea_output = 'hex';"
    " SET LOCAL lc_monetary = 'C'")

_EXTENSION_MEMBERS = (
    "SELECT classid::regclass::text, objid FROM pg_depend WHERE deptype = 'e'")

_SCHEMAS = (
    "SELECT n.oid, quote_ident(n.nspname) FROM pg_namespace n WHERE " + _user())

_RELATIONS = """
SELECT c.oid, n.nspname, c.relname, quote_ident(n.nspname) || '.' || quote_ident(c.relname),
       c.relkind, c.relpersistence, c.reloptions, c.relrowsecurity, c.relforcerowsecurity,
       c.relreplident,
       (SELECT string_agg(quote_ident(ic.relname), ', ' ORDER BY ic.relname) FROM pg_index x
         JOIN pg_class ic ON ic.oid = x.indexrelid WHERE x.indrelid = c.oid AND x.indisclustered),
       (SELECT string_agg(quote_ident(ic.relname), ', ' ORDER BY ic.relname) FROM pg_index x
         JOIN pg_class ic ON ic.oid = x.indexrelid WHERE x.indrelid = c.oid AND x.indisreplident),
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END,
       c.relispartition,
       (SELECT array_agg(h.inhparent::regclass::text ORDER BY h.inhseqno) FROM pg_inherits h
         WHERE h.inhrelid = c.oid),
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END,
       CASE WHEN c.relkind IN ('i', 'I') THEN pg_get_indexdef(c.oid) END,
       i.indisvalid, i.indrelid,
       CASE WHEN c.relkind IN ('r', 'm', 'p') THEN am.amname END,
       format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
       s.seqcache, s.seqcycle, od.refobjid, od.refobjsubid, od.deptype,
       quote_ident(fs.srvname), ft.ftoptions,
       CASE WHEN c.reloftype <> 0 THEN format_type(c.reloftype, NULL) END,
       (SELECT t.reloptions FROM pg_class t WHERE t.oid = c.reltoastrelid),
       c.relispopulated
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_index i ON i.indexrelid = c.oid
  LEFT JOIN pg_am am ON am.oid = c.relam
  LEFT JOIN pg_sequence s ON s.seqrelid = c.oid
  LEFT JOIN pg_depend od ON c.relkind = 'S' AND od.classid = 'pg_class'::regclass
        AND od.objid = c.oid AND od.refclassid = 'pg_class'::regclass AND od.refobjsubid > 0
        AND od.deptype IN ('a', 'i')
  LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
  LEFT JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'i', 'I') AND """ + _user()

_COLUMNS = """
SELECT a.attrelid, a.attnum, quote_ident(a.attname), format_type(a.atttypid, a.atttypmod),
       a.attnotnull, a.attidentity, a.attgenerated,
       -- a default has no column in it, so no relation (pg_get_expr would open it); a
       -- generated column's expression has
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, 0) ELSE pg_get_expr(d.adbin, d.adrelid) END,
       CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0 THEN
         CASE WHEN co.collnamespace = 'pg_catalog'::regnamespace THEN quote_ident(co.collname)
         ELSE quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END END,
       a.attstattarget::int,
       CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage END,
       {compression}, a.attoptions, a.attfdwoptions, c.relkind
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  LEFT JOIN pg_collation co ON co.oid = a.attcollation
  LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
 WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
   AND """ + _user() + """
 ORDER BY a.attrelid, a.attnum"""

_CONSTRAINTS = """
SELECT k.oid, k.conrelid, k.contypid, quote_ident(k.conname), pg_get_constraintdef(k.oid),
       k.condeferrable, k.condeferred, k.convalidated
  FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
 WHERE NOT (k.contype = 'n' AND k.conrelid <> 0 AND k.convalidated AND NOT k.connoinherit)
   AND """ + _user()

_TYPES = """
SELECT t.oid, quote_ident(n.nspname) || '.' || quote_ident(t.typname), t.typtype, t.typrelid,
       CASE WHEN t.typtype = 'e' THEN (SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder)
         FROM pg_enum e WHERE e.enumtypid = t.oid) END,
       CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
       CASE WHEN t.typtype = 'd' THEN pg_get_expr(t.typdefaultbin, 0) END,
       t.typnotnull,
       CASE WHEN t.typtype = 'd' AND t.typcollation <> b.typcollation THEN
         quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END,
       format_type(r.rngsubtype, NULL),
       quote_ident(on_.nspname) || '.' || quote_ident(oc.opcname),
       CASE WHEN r.rngcollation <> 0 THEN quote_ident(rcn.nspname) || '.' || quote_ident(rco.collname) END,
       NULLIF(r.rngcanonical::oid, 0)::regprocedure::text,
       NULLIF(r.rngsubdiff::oid, 0)::regprocedure::text
  FROM pg_type t
  JOIN pg_namespace n ON n.oid = t.typnamespace
  LEFT JOIN pg_type b ON b.oid = t.typbasetype
  LEFT JOIN pg_collation co ON co.oid = t.typcollation
  LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
  LEFT JOIN pg_range r ON r.rngtypid = t.oid
  LEFT JOIN pg_opclass oc ON oc.oid = r.rngsubopc
  LEFT JOIN pg_namespace on_ ON on_.oid = oc.opcnamespace
  LEFT JOIN pg_collation rco ON rco.oid = r.rngcollation
  LEFT JOIN pg_namespace rcn ON rcn.oid = rco.collnamespace
  LEFT JOIN pg_class tc ON tc.oid = t.typrelid
 WHERE (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND tc.relkind = 'c')) AND """ + _user()

_FUNCTIONS = """
SELECT p.oid,
       quote_ident(n.nspname) || '.' || quote_ident(p.proname)
         || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       p.prokind,
       CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END,
       CASE WHEN p.prokind = 'a' THEN pg_get_function_arguments(p.oid) END,
       format_type(p.prorettype, NULL), p.proparallel,
       a.aggkind, a.aggnumdirectargs,
       a.aggtransfn::oid::regprocedure::text,
       NULLIF(a.aggfinalfn::oid, 0)::regprocedure::text,
       NULLIF(a.aggcombinefn::oid, 0)::regprocedure::text,
       NULLIF(a.aggserialfn::oid, 0)::regprocedure::text,
       NULLIF(a.aggdeserialfn::oid, 0)::regprocedure::text,
       NULLIF(a.aggmtransfn::oid, 0)::regprocedure::text,
       NULLIF(a.aggminvtransfn::oid, 0)::regprocedure::text,
       NULLIF(a.aggmfinalfn::oid, 0)::regprocedure::text,
       a.aggfinalextra, a.aggmfinalextra, a.aggfinalmodify, a.aggmfinalmodify,
       NULLIF(a.aggsortop, 0)::regoperator::text,
       format_type(a.aggtranstype, NULL), a.aggtransspace,
       format_type(NULLIF(a.aggmtranstype, 0), NULL), a.aggmtransspace,
       a.agginitval, a.aggminitval
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
  LEFT JOIN pg_aggregate a ON a.aggfnoid = p.oid
 WHERE """ + _user() + """
   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                   AND d.objid = p.oid AND d.deptype = 'i')"""

_TRIGGERS = """
SELECT g.oid, g.tgrelid, quote_ident(g.tgname), pg_get_triggerdef(g.oid), g.tgenabled
  FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT g.tgisinternal AND """ + _user()

_RULES = """
SELECT r.oid, r.ev_class, quote_ident(r.rulename), pg_get_ruledef(r.oid), r.ev_enabled
  FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE r.rulename <> '_RETURN' AND """ + _user()

_POLICIES = """
SELECT p.oid, p.polrelid, quote_ident(p.polname), p.polcmd, p.polpermissive,
       ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r)) END
               FROM unnest(p.polroles) r),
       pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
  FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE """ + _user()

_EVENT_TRIGGERS = """
SELECT e.oid, quote_ident(e.evtname), e.evtevent, e.evtfoid::regprocedure::text, e.evtenabled,
       e.evttags
  FROM pg_event_trigger e"""

_STATISTICS = """
SELECT s.oid, s.stxrelid, quote_ident(n.nspname) || '.' || quote_ident(s.stxname),
       pg_get_statisticsobjdef(s.oid), {target}
  FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
 WHERE """ + _user()

_EXTENSIONS = """
SELECT e.oid, quote_ident(e.extname), e.extversion, quote_ident(n.nspname)
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"""

# Comments on the objects above; the objects of pg_catalog (oid < 16384) have
# thousands, the public schema (2200) one that can be changed.
_COMMENTS = """
SELECT d.classoid::regclass::text, d.objoid, d.objsubid, d.description
  FROM pg_description d
 WHERE (d.objoid >= 16384 OR d.classoid = 'pg_namespace'::regclass)
   AND d.classoid IN ('pg_namespace'::regclass, 'pg_class'::regclass, 'pg_constraint'::regclass,
       'pg_proc'::regclass, 'pg_type'::regclass, 'pg_trigger'::regclass, 'pg_rewrite'::regclass,
       'pg_policy'::regclass, 'pg_event_trigger'::regclass, 'pg_extension'::regclass,
       'pg_statistic_ext'::regclass)"""

# ACLs exploded to one row per (grantee, privilege, grantable); NULL is the default.
_ACL_ROW = """
SELECT '{catalog}', {oid}, {sub}, x.privilege_type, x.is_grantable,
       CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END
  FROM {source}, aclexplode({acl}) x
 WHERE NOT (x.grantor = x.grantee AND x.grantee = {owner}) AND {where}"""

_GRANTS = " UNION ALL ".join(_ACL_ROW.format(**parts) for parts in (
    dict(catalog="pg_class", oid="c.oid", sub="0", owner="c.relowner",
         source="pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace",
         acl="coalesce(c.relacl, acldefault((CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::\"char\","
             " c.relowner))",
         where="c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND " + _user()),
    dict(catalog="pg_class", oid="a.attrelid", sub="a.attnum", owner="c.relowner",
         source="pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace",
         acl="a.attacl", where="a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped AND "
         + _user()),
    dict(catalog="pg_proc", oid="p.oid", sub="0", owner="p.proowner",
         source="pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace",
         acl="coalesce(p.proacl, acldefault('f'::\"char\", p.proowner))", where=_user()),
    dict(catalog="pg_type", oid="t.oid", sub="0", owner="t.typowner",
         source="pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace",
         acl="coalesce(t.typacl, acldefault('T'::\"char\", t.typowner))",
         where="(t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND EXISTS (SELECT FROM pg_class tc"
               " WHERE tc.oid = t.typrelid AND tc.relkind = 'c'))) AND " + _user()),
    dict(catalog="pg_namespace", oid="n.oid", sub="0", owner="n.nspowner", source="pg_namespace n",
         acl="coalesce(n.nspacl, acldefault('n'::\"char\", n.nspowner))", where=_user()),
))

_DEFAULT_ACLS = """
SELECT d.oid, d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = current_user),
       quote_ident(pg_get_userbyid(d.defaclrole)), quote_ident(n.nspname), d.defaclobjtype,
       ARRAY(SELECT x.privilege_type || ' to '
                    || CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END
                    || CASE WHEN x.is_grantable THEN ' with grant option' ELSE '' END
               FROM aclexplode(d.defaclacl) x
              WHERE NOT (x.grantor = x.grantee AND x.grantee = d.defaclrole) ORDER BY 1),
       ARRAY(SELECT x.privilege_type || ' to '
                    || CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END
                    || CASE WHEN x.is_grantable THEN ' with grant option' ELSE '' END
               FROM aclexplode(acldefault((CASE WHEN d.defaclobjtype = 'S' THEN 's'
                                                ELSE d.defaclobjtype END)::"char", d.defaclrole)) x
              WHERE d.defaclnamespace = 0
                AND NOT (x.grantor = x.grantee AND x.grantee = d.defaclrole) ORDER BY 1)
  FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
 WHERE d.defaclnamespace = 0 OR """ + _user()

# A row of _RELATIONS.
_Relation = namedtuple("_Relation", (
    "oid schema table name relkind persistence options rls force_rls replident clustered"
    " replident_index partkey bound is_partition parents viewdef indexdef valid indrelid"
    " access_method seqtype start increment minimum maximum cache cycle owner owner_column"
    " owner_kind server foreign_options of_type toast_options populated"))

_RELATION_KINDS = {"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view",
                   "S": "sequence", "f": "foreign table", "i": "index", "I": "index"}
_TABLE_LIKE = ("r", "p", "f")  # relkinds whose column order is a note
_TYPE_KINDS = {"e": "enum", "d": "domain", "c": "composite type", "r": "range type"}
_STORAGE = {"p": "plain", "e": "external", "m": "main", "x": "extended"}
_COMPRESSION = {"p": "pglz", "l": "lz4"}
_ENABLED = {"D": "disabled", "R": "enabled replica", "A": "enabled always"}  # "O": the default
_POLICY_COMMANDS = {"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}
_DEFAULT_ACL_OBJECTS = {"r": "tables", "S": "sequences", "f": "functions", "T": "types",
                        "n": "schemas", "L": "large objects"}
_AGGREGATE_KINDS = {"n": "normal", "o": "ordered-set", "h": "hypothetical-set"}
_FINAL_MODIFY = {"r": "read_only", "s": "shareable", "w": "read_write"}
_PARALLEL = {"s": "safe", "r": "restricted", "u": "unsafe"}


def snapshot(url, exclude_tables=()):
    """{(kind, name): detail} of the database at `url` (see the module's docstring)."""
    connection = conn.connect(conn.connect_params(make_url(url)))
    try:
        connection.set_session(isolation_level="REPEATABLE READ", readonly=True, autocommit=False)
        version = connection.server_version
        try:
            with connection.cursor() as cursor:
                cursor.execute(_SETTINGS)
                rows = {}
                for key, query in _queries(version):
                    cursor.execute(query)
                    rows[key] = cursor.fetchall()
        finally:
            connection.rollback()
    finally:
        connection.close()
    return _Builder(rows, exclude_tables).items


def _queries(version):
    compression = "a.attcompression::text" if version >= 140000 else "NULL::text"
    target = "s.stxstattarget::int" if version >= 130000 else "NULL::int"
    return (("members", _EXTENSION_MEMBERS), ("schemas", _SCHEMAS), ("relations", _RELATIONS),
            ("columns", _COLUMNS.format(compression=compression)), ("constraints", _CONSTRAINTS),
            ("types", _TYPES), ("functions", _FUNCTIONS), ("triggers", _TRIGGERS),
            ("rules", _RULES), ("policies", _POLICIES), ("event triggers", _EVENT_TRIGGERS),
            ("statistics", _STATISTICS.format(target=target)), ("extensions", _EXTENSIONS),
            ("comments", _COMMENTS), ("grants", _GRANTS), ("default acls", _DEFAULT_ACLS))


def _fields(*fields):
    """A detail string: the fields that are set, "; "-separated (see describe())."""
    return "; ".join(field for field in fields if field)


def _literal(text):
    return "'%s'" % text.replace("'", "''")


def _sequence_options(row):
    """A sequence's options, from its _Relation."""
    options = ["unlogged" if row.persistence == "u" else None, "type %s" % row.seqtype,
               "start %s" % row.start, "increment %s" % row.increment, "minvalue %s" % row.minimum,
               "maxvalue %s" % row.maximum, "cache %s" % row.cache, "cycle" if row.cycle else "no cycle"]
    return [option for option in options if option]


def _target(value):
    """A statistics target that was set: PG 17+ has NULL for the default, older -1."""
    return None if value is None or value < 0 else value


class _Builder:
    """Turns the rows of the catalog queries into the snapshot's items."""

    def __init__(self, rows, exclude_tables):
        self.items = {}
        self.members = {}  # catalog -> oids that belong to an extension
        for catalog, oid in rows["members"]:
            self.members.setdefault(catalog, set()).add(oid)
        self.exclude = {exclude_tables} if isinstance(exclude_tables, str) else set(exclude_tables)
        # oid -> "kind name", for comments and grants; whatever is left out is not in them.
        self.objects = {}
        self.columns = {}  # (relid, attnum) -> "schema.table.column"
        self.relations = {}  # oid -> qualified name of the relations kept
        self._schemas(rows["schemas"])
        self._relations(rows["relations"])
        self._columns(rows["columns"])
        self._types(rows["types"])
        self._constraints(rows["constraints"])
        self._functions(rows["functions"])
        self._triggers(rows["triggers"], rows["rules"], rows["policies"])
        self._event_triggers(rows["event triggers"])
        self._statistics(rows["statistics"])
        self._extensions(rows["extensions"])
        self._comments(rows["comments"])
        self._grants(rows["grants"])
        self._default_acls(rows["default acls"])

    def add(self, kind, name, detail):
        self.items[(kind, name)] = detail

    def member(self, catalog, oid):
        return oid in self.members.get(catalog, ())

    def _schemas(self, rows):
        for oid, name in rows:
            if not self.member("pg_namespace", oid):
                self.add("schema", name, "")
                self.objects[("pg_namespace", oid)] = "schema " + name

    def _relations(self, rows):
        excluded, kept, sequences = set(), {}, []
        for row in map(_Relation._make, rows):
            if self.member("pg_class", row.oid):
                excluded.add(row.oid)
            elif row.relkind in ("r", "p", "f", "v", "m") and (
                    row.table in self.exclude or "%s.%s" % (row.schema, row.table) in self.exclude):
                excluded.add(row.oid)
            else:
                kept[row.oid] = row
        for oid, row in list(kept.items()):  # their indexes and sequences
            if (row.relkind in ("i", "I") and row.indrelid in excluded) or (
                    row.relkind == "S" and row.owner in excluded):
                excluded.add(oid)
                del kept[oid]
        self.identity = {}  # (relid, attnum) -> the options of an identity column's sequence
        for oid, row in kept.items():
            self.relations[oid] = row.name
            self.objects[("pg_class", oid)] = "%s %s" % (_RELATION_KINDS[row.relkind], row.name)
        for row in kept.values():
            kind = _RELATION_KINDS[row.relkind]
            if row.relkind in ("i", "I"):
                self.add(kind, row.name, _fields(None if row.valid else "invalid",
                                                 "definition " + row.indexdef))
                continue
            if row.relkind == "S":
                if row.owner_kind == "i":  # an identity column's sequence: part of the column
                    self.identity[(row.owner, row.owner_column)] = ", ".join(
                        ["sequence %s" % row.name] + _sequence_options(row))
                else:
                    sequences.append(row)
                continue
            identity = None  # views have relreplident 'n'
            if row.relkind not in ("v", "m"):
                identity = {"f": "full", "n": "nothing",
                            "i": "using index %s" % row.replident_index}.get(row.replident)
            parent, parents = None, row.parents
            if row.is_partition and parents:
                parent, parents = parents[0], parents[1:]
            self.add(kind, row.name, _fields(
                "unlogged" if row.persistence == "u" else None,
                "of type %s" % row.of_type if row.of_type else None,
                "access method %s" % row.access_method
                if row.access_method not in (None, "heap") else None,
                "options %s" % ", ".join(sorted(row.options)) if row.options else None,
                "toast options %s" % ", ".join(sorted(row.toast_options)) if row.toast_options else None,
                "not populated" if row.relkind == "m" and not row.populated else None,
                "row level security" if row.rls else None,
                "force row level security" if row.force_rls else None,
                "replica identity %s" % identity if identity else None,
                "cluster on %s" % row.clustered if row.clustered else None,
                "inherits %s" % ", ".join(parents) if parents else None,
                "partition by %s" % row.partkey if row.partkey else None,
                "partition of %s %s" % (parent, row.bound) if parent else None,
                "server %s" % row.server if row.server else None,
                "foreign options %s" % ", ".join(sorted(row.foreign_options))
                if row.foreign_options else None,
                "definition %s" % row.viewdef.strip() if row.viewdef is not None else None))
        self._sequences = sequences

    def _columns(self, rows):
        order, attributes = {}, {}
        for (relid, attnum, column, type_, not_null, identity, generated, default, collation,
             statistics, storage, compression, options, fdw_options, relkind) in rows:
            if relid not in self.relations and relkind != "c":
                continue
            if relkind == "c":
                attributes.setdefault(relid, []).append(
                    (attnum, column, "%s%s" % (type_, " collate %s" % collation if collation else "")))
                continue
            name = "%s.%s" % (self.relations[relid], column)
            self.columns[(relid, attnum)] = name
            if relkind in _TABLE_LIKE:
                order.setdefault(relid, []).append(column)
            generated_field = None
            if generated:
                generated_field = "generated always as (%s) %s" % (
                    default, "stored" if generated == "s" else "virtual")
                default = None
            identity_field = None
            if identity:
                identity_field = "identity %s (%s)" % ("always" if identity == "a" else "by default",
                                                       self.identity.get((relid, attnum), "?"))
            self.add("column", name, _fields(
                "type %s" % type_, "not null" if not_null else None,
                "default %s" % default if default is not None else None,
                identity_field, generated_field,
                "collate %s" % collation if collation else None,
                "statistics %d" % _target(statistics) if _target(statistics) is not None else None,
                "storage %s" % _STORAGE[storage] if storage else None,
                "compression %s" % _COMPRESSION.get(compression, compression) if compression else None,
                "options %s" % ", ".join(sorted(options)) if options else None,
                "foreign options %s" % ", ".join(sorted(fdw_options)) if fdw_options else None))
        self.attributes = attributes
        for relid, columns in order.items():
            self.add("column order", self.relations[relid], ", ".join(columns))
        # Sequences come after the columns: OWNED BY names a column.
        for row in self._sequences:
            owned = None
            if row.owner_kind == "a":
                owned = "owned by %s" % self.columns.get((row.owner, row.owner_column), "?")
            self.add("sequence", row.name, _fields(*(_sequence_options(row) + [owned])))

    def _types(self, rows):
        self.domains = {}
        for (oid, name, typtype, relid, labels, base, default, not_null, collation, subtype, opclass,
             range_collation, canonical, subdiff) in rows:
            if self.member("pg_type", oid) or (relid and self.member("pg_class", relid)):
                continue
            kind = _TYPE_KINDS[typtype]
            self.objects[("pg_type", oid)] = "%s %s" % ("domain" if typtype == "d" else "type", name)
            if typtype == "e":
                self.add(kind, name, "labels " + ", ".join(_literal(label) for label in labels or ()))
            elif typtype == "d":
                self.domains[oid] = (name, [
                    "type %s" % base, "default %s" % default if default is not None else None,
                    "not null" if not_null else None, "collate %s" % collation if collation else None])
            elif typtype == "c":
                for attnum, column, _ in self.attributes.get(relid, ()):
                    self.columns[(relid, attnum)] = "%s.%s" % (name, column)
                self.add(kind, name, "attributes " + ", ".join(
                    "%s %s" % (column, type_) for _, column, type_ in self.attributes.get(relid, ())))
            else:
                self.add(kind, name, _fields(
                    "subtype %s" % subtype, "opclass %s" % opclass,
                    "collate %s" % range_collation if range_collation else None,
                    "canonical %s" % canonical if canonical else None,
                    "subdiff %s" % subdiff if subdiff else None))

    def _constraints(self, rows):
        domain_constraints = {}
        for oid, relid, typid, conname, definition, deferrable, deferred, validated in rows:
            flags = ["deferrable" if deferrable else None,
                     "initially deferred" if deferred else None,
                     None if validated else "not valid"]
            if relid:
                if relid not in self.relations:
                    continue
                name = "%s.%s" % (self.relations[relid], conname)
                self.objects[("pg_constraint", oid)] = "constraint " + name
                self.add("constraint", name, _fields(*(flags + ["definition " + definition])))
            elif typid in self.domains:
                name = "%s.%s" % (self.domains[typid][0], conname)
                self.objects[("pg_constraint", oid)] = "constraint " + name
                domain_constraints.setdefault(typid, []).append(
                    "constraint %s %s%s" % (conname, definition, "" if validated else " (not valid)"))
        for typid, (name, fields) in self.domains.items():
            self.add("domain", name, _fields(*(fields + sorted(domain_constraints.get(typid, ())))))

    def _functions(self, rows):
        for row in rows:
            oid, name, prokind, definition = row[:4]
            if self.member("pg_proc", oid):
                continue
            kind = {"p": "procedure", "a": "aggregate"}.get(prokind, "function")
            self.objects[("pg_proc", oid)] = "%s %s" % (kind, name)
            if prokind != "a":
                self.add(kind, name, "definition " + definition.strip())
                continue
            (arguments, result, parallel, aggkind, direct, sfunc, finalfunc, combinefunc, serialfunc,
             deserialfunc, msfunc, minvfunc, mfinalfunc, final_extra, mfinal_extra, final_modify,
             mfinal_modify, sortop, stype, sspace, mstype, msspace, initcond, minitcond) = row[4:]
            self.add(kind, name, _fields(
                "arguments (%s)" % arguments, "returns %s" % result,
                "kind %s" % _AGGREGATE_KINDS.get(aggkind, aggkind),
                "direct arguments %s" % direct if direct else None,
                "sfunc %s" % sfunc, "stype %s" % stype, "sspace %s" % sspace if sspace else None,
                "initcond %s" % _literal(initcond) if initcond is not None else None,
                "finalfunc %s" % finalfunc if finalfunc else None,
                "finalfunc_extra" if final_extra else None,
                "finalfunc_modify %s" % _FINAL_MODIFY.get(final_modify, final_modify)
                if finalfunc else None,
                "combinefunc %s" % combinefunc if combinefunc else None,
                "serialfunc %s" % serialfunc if serialfunc else None,
                "deserialfunc %s" % deserialfunc if deserialfunc else None,
                "msfunc %s" % msfunc if msfunc else None,
                "minvfunc %s" % minvfunc if minvfunc else None,
                "mstype %s" % mstype if mstype else None,
                "msspace %s" % msspace if msspace else None,
                "minitcond %s" % _literal(minitcond) if minitcond is not None else None,
                "mfinalfunc %s" % mfinalfunc if mfinalfunc else None,
                "mfinalfunc_extra" if mfinal_extra else None,
                "mfinalfunc_modify %s" % _FINAL_MODIFY.get(mfinal_modify, mfinal_modify)
                if mfinalfunc else None,
                "sortop %s" % sortop if sortop else None,
                "parallel %s" % _PARALLEL.get(parallel, parallel)))

    def _triggers(self, triggers, rules, policies):
        for catalog, kind, rows in (("pg_trigger", "trigger", triggers), ("pg_rewrite", "rule", rules)):
            for oid, relid, name, definition, enabled in rows:
                if relid not in self.relations:
                    continue
                name = "%s.%s" % (self.relations[relid], name)
                self.objects[(catalog, oid)] = "%s %s" % (kind, name)
                self.add(kind, name, _fields(_ENABLED.get(enabled), "definition " + definition.strip()))
        for oid, relid, name, command, permissive, roles, using, check in policies:
            if relid not in self.relations:
                continue
            name = "%s.%s" % (self.relations[relid], name)
            self.objects[("pg_policy", oid)] = "policy " + name
            self.add("policy", name, _fields(
                "for %s" % _POLICY_COMMANDS.get(command, command),
                "as %s" % ("permissive" if permissive else "restrictive"),
                "to %s" % ", ".join(sorted(roles)),
                "using (%s)" % using if using is not None else None,
                "with check (%s)" % check if check is not None else None))

    def _event_triggers(self, rows):
        for oid, name, event, function, enabled, tags in rows:
            if self.member("pg_event_trigger", oid):
                continue
            self.objects[("pg_event_trigger", oid)] = "event trigger " + name
            self.add("event trigger", name, _fields(
                "on %s" % event,
                "tags %s" % ", ".join(_literal(tag) for tag in sorted(tags)) if tags else None,
                "execute %s" % function, _ENABLED.get(enabled)))

    def _statistics(self, rows):
        for oid, relid, name, definition, target in rows:
            if relid not in self.relations or self.member("pg_statistic_ext", oid):
                continue
            self.objects[("pg_statistic_ext", oid)] = "statistics " + name
            self.add("statistics", name, _fields(
                "statistics %d" % _target(target) if _target(target) is not None else None,
                "definition " + definition))

    def _extensions(self, rows):
        for oid, name, version, schema in rows:
            self.objects[("pg_extension", oid)] = "extension " + name
            self.add("extension", name, _fields("version %s" % version, "schema %s" % schema))

    def _comments(self, rows):
        for catalog, oid, subid, text in rows:
            if catalog == "pg_class" and subid:
                target = self.columns.get((oid, subid))
                target = target and "column " + target
            else:
                target = self.objects.get((catalog, oid))
            if target:
                self.add("comment", target, text)

    def _grants(self, rows):
        grants = {}
        for catalog, oid, subid, privilege, grantable, grantee in rows:
            if subid:
                target = self.columns.get((oid, subid))
                target = target and "column " + target
            else:
                target = self.objects.get((catalog, oid))
            if target:
                grants.setdefault(target, set()).add("%s to %s%s" % (
                    privilege, grantee, " with grant option" if grantable else ""))
        for target, entries in grants.items():
            self.add("grant", target, "; ".join(sorted(entries)))

    def _default_acls(self, rows):
        for oid, mine, role, schema, objtype, entries, default in rows:
            if schema is None:  # a global entry: what it changes in the built-in default
                entries = sorted(set(entries) - set(default)) + sorted(
                    "no " + entry for entry in set(default) - set(entries))
            if not entries:
                continue  # the same as no entry
            name = "%son %s%s" % ("" if mine else "for role %s " % role,
                                  _DEFAULT_ACL_OBJECTS.get(objtype, objtype),
                                  " in schema %s" % schema if schema else "")
            self.add("default privileges", name, "; ".join(sorted(entries)))


_IDENTIFIER = re.compile(r'"(?:[^"]|"")*"|[^,\s]+')


def _column_names(detail):
    return _IDENTIFIER.findall(detail)


def differences(left, right):
    """[Difference(kind, name, left, right)] between two snapshots, sorted by (kind, name).

    `left`/`right` of a Difference are the details, None where the item is missing.
    A "column order" difference compares only the columns both sides have, and only
    for tables both sides have; its left/right are those columns in each side's order.
    """
    found = []
    for key in sorted(set(left) | set(right)):
        kind, name = key
        mine, theirs = left.get(key), right.get(key)
        if mine == theirs:
            continue
        if kind == "column order":
            if mine is None or theirs is None:
                continue  # the table itself is missing on one side, and says so
            mine, theirs = _column_names(mine), _column_names(theirs)
            common = set(mine) & set(theirs)
            mine = [column for column in mine if column in common]
            theirs = [column for column in theirs if column in common]
            if mine == theirs:
                continue
            mine, theirs = ", ".join(mine), ", ".join(theirs)
        found.append(Difference(kind, name, mine, theirs))
    return found


def compare(left_url, right_url, exclude_tables=()):
    """The differences between the databases at two URLs (snapshot at the same time)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        right = pool.submit(snapshot, right_url, exclude_tables)
        left = snapshot(left_url, exclude_tables)
        return differences(left, right.result())


def failures(diffs):
    """The differences that are failures: all but the notes (NOTE_KINDS)."""
    return [difference for difference in diffs if difference.kind not in NOTE_KINDS]


# -- describe ----------------------------------------------------------------------

# Field names of more than one word (see the details built above); any other field's
# name is its first word.
_KEYS = sorted(("not null", "row level security", "force row level security", "replica identity",
                "cluster on", "partition by", "partition of", "access method", "foreign options",
                "of type", "toast options", "not populated",
                "owned by", "initially deferred", "not valid", "with check",
                "enabled replica", "enabled always", "direct arguments"), key=len, reverse=True)


def _split(detail):
    """The fields of a detail; "definition ..." is always the last one and may hold "; "."""
    if not detail:
        return []
    if detail.startswith("definition "):
        return [detail]
    head, marker, tail = detail.partition("; definition ")
    fields = head.split("; ")
    if marker:
        fields.append("definition " + tail)
    return fields


def _key(field):
    for key in _KEYS:
        if field == key or field.startswith(key + " "):
            return key
    if field in ("cycle", "no cycle"):
        return "cycle"
    return field.split(" ", 1)[0]


def _one_line(text):
    return " ".join(text.split())


def _excerpt(left, right, width=100, context=30):
    """The part of two long texts where they differ, with some context."""
    if len(left) <= width and len(right) <= width:
        return left, right
    prefix = 0
    while prefix < min(len(left), len(right)) and left[prefix] == right[prefix]:
        prefix += 1
    suffix = 0
    while (suffix < min(len(left), len(right)) - prefix
           and left[-1 - suffix] == right[-1 - suffix]):
        suffix += 1
    start = max(0, prefix - context)
    start = left.rfind(" ", 0, start) + 1 if start else 0  # at a word

    def cut(text):
        end = min(len(text), len(text) - suffix + context)
        end = len(text) if text.find(" ", end) < 0 else text.find(" ", end)
        return "%s%s%s" % ("..." if start else "", text[start:end], "..." if end < len(text) else "")
    return cut(left), cut(right)


def _subject(kind, name):
    if kind in ("grant", "comment"):
        return "%s on %s" % (kind, name)
    if kind == "column order":
        return "column order of %s" % name
    return "%s %s" % (kind, name)


def describe(difference, left_label="the migrations", right_label="the models"):
    """One line for a person, e.g. "column public.notes.body: type text in the migrations,
    varchar(20) in the models"."""
    kind, name, left, right = difference
    subject = _subject(kind, name)
    if kind == "comment":
        quote = lambda text: _literal(_one_line(text))  # noqa: E731
        if left is None or right is None:
            present, absent = (left_label, right_label) if right is None else (right_label, left_label)
            return "%s: %s in %s, not in %s" % (subject, quote(left if right is None else right),
                                               present, absent)
        mine, theirs = _excerpt(_one_line(left), _one_line(right))
        return "%s: %s in %s, %s in %s" % (subject, _literal(mine), left_label, _literal(theirs),
                                          right_label)
    if kind in _SET_KINDS:
        mine = set(left.split("; ")) if left else set()
        theirs = set(right.split("; ")) if right else set()
        parts = []
        if theirs - mine:
            parts.append("%s in %s, not in %s" % (", ".join(sorted(theirs - mine)), right_label,
                                                  left_label))
        if mine - theirs:
            parts.append("%s in %s, not in %s" % (", ".join(sorted(mine - theirs)), left_label,
                                                  right_label))
        return "%s: %s" % (subject, "; ".join(parts) or "differs")
    if left is None:
        return "%s: in %s, not in %s" % (subject, right_label, left_label)
    if right is None:
        return "%s: in %s, not in %s" % (subject, left_label, right_label)
    if kind == "column order":
        return "%s: %s in %s, %s in %s" % (subject, left, left_label, right, right_label)
    return "%s: %s" % (subject, "; ".join(_field_differences(left, right, left_label, right_label)))


def _field_differences(left, right, left_label, right_label):
    mine, theirs = {}, {}
    for fields, side in ((_split(left), mine), (_split(right), theirs)):
        for field in fields:
            side.setdefault(_key(field), []).append(_one_line(field))
    order = list(mine)  # the fields of both sides, in their order
    later = list(theirs)
    for position, key in enumerate(later):
        if key not in order:
            following = [order.index(other) for other in later[position + 1:] if other in order]
            order.insert(min(following) if following else len(order), key)
    parts = []
    for key in order:
        ours, others = mine.get(key, []), theirs.get(key, [])
        if ours == others:
            continue
        if len(ours) == 1 and len(others) == 1:
            a, b = ours[0], others[0]
            if a.startswith(key + " ") and b.startswith(key + " "):
                a, b = _excerpt(a[len(key) + 1:], b[len(key) + 1:])
                parts.append("%s %s in %s, %s in %s" % (key, a, left_label, b, right_label))
            else:
                parts.append("%s in %s, %s in %s" % (a, left_label, b, right_label))
            continue
        only_mine = [field for field in ours if field not in others]
        only_theirs = [field for field in others if field not in ours]
        if only_mine:
            parts.append("%s in %s, not in %s" % (", ".join(only_mine), left_label, right_label))
        if only_theirs:
            parts.append("%s in %s, not in %s" % (", ".join(only_theirs), right_label, left_label))
        if not only_mine and not only_theirs:  # the same fields in another order
            parts.append("%s in %s, %s in %s" % (", ".join(ours), left_label, ", ".join(others),
                                                 right_label))
    return parts or ["%s in %s, %s in %s" % (_one_line(left), left_label, _one_line(right),
                                             right_label)]
