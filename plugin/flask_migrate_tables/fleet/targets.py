"""The fleet's databases: the file read (one URL a line), each named without its password,
and the part of the file a run takes (--shard K/N, --canary N)."""
import sys
from collections import namedtuple

from ..errors import UsageError
from ..pg.connection import normalise_url
from ..redact import mask_text

Target = namedtuple("Target", "position url label")
Target.__doc__ = """One database of the file: its 1-based position in the file, its URL (password
and all: never printed), and its label `host/name` (never a password)."""

ON_ERROR = ("stop", "continue")


def read_targets(path, stdin=None):
    """The databases of the file at `path` ('-': standard input), in file order.

    Blank lines and `#` comments are skipped; a line that is not a usable URL is refused
    with its line number, never its text (it may hold a password).
    """
    if path == "-":
        lines = (stdin or sys.stdin).read().splitlines()
    else:
        try:
            with open(path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except OSError as error:
            raise UsageError("--databases %s: cannot read the file (%s)" % (path, error.strerror))
    targets = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        targets.append(Target(len(targets) + 1, _url(text, path, number), None))
    if not targets:
        raise UsageError("--databases %s: no database URL in the file" % path)
    return [t._replace(label=label(t.url)) for t in targets]


def _url(text, path, number):
    from sqlalchemy.engine.url import make_url
    try:
        url = make_url(normalise_url(text))
    except Exception:
        raise UsageError("--databases %s, line %d: not a database URL (postgresql://user@host/name)"
                         % (path, number))
    if not url.drivername.startswith("postgres") or not url.database:
        raise UsageError("--databases %s, line %d: not a PostgreSQL URL with a database name"
                         % (path, number))
    return url


def label(url):
    """`host/name` (`host:port/name` off the default port); a socket folder's host is its path."""
    query = dict(url.query)
    host = url.host or query.get("host") or "localhost"
    host = host if isinstance(host, str) else host[-1]
    port = url.port or query.get("port")
    port = port if port is None or not isinstance(port, (list, tuple)) else port[-1]
    where = "%s:%s" % (host, port) if port and str(port) != "5432" else host
    return mask_text("%s/%s" % (where, url.database))


def parse_shard(text):
    """--shard K/N as (K, N), 1 <= K <= N."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except (ValueError, AttributeError):
        raise UsageError("--shard %s: write it K/N, e.g. 2/3 (the second of three shards)" % text)
    if not 1 <= k <= n:
        raise UsageError("--shard %s: K must be between 1 and N" % text)
    return k, n


def shard(targets, k, n):
    """The databases of shard K of N: those at positions K, K+N, K+2N, ... of the file.

    By position, so the N shards of one file cover it exactly once whatever the URLs;
    every machine must be given the same file.
    """
    return [t for t in targets if (t.position - 1) % n == k - 1]


def check_options(jobs, on_error, canary):
    if jobs is not None and jobs < 1:
        raise UsageError("--jobs %d: at least 1" % jobs)
    if on_error not in ON_ERROR:
        raise UsageError("--on-error %s: stop or continue" % on_error)
    if canary is not None and canary < 1:
        raise UsageError("--canary %d: at least 1" % canary)
