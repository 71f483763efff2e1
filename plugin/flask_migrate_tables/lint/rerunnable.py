"""The rule `repeatable-not-rerunnable`: a statement of a repeatable script that fails when run again.

A repeatable script is run again whole whenever it changes, and runs first on a
database where its objects may not exist yet: each statement must work both
ways. A CREATE needs OR REPLACE or IF NOT EXISTS, or a `DROP ... IF EXISTS` of
the same object earlier in the file; a DROP needs IF EXISTS; ALTER TABLE ... ADD
COLUMN needs IF NOT EXISTS, ADD CONSTRAINT an earlier DROP CONSTRAINT IF EXISTS;
an INSERT needs ON CONFLICT.
"""
from ..source.repeatable_tree import DbObject, created_by, object_key
from .rules import ERROR, Finding

RULE = "repeatable-not-rerunnable"

_DROP_KINDS = {"OBJECT_VIEW": "view", "OBJECT_MATVIEW": "matview", "OBJECT_TABLE": "table",
               "OBJECT_SEQUENCE": "sequence", "OBJECT_INDEX": "index", "OBJECT_TYPE": "type",
               "OBJECT_DOMAIN": "domain", "OBJECT_FUNCTION": "function",
               "OBJECT_PROCEDURE": "procedure", "OBJECT_ROUTINE": "function",
               "OBJECT_TRIGGER": "trigger", "OBJECT_POLICY": "policy"}

# The CREATE statements that can never say OR REPLACE / IF NOT EXISTS but need a DROP first.
_DROP_FIRST = {"trigger": "DROP TRIGGER IF EXISTS name ON table; first (or CREATE OR REPLACE "
                          "TRIGGER on PostgreSQL 14+)",
               "type": "DROP TYPE IF EXISTS name CASCADE; first (the CASCADE drops what uses it: "
                       "keep those in files after this one)",
               "domain": "DROP DOMAIN IF EXISTS name CASCADE; first",
               "policy": "DROP POLICY IF EXISTS name ON table; first"}


def rerunnable_findings(shown, parsed, ignores=None):
    """The findings of one repeatable file: `parsed` is repeatables.parsed_statements' list,
    `ignores` the rules silenced at each statement's line (by `-- lint: ignore`)."""
    dropped, findings = set(), []
    for statement, node in parsed:
        problem = _problem(node, dropped)
        if problem and RULE not in (ignores or {}).get(statement.line, ()):
            findings.append(Finding(shown, statement.line, RULE, ERROR, problem[0], problem[1],
                                    statement.line))
    return findings


def _problem(node, dropped):
    """(message, fix) when the statement fails when run again; `dropped` grows with DROP IF EXISTS."""
    from pglast import ast
    if isinstance(node, ast.DropStmt):
        return _drop(node, dropped)
    if isinstance(node, ast.InsertStmt):
        return None if node.onConflictClause is not None else (
            "INSERT without ON CONFLICT adds its rows again (or fails on a key) when the file runs "
            "again", "INSERT ... ON CONFLICT DO NOTHING (or DO UPDATE)")
    if isinstance(node, ast.AlterTableStmt):
        return _alter_table(node, dropped)
    if isinstance(node, (ast.CreateSchemaStmt, ast.CreateExtensionStmt)) and not node.if_not_exists:
        return ("CREATE %s fails when the file runs again: it already exists" % (
            "SCHEMA" if isinstance(node, ast.CreateSchemaStmt) else "EXTENSION"), "IF NOT EXISTS")
    if isinstance(node, ast.IndexStmt) and not node.idxname:
        return ("CREATE INDEX without a name makes one more index each time the file runs",
                "name it: CREATE INDEX IF NOT EXISTS name ON ...")
    if isinstance(node, ast.CreatePolicyStmt):
        made = [_policy(node.policy_name, node.table)]
    else:
        made = created_by(node)
    if not made or getattr(node, "replace", False) or getattr(node, "if_not_exists", False) or (
            isinstance(node, ast.CreateTableAsStmt) and node.if_not_exists):
        return None
    if all(object_key(item) in dropped for item in made):
        return None
    item = made[0]
    fix = _DROP_FIRST.get(item.kind) or (
        "CREATE OR REPLACE %s" % item.kind.upper() if item.kind in ("view", "function", "procedure")
        else "CREATE %s IF NOT EXISTS, or DROP %s IF EXISTS first" % (_word(item), _word(item)))
    return ("CREATE %s %s fails when the file runs again: it already exists" % (
        _word(item), item.name), fix)


def _word(item):
    return {"matview": "MATERIALIZED VIEW"}.get(item.kind, item.kind.upper())


def _policy(name, table):
    return DbObject("policy", None, name, DbObject("table", table.schemaname, table.relname, None))


def _drop(node, dropped):
    from pglast.enums import ObjectType
    if not node.missing_ok:
        return ("DROP without IF EXISTS fails on a database where the object is missing (the "
                "file's first run, or after a CASCADE dropped it)", "DROP ... IF EXISTS")
    kind = _DROP_KINDS.get(ObjectType(node.removeType).name)
    for names in node.objects or ():
        item = _dropped_object(kind, names)
        if item is not None:
            dropped.add(object_key(item))
    return None


def _dropped_object(kind, names):
    """The DbObject a DROP names: a list of Strings, a TypeName or an ObjectWithArgs."""
    names = getattr(names, "names", None) or getattr(names, "objname", None) or names
    parts = [getattr(part, "sval", None) for part in names] if isinstance(names, tuple) else []
    if kind is None or not parts or None in parts:
        return None
    if kind in ("trigger", "policy"):  # table parts, then the trigger's name
        table = parts[:-1]
        return DbObject(kind, None, parts[-1], DbObject(
            "table", table[-2] if len(table) > 1 else None, table[-1] if table else None, None))
    return DbObject(kind, parts[-2] if len(parts) > 1 else None, parts[-1], None)


def _alter_table(node, dropped):
    from pglast.enums import AlterTableType
    table = (node.relation.schemaname or "public", node.relation.relname)
    for command in node.cmds or ():
        subtype = AlterTableType(command.subtype).name
        if subtype == "AT_DropConstraint" and command.missing_ok:
            dropped.add(("constraint",) + table + (command.name,))
        elif subtype == "AT_AddColumn" and not command.missing_ok:
            return ("ALTER TABLE ... ADD COLUMN fails when the file runs again: the column exists",
                    "ADD COLUMN IF NOT EXISTS")
        elif subtype == "AT_AddConstraint":
            name = getattr(command.def_, "conname", None)
            if ("constraint",) + table + (name,) not in dropped:
                return ("ALTER TABLE ... ADD CONSTRAINT fails when the file runs again: the "
                        "constraint exists", "ALTER TABLE ... DROP CONSTRAINT IF EXISTS name; first")
    return None
