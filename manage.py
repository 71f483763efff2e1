#!/usr/bin/env python
"""Run `python manage.py --help` for the commands."""
from myapp import __db_version__, create_app
from myapp.migrate import Migrator
from myapp.migrate.commands import Manager, add_migration_commands  # Flask-Script or -NG
from myapp.models import Version, db

manager = Manager(create_app)
add_migration_commands(manager, Migrator(db, Version, __db_version__))

if __name__ == "__main__":
    manager.run()
