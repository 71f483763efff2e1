"""A script's `-- migrate:` header lines: the one parser of them.

Header lines are comment lines before a script's first statement (blank lines
between them allowed):

    -- migrate: no-transaction          run the script in steps (statements.py)
    -- migrate: lock-timeout=500ms      the script's lock-wait policy (lockwait.py)
    -- migrate: retries=3
    -- migrate: statement-timeout=10min

A comment line that is none of these is passed over.
"""
import re
from itertools import islice

from ..errors import InvalidScripts
from .lines import lines

NO_TRANSACTION_HEADER = re.compile(r"--\s*migrate:\s*no-transaction\s*\Z", re.IGNORECASE)
_SETTING = re.compile(r"--\s*migrate:\s*(lock-timeout|retries|statement-timeout)\s*=\s*(\S*)\s*\Z",
                      re.IGNORECASE)
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|min|h)?\Z", re.IGNORECASE)
_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0}
SETTING_LINES = 50  # the lock-wait settings are looked for in a script's first lines only


def may_have_header(text):
    """Cheap screen: could the script carry a `-- migrate:` setting line at all?"""
    return "migrate:" in text[:4096]


def header_lines(text, limit=None):
    """(line number, stripped line) of each comment line before the first statement.

    `limit`: look at the first `limit` lines of the text only.
    """
    for number, line in enumerate(islice(lines(text), limit), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            return
        yield number, stripped


def has_no_transaction_header(text):
    """True when a leading comment line says `-- migrate: no-transaction`."""
    return any(NO_TRANSACTION_HEADER.match(stripped) for _, stripped in header_lines(text))


def _duration(text, name, line, key, max_seconds):
    match = _DURATION.match(text)
    seconds = float(match.group(1)) * _UNITS[(match.group(2) or "").lower() or None] if match else None
    if seconds is None or seconds > max_seconds:
        raise InvalidScripts("%s: line %d: `-- migrate: %s=%s` is not a duration (say 500ms, 10s, 2min, 1h)"
                             % (name, line, key, text))
    return seconds


def settings(text, name, max_retries, max_seconds):
    """The script's lock-wait settings: {"lock_timeout"|"retries"|"statement_timeout": value}.

    A later line wins over an earlier one; a bad value raises InvalidScripts naming the line.
    """
    values = {}
    for number, stripped in header_lines(text, SETTING_LINES):
        match = _SETTING.match(stripped)
        if not match:
            continue
        key, value = match.group(1).lower(), match.group(2)
        if key == "retries":
            if not value.isdigit() or int(value) > max_retries:
                raise InvalidScripts("%s: line %d: `-- migrate: retries=%s` is not a whole number "
                                     "from 0 to %d" % (name, number, value, max_retries))
            values["retries"] = int(value)
        else:
            values[key.replace("-", "_")] = _duration(value, name, number, key, max_seconds)
    return values
