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

# The plugin (./plugin, not on PyPI): install both together, `pip install -e ./plugin -e .`.
# The demo uses the embedded default server when no DATABASE_URL is set.
PLUGIN = "Flask-Migrate-Tables[embedded]>=0.2"
AUTHORING = ["Flask-Migrate-Tables[authoring]"]
LINT = ["Flask-Migrate-Tables[lint]"]

setup(
    name="myapp",
    version="0.1.0",
    description="The demo app of Flask-Migrate-Tables: its schema migrated forward with plain versioned SQL files",
    packages=find_packages(include=["myapp", "myapp.*"]),
    python_requires=">=3.8",
    install_requires=LEGACY_STACK + [PLUGIN],
    extras_require={
        "authoring": AUTHORING,
        "lint": LINT,
        "test": AUTHORING + LINT + ["pytest>=7", "pytest-xdist>=3.5"],
        "bench": ["yoyo-migrations>=9,<10", "alembic>=1.7"],
    },
)
