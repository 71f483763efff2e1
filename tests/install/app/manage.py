#!/usr/bin/env python
try:
    from flask_script import Manager
except ImportError:  # Flask >= 2.2: the maintained fork
    from flask_script_ng import Manager

from flask_migrate_tables import Migrator
from flask_migrate_tables.commands import add_migration_commands
from shop import Version, __db_version__, create_app, db

manager = Manager(create_app)
add_migration_commands(manager, Migrator(db, Version, __db_version__))

if __name__ == "__main__":
    manager.run()
