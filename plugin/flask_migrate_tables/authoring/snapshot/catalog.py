"""Reading one database's catalog: the queries, run in one READ ONLY transaction (snapshot())."""
from collections import namedtuple

from sqlalchemy.engine.url import make_url

from ...pg import connection as conn
from .builder import Builder

Item = namedtuple("Item", "kind name detail")

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


def snapshot(url, exclude_tables=()):
    """{(kind, name): detail} of the database at `url` (see the package's docstring)."""
    connection = conn.connect(conn.connect_params(make_url(url)))
    try:
        connection.set_session(isolation_level="REPEATABLE READ", readonly=True, autocommit=False)
        version = connection.server_version
        try:
            with connection.cursor() as cursor:
                cursor.execute(_SETTINGS)
                rows = {}
                for key, query in queries(version):
                    cursor.execute(query)
                    rows[key] = cursor.fetchall()
        finally:
            connection.rollback()
    finally:
        connection.close()
    return Builder(rows, exclude_tables).items


def queries(version):
    compression = "a.attcompression::text" if version >= 140000 else "NULL::text"
    target = "s.stxstattarget::int" if version >= 130000 else "NULL::int"
    return (("members", _EXTENSION_MEMBERS), ("schemas", _SCHEMAS), ("relations", _RELATIONS),
            ("columns", _COLUMNS.format(compression=compression)), ("constraints", _CONSTRAINTS),
            ("types", _TYPES), ("functions", _FUNCTIONS), ("triggers", _TRIGGERS),
            ("rules", _RULES), ("policies", _POLICIES), ("event triggers", _EVENT_TRIGGERS),
            ("statistics", _STATISTICS.format(target=target)), ("extensions", _EXTENSIONS),
            ("comments", _COMMENTS), ("grants", _GRANTS), ("default acls", _DEFAULT_ACLS))
