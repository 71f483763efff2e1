"""--backup in a run: the pg_dump made under the lock before anything changes, and its --dry-run preview."""
from . import backup as backups


def back_up(requested, locked, dump, version, to_run, listener, instance_path):
    """--backup under the lock, before anything changes: the file's path, or None.

    No script to run (another server just migrated, or only bookkeeping to
    repair) means nothing to back up. `dump` was chosen before the prompt.
    """
    if not to_run:
        listener.notice("no backup made (--backup): no script to run")
        return None
    dump = dump or backups.find_pg_dump(locked.connection.server_version)
    database = backups.database_name(locked.params)
    path, folder = backups.resolve(requested, instance_path, database, version)
    made = backups.make(locked.params, path, folder, dump, version,
                        lambda: listener.backing_up(database, version, path, dump))
    listener.backed_up(made)
    return made.path


def preview_path(requested, version, params, instance_path):
    """--dry-run --backup: the path of the backup a run would make now; creates nothing."""
    path, _ = backups.resolve(requested, instance_path, backups.database_name(params), version)
    return path
