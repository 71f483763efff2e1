"""The diff engine's statements that are known to fail or to give another schema, made right.

Each repair reads the two catalogs and changes, adds or moves statements of
the engine's SQL; none changes what the script is meant to give:

    extension versions    CREATE EXTENSION without VERSION gets the target's version
                          (pgmig leaves it out: the server's default may be another)
    enum to enum          ALTER COLUMN ... TYPE other_enum USING c::other_enum cannot
                          cast; it goes through text, after the old default is dropped
    raised MINVALUE       ALTER SEQUENCE ... MINVALUE m fails while the sequence is
                          below m: it is first set to m (never lowered)
    DETACH PARTITION      moved before the other statements, so columns added to the
                          parent do not reach the partition that leaves it
    dependent views       a table or view the engine drops while views that stay depend
                          on it: those views are dropped first and made again, from the
                          target's definitions, at the end
    left-over sequences   a column's own sequence (serial) that the target does not have,
                          e.g. after serial became an identity column: dropped (before the
                          identity is added: it may want the name)
    populated matviews    CREATE MATERIALIZED VIEW ... WITH NO DATA gets WITH DATA when the
                          target's is populated (an unpopulated one fails every query)
"""
import re

from pglast import ast, parse_sql
from pglast.enums import AlterTableType, ObjectType

from ..pg import connection as conn
from ..source.statements import literal, quoted_name, split_statements

_IDENTITY = "(pg_identify_object('pg_class'::regclass, {oid}, 0)).identity"

_QUERIES = {
    "extensions": "SELECT quote_ident(extname), extversion FROM pg_extension",
    # (table identity, column, is enum, has default)
    "columns": """
        SELECT {table}, a.attname, t.typtype = 'e', a.atthasdef
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_type t ON t.oid = a.atttypid
        WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p')
          AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
    """.format(table=_IDENTITY.format(oid="c.oid")),
    "enums": """
        SELECT (pg_identify_object('pg_type'::regclass, oid, 0)).identity FROM pg_type
        WHERE typtype = 'e'""",
    # (sequence, min value) of the sequences that are not an identity column's
    "sequences": """
        SELECT {seq}, seqmin FROM pg_sequence s WHERE NOT EXISTS (
          SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid
          AND d.deptype = 'i')""".format(seq=_IDENTITY.format(oid="seqrelid")),
    "owned_sequences": """
        SELECT {seq}, {table} FROM pg_sequence s JOIN pg_depend d ON d.classid = 'pg_class'::regclass
          AND d.objid = s.seqrelid AND d.deptype = 'a' AND d.refclassid = 'pg_class'::regclass
          AND d.refobjsubid > 0""".format(seq=_IDENTITY.format(oid="s.seqrelid"),
                                          table=_IDENTITY.format(oid="d.refobjid")),
    # (view, relation it reads, view's kind, view's definition)
    "view_uses": """
        SELECT DISTINCT {view}, {used}, v.relkind, pg_get_viewdef(v.oid, true)
        FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
        WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
          AND d.refobjid <> v.oid AND v.relkind IN ('v', 'm')
          AND v.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
    """.format(view=_IDENTITY.format(oid="v.oid"), used=_IDENTITY.format(oid="d.refobjid")),
    "matviews": """
        SELECT {view}, v.relispopulated FROM pg_class v WHERE v.relkind = 'm'""".format(
        view=_IDENTITY.format(oid="v.oid")),
    "views": """
        SELECT {view}, v.relkind, pg_get_viewdef(v.oid, true) FROM pg_class v
        WHERE v.relkind IN ('v', 'm')
          AND v.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
    """.format(view=_IDENTITY.format(oid="v.oid")),
}


def plain(name):
    """`"x"."data"` and x.data alike: a name to compare, quotes left out."""
    return name.replace('"', "")


def _range_name(relation):
    return plain("%s.%s" % (relation.schemaname or "public", relation.relname))


def repair(engine_sql, source_url, target_url):
    """The engine's SQL with its known mistakes made right ("" stays "")."""
    if not engine_sql.strip():
        return engine_sql
    statements = [s.text.strip() for s in split_statements(engine_sql, "the generated script")]
    source, target = conn.read_rows(source_url, _QUERIES), conn.read_rows(target_url, _QUERIES)
    statements = _extension_versions(statements, dict(target["extensions"]))
    statements = _enum_casts(statements, source, target)
    statements = _raised_minimums(statements, dict(source["sequences"]))
    statements = _detach_first(statements)
    statements = _dependent_views(statements, source, target)
    statements = _left_over_sequences(statements, source, target)
    statements = _populated(statements, {plain(name) for name, populated in target["matviews"]
                                         if populated})
    return "\n".join(s if s.endswith(";") else s + ";" for s in statements) + "\n"


def _node(statement):
    try:
        return parse_sql(statement)[0].stmt
    except Exception:
        return None


def _extension_versions(statements, versions):
    result = []
    for statement in statements:
        node = _node(statement)
        if isinstance(node, ast.CreateExtensionStmt):
            options = {option.defname for option in node.options or ()}
            version = versions.get(node.extname) or versions.get('"%s"' % node.extname)
            if "new_version" not in options and version:
                statement = "%s VERSION %s;" % (statement.rstrip().rstrip(";"), literal(version))
        result.append(statement)
    return result


def _enum_casts(statements, source, target):
    old_columns = {(plain(table), column): (is_enum, has_default)
                   for table, column, is_enum, has_default in source["columns"]}
    enums = {plain(name) for (name,) in target["enums"]}
    result = []
    for statement in statements:
        node = _node(statement)
        if isinstance(node, ast.AlterTableStmt) and len(node.cmds or ()) == 1:
            command = node.cmds[0]
            if command.subtype == AlterTableType.AT_AlterColumnType:
                table = _range_name(node.relation)
                new_type = plain(".".join(n.sval for n in command.def_.typeName.names))
                is_enum, has_default = old_columns.get((table, command.name), (False, False))
                if is_enum and (new_type in enums or "public." + new_type in enums):
                    if has_default:
                        result.append('ALTER TABLE %s ALTER COLUMN "%s" DROP DEFAULT;' % (
                            quoted_name(*table.split(".", 1)), command.name.replace('"', '""')))
                    statement = re.sub(r"(USING\s+(?:\"(?:[^\"]|\"\")+\"|\w+))::", r"\1::text::",
                                       statement, count=1)
        result.append(statement)
    return result


def _raised_minimums(statements, minimums):
    minimums = {plain(name): value for name, value in minimums.items()}
    result = []
    for statement in statements:
        node = _node(statement)
        if isinstance(node, ast.AlterSeqStmt):
            name = _range_name(node.sequence)
            for option in node.options or ():
                if option.defname == "minvalue" and option.arg is not None:
                    value = getattr(option.arg, "ival", None)
                    if value is None:
                        value = int(getattr(option.arg, "fval", "0") or 0)
                    if name in minimums and value > minimums[name]:
                        result.append("SELECT setval(%s, %d, false) FROM %s WHERE last_value < %d;" % (
                            literal(name), value, quoted_name(*name.split(".", 1)), value))
        result.append(statement)
    return result


def _is_detach(statement):
    node = _node(statement)
    return isinstance(node, ast.AlterTableStmt) and any(
        command.subtype == AlterTableType.AT_DetachPartition for command in node.cmds or ())


def _detach_first(statements):
    detaches = [s for s in statements if _is_detach(s)]
    return detaches + [s for s in statements if not _is_detach(s)] if detaches else statements


RELATIONS = (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_VIEW, ObjectType.OBJECT_MATVIEW)


def dropped_relations(statements, kinds=RELATIONS):
    """(index, schema.name) of each object of `kinds` a DROP statement of `statements` drops."""
    dropped = []
    for index, statement in enumerate(statements):
        node = _node(statement)
        if isinstance(node, ast.DropStmt) and node.removeType in kinds:
            for names in node.objects:
                names = names if isinstance(names, (tuple, list)) else (names,)
                parts = [n.sval for n in names]
                dropped.append((index, plain(".".join(["public"] + parts if len(parts) == 1 else parts))))
    return dropped


def _created_relations(statements):
    created = set()
    for statement in statements:
        node = _node(statement)
        if isinstance(node, ast.ViewStmt):
            created.add(_range_name(node.view))
        elif isinstance(node, ast.CreateTableAsStmt):
            created.add(_range_name(node.into.rel))
    return created


def _dependent_views(statements, source, target):
    dropped = dropped_relations(statements)
    if not dropped:
        return statements
    uses = {}
    for view, used, _, _ in source["view_uses"]:
        uses.setdefault(plain(used), set()).add(plain(view))
    already = {name for _, name in dropped}
    created = _created_relations(statements)
    target_views = {plain(view): (kind, definition) for view, kind, definition in target["views"]}
    target_uses = {}
    for view, used, _, _ in target["view_uses"]:
        target_uses.setdefault(plain(view), set()).add(plain(used))

    to_drop = []  # dependents first: each before what it reads
    inserted = {}
    for index, name in dropped:
        found = []

        def visit(relation):
            for view in sorted(uses.get(relation, ())):
                if view in already or view in found:
                    continue
                visit(view)
                found.append(view)
        visit(name)
        if found:
            inserted[index] = found
            to_drop.extend(found)
            already.update(found)
    if not to_drop:
        return statements
    result = []
    kinds = {plain(view): kind for view, _, kind, _ in source["view_uses"]}
    for index, statement in enumerate(statements):
        for view in inserted.get(index, ()):
            result.append("DROP %s %s;" % ("MATERIALIZED VIEW" if kinds.get(view) == "m" else "VIEW",
                                           quoted_name(*view.split(".", 1))))
        result.append(statement)
    remaining = [v for v in to_drop if v in target_views and v not in created]
    while remaining:  # the target's order: a view after the views it reads
        ready = [v for v in remaining if not target_uses.get(v, set()) & (set(remaining) - {v})]
        ready = ready or remaining[:1]
        for view in ready:
            kind, definition = target_views[view]
            result.append("CREATE %s %s AS\n%s" % ("MATERIALIZED VIEW" if kind == "m" else "VIEW",
                                                   quoted_name(*view.split(".", 1)), definition.rstrip().rstrip(";") + ";"))
            remaining.remove(view)
    return result



def _left_over_sequences(statements, source, target):
    """A serial column's sequence the target has no more, dropped after the engine's statements.

    The engine drops the sequence itself when it drops the column or table
    (which takes an owned sequence along); for a column it keeps, it leaves it.
    """
    kept = {plain(name) for name, _ in target["sequences"]}
    dropped_tables = {name for _, name in dropped_relations(statements)}
    dropped = {name for _, name in dropped_relations(statements, (ObjectType.OBJECT_SEQUENCE,))}
    owner = {plain(name): plain(table) for name, table in source["owned_sequences"]}
    result = list(statements)
    for sequence in sorted(set(owner) - kept - dropped):
        if owner[sequence] in dropped_tables:
            continue
        drop = "DROP SEQUENCE IF EXISTS %s;" % quoted_name(*sequence.split(".", 1))
        # Before the identity that replaces it, which may want its name.
        at = next((i for i, statement in enumerate(result) if _adds_identity(statement, owner[sequence])),
                  len(result))
        result.insert(at, drop)
    return result


def _adds_identity(statement, table):
    node = _node(statement)
    return isinstance(node, ast.AlterTableStmt) and _range_name(node.relation) == table and any(
        command.subtype == AlterTableType.AT_AddIdentity for command in node.cmds or ())


def _populated(statements, populated):
    """CREATE MATERIALIZED VIEW ... WITH NO DATA for one the target has populated: WITH DATA
    (an unpopulated materialized view fails every query until it is refreshed)."""
    result = []
    for statement in statements:
        node = _node(statement)
        if isinstance(node, ast.CreateTableAsStmt) and node.into.skipData \
                and _range_name(node.into.rel) in populated:
            statement = re.sub(r"\bWITH\s+NO\s+DATA\s*;?\s*$", "WITH DATA;", statement.rstrip(),
                               flags=re.IGNORECASE)
        result.append(statement)
    return result
