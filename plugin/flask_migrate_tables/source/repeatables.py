"""Repeatable scripts: sql/migration/repeatable/NAME.sql, read, checked and put in dependency order.

A repeatable script defines objects that are code (views, functions, triggers,
types, grants): it is edited in place and re-run whole, in one transaction,
when it changes. What each file creates and references is found with pglast
(imported only when the folder exists), and a file runs after the files that
create what it references; independent files, and ties, go by name.

Names are matched as PostgreSQL resolves them: the parser folds unquoted names
to lower case and keeps quoted ones exactly, and an unqualified name matches
the same unqualified name or the `public.` one (the usual search_path).
Functions are matched by name, whatever their arguments. A reference to an
object no repeatable creates (a table of the versioned scripts, a built-in)
does not order anything.
"""
import heapq
import os
import re
from collections import namedtuple

from ..errors import InvalidScripts, ScriptFailed
from .files import checksum, read_script
from .repeatable_tree import DbObject, object_key  # noqa: F401 (DbObject: the interface)
from .statements import TRANSACTION, plan_script, split_statements

REPEATABLE_DIR = "repeatable"
REPEATABLE_NAME = re.compile(r"([A-Za-z0-9_.-]+)\.sql")

Repeatable = namedtuple("Repeatable", "name filename path text checksum plan creates references")

def discover_repeatables(migration_dir):
    """The repeatable scripts under `migration_dir`/repeatable, in dependency order; [] when none.

    Raises InvalidScripts (one line) for a bad file name, a file read_script refuses, a
    statement that cannot run in a transaction, a statement that does not parse, and files
    that depend on each other in a cycle.
    """
    return dependency_order([read_repeatable(name, path)
                             for name, path in repeatable_files(migration_dir)])


def repeatable_files(migration_dir):
    """(NAME, path) of each repeatable/NAME.sql, by name; [] when the folder is missing.

    Other files (a README, an editor's `x.sql~`) are left alone; a `.sql` file with
    another name is refused (InvalidScripts).
    """
    folder = os.path.join(migration_dir, REPEATABLE_DIR)
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for entry in entries:
        if _is_dir(entry) or not entry.name.lower().endswith(".sql"):
            continue
        match = REPEATABLE_NAME.fullmatch(entry.name)
        if not match:
            raise InvalidScripts(
                "%s/%s: a repeatable script is named NAME.sql, NAME of letters, digits, _, - and .; "
                "rename it" % (REPEATABLE_DIR, entry.name))
        found.append((match.group(1), entry.path))
    return found


def _is_dir(entry):
    try:
        return entry.is_dir()
    except OSError:  # a broken link is meant as a script: reading it says what is wrong
        return False


def read_repeatable(name, path):
    """One Repeatable: its text read and checked, its plan (one transaction), what it creates and uses."""
    filename = "%s/%s.sql" % (REPEATABLE_DIR, name)
    text = read_script(path)
    plan = plan_script(text, filename)
    refused = outside_transaction(filename, plan)
    if refused:
        raise InvalidScripts(refused)
    creates, references = analyse(plan.prepared.text if plan.prepared else text, filename)
    return Repeatable(name, filename, path, text, checksum(text), plan, creates, references)


def outside_transaction(filename, plan):
    """Why a repeatable script's plan cannot run whole in one transaction (one line), or None."""
    if plan.mode == TRANSACTION:
        return None
    for statement in plan.statements or ():
        if statement.outside_transaction:
            return ("%s: line %d: %s; a repeatable script runs whole in one transaction: move the "
                    "statement to a versioned script" % (filename, statement.line, statement.why))
    return ("%s: the header `-- migrate: no-transaction`; a repeatable script runs whole in one "
            "transaction: remove the header" % filename)


def parsed_statements(text, filename):
    """(statement, node) for each statement of a file: split.Statement and its pglast node.

    Raises InvalidScripts naming the file and line when a statement does not parse.
    """
    from pglast import parse_sql

    try:
        statements = split_statements(text, filename)
    except ScriptFailed as error:
        raise InvalidScripts(str(error))
    return [(statement, parse_sql(statement.text)[0].stmt) for statement in statements]


def analyse(text, filename):
    """(creates, references) of a file's text: tuples of DbObject, each once, in order of appearance."""
    from .repeatable_tree import created_by, referenced_by  # pglast: only when there are files

    creates, references = [], []
    for _, node in parsed_statements(text, filename):
        for item in created_by(node):
            if item not in creates:
                creates.append(item)
        for item in referenced_by(node):
            if item not in references:
                references.append(item)
    return tuple(creates), tuple(references)


def _reference_keys(item):
    key = object_key(item)
    if item.kind == "type":  # a table's or a view's row type is a type too
        return [key, ("relation",) + key[1:]]
    return [key]


def dependency_order(repeatables):
    """The repeatables ordered: each after the files that create what it references; else by name.

    Raises InvalidScripts naming the files of a cycle.
    """
    creators = {}
    for repeatable in repeatables:
        for item in repeatable.creates:
            creators.setdefault(object_key(item), set()).add(repeatable.name)
    needs = {}
    for repeatable in repeatables:
        needs[repeatable.name] = {creator for item in repeatable.references
                                  for key in _reference_keys(item)
                                  for creator in creators.get(key, ())} - {repeatable.name}
    by_name = {repeatable.name: repeatable for repeatable in repeatables}
    waiting = {name: set(needed) for name, needed in needs.items()}
    ready = [name for name, needed in waiting.items() if not needed]
    heapq.heapify(ready)
    ordered = []
    while ready:
        name = heapq.heappop(ready)
        ordered.append(by_name[name])
        for other, needed in waiting.items():
            if name in needed:
                needed.discard(name)
                if not needed:
                    heapq.heappush(ready, other)
    if len(ordered) < len(repeatables):
        raise InvalidScripts("repeatable scripts depend on each other in a cycle: %s; "
                             "move the shared objects into one file" % _cycle(waiting))
    return ordered


def _cycle(waiting):
    """One cycle among the files left waiting, as `a.sql -> b.sql -> a.sql` (a uses what b creates)."""
    name = min(name for name, needed in waiting.items() if needed)
    path = []
    while name not in path:
        path.append(name)
        name = min(needed for needed in waiting[name] if waiting[needed])
    path = path[path.index(name):] + [name]
    return " -> ".join("%s.sql" % name for name in path)
