"""Finding migration scripts on disk and reading one when it is about to run.

Discovery only looks at names: it returns paths sorted by version and never
opens a file. `read_script` reads one file when it is needed.
"""
import codecs
import hashlib
import os
import re
from collections import namedtuple

from ..errors import InvalidScripts

# `v12.sql` or `v12_add_email.sql`. Anything else that merely starts like a
# version (`v3.sql~`, `v3.sql.bak`, `V3.SQL`) is listed as ignored, never run.
SCRIPT_NAME = re.compile(r"v([0-9]+)(?:_[A-Za-z0-9_-]*)?\.sql")  # ASCII digits only: not `v２.sql`
LOOKS_LIKE_SCRIPT = re.compile(r"v\d", re.IGNORECASE)


class Script(namedtuple("Script", "version path")):
    __slots__ = ()

    @property
    def name(self):
        return os.path.basename(self.path)


# `above`: the scripts numbered above the code's version (no run applies them), filled in by
# `above_target` once the code's version is known.
Discovery = namedtuple("Discovery", "scripts ignored above", defaults=((),))

# The version table's column is a PostgreSQL integer.
MAX_VERSION = 2 ** 31 - 1


def discover(directory):
    """Return the scripts in `directory` sorted by version, and the names that were ignored.

    Raises InvalidScripts when the directory is missing or two files claim one version.
    """
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except FileNotFoundError:
        raise InvalidScripts(
            "migration directory %s does not exist; set SQL_DIR to the folder that holds migration/vN.sql"
            % directory
        )
    except NotADirectoryError:
        raise InvalidScripts("migration directory %s is not a directory" % directory)

    scripts, ignored = [], []
    for entry in entries:
        # A link that leads nowhere, or in a loop, is still meant as a script: reading it
        # fails with one line.
        try:
            if entry.is_dir():
                continue
        except OSError:
            pass
        match = SCRIPT_NAME.fullmatch(entry.name)
        if match and int(match.group(1)) > MAX_VERSION:
            raise InvalidScripts("%s: version %s is above %d, the largest the version table holds; "
                                 "number it in sequence" % (entry.name, match.group(1), MAX_VERSION))
        if match and int(match.group(1)) > 0:
            scripts.append(Script(int(match.group(1)), entry.path))
        elif LOOKS_LIKE_SCRIPT.match(entry.name):
            ignored.append(entry.name)
    scripts.sort(key=lambda script: script.version)
    check_conflicts(scripts)
    return Discovery(scripts, ignored)


def check_conflicts(scripts):
    """Refuse two files for one version (`v2.sql` and `v02.sql`)."""
    by_version = {}
    for script in scripts:
        by_version.setdefault(script.version, []).append(script.name)
    clashes = ["version %d: %s" % (version, ", ".join(names))
               for version, names in sorted(by_version.items()) if len(names) > 1]
    if clashes:
        raise InvalidScripts("more than one script for one version (%s); keep one file per version"
                             % "; ".join(clashes))


def check_sequence(scripts, code_version):
    """Refuse a gap between the oldest script and `code_version`, or a code version with no script.

    Leading scripts may be missing (old ones squashed into a baseline); the
    runner checks that the database's own version continues the sequence.
    """
    if code_version < 1:
        return
    versions = [script.version for script in scripts if script.version <= code_version]
    if not versions or max(versions) < code_version:
        highest = scripts[-1].name if scripts else "none"
        raise InvalidScripts(
            "the code needs version %d (__db_version__) but there is no v%d.sql (highest script: %s); "
            "add the script or lower __db_version__" % (code_version, code_version, highest)
        )
    # Gaps as ranges: nothing here may grow with the version numbers themselves.
    gaps = ["%d" % (low + 1) if high == low + 2 else "%d to %d" % (low + 1, high - 1)
            for low, high in zip(versions, versions[1:]) if high > low + 1]
    if gaps:
        shown = ", ".join(gaps[:5]) + (" and %d more gaps" % (len(gaps) - 5) if len(gaps) > 5 else "")
        raise InvalidScripts(
            "no script for version %s between v%d and v%d; versions must have no gaps"
            % (shown, versions[0], code_version)
        )


def above_target(discovery, code_version):
    """`discovery` with its `above`: the scripts numbered above `code_version` (the forgotten bump)."""
    return discovery._replace(above=[s for s in discovery.scripts if s.version > code_version])


def above_note(above, code_version, name="__db_version__"):
    """What to say of scripts above the target `name` (`__db_version__`, or a bind's)."""
    one = len(above) == 1
    return "%s %s above %s (%d) and %s not run; raise %s to %d to run %s" % (
        ", ".join(script.name for script in above), "is" if one else "are", name, code_version,
        "does" if one else "do", name, above[-1].version, "it" if one else "them")


def _read(path, name):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise InvalidScripts("cannot read %s: %s" % (name, error.strerror or error))


def read_script(path):
    """Return the text of a script: UTF-8, an optional BOM removed.

    Raises InvalidScripts naming the file and line when it cannot be read.
    """
    name = os.path.basename(path)
    raw = _read(path, name)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise InvalidScripts("%s is not valid UTF-8 (byte 0x%02x at line %d); save it as UTF-8"
                             % (name, raw[error.start], line))
    if "\x00" in text:  # PostgreSQL and libpq stop reading a query at a NUL: the rest would not run
        at = text.index("\x00")
        line_start = text.rfind("\n", 0, at) + 1
        raise _nul_failure(name, text.count("\n", 0, at) + 1, at - line_start + 1)
    return text


def _nul_failure(name, line, column):
    return InvalidScripts("%s: line %d, column %d: a NUL character, which PostgreSQL cannot "
                          "receive (what follows it would silently not run); remove it"
                          % (name, line, column))


CHUNK = 1 << 20


def decoded_chunks(data, size=CHUNK):
    """The text of UTF-8 bytes, a piece of about `size` at a time (never all of it at once)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    for start in range(0, len(data), size):
        yield decoder.decode(data[start:start + size], start + size >= len(data))
    if not data:
        yield ""


def read_script_bytes(path, checked=False):
    """The bytes of a UTF-8 script without a BOM, checked as `read_script` checks its text.

    For a large script that runs whole: it is never decoded at once, so it costs
    about its own size in memory, not twice that. None when the file starts with
    a BOM (`read_script` then). Raises InvalidScripts as `read_script` does.
    `checked`: the caller compares the bytes with the checksum of bytes this
    function checked before, so they need no second check.
    """
    name = os.path.basename(path)
    data = _read(path, name)
    if data.startswith(codecs.BOM_UTF8):
        return None
    if checked:
        return data
    try:
        for _ in decoded_chunks(data):
            pass
    except UnicodeDecodeError:  # where: read_script decodes it whole to say so
        read_script(path)
        raise
    at = data.find(b"\x00")
    if at != -1:
        line_start = data.rfind(b"\n", 0, at) + 1
        raise _nul_failure(name, data.count(b"\n", 0, at) + 1,
                           len(data[line_start:at].decode("utf-8")) + 1)
    return data


def checksum_bytes(data):
    """checksum() of a script read by read_script_bytes, with no carriage return in it."""
    return hashlib.sha256(data).hexdigest()


def checksum(text):
    """sha256 of a script's text with line endings normalised, so a CRLF checkout is not an edit."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
