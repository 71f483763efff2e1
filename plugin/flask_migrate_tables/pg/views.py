"""Views whose new definition cannot replace the old one: dropped with their dependents and made again.

`CREATE OR REPLACE VIEW` cannot drop, rename or retype a column (SQLSTATE 42P16,
or 0A000), and a view other views depend on cannot be dropped alone. When a
repeatable script fails so, its runner rolls back to the savepoint taken before
the file and calls `rebuild` (still in the file's one transaction): the views
that depend on the file's views, found recursively through pg_depend and
pg_rewrite, are captured (definition, options, owner, grants, column grants,
comments, triggers, a materialized view's indexes), dropped with the file's
views, the file runs again, and the dependents are made again in dependency
order: from their own repeatable file when they have one, else from what was
captured. Any failure aborts the transaction: nothing is half-done.
"""
import logging

import psycopg2

log = logging.getLogger("flask_migrate_tables")

# What a failed CREATE OR REPLACE VIEW says when the new definition cannot replace the old one.
VIEW_ERRORS = ("42P16", "0A000")
SAVEPOINT = "migrate_tables_views"

_VIEWS = """
WITH RECURSIVE bases AS (
    SELECT pg_catalog.to_regclass(q)::pg_catalog.oid AS oid FROM pg_catalog.unnest(%(bases)s::text[]) q
    WHERE pg_catalog.to_regclass(q) IS NOT NULL),
found(oid, depth) AS (
    SELECT oid, 0 FROM bases
  UNION ALL
    SELECT r.ev_class, found.depth + 1 FROM found
    JOIN pg_catalog.pg_depend d ON d.refobjid = found.oid
        AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
    JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
    WHERE r.ev_class <> found.oid),
views AS (
    SELECT found.oid, pg_catalog.max(found.depth) AS depth FROM found GROUP BY found.oid),
named AS (
    SELECT v.oid, v.depth, n.nspname, c.relname, c.relkind, c.relowner, c.relacl, c.reloptions,
        pg_catalog.format('%%I.%%I', n.nspname, c.relname) AS q,
        CASE c.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END AS what
    FROM views v JOIN pg_catalog.pg_class c ON c.oid = v.oid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm'))
SELECT v.nspname, v.relname, v.depth, pg_catalog.format('DROP %%s %%s', v.what, v.q),
    pg_catalog.format('CREATE %%s %%s%%s AS %%s', v.what, v.q,
        ' WITH (' || pg_catalog.array_to_string(v.reloptions, ', ') || ')',
        pg_catalog.rtrim(pg_catalog.pg_get_viewdef(v.oid), ';')),
    ARRAY(SELECT pg_catalog.format('ALTER %%s %%s OWNER TO %%I', v.what, v.q,
                                   pg_catalog.pg_get_userbyid(v.relowner))
      UNION ALL
      SELECT pg_catalog.format('GRANT %%s ON %%s TO %%s%%s', a.privilege_type, v.q,
          CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,
          CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
      FROM pg_catalog.aclexplode(v.relacl) a WHERE a.grantee <> v.relowner
      UNION ALL
      SELECT pg_catalog.format('GRANT %%s (%%I) ON %%s TO %%s%%s', a.privilege_type, att.attname, v.q,
          CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,
          CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
      FROM pg_catalog.pg_attribute att, pg_catalog.aclexplode(att.attacl) a
      WHERE att.attrelid = v.oid AND att.attnum > 0 AND att.attacl IS NOT NULL
      UNION ALL
      SELECT pg_catalog.format('COMMENT ON %%s %%s IS %%L', v.what, v.q, d.description)
      FROM pg_catalog.pg_description d
      WHERE d.objoid = v.oid AND d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid = 0
      UNION ALL
      SELECT pg_catalog.format('COMMENT ON COLUMN %%s.%%I IS %%L', v.q, att.attname, d.description)
      FROM pg_catalog.pg_description d JOIN pg_catalog.pg_attribute att
          ON att.attrelid = d.objoid AND att.attnum = d.objsubid
      WHERE d.objoid = v.oid AND d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objsubid > 0
      UNION ALL
      SELECT pg_catalog.pg_get_indexdef(i.indexrelid) FROM pg_catalog.pg_index i WHERE i.indrelid = v.oid
      UNION ALL
      SELECT pg_catalog.pg_get_triggerdef(t.oid) FROM pg_catalog.pg_trigger t
      WHERE t.tgrelid = v.oid AND NOT t.tgisinternal)
FROM named v ORDER BY v.depth, v.nspname, v.relname
"""


class View:
    """One view found by `rebuild`: where it is, how deep below the file's views, how to make it again."""

    def __init__(self, schema, name, depth, drop, create, after):
        self.schema, self.name, self.depth = schema, name, depth
        self.drop, self.create, self.after = drop, create, after

    @property
    def shown(self):
        return "%s.%s" % (self.schema, self.name)


class RebuildFailed(Exception):
    """A statement of the rebuild failed: `filename` and `text` say where, `error` what."""

    def __init__(self, filename, text, error, what):
        super().__init__(str(error))
        self.filename, self.text, self.error, self.what = filename, text, error, what


def _qualified(item):
    return ".".join('"%s"' % part.replace('"', '""') for part in (item.schema, item.name) if part)


def rebuild(cursor, repeatable, file_of, execute):
    """Drop the file's views and their dependents, run the file again, make the dependents again.

    Call it after ROLLBACK TO SAVEPOINT, in the file's transaction. `file_of(schema,
    name)`: the repeatable that creates that view, or None; `execute(cursor, text)`
    sends a file's text. Returns the dependents made again ([View]), or None when
    the file makes no view that exists (the first error stands).
    """
    bases = [_qualified(o) for o in repeatable.creates if o.kind in ("view", "matview")]
    if not bases:
        return None
    cursor.execute(_VIEWS, {"bases": bases})
    views = [View(*row) for row in cursor.fetchall()]
    if not views:
        return None
    for view in sorted(views, key=lambda v: -v.depth):  # the deepest first: no CASCADE needed
        _statement(cursor, view.drop, repeatable, "dropping %s to make it again" % view.shown)
    _run(execute, cursor, repeatable, "running it again after dropping its views")
    done, dependents = {repeatable.filename}, [v for v in views if v.depth > 0]
    for view in dependents:  # by depth: each after the views it selects from
        own = file_of(view.schema, view.name)
        if own is not None:
            if own.filename not in done:
                _run(execute, cursor, own, "making %s again (it depends on %s's views)"
                     % (view.shown, repeatable.filename))
                done.add(own.filename)
            continue
        for statement in [view.create] + list(view.after):
            _statement(cursor, statement, repeatable,
                       "making the dependent view %s again from its definition" % view.shown)
        log.info("%s: made %s again from its definition", repeatable.filename, view.shown)
    return dependents


def _run(execute, cursor, repeatable, what):
    try:
        execute(cursor, repeatable.text)
    except psycopg2.Error as error:
        raise RebuildFailed(repeatable.filename, repeatable.text, error, what) from None


def _statement(cursor, statement, repeatable, what):
    try:
        cursor.execute(statement)
    except psycopg2.Error as error:
        raise RebuildFailed(repeatable.filename, None, error, what) from None
