"""Repeatable scripts in lint_migrations: which are linted, and the findings of their own.

Beside squawk's findings (filter.lint reads them like versioned scripts), a
repeatable file gets the runner's refusals that apply to repeatables only (a
statement that cannot run in a transaction, files in a cycle: rule `runner`) and
the rule `repeatable-not-rerunnable` (rerunnable.py).
"""
import os
import re

from ..errors import InvalidScripts, ScriptFailed
from ..paths import shown_path
from ..source.files import Script, read_script
from ..source.repeatables import (REPEATABLE_DIR, dependency_order, outside_transaction,
                                  parsed_statements, read_repeatable, repeatable_files)
from ..source.statements import plan_script
from .rerunnable import rerunnable_findings
from .rules import ERROR, Finding
from .touched import analyse

REFUSED_FIX = "change the script as the message says"


def repeatable_name(value):
    """NAME when `value` names a repeatable file (`repeatable/NAME.sql`, also with the path before
    it, as a shell completes it), else None."""
    folder, base = os.path.split(os.path.normpath(value))
    if os.path.basename(folder) != REPEATABLE_DIR or not base:
        return None
    return base[:-4] if base.endswith(".sql") else base


def chosen_repeatables(migration_dir, names=None):
    """As scripts for filter.lint (version None): every repeatable file, or those `names`.

    Raises InvalidScripts for a badly named file, or a name given that has no file.
    """
    files = dict(repeatable_files(migration_dir))
    missing = [name for name in names or () if name not in files]
    if missing:
        raise InvalidScripts("no repeatable script %s in %s" % (", ".join(
            "%s/%s.sql" % (REPEATABLE_DIR, name) for name in missing), shown_path(migration_dir)))
    chosen = sorted(set(names)) if names else sorted(files)
    return [Script(None, files[name]) for name in chosen]


def repeatable_findings(scripts):
    """The findings of their own for the repeatable `scripts` (Script, version None)."""
    findings, readable = [], []
    for script in scripts:
        shown = shown_path(script.path)
        try:
            text = read_script(script.path)
            plan = plan_script(text, script.name)
        except (InvalidScripts, ScriptFailed):
            continue  # filter.lint reports it (rule runner or syntax-error)
        filename = "%s/%s" % (REPEATABLE_DIR, script.name)
        refused = outside_transaction(filename, plan)
        if refused:
            findings.append(_refused(shown, refused))
            continue
        text = plan.prepared.text if plan.prepared is not None else text
        try:
            parsed = parsed_statements(text, filename)
        except InvalidScripts:
            continue
        ignores = {item.line: item.ignores for item in analyse(text, [s for s, _ in parsed], set())}
        findings += rerunnable_findings(shown, parsed, ignores)
        readable.append(script)
    return findings + _cycle(readable)


def _refused(shown, message):
    """A finding of the runner's refusal `message` (`file: line N: what`, or `what` on line 1)."""
    match = re.match(r"[^:]*: line (\d+): (.*)\Z", message)
    line, message = (int(match.group(1)), match.group(2)) if match else (1, message)
    return Finding(shown, line, "runner", ERROR, message, REFUSED_FIX, line)


def _cycle(scripts):
    """A cycle among the files, as the runner refuses it: a finding on line 1 of its first file."""
    try:
        dependency_order([read_repeatable(script.name[:-4], script.path) for script in scripts])
    except InvalidScripts as error:
        first = str(error).split("cycle: ", 1)[-1].split(" ", 1)[0]
        shown = [script.path for script in scripts if script.name == first] or [scripts[0].path]
        return [_refused(shown_path(shown[0]), str(error))]
    return []


def with_repeatable_findings(result, repeatables):
    """filter.lint's Result with the repeatables' findings of their own, in file and line order."""
    if not repeatables:
        return result
    order = {shown_path(script.path): number for number, script in enumerate(result.scripts)}
    findings = sorted(result.findings + repeatable_findings(repeatables),
                      key=lambda finding: (order.get(finding.file, 0), finding.line))
    return result._replace(findings=findings)
