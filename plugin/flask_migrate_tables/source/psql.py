"""What psql itself reads in a script: meta-command lines and COPY data.

pg_dump output is the script users most often start from. It has lines that
only psql understands: `\\restrict KEY` / `\\unrestrict KEY` (PostgreSQL 18,
and recent minors of older majors), and with data, `COPY t (a, b) FROM stdin;`
followed by rows up to a line `\\.`. `prepare` finds them with PostgreSQL's
own scanner (pglast), so a backslash inside a string, a dollar-quoted body or
a comment is never taken for one:

- `\\restrict` and `\\unrestrict` lines are left out;
- each COPY FROM stdin with its rows becomes a `Copy`, loaded by the runner
  with psycopg2's copy_expert in the script's transaction;
- any other meta-command (`\\connect`, `\\set`, `\\i`, ...) stops the run
  before any script runs, naming the file, the line and the command.

The text handed on has the same length and the same lines as the file, with
what was taken out blanked, so every offset and line number still holds.
"""
import re
from collections import namedtuple

from ..errors import InvalidScripts
from .lines import line_at

Copy = namedtuple("Copy", "start end statement data data_line")
Prepared = namedtuple("Prepared", "text copies")

IGNORED = ("restrict", "unrestrict")
_META_LINE = re.compile(r"^[ \t]*\\", re.MULTILINE)
_FROM_STDIN = re.compile(r"\bfrom\s+stdin\b", re.IGNORECASE)
_END_OF_DATA = re.compile(r"^\\\.[ \t]*\r?$", re.MULTILINE)
_BLANK = re.compile(r"[^\n]")


def needs_preparing(text):
    """Cheap screen: no backslash at all, nothing for psql to do (a plain `in` is fast)."""
    return "\\" in text and _META_LINE.search(text) is not None


def may_have_psql_lines(data, piece=1 << 20):
    """The same screen over a script's UTF-8 bytes: False when psql would find nothing in it.

    Conservative: a backslash, or `stdin` in any case anywhere (found a piece at a
    time in lower case; a regular expression over all of a 100 MB script took 0.7 s).
    """
    if b"\\" in data:
        return True
    return any(b"stdin" in data[max(0, start - 8):start + piece].lower()
               for start in range(0, len(data), piece))


def _top_level(text, start, end):
    """True when position `end` is outside every string, quoted name and comment begun after `start`."""
    from pglast.parser import ParseError, scan  # pglast only for a script that has psql's lines

    try:
        tokens = scan(text[start:end])
    except ParseError:
        return False  # an unterminated string, dollar quote or /* comment
    if tokens and tokens[-1].name == "SQL_COMMENT" and "\n" not in text[start + tokens[-1].start:end]:
        return False  # inside a -- comment
    return True


def _statement_start(text, start, end):
    """Where the statement that is open at `end` begins: after the last top-level `;`."""
    from pglast.parser import scan

    begin = start
    for token in scan(text[start:end]):
        if token.name == "ASCII_59":
            begin = start + token.end + 1
    return begin


def _line_end(text, position):
    end = text.find("\n", position)
    return len(text) if end == -1 else end + 1


def _copy_from_stdin(text, begin, match_end, name):
    """(statement end, CopyStmt) when a top-level COPY ... FROM stdin ends its line; else None."""
    from pglast import ast, parse_sql
    from pglast.parser import ParseError, scan

    end_of_line = _line_end(text, match_end)
    try:
        tokens = scan(text[begin:end_of_line])
    except ParseError:
        return None
    ends = [begin + token.end + 1 for token in tokens if token.name == "ASCII_59"]
    if not ends:
        return None
    statement = text[begin:ends[0]]
    try:
        node = parse_sql(statement)[0].stmt
    except ParseError:
        return None
    if not (isinstance(node, ast.CopyStmt) and node.is_from and node.filename is None):
        return None
    return ends[0]


def prepare(text, name):
    """Find psql's lines in a script; return Prepared(text as the server gets it, copies)."""
    if not needs_preparing(text) and not _FROM_STDIN.search(text):
        return Prepared(text, ())
    pieces, copies = [], []
    done = 0      # text[:done] is handled
    position = 0  # where to look for the next meta line or COPY
    while True:
        meta = _META_LINE.search(text, position)
        copy = _FROM_STDIN.search(text, position)
        found = min((m for m in (meta, copy) if m is not None), key=lambda m: m.start(), default=None)
        if found is None:
            break
        if not _top_level(text, done, found.start()):
            position = found.start() + 1
            continue
        if found is meta:
            line_end = _line_end(text, found.start())
            command = text[found.end():line_end].split(None, 1)
            command = command[0] if command else ""
            if command.lower() not in IGNORED:
                raise InvalidScripts(
                    "%s: line %d: psql meta-command \\%s is not supported in a migration script; "
                    "only SQL, COPY ... FROM stdin with its data, and pg_dump's \\restrict / "
                    "\\unrestrict lines are" % (name, line_at(text, found.start()), command))
            pieces += [text[done:found.start()], _BLANK.sub(" ", text[found.start():line_end])]
            done = position = line_end
            continue
        begin = _statement_start(text, done, found.start())
        statement_end = _copy_from_stdin(text, begin, found.end(), name)
        if statement_end is None:
            position = found.end()
            continue
        data_start = _line_end(text, statement_end)
        terminator = _END_OF_DATA.search(text, data_start)
        if terminator is None:
            raise InvalidScripts("%s: line %d: COPY ... FROM stdin has no end-of-data line \\. after "
                                 "its rows" % (name, line_at(text, begin)))
        block_end = _line_end(text, terminator.start())
        copies.append(Copy(begin, block_end, text[begin:statement_end],
                           text[data_start:terminator.start()], line_at(text, data_start)))
        pieces += [text[done:begin], _BLANK.sub(" ", text[begin:block_end])]
        done = position = block_end
    if not pieces:
        return Prepared(text, ())
    pieces.append(text[done:])
    return Prepared("".join(pieces), tuple(copies))
