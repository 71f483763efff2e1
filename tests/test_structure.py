"""The plugin's shape, checked from its source: imports, sizes, what it imports, its module map.

In process and fast (ast; one subprocess for the imports), no database.

Imports. Every module under plugin/flask_migrate_tables is parsed and each import of
a module of the package (relative, or absolute `flask_migrate_tables....`) becomes an
edge, `from .a import b` an edge to the module `a.b` when there is one, else to `a`.
An import is *module-level* when no function encloses it (class bodies, `if` and
`try` blocks at module level count; `if TYPE_CHECKING:` blocks are left out: they
never run), else *lazy* (it runs when the function is called). Importing a module
also initialises its packages' `__init__`; those implicit edges are left out (Python
copes with a package that is still initialising when its submodule is imported).

* A cycle among module-level imports fails: importing one module of it finds the
  other half-initialised. Each cycle is reported as a path.
* A lazy import does not make a cycle at import time, so a lazy import closing a
  longer loop (migrator -> ... -> a module that lazily imports migrator) is allowed:
  it is the usual way to keep a command's heavy modules out of the others' import.
  But two modules that import each other, whichever way each does it (module-level
  or lazily), fail: they are one concern split in two, or a layering error hidden
  by moving an import into a function. Such pairs are reported with the kind of
  each edge. The lazy imports are listed in that message and by `lazy_imports()`.
* Every relative import resolves to a module or package that exists.
"""
import ast
import collections
import importlib.util
import json
import os
import re
import subprocess
import sys

from tests.helpers import REPO_ROOT

PACKAGE = "flask_migrate_tables"
PACKAGE_DIR = os.path.join(REPO_ROOT, "plugin", PACKAGE)
MAX_CLASS_LINES = 250
MAX_FUNCTION_LINES = 60
# Modules that need an optional extra: importable only where one of these is installed.
OPTIONAL = {
    "flask_migrate_tables.authoring.schema_diff": ("pgmig",),
    "flask_migrate_tables.commands": ("flask_script", "flask_script_ng"),
}

Import = collections.namedtuple("Import", "source target line lazy")


def package_modules():
    """{dotted name: path} of every module of the package (a package is its __init__.py)."""
    found = {}
    for folder, dirs, files in os.walk(PACKAGE_DIR):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        relative = os.path.relpath(folder, os.path.dirname(PACKAGE_DIR))
        prefix = relative.replace(os.sep, ".")
        for name in sorted(files):
            if name.endswith(".py"):
                dotted = prefix if name == "__init__.py" else "%s.%s" % (prefix, name[:-3])
                found[dotted] = os.path.join(folder, name)
    return found


def _is_type_checking(node):
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk_imports(node, lazy=False):
    """(import node, lazy) for every import under `node`, not those under `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield from _walk_imports(other, lazy)
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, lazy
        inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        yield from _walk_imports(child, inner)


def _base(source, is_package, level):
    parts = source.split(".")
    if not is_package:
        parts = parts[:-1]
    return ".".join(parts[:len(parts) - (level - 1)] if level > 1 else parts)


def imports_of(source, path, modules):
    """The Imports of the package's modules in one module; unresolved relative ones as target None."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    is_package = path.endswith("__init__.py")
    found = []
    for node, lazy in _walk_imports(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                base = _base(source, is_package, node.level)
                module = "%s.%s" % (base, node.module) if node.module else base
            else:
                module = node.module or ""
            targets = []
            for alias in node.names:
                submodule = "%s.%s" % (module, alias.name)
                targets.append(submodule if submodule in modules else module)
            if node.level and module not in modules:
                found.append(Import(source, None, node.lineno, lazy))
                continue
        for target in targets:
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                # `import a.b.c` imports a.b.c: the deepest module of the package named.
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                found.append(Import(source, target, node.lineno, lazy))
    return found


def all_imports():
    modules = package_modules()
    return [imp for name, path in modules.items() for imp in imports_of(name, path, modules)]


def lazy_imports():
    """'source:line -> target' of every lazy (function-level) import inside the package."""
    return sorted({"%s:%d -> %s" % (_short(i.source), i.line, _short(i.target))
                   for i in all_imports() if i.lazy and i.target and i.target != i.source})


def find_cycles(edges):
    """Every strongly connected component of more than one module, each as one cycle path."""
    graph = collections.defaultdict(set)
    for source, target in edges:
        if source != target:
            graph[source].add(target)
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def connect(node):  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(list(graph)):
        if node not in index:
            connect(node)
    return [_cycle_path(graph, component) for component in components]


def _cycle_path(graph, component):
    """A path start -> ... -> start inside one strongly connected component (breadth first)."""
    start, members = component[0], set(component)
    previous, queue = {start: None}, collections.deque([start])
    while queue:
        node = queue.popleft()
        for other in sorted(graph[node] & members):
            if other == start:
                path = [node]
                while previous[path[-1]] is not None:
                    path.append(previous[path[-1]])
                return list(reversed(path)) + [start]
            if other not in previous:
                previous[other] = node
                queue.append(other)
    return component


def _short(name):
    return name[len(PACKAGE) + 1:] if name.startswith(PACKAGE + ".") else name


def test_the_plugins_import_walker_sees_imports():
    """The walker is not blind: migrator imports errors at module level, relative imports resolve."""
    imports = all_imports()
    unresolved = ["%s:%d" % (i.source, i.line) for i in imports if i.target is None]
    assert unresolved == [], "relative imports of no module of the package: %s" % unresolved
    assert ("flask_migrate_tables.migrator", "flask_migrate_tables.errors", False) in {
        (i.source, i.target, i.lazy) for i in imports}


def test_find_cycles_reports_each_cycle_as_a_path():
    edges = {("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "e"), ("e", "d"), ("f", "f")}
    assert find_cycles(edges) == [["d", "e", "d"], ["a", "b", "c", "a"]]
    assert find_cycles({("a", "b"), ("b", "c"), ("a", "c")}) == []


def test_no_import_cycle_among_module_level_imports():
    edges = {(i.source, i.target) for i in all_imports() if not i.lazy and i.target}
    cycles = find_cycles(edges)
    assert cycles == [], "import cycles among module-level imports:\n" + "\n".join(
        "  " + " -> ".join(_short(name) for name in cycle) for cycle in cycles)


def test_no_two_modules_import_each_other_even_lazily():
    kinds = collections.defaultdict(set)
    for i in all_imports():
        if i.target and i.target != i.source:
            kinds[(i.source, i.target)].add("lazily at line %d" % i.line if i.lazy
                                            else "at module level, line %d" % i.line)
    pairs = sorted((a, b) for (a, b) in kinds if a < b and (b, a) in kinds)
    described = ["  %s imports %s %s; %s imports it %s" % (
        _short(a), _short(b), ", ".join(sorted(kinds[(a, b)])), _short(b),
        ", ".join(sorted(kinds[(b, a)]))) for a, b in pairs]
    assert pairs == [], ("modules that import each other:\n" + "\n".join(described)
                         + "\n(lazy imports in the package:\n  " + "\n  ".join(lazy_imports()) + ")")


def test_no_class_over_250_lines_and_no_function_over_60():
    too_long = []
    for name, path in package_modules().items():
        tree = ast.parse(open(path, encoding="utf-8").read(), path)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                lines = node.end_lineno - node.lineno + 1
                limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
                if lines > limit:
                    too_long.append("%s:%d %s %s: %d lines (at most %d)" % (
                        os.path.relpath(path, REPO_ROOT), node.lineno,
                        "class" if isinstance(node, ast.ClassDef) else "function", node.name,
                        lines, limit))
    assert too_long == [], "too long:\n  " + "\n  ".join(too_long)


def _installed(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def public_modules():
    """The package's modules whose file name has no leading `_`, less those whose extra is missing."""
    names = []
    for name, path in package_modules().items():
        if os.path.basename(path).startswith("_"):
            continue
        needs = OPTIONAL.get(name)
        if needs and not any(_installed(extra) for extra in needs):
            continue
        names.append(name)
    return names


def test_every_public_module_imports_without_the_demo_app(tmp_path):
    """Each module imports in a fresh interpreter whose working folder is empty, and none
    of them imports `myapp` (the demo app) or the tests."""
    modules = public_modules()
    assert "flask_migrate_tables.migrator" in modules and "flask_migrate_tables.embedded" in modules
    code = "\n".join([
        "import importlib, json, sys, traceback",
        "failed = {}",
        "for name in %r:" % modules,
        "    try:",
        "        importlib.import_module(name)",
        "    except Exception:",
        "        failed[name] = traceback.format_exc(limit=3)",
        "print(json.dumps({'failed': failed, 'myapp': sorted(m for m in sys.modules",
        "                  if m == 'myapp' or m.startswith('myapp.')),",
        "                  'tests': 'tests' in sys.modules}))",
    ])
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONSTARTUP", None)
    completed = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["failed"] == {}, "\n".join(report["failed"].values())
    assert report["myapp"] == [], "the plugin imported the demo app: %s" % report["myapp"]
    assert not report["tests"]


# -- the module map of the package's docstring --------------------------------------------

MAP_NAME = re.compile(r"^[\w/]+(\.py|/)$")
MAP_MEMBER = re.compile(r"^(\w+\.py)\W*$")


def module_map(docstring):
    """The names the package docstring's module map gives, as paths under the package.

    The map: indented lines whose first word is a module (`name.py`) or a subpackage
    (`name/`), followed by what it holds. A subpackage's modules are either on the lines
    below it, indented deeper (`  name.py  ...`), or named after it on its own line
    (`pg/  connection.py (...), session.py, ...`); `pg/connection.py` works anywhere.
    Anything else in the docstring is prose and ignored."""
    named = set()
    folders = []  # (indent, path) of the subpackages still open
    for line in docstring.splitlines():
        words = line.split()
        if not words or not line[0].isspace() or not MAP_NAME.match(words[0]):
            continue
        indent = len(line) - len(line.lstrip())
        while folders and folders[-1][0] >= indent:
            folders.pop()
        inside = folders[-1][1] if folders else ""
        path = inside + words[0]
        named.add(path)
        if path.endswith("/"):
            folders.append((indent, path))
            for word in words[1:]:
                match = MAP_MEMBER.match(word)
                if match:
                    named.add(path + match.group(1))
    return named


def package_files():
    """Every module (`a/b.py`) and subpackage (`a/`) of the package, relative to it."""
    found = set()
    for name, path in package_modules().items():
        relative = os.path.relpath(path, PACKAGE_DIR).replace(os.sep, "/")
        if os.path.basename(relative) == "__init__.py":
            if relative != "__init__.py":
                found.add(relative[:-len("__init__.py")])
        else:
            found.add(relative)
    return found


def test_module_map_reader():
    named = module_map("Intro.\n\n    migrator.py  the library\n    pg/  connection.py (urls), "
                       "session.py\n    books/\n      history.py  the table\n    lint/squawk.py\n"
                       "Prose naming notes.py is not a map line.\n")
    assert named == {"migrator.py", "pg/", "pg/connection.py", "pg/session.py", "books/",
                     "books/history.py", "lint/squawk.py"}


def test_the_package_docstring_maps_every_module():
    with open(os.path.join(PACKAGE_DIR, "__init__.py"), encoding="utf-8") as handle:
        docstring = ast.get_docstring(ast.parse(handle.read()))
    named, present = module_map(docstring), package_files()
    missing_files = sorted(named - present)
    unnamed = sorted(present - named)
    assert (missing_files, unnamed) == ([], []), (
        "the module map of flask_migrate_tables/__init__.py names what does not exist: %s;"
        " leaves out: %s" % (missing_files, unnamed))
