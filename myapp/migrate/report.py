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

    def planned(self, database, current, target, pending):
        self.line(migration_warning(database, current, target, pending))

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
            self.line("%s -> version %d (%s)" % (script.name, script.version, how_it_runs(plan)))
            steps = plan.steps or []
            for step in steps:
                where = "in a transaction" if step.transactional else "outside a transaction"
                for statement in step.statements:
                    self.line("  line %-4d [%s] %s" % (statement.line, where, preview(statement.text)))
            for copy in (plan.prepared.copies if plan.prepared else ()):
                rows = copy.data.count("\n")
                self.line("  line %-4d [in a transaction] %s (%d row%s of data)" % (
                    copy.data_line - 1, preview(copy.statement), rows, "" if rows == 1 else "s"))
            if not steps:
                self.line("  (no statements)")


def how_it_runs(plan):
    """`transaction`, `3 steps`, or `no-transaction (header)`: what really happens to a script."""
    if plan.mode == "transaction":
        return "transaction"
    if plan.steps and not any(step.transactional for step in plan.steps) and all(
            not (s.outside_transaction) for step in plan.steps for s in step.statements):
        return "no-transaction (header)"
    count = len(plan.steps)
    return "%d step%s" % (count, "" if count == 1 else "s")


PREVIEW = 100


def preview(text):
    """A statement on one line without its comments, at most PREVIEW characters."""
    from pglast.parser import ParseError, scan
    try:
        tokens = scan(text)
    except ParseError:
        tokens = None
    if tokens:
        kept, position = [], 0
        for token in tokens:
            if token.name in ("SQL_COMMENT", "C_COMMENT"):
                kept.append(text[position:token.start])
                position = token.end + 1
        kept.append(text[position:])
        text = " ".join(kept)
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW else flat[:PREVIEW - 3] + "..."


def listed(names, first=3, last=2, limit=10):
    """Names joined; a long list as its first and last few with a count between."""
    if len(names) <= limit:
        return ", ".join(names)
    return "%s, ... (%d more) ..., %s" % (", ".join(names[:first]), len(names) - first - last,
                                          ", ".join(names[-last:]))


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


def migration_warning(database, current, target, pending):
    """The recipe's warning: which database, from which version to which, how many scripts."""
    return ("WARNING: this migrates the database %s from version %d to %d (%d script%s). "
            "Back it up before you go on." % (database, current, target, len(pending),
                                              "" if len(pending) == 1 else "s"))


def baseline_warning(database, baseline):
    return ("WARNING: this records that the database %s already has the schema of "
            "version %d." % (database, baseline))


def pending_lines(pending):
    """What the prompt lists: the scripts to run (the first few and a count)."""
    return "Scripts to run: %s" % listed([script.name for script in pending])


def confirmation(migrator, baseline, ask):
    """The prompt both command layers show (the warning itself is `Reporter.planned`'s)."""
    def confirm(pending=None):
        if baseline is not None:
            print(baseline_warning(migrator.describe_database(), baseline))
        if pending:
            print(pending_lines(pending))
        sys.stdout.flush()
        return ask("Do you want to continue?")
    return confirm


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
        names = [p["file"] for p in status["pending"]]
        lines.append("Pending:         %s%s" % ("%d scripts: " % len(names) if len(names) > 10 else "",
                                                listed(names)))
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
