"""The generated statements lint calls errors, rewritten as the runner runs them safely.

    lint_safe()   make_migration's SQL with each statement on a table that existed before
                  the script (not created in it, not partitioned()) written without a long lock:

        CREATE [UNIQUE] INDEX ...               CREATE [UNIQUE] INDEX CONCURRENTLY ...
        DROP INDEX i                            DROP INDEX CONCURRENTLY i
        ADD CONSTRAINT c UNIQUE (cols)          CREATE UNIQUE INDEX CONCURRENTLY c ON t (cols);
        ADD CONSTRAINT c PRIMARY KEY (cols)     ALTER TABLE t ADD CONSTRAINT c ... USING INDEX c
        ALTER COLUMN c TYPE varchar(more)       the same, under `-- lint: ignore changing-column-type`:
        (or text, or varbit(more))              PostgreSQL changes only the catalog, no rewrite

A CONCURRENTLY statement runs on its own, outside the script's transaction
(source/statements.py), and an INVALID index a failed build leaves is dropped
before the script runs again (pg/indexes.py). Statements on a table the same
script creates stay as they are: lint drops those findings (nobody uses that
table yet). What cannot be made safe inside one script (a foreign key or CHECK
added NOT VALID then validated needs a second transaction; a column type
change; a NOT NULL column) is left for lint to report.
"""
import re

from pglast import ast, parse_sql
from pglast.enums import AlterTableType, ConstrType, DropBehavior, ObjectType

from ..lint.touched import analyse
from ..pg import connection as conn
from ..source.statements import quoted_name, split_statements

_CREATE_INDEX = re.compile(r"\A(\s*CREATE\s+(?:UNIQUE\s+)?INDEX)(\s)", re.IGNORECASE)
_DROP_INDEX = re.compile(r"\A(\s*DROP\s+INDEX)(\s)", re.IGNORECASE)
_KEYS = {ConstrType.CONSTR_UNIQUE: "UNIQUE", ConstrType.CONSTR_PRIMARY: "PRIMARY KEY"}


def partitioned(url):
    """{(schema, name)} of the partitioned tables and indexes at `url`: PostgreSQL builds or drops
    no index CONCURRENTLY on them, so their statements stay as they are."""
    rows = conn.read_rows(url, {"partitioned": (
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('p', 'I')")})["partitioned"]
    return {(schema, name) for schema, name in rows}


def lint_safe(sql, types=None, skip=()):
    """`sql` with the statements above rewritten; everything else (comments too) kept as it is.

    `types`: the old columns' types, {(schema, table, column): (name, modifiers, is_array)}
    (build.column_types), for the type changes that rewrite nothing; `skip`: partitioned()."""
    if not sql.strip():
        return sql
    statements = split_statements(sql, "the generated script")
    pieces, done = [], 0
    for statement, analysed in zip(statements, analyse(sql, statements, set())):
        if analysed.table is None or analysed.new or (
                analysed.table[0] or "public", analysed.table[1]) in skip:
            continue
        rewritten = _rewritten(statement.text, types or {})
        if rewritten is not None:
            pieces += [sql[done:statement.start], rewritten]
            done = statement.end
    return "".join(pieces) + sql[done:]


def _rewritten(text, types):
    """The safe form of one statement, or None when it has none (or needs none)."""
    try:
        node = parse_sql(text)[0].stmt
    except Exception:
        return None
    if isinstance(node, ast.IndexStmt) and not node.concurrent:
        return _CREATE_INDEX.sub(r"\1 CONCURRENTLY\2", text, count=1)
    if (isinstance(node, ast.DropStmt) and node.removeType == ObjectType.OBJECT_INDEX
            and not node.concurrent and len(node.objects) == 1
            and node.behavior == DropBehavior.DROP_RESTRICT):
        return _DROP_INDEX.sub(r"\1 CONCURRENTLY\2", text, count=1)
    if isinstance(node, ast.AlterTableStmt) and _no_rewrite(node, types):
        return _NO_REWRITE + text
    if isinstance(node, ast.AlterTableStmt) and len(node.cmds) == 1:
        return _key_through_index(node, node.cmds[0])
    return None


_NO_REWRITE = ("-- A longer varchar (or text): PostgreSQL changes the catalog only, no table rewrite.\n"
               "-- lint: ignore changing-column-type\n")
_LENGTHS = ("varchar", "varbit")


def _no_rewrite(node, types):
    """True when every command of ALTER TABLE only lengthens a varchar or varbit (or makes it text)."""
    schema = node.relation.schemaname or "public"
    for command in node.cmds or ():
        if command.subtype != AlterTableType.AT_AlterColumnType or not _plain_cast(command):
            return False
        old = types.get((schema, node.relation.relname, command.name))
        type_name = command.def_.typeName
        new_mods = [getattr(getattr(m, "val", None), "ival", None) for m in type_name.typmods or ()]
        new = (type_name.names[-1].sval, new_mods, bool(type_name.arrayBounds))
        if old is None or None in new_mods or old[2] or new[2] or old[0] not in _LENGTHS:
            return False
        if new[0] == "text" and old[0] == "varchar":
            continue
        if new[0] != old[0] or (new_mods and (not old[1] or new_mods[0] < old[1][0])):
            return False
    return bool(node.cmds)


def _plain_cast(command):
    """No USING, or USING the column itself cast to the new type (the diff engine writes that)."""
    using = command.def_.raw_default
    if using is None:
        return True
    return (isinstance(using, ast.TypeCast) and isinstance(using.arg, ast.ColumnRef)
            and [getattr(f, "sval", None) for f in using.arg.fields] == [command.name]
            and using.typeName.names[-1].sval == command.def_.typeName.names[-1].sval
            and using.typeName.typmods == command.def_.typeName.typmods)


def _key_through_index(node, command):
    """ADD CONSTRAINT c UNIQUE|PRIMARY KEY (cols) as a concurrent index, then USING INDEX."""
    constraint = command.def_
    if (command.subtype != AlterTableType.AT_AddConstraint
            or not isinstance(constraint, ast.Constraint) or constraint.contype not in _KEYS
            or not constraint.conname or not constraint.keys or constraint.indexname
            or constraint.including or constraint.options or constraint.indexspace
            or getattr(constraint, "nulls_not_distinct", False)):
        return None
    table = quoted_name(node.relation.schemaname, node.relation.relname)
    name = quoted_name(constraint.conname)
    columns = ", ".join(quoted_name(key.sval) for key in constraint.keys)
    timing = ""
    if constraint.deferrable:
        timing = " DEFERRABLE INITIALLY %s" % ("DEFERRED" if constraint.initdeferred else "IMMEDIATE")
    return ("CREATE UNIQUE INDEX CONCURRENTLY %s ON %s (%s);\n"
            "ALTER TABLE %s ADD CONSTRAINT %s %s USING INDEX %s%s" % (
                name, table, columns, table, name, _KEYS[constraint.contype], name, timing))
