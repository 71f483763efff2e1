#!/usr/bin/env python
import os

try:
    from flask_script import Manager
except ImportError:  # Flask >= 2.2: the maintained fork
    from flask_script_ng import Manager

from flask_migrate_tables import Migrator
from flask_migrate_tables.commands import add_migration_commands
from notes import Version, __db_version__, create_app, db

manager = Manager(create_app)
sql_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sql")
add_migration_commands(manager, Migrator(db, Version, __db_version__, sql_dir=sql_dir))

if __name__ == "__main__":
    manager.run()
