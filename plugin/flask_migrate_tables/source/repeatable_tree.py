"""What one parsed statement creates and references, read from its pglast parse tree.

Kept to the node attributes pglast 7 (Python 3.9) and 8 both have. Names are as
the parser keeps them: unquoted ones folded to lower case, quoted ones exact.
"""
from collections import namedtuple

# kind: "view" | "matview" | "table" | "sequence" | "index" | "function" | "procedure" |
# "trigger" | "type" | "domain"; a reference's kind is what its syntax tells: "relation"
# (FROM, JOIN, ON, GRANT ... ON), "function", "type", "trigger".
# schema: None when unqualified; table: a trigger's table (a DbObject), else None.
DbObject = namedtuple("DbObject", "kind schema name table")

# Which kinds share a catalog namespace: a reference matches a creation of the same space.
_SPACE = {"view": "relation", "matview": "relation", "table": "relation", "sequence": "relation",
          "index": "relation", "relation": "relation", "function": "routine",
          "procedure": "routine", "type": "type", "domain": "type", "trigger": "trigger"}


def object_key(item):
    """The key a creation and a reference match on: namespace, schema (unqualified = public), name."""
    table = object_key(item.table) if item.table is not None else None
    return _SPACE.get(item.kind, item.kind), item.schema or "public", item.name, table


def _ast():
    from pglast import ast
    return ast


def _enums():
    from pglast import enums
    return enums


def _split(names):
    """(schema, name) of a qualified name given as Strings (a catalog part left out)."""
    parts = [getattr(part, "sval", None) for part in names or ()]
    if not parts or any(part is None for part in parts):
        return None, None
    return (parts[-2] if len(parts) > 1 else None), parts[-1]


def _named(kind, names, table=None):
    schema, name = _split(names)
    return [DbObject(kind, schema, name, table)] if name is not None else []


def _relation(kind, range_var):
    return DbObject(kind, range_var.schemaname, range_var.relname, None)


def created_by(node):
    """The objects a statement creates: a list of DbObject (empty for anything else)."""
    ast, enums = _ast(), _enums()
    if isinstance(node, ast.ViewStmt):
        return [_relation("view", node.view)]
    if isinstance(node, ast.CreateTableAsStmt):
        kind = "matview" if node.objtype == enums.ObjectType.OBJECT_MATVIEW else "table"
        return [_relation(kind, node.into.rel)]
    if isinstance(node, ast.CreateFunctionStmt):
        return _named("procedure" if node.is_procedure else "function", node.funcname)
    if isinstance(node, ast.CreateTrigStmt):
        return [DbObject("trigger", None, node.trigname, _relation("table", node.relation))]
    if isinstance(node, ast.CompositeTypeStmt):
        return [_relation("type", node.typevar)]
    if isinstance(node, (ast.CreateEnumStmt, ast.CreateRangeStmt)):
        return _named("type", node.typeName)
    if isinstance(node, ast.DefineStmt) and node.kind == enums.ObjectType.OBJECT_TYPE:
        return _named("type", node.defnames)
    if isinstance(node, ast.CreateDomainStmt):
        return _named("domain", node.domainname)
    if isinstance(node, ast.CreateStmt):
        return [_relation("table", node.relation)]
    if isinstance(node, ast.CreateSeqStmt):
        return [_relation("sequence", node.sequence)]
    if isinstance(node, ast.IndexStmt) and node.idxname:
        return [DbObject("index", node.relation.schemaname, node.idxname, None)]
    return []


def referenced_by(node):
    """The objects a statement uses: a list of DbObject; none for DROP (it may name anything)."""
    ast = _ast()
    if isinstance(node, ast.DropStmt):
        return []
    found = []
    if isinstance(node, ast.CreateTrigStmt):
        found += _named("function", node.funcname)
    elif isinstance(node, (ast.CommentStmt, ast.GrantStmt)):
        found += _named_objects(node)
    elif isinstance(node, ast.CreateFunctionStmt):
        found += _sql_body(node)
    created = {key for item in created_by(node) for key in (object_key(item), object_key(
        item._replace(kind="relation")))}  # a composite type is a relation too
    return [item for item in found + _walk(node)
            if item.schema != "pg_catalog" and object_key(item) not in created]


def _named_objects(node):
    """What COMMENT ON and GRANT ... ON name as lists of Strings (a relation, a column's, a trigger's)."""
    ObjectType = _enums().ObjectType
    objects = [node.object] if hasattr(node, "object") else list(node.objects or ())
    found = []
    for names in objects:
        if not isinstance(names, tuple):
            continue  # RangeVar, ObjectWithArgs, TypeName: the walk finds them
        if node.objtype == ObjectType.OBJECT_COLUMN:
            found += _named("relation", names[:-1])
        elif node.objtype == ObjectType.OBJECT_TRIGGER:
            table = _named("relation", names[:-1])
            found += _named("trigger", names[-1:], table[0] if table else None)
        elif node.objtype in (ObjectType.OBJECT_TYPE, ObjectType.OBJECT_DOMAIN):
            found += _named("type", names)
        elif node.objtype in (ObjectType.OBJECT_FUNCTION, ObjectType.OBJECT_PROCEDURE,
                              ObjectType.OBJECT_ROUTINE):
            found += _named("function", names)
        elif node.objtype not in (ObjectType.OBJECT_SCHEMA, ObjectType.OBJECT_ROLE,
                                  ObjectType.OBJECT_DATABASE, ObjectType.OBJECT_EXTENSION):
            found += _named("relation", names)
    return found


def _sql_body(node):
    """What a LANGUAGE sql function's body uses: its sql_body (PostgreSQL 14+), else its AS string
    when that parses. Other languages' bodies are not read."""
    from pglast import parse_sql
    from pglast.parser import ParseError

    if getattr(node, "sql_body", None) is not None:
        return _walk(node.sql_body)
    options = {option.defname: option.arg for option in node.options or ()}
    language = getattr(options.get("language"), "sval", "sql")
    body = options.get("as")
    if language.lower() != "sql" or not body or not hasattr(body[0], "sval"):
        return []
    try:
        statements = parse_sql(body[0].sval)
    except ParseError:
        return []
    return [item for raw in statements for item in _walk(raw.stmt)]


def _walk(tree):
    """Every relation (RangeVar), function called (FuncCall, ObjectWithArgs) and type (TypeName)
    in a tree; a name of one of the tree's own CTEs is not a relation."""
    ast = _ast()
    found, ctes, stack = [], set(), [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):
            stack.extend(reversed(node))
            continue
        if not isinstance(node, ast.Node):
            continue
        if isinstance(node, ast.RangeVar):
            found.append(_relation("relation", node))
        elif isinstance(node, ast.FuncCall):
            found += _named("function", node.funcname)
        elif isinstance(node, ast.ObjectWithArgs):
            found += _named("function", node.objname)
        elif isinstance(node, ast.TypeName):
            found += _named("type", node.names)
        elif isinstance(node, ast.CommonTableExpr):
            ctes.add(node.ctename)
        stack.extend(getattr(node, attribute) for attribute in reversed(list(node.__slots__)))
    return [item for item in found
            if not (item.kind == "relation" and item.schema is None and item.name in ctes)]
