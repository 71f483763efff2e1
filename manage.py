#!/usr/bin/env python
"""Run `python manage.py --help` for the commands."""
try:  # first, so a Ctrl-C in the milliseconds before the handler below is in place is caught too
    import os
    import signal

    def _interrupted_while_starting(signum, frame):
        """Ctrl-C before a command runs (Python is still importing): one line, nothing was done."""
        os.write(2, b"interrupted while starting; nothing was done\n")
        os._exit(130)

    _interrupted_while_starting.while_starting = True  # the commands put Python's handler back
    signal.signal(signal.SIGINT, _interrupted_while_starting)  # before the imports: they take a while
except KeyboardInterrupt:
    import os

    os.write(2, b"interrupted while starting; nothing was done\n")
    os._exit(130)

from myapp import __db_version__, create_app
from flask_migrate_tables import Migrator
from flask_migrate_tables.commands import Manager, add_migration_commands  # Flask-Script or -NG
from myapp.models import Version, db

manager = Manager(create_app)
add_migration_commands(manager, Migrator(db, Version, __db_version__))

if __name__ == "__main__":
    manager.run()
