"""What the commands print: progress while migrating, the status page, the dry run.

Plain lines when the output is not a terminal, so logs hold no control
characters; on a terminal a long script shows a live elapsed time.
"""
import json
import sys
import threading
import time

from ..errors import EXIT_FAILED, EXIT_OK, CheckFailed
from ..books.repeatables import REPEATABLE_MODE, reason_text, repeatables_counted
from ..events import Listener
from ..pg.lock import describe_holder
from ..redact import mask_text
from ..source.files import Script, above_note

LIVE_AFTER_SECONDS = 3.0


class Reporter(Listener):
    def __init__(self, stream=sys.stdout, backup=None):
        """`backup`: the --backup option's value (None: not given)."""
        self.stream = stream
        self.live = stream.isatty()
        self._ticker = None
        self.backup = backup

    def line(self, text):
        self.stream.write(text + "\n")
        self.stream.flush()

    def notice(self, message):
        self.line("note: %s" % message)

    def planned(self, database, current, target, pending, repeatables=0):
        self.line(migration_warning(database, current, target, pending, self.backup is not None,
                                    repeatables))

    def repeatable_started(self, filename, reason):
        self.line("Running %s (%s)" % (filename, reason))

    def repeatable_finished(self, filename, seconds):
        self.line("  applied %s in %.3fs" % (filename, seconds))

    def backing_up(self, database, version, path, pg_dump):
        self.line("Backing up %s (version %d) to %s with pg_dump %s (%s)" % (
            database, version, path, pg_dump.version, pg_dump.path))

    def backed_up(self, backup):
        self.line(backed_up_line(backup))

    def backup_preview(self, preview, planned):
        """--dry-run --backup: where the backup would go (Migrator.backup_preview), or that none would."""
        if not planned:
            self.line("No backup would be made (--backup): no script would run")
            return
        path, dump = preview
        self.line("A backup would be written to %s by pg_dump %s (%s) before the first script; "
                  "none was made" % (path, dump.version, dump.path))

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
        if result.repeatables:
            self.line("Ran %d repeatable script%s" % (len(result.repeatables),
                                                     "" if len(result.repeatables) == 1 else "s"))
        if not result.applied:
            self.line("DB is at correct version %d" % result.to_version)
            return
        self.line("Migrated from version %d to %d: %d script%s in %.3fs" % (
            result.from_version, result.to_version, len(result.applied),
            "" if len(result.applied) == 1 else "s", result.seconds))

    def dry_run(self, assessment, planned, findings=None):
        """`findings`: pending_lint's, by script name; errors and warnings go under their statement."""
        findings = findings or {}
        if not planned:
            self.line("DB is at correct version %d; nothing would run" % assessment.current)
            return
        self.line("Dry run: the database is at version %d; these scripts would run, in order "
                  "(nothing was changed):" % assessment.current)
        for script, plan in planned:
            self.line("%s -> version %d (%s)" % (script.name, script.version, how_it_runs(plan)))
            steps = plan.steps or []
            linted = [f for f in findings.get(script.name, ()) if f.level != "note"]
            for step in steps:
                where = "in a transaction" if step.transactional else "outside a transaction"
                for statement in step.statements:
                    self.line("  line %-4d [%s] %s" % (statement.line, where, preview(statement.text)))
                    for finding in linted:
                        if finding.statement_line == statement.line:
                            self.line("            lint: %s" % lint_brief(finding))
            listed = {s.line for step in steps for s in step.statements}
            for finding in linted:
                if finding.statement_line not in listed:
                    self.line("  line %-4d lint: %s" % (finding.line, lint_brief(finding)))
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


def migration_warning(database, current, target, pending, backing_up=False, repeatables=0):
    """The recipe's warning: which database, from which version to which, how many scripts."""
    return ("WARNING: this migrates the database %s from version %d to %d (%d script%s%s). %s" % (
        database, current, target, len(pending), "" if len(pending) == 1 else "s",
        repeatables_counted(repeatables),
        "It is backed up first (--backup)." if backing_up else "Back it up before you go on."))


def dry_run_repeatables(due):
    """--dry-run's lines for the repeatable scripts that would run after the versioned ones."""
    if not due:
        return []
    return ["Then these repeatable scripts would run, in order, each in its own transaction:"] + [
        "%s (%s)" % (item.repeatable.filename, reason_text(item)) for item in due]


def megabytes(size):
    amount = size / 1e6
    return "%.2f MB" % amount if amount < 10 else "%.1f MB" % amount if amount < 100 else \
        "%.0f MB" % amount


def backed_up_line(backup):
    """The line printed once the --backup file is written, before the first script runs."""
    return "Backed up %s (version %d) to %s (%s in %.1f s); restore with: %s" % (
        backup.database, backup.version, backup.path, megabytes(backup.size), backup.seconds,
        backup.restore)


def rerun_with_backup(command, argv):
    """`command` (how the operator ran it) with the options it was given and --backup."""
    import shlex
    return mask_text(" ".join([command] + [shlex.quote(arg) for arg in argv] + ["--backup"]))


def baseline_warning(database, baseline):
    return ("WARNING: this records that the database %s already has the schema of "
            "version %d." % (database, baseline))


def pending_lines(pending):
    """What the prompt lists: the scripts to run (the first few and a count)."""
    return "Scripts to run: %s" % listed([script.name for script in pending])


def confirmation(migrator, baseline, ask, backup=None, rerun=None):
    """The prompt both command layers show (the warning itself is `Reporter.planned`'s).

    Without --backup (`backup` None) it names the command that backs up first: `rerun`,
    the command as the operator ran it with --backup added (`rerun_with_backup`).
    """
    def confirm(pending=None):
        if baseline is not None:
            print(baseline_warning(migrator.describe_database(), baseline))
        if pending:
            print(pending_lines(pending))
            for line in lint_errors(pending_lint(migrator, pending)):
                print(line)
            if backup is None and rerun:
                print("Back up first: answer n, then run %s (a pg_dump of the database, made "
                      "before the first script)" % rerun)
        sys.stdout.flush()
        return ask("Do you want to continue?")
    return confirm


def pending_lint(migrator, scripts):
    """lint.py's findings for scripts about to run, by name; {} without squawk or on any failure."""
    try:
        from ..lint import lint_quietly  # lazily: only a prompt or a dry run lints
        return lint_quietly(migrator, scripts)
    except Exception:  # lint never stands in a migration's way
        return {}


def lint_brief(finding, width=150):
    """A finding in one line, without its fix; a long explanation is cut, the table's size kept."""
    message, _, table = finding.message.partition(" [table ")
    table = " [table " + table if table else ""
    text = "%s %s: %s" % (finding.level, finding.rule, message)
    room = max(width - len(table), 40)
    return (text if len(text) <= room else text[:room - 3] + "...") + table


def lint_errors(findings, shown=10):
    """The prompt's lines for the error-level findings of the scripts to run."""
    errors = [f for name in sorted(findings) for f in findings[name] if f.level == "error"]
    if not errors:
        return []
    lines = ["Lint errors in the scripts to run (`lint_migrations` shows each one with its fix):"]
    lines += ["  %s:%d: %s" % (f.file, f.line, lint_brief(f)) for f in errors[:shown]]
    if len(errors) > shown:
        lines.append("  ... and %d more" % (len(errors) - shown))
    return lines


def show_status(status, as_json=False, check=False):
    """Print a status (text, or JSON) and return the exit status; --check fails unless up to date."""
    print(json.dumps(status, indent=2) if as_json else format_status(status))
    if check and status_exit_code(status) != EXIT_OK:
        if not as_json:  # JSON readers take the document and the status, nothing on stderr
            if status["up_to_date"] and not status["warnings"] and status.get("above_target"):
                raise CheckFailed(above_text(status))
            if status["up_to_date"] and not status["warnings"]:
                raise CheckFailed("the schema has drifted from what the scripts up to version %d "
                                  "give (listed above)" % status["drift"]["version"])
            raise CheckFailed("the database is not exactly at version %d" % status["code_version"])
        return EXIT_FAILED
    return EXIT_OK


def status_exit_code(status):
    """--check: 0 only when the database is exactly at the code's version with no warnings, no
    script above that version (a deploy that would ship a script it never runs) and, with --drift,
    no drift."""
    drifted = bool(status.get("drift", {}).get("differences"))
    return EXIT_OK if status["up_to_date"] and not status["warnings"] and not drifted \
        and not status.get("above_target") else EXIT_FAILED


def target_name(status):
    return "binds[%r]" % status["bind"] if status.get("bind") else "__db_version__"


def above_text(status):
    """What to say of a status's scripts above the target (source/files.py's words); None: none."""
    above = status.get("above_target")
    return above_note([Script(e["version"], e["file"]) for e in above], status["code_version"],
                      target_name(status)) if above else None


def format_drift(drift):
    """The lines `migrate_status --drift` and `check_drift` print for a status's "drift" entry."""
    if not drift["differences"]:
        lines = ["Drift:           none (the schema is what the scripts up to version %d give)"
                 % drift["version"]]
    else:
        count = len(drift["differences"])
        lines = ["Drift:           %d difference%s from what the scripts up to version %d give:"
                 % (count, "" if count == 1 else "s", drift["version"])]
        lines += ["  - %s" % line for line in drift["differences"]]
    lines += ["  note: %s (not drift: PostgreSQL adds columns at the end)" % note
              for note in drift["notes"]]
    return lines


# The history table's narrowest columns: started, version, file, duration, outcome (then user@host).
HISTORY_WIDTHS = (19, 5, 28, 9, 16)


def padded(rows, minimum=()):
    """The rows of a table (lists of text), every column but the last padded to its widest cell
    (at least `minimum`'s width), so the columns line up whatever a cell holds."""
    if not rows:
        return []
    widths = [max([len(row[column]) for row in rows] + list(minimum[column:column + 1]))
              for column in range(len(rows[0]) - 1)]
    return [[cell.ljust(width) for cell, width in zip(row, widths)] + row[len(widths):]
            for row in rows]


def format_status(status):
    lines = [
        "Database:        %s" % status["database"],
        "Server:          PostgreSQL %s" % status["server_version"],
        "Stored version:  %s" % ("none (no version table)" if status["stored_version"] is None
                                 else status["stored_version"]),
        "Applied version: %d" % status["current_version"],
        "Code version:    %d (%s)" % (status["code_version"], target_name(status)),
    ]
    if "bind" in status:  # --bind, --all-binds
        lines.insert(0, "Bind:            %s" % (status["bind"] or "none (the default database)"))
    if status["migration_running"]:
        lines.append("Running now:     %s" % status["migration_running"])
    if status["pending"]:
        names = [p["file"] for p in status["pending"]]
        lines.append("Pending:         %s%s" % ("%d scripts: " % len(names) if len(names) > 10 else "",
                                                listed(names)))
    else:
        lines.append("Pending:         none")
    if status.get("repeatables"):  # repeatable scripts a run would run
        lines.append("Repeatable:      %s" % listed(["%s (%s%s)" % (r["file"], r["reason"], ": " + r[
            "object"] if r["reason"] == "object missing" else "") for r in status["repeatables"]]))
    if status.get("above_target"):
        above = status["above_target"]
        lines.append("Above target:    %s (not run: raise %s to %d)" % (
            listed([e["file"] for e in above]), target_name(status), above[-1]["version"]))
    if "drift" in status:
        lines.extend(format_drift(status["drift"]))
    shown = len(status["history"])
    lines.append("")
    lines.append("History (%s of %d, newest first):" % (
        "all" if shown == status["history_total"] else "last %d" % shown, status["history_total"]))
    if not status["history"]:
        lines.append("  (empty)")
    rows = [[(entry["started_at"] or "")[:19].replace("T", " "),
             "R" if entry["mode"] == REPEATABLE_MODE else "v%d" % entry["version"],
             entry["file"] or "-",
             "%.3fs" % entry["duration_s"] if entry["duration_s"] is not None else "-",
             entry["outcome"], "%s@%s" % (entry["os_user"] or "?", entry["host"] or "?")]
            for entry in status["history"]]
    lines.extend("  %s  %s %s %s %s %s" % tuple(cells) for cells in padded(rows, HISTORY_WIDTHS))
    if status["warnings"]:
        lines.append("")
        lines.append("Warnings:")
        lines.extend("  - %s" % warning for warning in status["warnings"])
    return "\n".join(lines)
