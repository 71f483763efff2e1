"""What the library tells its caller while it works (`Listener`); the command layer prints it."""


class Listener:
    """What the library tells its caller while it works; the command layer prints it."""

    def notice(self, message):
        pass

    def scripts_above(self, message):
        """Scripts are numbered above the target (the forgotten bump); they do not run (one line)."""
        self.notice(message)

    def waiting_for_lock(self, holder):
        pass

    def script_started(self, script, plan):
        pass

    def script_finished(self, script, seconds):
        pass

    def lock_retry(self, message):
        """A step's lock was not granted in time; it is tried again (one line)."""
        self.notice(message)

    def planned(self, database, current, target, pending, repeatables=0):
        """What this run is about to do, before it asks and before it takes the lock
        (`repeatables`: how many repeatable scripts run after the versioned ones)."""
        pass

    def repeatable_started(self, filename, reason):
        """A repeatable script starts (`reason`: new, changed, object missing: ...)."""
        pass

    def repeatable_finished(self, filename, seconds):
        pass

    def backing_up(self, database, version, path, pg_dump):
        """--backup: pg_dump (backup.PgDump) starts writing the backup; it may take a while."""
        pass

    def backed_up(self, backup):
        """--backup: the backup (backup.Backup) is written; no script has run yet."""
        pass
