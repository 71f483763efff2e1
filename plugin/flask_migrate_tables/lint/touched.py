"""What each statement of a script works on, makes and silences (from pglast's tree)."""
import re
from collections import namedtuple

Analysed = namedtuple("Analysed", "start line table new ignores")
_IGNORE = re.compile(r"--\s*lint:\s*ignore\b(.*)", re.IGNORECASE)


def table_key(schema, name):
    """How a table is compared: schema-qualified unless it is public (or unqualified)."""
    return name if schema in (None, "", "public") else "%s.%s" % (schema, name)


def _range_var(node):
    return (node.schemaname, node.relname) if node is not None and node.relname else None


def _touched(node, indexes):
    """(the table a statement works on, the tables and indexes it makes), from pglast's tree."""
    from pglast import ast
    from pglast.enums import ObjectType
    made = []
    table = None
    if isinstance(node, ast.CreateStmt):
        made.append(_range_var(node.relation))
    elif isinstance(node, ast.CreateTableAsStmt) and node.into is not None:
        made.append(_range_var(node.into.rel))
    elif isinstance(node, ast.IndexStmt):
        table = _range_var(node.relation)
        if node.idxname and table:
            indexes[table_key(node.relation.schemaname, node.idxname)] = table
    elif isinstance(node, (ast.AlterTableStmt, ast.RenameStmt, ast.ClusterStmt, ast.ReindexStmt)):
        table = _range_var(getattr(node, "relation", None))
    elif isinstance(node, ast.TruncateStmt) and node.relations:
        table = _range_var(node.relations[0])
    elif isinstance(node, ast.VacuumStmt) and node.rels:
        table = _range_var(node.rels[0].relation)
    elif isinstance(node, ast.DropStmt) and node.objects and node.removeType in (
            ObjectType.OBJECT_TABLE, ObjectType.OBJECT_INDEX):
        names = [part.sval for part in node.objects[0] if hasattr(part, "sval")]
        if names:
            table = (names[-2] if len(names) > 1 else None, names[-1])
    if table is not None and table_key(*table) in indexes:  # an index: its table
        table = indexes[table_key(*table)]
    return table, [m for m in made if m]


def _ignores(lines, line):
    """Rules named by `-- lint: ignore` in the comment lines right above a statement's line."""
    rules = set()
    number = line - 1  # the line before, 1-based
    while number >= 1:
        text = lines[number - 1].strip()
        if not text.startswith("--"):
            break
        match = _IGNORE.match(text)
        if match:
            rules.update(rule for rule in re.split(r"[\s,]+", match.group(1)) if rule)
        number -= 1
    return rules


def analyse(text, statements, created):
    """Each statement's table, whether that table is new in this run, and its ignores.

    `created` (keys of tables made earlier in the run) grows with what these statements make.
    """
    from pglast import ast, parse_sql
    from pglast.parser import ParseError
    lines = text.split("\n")
    indexes = {}
    analysed = []
    for statement in statements:
        try:
            node = parse_sql(statement.text)[0].stmt
        except (ParseError, IndexError):
            node = None
        table, made = _touched(node, indexes) if node is not None else (None, [])
        new = table is not None and table_key(*table) in created
        if isinstance(node, ast.RenameStmt) and new and node.newname and not node.subname:
            created.add(table_key(node.relation.schemaname, node.newname))  # a new table renamed
        analysed.append(Analysed(statement.start, statement.line, table, new,
                                 _ignores(lines, statement.line)))
        created.update(table_key(*m) for m in made)
    return analysed
