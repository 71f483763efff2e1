"""Flask-SQLAlchemy binds (SQLALCHEMY_BINDS): each declared bind is a database of its own, with its
own scripts folder, its own target version, its own Version row and history.

Declared beside `__db_version__`, passed as `Migrator(..., binds={"analytics": 2})`; a value is the
bind's target version, or a `Bind(version, migration_dir=None, version_model=None)`. The default
folder of a bind is `<sql_dir>/migration/<bind>/` (discovery skips folders, so the default
database's scripts never include a bind's). `targets` picks the databases a command works on, in
the order they run: the default database first, then the binds by name.
"""
import os
from collections import namedtuple

from flask import current_app

from .errors import ConfigurationError, UsageError
from .pg import connection as conn
from .settings import OwnSession

Bind = namedtuple("Bind", "version migration_dir version_model", defaults=(None, None))
Bind.__doc__ = """A bind's declaration: its target version; its scripts folder (default
`<sql_dir>/migration/<bind>/`); the model of its Version row (default: the app's Version model,
used on the bind's engine through a session of the bind's own)."""


def declared(value):
    """A `binds=` value as a Bind."""
    bind = value if isinstance(value, Bind) else Bind(value)
    if isinstance(bind.version, bool) or not isinstance(bind.version, int):
        raise ConfigurationError("a bind's target version must be an integer (binds={name: N}), "
                                 "not %r" % (bind.version,))
    return bind


def bind_engine(db, name):
    """The bind's engine: Flask-SQLAlchemy 3's `db.engines[name]`, 2's `db.get_engine(bind=name)`."""
    try:
        engines = getattr(db, "engines", None)
        return engines[name] if engines is not None else db.get_engine(bind=name)
    except Exception as error:  # a bad URL, no driver
        raise ConfigurationError("bind %s: %s" % (name, conn.unusable_url(error)))


class BindSettings(OwnSession):
    """A bind's inputs (settings.AppSettings' interface): its engine and URL, a session of its own
    on that engine for the Version row (the Version row's reads and commits go to the bind's
    database), its scripts folder; the rest from the app's settings.

    MIGRATION_DATABASE_URL names the default database's direct connection only: none for a bind.
    """

    direct_url = None

    def __init__(self, db, name, app_settings, migration_dir=None):
        self.db, self.name, self.app_settings = db, name, app_settings
        self._migration_dir = migration_dir

    @property
    def sql_dir(self):
        return self.app_settings.sql_dir

    @property
    def migration_dir(self):
        return self._migration_dir or os.path.join(self.sql_dir, "migration", self.name)

    @property
    def instance_path(self):
        return self.app_settings.instance_path

    @property
    def engine(self):
        return bind_engine(self.db, self.name)

    @property
    def url(self):
        return self.engine.url

    def close(self):
        self.close_session()


def configured():
    """The bind names of SQLALCHEMY_BINDS, sorted."""
    return sorted(name for name in (current_app.config.get("SQLALCHEMY_BINDS") or {}) if name)


def bind_migrator(migrator, name):
    """A Migrator of the bind `name` (declared in `migrator.binds`)."""
    bind = declared(migrator.binds[name])
    settings = BindSettings(migrator.db, name, migrator.settings, bind.migration_dir)
    made = type(migrator)(migrator.db, bind.version_model or migrator.version_model, bind.version,
                          history_table=migrator.history_table, settings=settings)
    made.target_name = "binds[%r]" % name  # its messages name its target, not __db_version__
    return made


def targets(migrator, bind=None, all_binds=False):
    """[(bind name or None, Migrator)]: what a command with --bind NAME / --all-binds works on."""
    if bind is not None and all_binds:
        raise UsageError("--bind and --all-binds: give one of them")
    if bind is None and not all_binds:
        return [(None, migrator)]
    names = configured()
    if bind is not None:
        check_bind(migrator, bind, names)
        chosen = [bind]
    else:
        check_all(migrator, names)
        chosen = sorted(migrator.binds)
    picked = ([(None, migrator)] if all_binds else []) + [(name, bind_migrator(migrator, name))
                                                          for name in chosen]
    refuse_shared(migrator, picked)
    return picked


def check_bind(migrator, bind, names):
    if bind not in names:
        raise UsageError("--bind %s: no such bind in SQLALCHEMY_BINDS (%s)"
                         % (bind, ", ".join(names) or "none configured"))
    if bind not in migrator.binds:
        raise ConfigurationError("bind %s has no target version; declare it beside __db_version__ "
                                 "and pass it: Migrator(..., binds={%r: N})" % (bind, bind))


def check_all(migrator, names):
    """Every declared bind is configured; a configured bind with a scripts folder is declared."""
    unknown = sorted(set(migrator.binds) - set(names))
    if unknown:
        raise ConfigurationError("binds= names %s, not in SQLALCHEMY_BINDS (%s)"
                                 % (", ".join(unknown), ", ".join(names) or "none configured"))
    for name in names:
        folder = os.path.join(migrator.sql_dir, "migration", name)
        if name not in migrator.binds and os.path.isdir(folder):
            raise ConfigurationError("bind %s has scripts (%s) but no target version; declare it "
                                     "beside __db_version__ and pass it: Migrator(..., binds={%r: N})"
                                     % (name, folder, name))


def refuse_shared(migrator, picked):
    """Two of them on one database would share one Version row and one history: refused."""
    seen = {}
    for name, target in [(None, migrator)] + [item for item in picked if item[0] is not None]:
        url = target.url
        where = (url.host or url.query.get("host"), url.port or 5432, url.database)
        if where in seen and seen[where] != name:
            raise ConfigurationError(
                "%s and %s are one database (%s): their Version rows and histories would be one; "
                "point each bind at a database of its own" % (label(seen[where]), label(name),
                                                              target.describe_database()))
        seen.setdefault(where, name)


def label(name):
    return "the default database" if name is None else "bind %s" % name


def close(migrator):
    """A bind's own session closed (the app's settings have nothing to close)."""
    if isinstance(migrator.settings, BindSettings):
        migrator.settings.close()
