"""Splitting a script into statements and deciding what may run inside a transaction.

A script normally runs whole inside one transaction, so it commits whole or
not at all. Some statements cannot run inside a transaction block
(CREATE INDEX CONCURRENTLY, VACUUM, ...) or must be committed before later
statements may use what they made (ALTER TYPE ... ADD VALUE). A script with
such a statement, or with the header `-- migrate: no-transaction`, runs in
steps: each such statement on its own, the statements between them together
in a transaction.

Statements are found with pglast, which wraps PostgreSQL's own parser. It is
imported on first use: a run whose scripts need no splitting never loads it.
"""
import re
from collections import namedtuple
from functools import lru_cache

from ..errors import InvalidScripts, ScriptFailed
from .headers import has_no_transaction_header
from .lines import line_at

TRANSACTION = "transaction"
NO_TRANSACTION = "no-transaction"

# Every statement that cannot run in a transaction, or that controls one,
# contains one of these words as a keyword of its own. A script without any of
# them runs whole as one transaction without being split at all, which keeps
# large data scripts cheap. Only whole words count: `value` inside `VALUES` or
# `start` inside `started_at` cannot be a keyword (PostgreSQL's identifiers go
# on through letters, digits, `_`, `$` and every non-ASCII character).
_SCREEN_WORDS = ("concurrently", "vacuum", "system", "database", "tablespace", "cluster",
                 "subscription", "reindex", "discard", "begin", "start", "commit", "end",
                 "rollback", "abort", "prepare", "value")

Statement = namedtuple("Statement", "start end line text outside_transaction why")

ADD_VALUE = "a new enum value can only be used once it is committed"
# PostgreSQL 12 runs ALTER TYPE ... ADD VALUE inside a transaction block; before it, never.
ADD_VALUE_IN_TRANSACTION = 120000
Step = namedtuple("Step", "start end line statements transactional")
# `prepared`: psql.Prepared when psql's own lines were taken out (the text to run, the COPYs)
ScriptPlan = namedtuple("ScriptPlan", "mode steps statements prepared", defaults=(None,))


def quoted_name(*parts):
    """An identifier (schema.name, or name) quoted for SQL text; empty parts left out."""
    return ".".join('"%s"' % part.replace('"', '""') for part in parts if part)


def literal(text):
    """A string literal for SQL text, right whatever standard_conforming_strings is."""
    if "\\" not in text:
        return "'%s'" % text.replace("'", "''")
    return "E'%s'" % text.replace("\\", "\\\\").replace("'", "''")


def _continues_word(char, digits=True):
    return char.isalpha() or char in "_$" or char > "\x7f" or (digits and char.isdigit())


def may_need_splitting(text):
    """True when a screen word stands as a word of its own somewhere in the text.

    Conservative: a word in a comment or a string counts too (pglast then decides).
    `text` may also be an iterable of pieces of the text (scripts.decoded_chunks).
    """
    if not isinstance(text, str):
        tail = ""
        for piece in text:  # each piece with the end of the one before, for words across the seam
            piece = tail + piece
            if _has_screen_word(piece.lower()):
                return True
            tail = piece[-_SEAM:]
        return False
    return _has_screen_word(text.lower())


_SEAM = max(len(word) for word in _SCREEN_WORDS) + 2


def _has_screen_word(lowered):
    size = len(lowered)
    for word in _SCREEN_WORDS:
        position = lowered.find(word)
        while position != -1:
            end = position + len(word)
            # A digit before a keyword does not make it part of a name ("1end" lexes apart).
            if (position == 0 or not _continues_word(lowered[position - 1], digits=False)) and (
                    end == size or not _continues_word(lowered[end])):
                return True
            position = lowered.find(word, position + 1)
    return False


def split_statements(text, name):
    """Return the statements of a script, each with its place in the file and how it must run."""
    from pglast.parser import ParseError, split

    try:
        slices = split(text, with_parser=True, only_slices=True)
    except ParseError as error:
        message, offset = error.args[0], error.args[1] if len(error.args) > 1 else 0
        raise ScriptFailed("%s: line %d: SQLSTATE 42601: %s; nothing was run"
                           % (name, line_at(text, offset), message))
    if _slices_keep_comments():
        slices = [_without_leading_comments(text, piece) for piece in slices]
    statements = []
    line, counted = 1, 0  # line numbers counted on from the previous statement, not from 0
    for piece in slices:
        body = text[piece]
        why = _why_outside_transaction(body) if may_need_splitting(body) else None
        line += text.count("\n", counted, piece.start)
        counted = piece.start
        statements.append(Statement(piece.start, piece.stop, line, body, why is not None, why))
    return statements


@lru_cache(maxsize=None)
def _slices_keep_comments():
    """pglast before 8 (Python 3.8 and 3.9) starts a statement's slice at the comments before it."""
    import pglast
    return int(pglast.__version__.lstrip("v").split(".")[0]) < 8


_COMMENT_TOKENS = ("SQL_COMMENT", "C_COMMENT")


def _without_leading_comments(text, piece):
    """`piece` from its first token on, as pglast 8 gives it (PostgreSQL's scanner decides)."""
    from pglast.parser import scan

    if not text[piece.start:piece.start + 1].isspace() and text[piece.start:piece.start + 2] \
            not in ("--", "/*"):
        return piece
    for token in scan(text[piece]):
        if token.name not in _COMMENT_TOKENS:
            return slice(piece.start + token.start, piece.stop)
    return piece


@lru_cache(maxsize=None)
def _kinds():
    """pglast's node types and enums the classification needs (pglast imported here, once)."""
    from pglast import ast
    from pglast.enums import (AlterSubscriptionType, AlterTableType, DiscardMode, ReindexObjectType,
                              TransactionStmtKind)

    transaction_control = {
        TransactionStmtKind.TRANS_STMT_BEGIN: "BEGIN",
        TransactionStmtKind.TRANS_STMT_START: "START TRANSACTION",
        TransactionStmtKind.TRANS_STMT_COMMIT: "COMMIT",
        TransactionStmtKind.TRANS_STMT_ROLLBACK: "ROLLBACK",
        TransactionStmtKind.TRANS_STMT_PREPARE: "PREPARE TRANSACTION",
        TransactionStmtKind.TRANS_STMT_COMMIT_PREPARED: "COMMIT PREPARED",
        TransactionStmtKind.TRANS_STMT_ROLLBACK_PREPARED: "ROLLBACK PREPARED",
    }
    # utility.c: standard_ProcessUtility
    always_outside = (
        (ast.CreatedbStmt, "CREATE DATABASE"),
        (ast.DropdbStmt, "DROP DATABASE"),
        (ast.CreateTableSpaceStmt, "CREATE TABLESPACE"),
        (ast.DropTableSpaceStmt, "DROP TABLESPACE"),
        (ast.AlterSystemStmt, "ALTER SYSTEM"),
    )
    reindex_many = {
        ReindexObjectType.REINDEX_OBJECT_SCHEMA: "REINDEX SCHEMA",
        ReindexObjectType.REINDEX_OBJECT_SYSTEM: "REINDEX SYSTEM",
        ReindexObjectType.REINDEX_OBJECT_DATABASE: "REINDEX DATABASE",
    }
    refreshing = (AlterSubscriptionType.ALTER_SUBSCRIPTION_SET_PUBLICATION,
                  AlterSubscriptionType.ALTER_SUBSCRIPTION_ADD_PUBLICATION,
                  AlterSubscriptionType.ALTER_SUBSCRIPTION_DROP_PUBLICATION)
    return _Kinds(ast, transaction_control, always_outside, reindex_many, refreshing,
                  AlterSubscriptionType, AlterTableType, DiscardMode)


_Kinds = namedtuple("_Kinds", "ast transaction_control always_outside reindex_many refreshing "
                              "AlterSubscriptionType AlterTableType DiscardMode")


# Why a statement runs outside a transaction: PostgreSQL's own words. Each of these
# statements calls PreventInTransactionBlock() (src/backend/access/transam/xact.c) in
# PostgreSQL 15 to 18 and fails inside a transaction block with SQLSTATE 25001
# "<name> cannot run inside a transaction block".
_REFUSED = "%s cannot run inside a transaction block"
DISCARD_ALL = _REFUSED % "DISCARD ALL"

def _boolean(option):
    """An option's value as PostgreSQL's defGetBoolean reads it, or None when it would refuse it.

    No value means true; 0 and 1; true, false, on, off in any case (`off` comes as a
    type name from the grammar).
    """
    ast = _kinds().ast
    value = option.arg
    if value is None:
        return True
    if isinstance(value, ast.Boolean):
        return bool(value.boolval)
    if isinstance(value, ast.Integer):
        return {0: False, 1: True}.get(value.ival)
    if isinstance(value, ast.String):
        text = value.sval
    elif isinstance(value, ast.TypeName) and value.names and len(value.names) == 1:
        text = value.names[0].sval
    else:
        return None
    return {"true": True, "false": False, "on": True, "off": False}.get(text.lower())


def _option(options, name, default):
    """The Boolean value of option `name` (the last one given), else `default`.

    A value PostgreSQL would refuse counts as the default: the statement fails either way.
    """
    value = default
    for option in options or ():
        if getattr(option, "defname", None) == name:
            given = _boolean(option)
            value = default if given is None else given
    return value


def _subscription_why(node):
    """subscriptioncmds.c: CreateSubscription, AlterSubscription, DropSubscription."""
    kinds = _kinds()
    ast, AlterSubscriptionType = kinds.ast, kinds.AlterSubscriptionType
    if isinstance(node, ast.CreateSubscriptionStmt):
        # create_slot defaults to true, and to false with connect = false.
        if _option(node.options, "create_slot", _option(node.options, "connect", True)):
            return _REFUSED % "CREATE SUBSCRIPTION ... WITH (create_slot = true)"
        return None
    if isinstance(node, ast.DropSubscriptionStmt):
        # Refused when the subscription has a replication slot, as it has unless it was
        # made or altered with slot_name = NONE: the catalog decides, so assume the slot.
        return _REFUSED % "DROP SUBSCRIPTION of a subscription with a replication slot"
    if node.kind == AlterSubscriptionType.ALTER_SUBSCRIPTION_REFRESH:
        return _REFUSED % "ALTER SUBSCRIPTION ... REFRESH"
    if node.kind in kinds.refreshing:
        return _REFUSED % "ALTER SUBSCRIPTION with refresh" if _option(
            node.options, "refresh", True) else None
    if node.kind == AlterSubscriptionType.ALTER_SUBSCRIPTION_OPTIONS:
        # PostgreSQL 17: failover; 18: failover, and two_phase = false. On older servers
        # these options do not exist and the statement fails either way.
        names = [option.defname for option in node.options or ()]
        if "failover" in names:
            return _REFUSED % "ALTER SUBSCRIPTION ... SET (failover)"
        if "two_phase" in names and not _option(node.options, "two_phase", True):
            return _REFUSED % "ALTER SUBSCRIPTION ... SET (two_phase = false)"
    return None


def _why_outside_transaction(body):
    """Why a statement cannot run inside the script's transaction, or None.

    Decided from the statement alone. Where PostgreSQL decides from the catalog, the
    default decides: DROP SUBSCRIPTION assumes a replication slot. Not seen here:
    CLUSTER of a partitioned table and REINDEX TABLE / INDEX of a partitioned table or
    index (cluster.c: cluster, indexcmds.c: ReindexPartitions) are refused inside a
    transaction block too; such a script needs `-- migrate: no-transaction`.
    """
    from pglast import parse_sql

    kinds = _kinds()
    ast = kinds.ast
    node = parse_sql(body)[0].stmt
    if isinstance(node, ast.TransactionStmt):
        # SAVEPOINT, RELEASE and ROLLBACK TO work inside the script's transaction.
        name = kinds.transaction_control.get(node.kind)
        return name and "transaction control (%s)" % name
    for node_type, name in kinds.always_outside:
        if isinstance(node, node_type):
            return _REFUSED % name
    if isinstance(node, ast.IndexStmt) and node.concurrent:
        # utility.c: ProcessUtilitySlow
        return _REFUSED % "CREATE INDEX CONCURRENTLY"
    if isinstance(node, ast.DropStmt) and node.concurrent:
        # utility.c: ExecDropStmt (only DROP INDEX takes CONCURRENTLY)
        return _REFUSED % "DROP INDEX CONCURRENTLY"
    if isinstance(node, ast.ReindexStmt):
        # indexcmds.c: ExecReindex; (CONCURRENTLY false) is a plain REINDEX
        if _option(node.params, "concurrently", False):
            return _REFUSED % "REINDEX CONCURRENTLY"
        name = kinds.reindex_many.get(node.kind)
        return name and _REFUSED % name
    if isinstance(node, ast.AlterTableStmt) and any(
            isinstance(command.def_, ast.PartitionCmd) and command.def_.concurrent
            and command.subtype == kinds.AlterTableType.AT_DetachPartition
            for command in node.cmds or ()):
        # utility.c: ProcessUtilitySlow
        return _REFUSED % "ALTER TABLE ... DETACH CONCURRENTLY"
    if isinstance(node, ast.VacuumStmt) and node.is_vacuumcmd:
        # vacuum.c: vacuum; ANALYZE alone runs in a transaction.
        return _REFUSED % "VACUUM"
    if isinstance(node, ast.AlterEnumStmt) and node.newVal and not node.oldVal:
        return ADD_VALUE
    if isinstance(node, ast.ClusterStmt) and node.relation is None:
        # cluster.c: cluster; CLUSTER of one (unpartitioned) table runs in a transaction.
        return _REFUSED % "CLUSTER without a table"
    if isinstance(node, ast.AlterDatabaseStmt) and any(
            option.defname == "tablespace" for option in node.options or ()):
        # dbcommands.c: AlterDatabase (SET TABLESPACE, or WITH TABLESPACE)
        return _REFUSED % "ALTER DATABASE SET TABLESPACE"
    if isinstance(node, ast.DiscardStmt) and node.target == kinds.DiscardMode.DISCARD_ALL:
        # discard.c: DiscardAll; refused by the planner (_drop_wrapping_transaction).
        return DISCARD_ALL
    if isinstance(node, (ast.CreateSubscriptionStmt, ast.AlterSubscriptionStmt,
                         ast.DropSubscriptionStmt)):
        return _subscription_why(node)
    return None


def _drop_wrapping_transaction(statements, name):
    """Leave out a script's own BEGIN ... COMMIT around everything; refuse any other.

    The runner gives each script its transaction (or its steps theirs), and
    records the script inside it; a COMMIT in the middle would break that.
    """
    whys = [s.why or "" for s in statements]
    if (len(statements) >= 2 and whys[0].endswith(("(BEGIN)", "(START TRANSACTION)"))
            and whys[-1].endswith("(COMMIT)")):
        statements = statements[1:-1]
    for statement in statements:
        if statement.why == DISCARD_ALL:
            # It would also release the runner's session advisory lock and reset its session.
            raise InvalidScripts("%s: line %d: DISCARD ALL would end the migration's own lock and "
                                 "session; remove it" % (name, statement.line))
        if (statement.why or "").startswith("transaction control"):
            raise InvalidScripts(
                "%s: line %d: %s inside a migration; the runner gives each script its own "
                "transaction: remove it" % (name, statement.line, statement.why))
    return statements


def plain_plan(size):
    """The plan of a script that runs whole in one transaction, `size` long."""
    return ScriptPlan(TRANSACTION, [Step(0, size, 1, None, True)], None)


def plan_script(text, name, list_statements=False, server_version=None):
    """Decide how a script runs: whole in one transaction, or in steps.

    With `list_statements` the statements are always split out (for a dry
    run); otherwise a script that cannot need splitting is left whole.
    `server_version` (connection.server_version) matters for ADD VALUE only.
    """
    from .psql import prepare  # psql.py scans with pglast too; it needs nothing from here
    prepared = prepare(text, name)
    plan = _plan(prepared.text, name, list_statements, server_version, prepared.copies)
    return plan._replace(prepared=prepared) if prepared.text is not text else plan


def _enum_value_used_later(statements, index):
    """True when a statement after an ADD VALUE uses the new label or casts to the type.

    Only such a use fails inside the transaction that added the value (55P04);
    the ADD VALUE itself runs in a transaction on PostgreSQL 12 and later. A use
    is a string constant equal to the label (quoted, E'', or dollar-quoted), a
    cast to the type (`::type`, `CAST(... AS type)`), or a dollar-quoted body (a
    function, a DO block) that names the label or the type: conservative there,
    as PostgreSQL may check such a body when it is created.
    """
    from pglast import parse_sql
    from pglast.parser import ParseError, scan

    node = parse_sql(statements[index].text)[0].stmt
    label = node.newVal
    type_name = node.typeName[-1].sval  # as the parser keeps it: folded unless it was quoted
    for statement in statements[index + 1:]:
        try:
            tokens = scan(statement.text)
        except ParseError:
            return True
        depth, casts, expect_type = 0, [], False
        for token in tokens:
            raw = statement.text[token.start:token.end + 1]
            name = token.name
            if name == "SCONST" and _uses_label(raw, label, type_name):
                return True
            if expect_type == "dot":  # after a name: `schema.type` goes on with a dot
                expect_type = name == "ASCII_46"
                if expect_type:
                    continue
            elif expect_type:
                expect_type = False
                if raw[0].isalpha() or raw[0] in '_"':  # a name: the type, or its schema
                    if _identifier(raw) == type_name:
                        return True
                    expect_type = "dot"
                    continue
            if name == "TYPECAST":
                expect_type = True
            elif name == "ASCII_40":
                depth += 1
            elif name == "ASCII_41":
                if casts and casts[-1] == depth:
                    casts.pop()
                depth -= 1
            elif name == "CAST":
                casts.append(depth + 1)
            elif name == "AS" and casts and casts[-1] == depth:
                expect_type = True
    return False


def _identifier(raw):
    """A name as PostgreSQL keeps it: a quoted one exactly, another folded to lower case."""
    if raw.startswith('"'):
        return raw[1:-1].replace('""', '"')
    return raw.lower()


def _uses_label(raw, label, type_name):
    """A string constant token (its text as written) that is the label, or a body naming it."""
    if raw.startswith("$"):
        delimiter = raw[:raw.index("$", 1) + 1]
        body = raw[len(delimiter):len(raw) - len(delimiter)]
        quoted = "'%s'" % label.replace("'", "''")
        return body == label or quoted in body or re.search(
            r"(?<![\w$])%s(?![\w$])" % re.escape(type_name), body, re.IGNORECASE) is not None
    if raw[:1] in "eE" and raw[1:2] == "'":
        return raw[2:-1].replace("''", "'").replace("\\'", "'") == label
    if raw.startswith("'"):
        return raw[1:-1].replace("''", "'") == label
    return True  # U&'...' and the like: assume a use


# The screen words as PostgreSQL's scanner names them when they are keywords: outside
# strings, dollar-quoted bodies, quoted names and comments.
_SCREEN_TOKENS = frozenset(("CONCURRENTLY", "VACUUM", "SYSTEM_P", "DATABASE", "TABLESPACE", "CLUSTER",
                            "SUBSCRIPTION", "REINDEX", "DISCARD", "BEGIN_P", "START", "COMMIT", "END_P",
                            "ROLLBACK", "ABORT_P", "PREPARE", "VALUE_P"))
SCANNED_SCREEN = 64 << 10  # a script up to this size is screened by tokens too


def _has_screen_keyword(text):
    """True when a screen word is a keyword token: not inside a function body, string or comment.

    The word screen takes every `BEGIN`/`END` of a PL/pgSQL body; the scanner
    (C, no parse tree) sees such a body as one string, so most scripts with
    functions need no split after all.
    """
    from pglast.parser import ParseError, scan

    try:
        return any(token.name in _SCREEN_TOKENS for token in scan(text))
    except ParseError:
        return True  # the split says what is wrong


def _plan(text, name, list_statements, server_version=None, copies=()):
    forced = has_no_transaction_header(text)
    if not (forced or list_statements or (may_need_splitting(text) and (
            len(text) > SCANNED_SCREEN or _has_screen_keyword(text)))):
        return plain_plan(len(text))

    statements = _drop_wrapping_transaction(split_statements(text, name), name)
    if copies:  # each COPY ... FROM stdin with its rows (blanked in `text`) is a statement too
        statements = sorted(statements + [
            Statement(copy.start, copy.end, line_at(text, copy.start), copy.statement, False, None)
            for copy in copies], key=lambda statement: statement.start)
    if server_version is None or server_version >= ADD_VALUE_IN_TRANSACTION:
        statements = [s._replace(outside_transaction=False, why=None)
                      if s.why == ADD_VALUE and not _enum_value_used_later(statements, number) else s
                      for number, s in enumerate(statements)]
    if forced:
        steps = [Step(s.start, s.end, s.line, [s], False) for s in statements]
        return ScriptPlan(NO_TRANSACTION, steps, statements)
    if not any(s.outside_transaction for s in statements):
        if not statements:
            return ScriptPlan(TRANSACTION, [], statements)
        whole = Step(statements[0].start, statements[-1].end, statements[0].line, statements, True)
        return ScriptPlan(TRANSACTION, [whole], statements)

    steps, chunk = [], []
    for statement in statements:
        if statement.outside_transaction:
            if chunk:
                steps.append(_chunk_step(chunk))
                chunk = []
            steps.append(Step(statement.start, statement.end, statement.line, [statement], False))
        else:
            chunk.append(statement)
    if chunk:
        steps.append(_chunk_step(chunk))
    return ScriptPlan(NO_TRANSACTION, steps, statements)


def _chunk_step(chunk):
    return Step(chunk[0].start, chunk[-1].end, chunk[0].line, chunk, True)
