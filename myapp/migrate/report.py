"""What the commands print: progress while migrating, the status page, the dry run.

Plain lines when the output is not a terminal, so logs hold no control
characters; on a terminal a long script shows a live elapsed time.
"""
import json
import sys
import threading
import time

from .errors import EXIT_FAILED, EXIT_OK, CheckFailed
from .migrator import Listener
from .lock import describe_holder

LIVE_AFTER_SECONDS = 3.0


class Reporter(Listener):
    def __init__(self, stream=sys.stdout):
        self.stream = stream
        self.live = stream.isatty()
        self._ticker = None

    def line(self, text):
        self.stream.write(text + "\n")
        self.stream.flush()

    def notice(self, message):
        self.line("note: %s" % message)

    def lock_retry(self, message):
        self.line("  %s" % message)

    def waiting_for_lock(self, holder):
        self.line("Waiting for another migration to finish (%s)" % describe_holder(holder))

    def script_started(self, script, plan):
        count = len(plan.steps)
        how = "" if plan.mode == "transaction" else ", in %d step%s" % (count, "" if count == 1 else "s")
        self.line("Upgrading database to version %d (%s%s)" % (script.version, script.name, how))
        if self.live:
            self._ticker = _Ticker(self.stream, script.name)
            self._ticker.start()

    def script_finished(self, script, seconds):
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        self.line("  applied %s in %.3fs" % (script.name, seconds))

    def summary(self, result):
        if not result.applied:
            self.line("DB is at correct version %d" % result.to_version)
            return
        self.line("Migrated from version %d to %d: %d script%s in %.3fs" % (
            result.from_version, result.to_version, len(result.applied),
            "" if len(result.applied) == 1 else "s", result.seconds))

    def dry_run(self, assessment, planned):
        if not planned:
            self.line("DB is at correct version %d; nothing would run" % assessment.current)
            return
        self.line("Dry run: the database is at version %d; these scripts would run, in order "
                  "(nothing was changed):" % assessment.current)
        for script, plan in planned:
            self.line("%s -> version %d (%s)" % (script.name, script.version, plan.mode))
            steps = plan.steps or []
            for step in steps:
                where = "in a transaction" if step.transactional else "outside a transaction"
                for statement in step.statements:
                    first_line = " ".join(statement.text.split())[:100]
                    self.line("  line %-4d [%s] %s" % (statement.line, where, first_line))
            if not steps:
                self.line("  (no statements)")


class _Ticker(threading.Thread):
    """Rewrites one terminal line with the elapsed time of a long script."""

    def __init__(self, stream, name):
        super().__init__(daemon=True)
        self.stream, self.name = stream, name
        self.started = time.monotonic()
        self.done = threading.Event()
        self.drawn = False

    def run(self):
        while not self.done.wait(1.0):
            elapsed = time.monotonic() - self.started
            if elapsed >= LIVE_AFTER_SECONDS:
                self.stream.write("\r  %s running for %ds" % (self.name, elapsed))
                self.stream.flush()
                self.drawn = True

    def stop(self):
        self.done.set()
        self.join()
        if self.drawn:
            self.stream.write("\r\033[K")


def confirmation_warning(database, code_version, baseline=None):
    """The warning both command layers print before asking `Do you want to continue?`."""
    if baseline is None:
        return ("WARNING: this migrates the database %s to version %d. "
                "Back it up before you go on." % (database, code_version))
    return ("WARNING: this records that the database %s already has the schema of "
            "version %d." % (database, baseline))


def show_status(status, as_json=False, check=False):
    """Print a status (text, or JSON) and return the exit status; --check fails unless up to date."""
    print(json.dumps(status, indent=2) if as_json else format_status(status))
    if check and status_exit_code(status) != EXIT_OK:
        if not as_json:  # JSON readers take the document and the status, nothing on stderr
            raise CheckFailed("the database is not exactly at version %d" % status["code_version"])
        return EXIT_FAILED
    return EXIT_OK


def status_exit_code(status):
    """--check: 0 only when the database is exactly at the code's version with no warnings."""
    return EXIT_OK if status["up_to_date"] and not status["warnings"] else EXIT_FAILED


def format_status(status):
    lines = [
        "Database:        %s" % status["database"],
        "Server:          PostgreSQL %s" % status["server_version"],
        "Stored version:  %s" % ("none (no version table)" if status["stored_version"] is None
                                 else status["stored_version"]),
        "Applied version: %d" % status["current_version"],
        "Code version:    %d (__db_version__)" % status["code_version"],
    ]
    if status["migration_running"]:
        lines.append("Running now:     %s" % status["migration_running"])
    if status["pending"]:
        lines.append("Pending:         %s" % ", ".join(p["file"] for p in status["pending"]))
    else:
        lines.append("Pending:         none")
    shown = len(status["history"])
    lines.append("")
    lines.append("History (%s of %d, newest first):" % (
        "all" if shown == status["history_total"] else "last %d" % shown, status["history_total"]))
    if not status["history"]:
        lines.append("  (empty)")
    for entry in status["history"]:
        duration = "%.3fs" % entry["duration_s"] if entry["duration_s"] is not None else "-"
        lines.append("  %s  v%-4d %-28s %-9s %-16s %s@%s" % (
            (entry["started_at"] or "")[:19].replace("T", " "), entry["version"],
            entry["file"] or "-", duration, entry["outcome"], entry["os_user"] or "?",
            entry["host"] or "?"))
    if status["warnings"]:
        lines.append("")
        lines.append("Warnings:")
        lines.extend("  - %s" % warning for warning in status["warnings"])
    return "\n".join(lines)
