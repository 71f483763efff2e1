"""Linting scripts: squawk's findings, minus what this runner makes moot, with their levels."""
import bisect
import re
from collections import namedtuple

from ..errors import InvalidScripts, ScriptFailed
from ..paths import shown_path
from ..source.files import read_script
from ..source.statements import plan_script
from .rules import BREAKING, ERROR, LEVEL, LOCKING, Finding, fix_for, kind_of
from .sizes import DEFAULT_SMALL_TABLE_ROWS, with_size
from .squawk import find_squawk, squawk_all
from .touched import analyse

# rule: why this runner makes it moot (the lint package's docstring and README say more)
DROPPED = {
    "require-timeout-settings": "the runner sets lock_timeout and statement_timeout for every step",
    "require-lock-timeout": "the runner sets lock_timeout for every step, and retries",
    "require-statement-timeout": "the runner sets statement_timeout for every step",
    "prefer-robust-stmts": "each script runs in one transaction, or is recorded step by step",
    "transaction-nesting": "the runner gives each script its own transaction",
    "ban-concurrent-index-creation-in-transaction": "the runner runs CONCURRENTLY outside one",
    "ban-uncommitted-transaction": "the runner gives each script its own transaction",
    "syntax-error": "PostgreSQL's own parser (pglast) reads the scripts",
}


Result = namedtuple("Result", "findings scripts dropped ignored")


def _refusal(error):
    """(line, message) of the runner's own refusal of a script."""
    text = str(error)
    match = re.search(r"\bline (\d+)[:,]\s*(.*)", text)
    if not match:
        return 1, text
    message = re.sub(r"; nothing was run\Z", "", match.group(2))
    return int(match.group(1)), message


def _offset(text, line_starts, line, column):
    """The character offset of squawk's 0-based line and byte column."""
    if line >= len(line_starts):
        return len(text)
    start = line_starts[line]
    end = text.find("\n", start)
    end = len(text) if end == -1 else end
    chars = len(text[start:end].encode("utf-8")[:max(column, 0)].decode("utf-8", "ignore"))
    return start + chars


def lint(scripts, sizes=None, pending=(), small_table_rows=DEFAULT_SMALL_TABLE_ROWS, binary=None,
         timeout=None, largest=None):
    """Lint `scripts` (scripts.Script, in version order); a Result.

    `sizes`: TableSizes for the levels of locking findings (None: no database).
    `pending`: versions the database has not run; what one of them creates counts as new
    in the later ones. `largest`: skip scripts longer than that many characters.
    """
    binary = binary or find_squawk()
    pg_version = getattr(sizes, "pg_version", None)
    findings, entries = _read(scripts, pending, largest)
    raw = squawk_all(binary, entries, pg_version, timeout) if entries else {}
    dropped = ignored = 0
    for number, entry in enumerate(entries):
        judged, moot, silenced = _judged(entry, raw.get(number, ()), sizes, small_table_rows)
        findings += judged
        dropped += moot
        ignored += silenced
    order = {shown_path(script.path): number for number, script in enumerate(scripts)}
    findings.sort(key=lambda finding: (order.get(finding.file, 0), finding.line))
    return Result(findings, list(scripts), dropped, ignored)


def _read(scripts, pending, largest):
    """(the runner's refusals as findings, an entry for each script squawk is to read).

    An entry: (script, shown, text, analysed, line_starts).
    """
    findings = []
    created = set()
    entries = []
    for script in scripts:
        text = read_script(script.path)
        if largest is not None and len(text) > largest:
            continue
        shown = shown_path(script.path)
        if script.version not in pending:
            created = set()
        try:
            plan = plan_script(text, script.name, list_statements=True)
        except (InvalidScripts, ScriptFailed) as error:
            findings.append(_refused(shown, error))
            created = set()
            continue
        prepared = plan.prepared.text if plan.prepared is not None else text
        analysed = analyse(prepared, plan.statements or [], created)
        starts = [0] + [match.end() for match in re.finditer("\n", prepared)]
        entries.append((script, shown, prepared, analysed, starts))
        if script.version not in pending:
            created = set()
    return findings, entries


def _refused(shown, error):
    """The finding for a script the runner refuses (or PostgreSQL's parser cannot read)."""
    line, message = _refusal(error)
    rule = "syntax-error" if isinstance(error, ScriptFailed) else "runner"
    fix = ("correct the SQL" if rule == "syntax-error"
           else "change the script as the message says")
    return Finding(shown, line, rule, ERROR, message, fix, None)


def _judged(entry, items, sizes, small_table_rows):
    """(findings, how many dropped, how many ignored) for one script from squawk's `items`."""
    script, shown, text, analysed, starts = entry
    findings = []
    dropped = ignored = 0
    seen = set()
    statement_starts = [a.start for a in analysed]
    for item in items:
        rule = item.get("rule_name") or "unknown"
        if rule in DROPPED:
            dropped += 1
            continue
        line = int(item.get("line") or 0)
        offset = _offset(text, starts, line, int(item.get("column") or 0))
        at = bisect.bisect_right(statement_starts, offset) - 1
        statement = analysed[max(at, 0)] if analysed else None
        if statement is not None and rule in statement.ignores:
            ignored += 1
            continue
        kind = kind_of(rule)
        if kind in (LOCKING, BREAKING) and statement is not None and statement.new:
            dropped += 1
            continue
        message = " ".join((item.get("message") or rule).split())
        finding = Finding(shown, line + 1, rule, LEVEL[kind], message,
                          fix_for(rule, item.get("help")),
                          statement.line if statement is not None else None)
        if (finding.line, rule) in seen:
            continue
        seen.add((finding.line, rule))
        if kind == LOCKING and sizes is not None and statement is not None and statement.table:
            finding = with_size(finding, sizes(statement.table), small_table_rows)
        findings.append(finding)
    return findings, dropped, ignored
