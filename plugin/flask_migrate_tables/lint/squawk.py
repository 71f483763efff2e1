"""Finding squawk (the `squawk-cli` wheel, the `lint` extra) and running it over scripts."""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

from ..errors import ConfigurationError, UsageError
from ..source.statements import has_no_transaction_header

INSTALL = 'pip install "Flask-Migrate-Tables[lint]"'
SQUAWK_ENV = "SQUAWK_BIN"  # the squawk binary to use, instead of the one found next to Python


class SquawkMissing(UsageError):
    """squawk is not installed (exit status 2)."""


class LintFailed(ConfigurationError):
    """squawk itself failed, or its output could not be read (exit status 2)."""


def find_squawk():
    """The squawk binary: $SQUAWK_BIN, else the one installed beside this Python, else PATH's."""
    name = "squawk.exe" if os.name == "nt" else "squawk"
    if SQUAWK_ENV in os.environ:
        candidates = [os.environ[SQUAWK_ENV]]
    else:
        candidates = [os.path.join(os.path.dirname(sys.executable), name),
                      os.path.join(sysconfig.get_path("scripts") or "", name)]
        try:  # where pip put the wheel's binary (a --user install, a different scripts folder)
            from importlib.metadata import distribution
            candidates += [str(entry.locate()) for entry in distribution("squawk-cli").files or ()
                           if entry.name == name]
        except Exception:
            pass
        candidates.append(shutil.which(name) or "")
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise SquawkMissing("squawk is not installed; install the lint extra: %s" % INSTALL)


def squawk_version(binary):
    try:
        output = subprocess.run([binary, "--version"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, universal_newlines=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return "squawk"
    return output.strip() or "squawk"


def _run_squawk(binary, paths, in_transaction, pg_version, timeout):
    """squawk's JSON findings for some files (one run)."""
    command = [binary, "--reporter", "json",
               "--assume-in-transaction" if in_transaction else "--no-assume-in-transaction"]
    if pg_version:
        command.append("--pg-version=%s" % pg_version)
    try:
        done = subprocess.run(command + paths, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              encoding="utf-8", errors="replace", timeout=timeout)
    except (OSError, subprocess.SubprocessError) as error:
        raise LintFailed("squawk did not run: %s" % error)
    try:
        findings = json.loads(done.stdout or "null")
        if not isinstance(findings, list):
            raise ValueError
    except ValueError:
        said = (done.stderr.strip().splitlines() or ["exit status %d" % done.returncode])[0]
        raise LintFailed("squawk failed: %s" % said)
    return findings


def squawk_all(binary, entries, pg_version, timeout):
    """squawk's findings for every entry, by entry number: one run per transaction mode."""
    found = {}
    folder = tempfile.mkdtemp(prefix="lint-")
    try:
        groups = {True: [], False: []}
        for number, (script, shown, text, analysed, starts) in enumerate(entries):
            path = os.path.join(folder, "%06d.sql" % number)
            with open(path, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            groups[not has_no_transaction_header(text)].append((number, path))
        for in_transaction, members in groups.items():
            for first in range(0, len(members), 200):
                chunk = members[first:first + 200]
                numbers = {os.path.basename(path): number for number, path in chunk}
                for item in _run_squawk(binary, [path for _, path in chunk], in_transaction,
                                        pg_version, timeout):
                    number = numbers.get(os.path.basename(str(item.get("file", ""))))
                    if number is not None:
                        found.setdefault(number, []).append(item)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for items in found.values():
        items.sort(key=lambda item: (item.get("line") or 0, item.get("column") or 0))
    return found
