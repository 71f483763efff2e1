"""Splitting a script into statements and deciding what may run inside a transaction.

A script normally runs whole inside one transaction, so it commits whole or
not at all. Some statements cannot run inside a transaction block
(CREATE INDEX CONCURRENTLY, VACUUM, ...) or must be committed before later
statements may use what they made (ALTER TYPE ... ADD VALUE). A script with
such a statement, or with the header `-- migrate: no-transaction`, runs in
steps: each such statement on its own, the statements between them together
in a transaction.

Statements are found with pglast, which wraps PostgreSQL's own parser.
"""
import re
from collections import namedtuple

from pglast import parse_sql
from pglast import ast
from pglast.enums import TransactionStmtKind
from pglast.parser import ParseError, split

from .errors import InvalidScripts, ScriptFailed

TRANSACTION = "transaction"
NO_TRANSACTION = "no-transaction"

NO_TRANSACTION_HEADER = re.compile(r"--\s*migrate:\s*no-transaction\s*\Z", re.IGNORECASE)

# Every statement that cannot run in a transaction, or that controls one,
# contains one of these words as a keyword of its own. A script without any of
# them runs whole as one transaction without being split at all, which keeps
# large data scripts cheap. Only whole words count: `value` inside `VALUES` or
# `start` inside `started_at` cannot be a keyword (PostgreSQL's identifiers go
# on through letters, digits, `_`, `$` and every non-ASCII character).
_SCREEN_WORDS = ("concurrently", "vacuum", "system", "database", "tablespace", "cluster",
                 "subscription", "begin", "start", "commit", "end", "rollback", "abort",
                 "prepare", "value")

Statement = namedtuple("Statement", "start end line text outside_transaction why")
Step = namedtuple("Step", "start end line statements transactional")
# `prepared`: psql.Prepared when psql's own lines were taken out (the text to run, the COPYs)
ScriptPlan = namedtuple("ScriptPlan", "mode steps statements prepared", defaults=(None,))


def line_at(text, offset):
    """1-based line number of a character offset."""
    return text.count("\n", 0, offset) + 1


_LINE_BREAK = re.compile("\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def _lines(text):
    """text.splitlines(), one line at a time: a header check must not copy a large script."""
    start = 0
    for match in _LINE_BREAK.finditer(text):
        yield text[start:match.start()]
        start = match.end()
    if start < len(text):
        yield text[start:]


def has_no_transaction_header(text):
    """True when a leading comment line says `-- migrate: no-transaction`."""
    for line in _lines(text):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            return False
        if NO_TRANSACTION_HEADER.match(stripped):
            return True
    return False


def _continues_word(char, digits=True):
    return char.isalpha() or char in "_$" or char > "\x7f" or (digits and char.isdigit())


def may_need_splitting(text):
    """True when a screen word stands as a word of its own somewhere in the text.

    Conservative: a word in a comment or a string counts too (pglast then decides).
    """
    lowered = text.lower()
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
    try:
        slices = split(text, with_parser=True, only_slices=True)
    except ParseError as error:
        message, offset = error.args[0], error.args[1] if len(error.args) > 1 else 0
        raise ScriptFailed("%s: line %d: SQLSTATE 42601: %s; nothing was run"
                           % (name, line_at(text, offset), message))
    statements = []
    line, counted = 1, 0  # line numbers counted on from the previous statement, not from 0
    for piece in slices:
        body = text[piece]
        why = _why_outside_transaction(body) if may_need_splitting(body) else None
        line += text.count("\n", counted, piece.start)
        counted = piece.start
        statements.append(Statement(piece.start, piece.stop, line, body, why is not None, why))
    return statements


_TRANSACTION_CONTROL = {
    TransactionStmtKind.TRANS_STMT_BEGIN: "BEGIN",
    TransactionStmtKind.TRANS_STMT_START: "START TRANSACTION",
    TransactionStmtKind.TRANS_STMT_COMMIT: "COMMIT",
    TransactionStmtKind.TRANS_STMT_ROLLBACK: "ROLLBACK",
    TransactionStmtKind.TRANS_STMT_PREPARE: "PREPARE TRANSACTION",
    TransactionStmtKind.TRANS_STMT_COMMIT_PREPARED: "COMMIT PREPARED",
    TransactionStmtKind.TRANS_STMT_ROLLBACK_PREPARED: "ROLLBACK PREPARED",
}


def _why_outside_transaction(body):
    """Why a statement cannot run inside the script's transaction, or None."""
    node = parse_sql(body)[0].stmt
    if isinstance(node, ast.TransactionStmt):
        # SAVEPOINT, RELEASE and ROLLBACK TO work inside the script's transaction.
        name = _TRANSACTION_CONTROL.get(node.kind)
        return name and "transaction control (%s)" % name
    if isinstance(node, (ast.IndexStmt, ast.DropStmt)) and node.concurrent:
        return "CONCURRENTLY cannot run inside a transaction block"
    if isinstance(node, ast.ReindexStmt) and any(
            getattr(param, "defname", None) == "concurrently" for param in node.params or ()):
        return "REINDEX CONCURRENTLY cannot run inside a transaction block"
    if isinstance(node, ast.VacuumStmt) and node.is_vacuumcmd:
        return "VACUUM cannot run inside a transaction block"
    if isinstance(node, ast.AlterEnumStmt) and node.newVal and not node.oldVal:
        return "a new enum value can only be used once it is committed"
    if isinstance(node, (ast.AlterSystemStmt, ast.CreatedbStmt, ast.DropdbStmt,
                         ast.CreateTableSpaceStmt, ast.DropTableSpaceStmt,
                         ast.CreateSubscriptionStmt, ast.DropSubscriptionStmt)):
        return "%s cannot run inside a transaction block" % type(node).__name__
    if isinstance(node, ast.ClusterStmt) and node.relation is None:
        return "CLUSTER of every table cannot run inside a transaction block"
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
        if (statement.why or "").startswith("transaction control"):
            raise InvalidScripts(
                "%s: line %d: %s inside a migration; the runner gives each script its own "
                "transaction: remove it" % (name, statement.line, statement.why))
    return statements


def plan_script(text, name, list_statements=False):
    """Decide how a script runs: whole in one transaction, or in steps.

    With `list_statements` the statements are always split out (for a dry
    run); otherwise a script that cannot need splitting is left whole.
    """
    from .psql import prepare  # psql.py scans with pglast too; it needs nothing from here
    prepared = prepare(text, name)
    plan = _plan(prepared.text, name, list_statements)
    return plan._replace(prepared=prepared) if prepared.text is not text else plan


def _plan(text, name, list_statements):
    forced = has_no_transaction_header(text)
    if not (forced or list_statements or may_need_splitting(text)):
        return ScriptPlan(TRANSACTION, [Step(0, len(text), 1, None, True)], None)

    statements = _drop_wrapping_transaction(split_statements(text, name), name)
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
