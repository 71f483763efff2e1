"""What a fleet run prints and writes: each line prefixed with its database, a progress line
on a terminal, the summary, and the --report JSON file rewritten atomically as the run goes."""
import json
import os
import sys
import tempfile
import threading
import time

from ..books.repeatables import repeatables_counted
from ..events import Listener
from ..pg.lock import describe_holder
from ..redact import mask_text

# Outcomes of one database, in the order the summary counts them.
MIGRATED, AT_TARGET, FAILED, NOT_STARTED, RUNNING = (
    "migrated", "at-target", "failed", "not-started", "running")
OUTCOMES = (MIGRATED, AT_TARGET, FAILED, NOT_STARTED)


class FleetOutput:
    """The fleet's one output stream, shared by the workers: whole lines, and on a terminal a
    progress line kept under them."""

    def __init__(self, total, stream=None):
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty()
        self.total = total
        self.counts = dict.fromkeys(OUTCOMES, 0)
        self._lock = threading.Lock()
        self._drawn = False

    def prefix(self, target):
        return "[%d/%d %s]" % (target.position, self.total, target.label)

    def line(self, text):
        with self._lock:
            self._clear()
            self.stream.write(mask_text(text) + "\n")
            self._draw()
            self.stream.flush()

    def counted(self, outcome):
        with self._lock:
            self.counts[outcome] += 1
            self._draw()
            self.stream.flush()

    def _clear(self):
        if self._drawn:
            self.stream.write("\r\033[K")
            self._drawn = False

    def _draw(self):
        if not self.live:
            return
        done = sum(self.counts[o] for o in (MIGRATED, AT_TARGET, FAILED))
        self._clear()
        self.stream.write("fleet: %d/%d done (%d migrated, %d at target, %d failed)" % (
            done, self.total, self.counts[MIGRATED], self.counts[AT_TARGET], self.counts[FAILED]))
        self._drawn = True

    def finish(self):
        with self._lock:
            self._clear()
            self.stream.flush()


class DatabaseListener(Listener):
    """One database's run, as lines prefixed `[17/200 host/name]`."""

    def __init__(self, output, target):
        self.output, self.prefix = output, output.prefix(target)

    def say(self, text):
        self.output.line("%s %s" % (self.prefix, text))

    def notice(self, message):
        self.say("note: %s" % message)

    def scripts_above(self, message):
        pass  # the fleet says it once (run.py), not once per database

    def lock_retry(self, message):
        self.say(message)

    def waiting_for_lock(self, holder):
        self.say("waiting for another migration to finish (%s)" % describe_holder(holder))

    def planned(self, database, current, target, pending, repeatables=0):
        self.say("from version %d to %d: %s%s" % (current, target, ", ".join(s.name for s in pending),
                                                 repeatables_counted(repeatables)))

    def repeatable_finished(self, filename, seconds):
        self.say("applied %s in %.3fs" % (filename, seconds))

    def script_finished(self, script, seconds):
        self.say("applied %s in %.3fs" % (script.name, seconds))

    def backed_up(self, backup):
        self.say("backed up to %s" % backup.path)


class ReportFile:
    """--report PATH: one entry per database, the file replaced whole (write, fsync, rename) at
    each change that matters, so a killed run leaves a valid file that says no more than was done."""

    def __init__(self, path, targets, target_version):
        self.path = path
        self.target_version = target_version
        self.started = time.time()
        self.entries = [{"database": "%s" % t.label, "position": t.position, "from": None,
                         "to": None, "outcome": NOT_STARTED, "scripts": [], "seconds": None,
                         "error": None} for t in targets]
        self._index = {t.position: i for i, t in enumerate(targets)}
        self._lock = threading.Lock()
        self._last = 0.0

    def update(self, target, write=True, **fields):
        if self.path is None:
            return
        with self._lock:
            self.entries[self._index[target.position]].update(fields)
            if write or time.monotonic() - self._last > 0.5:
                self._write()

    def flush(self):
        if self.path is not None:
            with self._lock:
                self._write()

    def _write(self):
        document = {"target_version": self.target_version, "started_at": self.started,
                    "written_at": time.time(), "databases": self.entries}
        folder = os.path.dirname(os.path.abspath(self.path))
        handle, temporary = tempfile.mkstemp(prefix=".fleet-report-", dir=folder)
        try:
            with os.fdopen(handle, "w") as out:
                json.dump(document, out, indent=1)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        self._last = time.monotonic()


def summary_lines(counts, failures, target_version, seconds):
    """The summary: the counts by outcome, then one line per failed database (in file order)."""
    total = sum(counts.values())
    lines = ["Fleet: %d database%s in %.1fs: %d migrated, %d already at version %d, %d failed, "
             "%d not started" % (total, "" if total == 1 else "s", seconds, counts[MIGRATED],
                                 counts[AT_TARGET], target_version, counts[FAILED],
                                 counts[NOT_STARTED])]
    for prefix, error in failures:
        lines.append("  failed %s %s" % (prefix, error))
    return lines
