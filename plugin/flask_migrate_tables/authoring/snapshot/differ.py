"""Comparing two snapshots: their differences, and which of them are failures."""
import re
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor

from .catalog import snapshot

Difference = namedtuple("Difference", "kind name left right")

# Kinds that are reported but are not failures: PostgreSQL can only add a column at
# the end of a table, so migrations never reorder columns while models may list them
# in any order.
NOTE_KINDS = {"column order"}


_IDENTIFIER = re.compile(r'"(?:[^"]|"")*"|[^,\s]+')


def _column_names(detail):
    return _IDENTIFIER.findall(detail)


def differences(left, right):
    """[Difference(kind, name, left, right)] between two snapshots, sorted by (kind, name).

    `left`/`right` of a Difference are the details, None where the item is missing.
    A "column order" difference compares only the columns both sides have, and only
    for tables both sides have; its left/right are those columns in each side's order.
    """
    found = []
    for key in sorted(set(left) | set(right)):
        kind, name = key
        mine, theirs = left.get(key), right.get(key)
        if mine == theirs:
            continue
        if kind == "column order":
            if mine is None or theirs is None:
                continue  # the table itself is missing on one side, and says so
            mine, theirs = _column_names(mine), _column_names(theirs)
            common = set(mine) & set(theirs)
            mine = [column for column in mine if column in common]
            theirs = [column for column in theirs if column in common]
            if mine == theirs:
                continue
            mine, theirs = ", ".join(mine), ", ".join(theirs)
        found.append(Difference(kind, name, mine, theirs))
    return found


def compare(left_url, right_url, exclude_tables=()):
    """The differences between the databases at two URLs (snapshot at the same time)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        right = pool.submit(snapshot, right_url, exclude_tables)
        left = snapshot(left_url, exclude_tables)
        return differences(left, right.result())


def failures(diffs):
    """The differences that are failures: all but the notes (NOTE_KINDS)."""
    return [difference for difference in diffs if difference.kind not in NOTE_KINDS]
