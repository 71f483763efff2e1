"""The check, before anything changes, that the role may keep the books (history and version tables)
and that its transactions may write at all (a read-only role, database or standby is refused)."""
from psycopg2 import sql

from ..errors import ConfigurationError


def check_privileges(connection, history, state, version_schema, version_table_name, backup_column=False):
    """Refuse in one line, before anything changes, when the role cannot keep the books.

    `backup_column`: this run records a --backup, so a history table made before the
    `backup` column must get it (History.create), which only its owner may do.
    """
    version_table = sql.Identifier(version_schema, version_table_name).as_string(connection)
    history_table = history.table.as_string(connection)
    shown = {version_table: "%s.%s" % (version_schema, version_table_name),
             history_table: "%s.%s" % (history.schema, history.table_name)}
    missing = []
    with connection.cursor() as cursor:
        check_writable(cursor)

        def lacking(kind, target, privileges):
            lacks = []
            for privilege in privileges:
                cursor.execute("SELECT pg_catalog.has_%s_privilege(%%s, %%s)" % kind,
                               (target, privilege))
                if not cursor.fetchone()[0]:
                    lacks.append(privilege)
            return lacks

        for schema in sorted({history.schema, version_schema}):
            lacks = lacking("schema", schema, ["USAGE"])
            if lacks:
                missing.append("USAGE on schema %s" % schema)
        _history_privileges(cursor, lacking, history, history_table, shown, backup_column, missing)
        if state.version_table:
            wanted = ["SELECT", "UPDATE"] + ([] if state.stored_versions else ["INSERT"])
            lacks = lacking("table", version_table, wanted)
            if lacks:
                missing.append("%s on %s" % (", ".join(lacks), shown[version_table]))
        elif lacking("schema", version_schema, ["CREATE"]):
            missing.append("CREATE on schema %s (to create %s)" % (version_schema, shown[version_table]))
        if missing:
            cursor.execute("SELECT current_user")
            role = cursor.fetchone()[0]
    if missing:
        raise ConfigurationError(
            "the role %s lacks %s; nothing was changed; grant it (the plugin's docs/failures.md, "
            "\"Privileges the migration role needs\") or migrate as a role that has it" % (role, "; ".join(missing)))


# Where default_transaction_read_only = on comes from (pg_settings.source): (said as, turned off by).
READ_ONLY_SOURCES = {
    "user": ("for the role", "ALTER ROLE {role} SET default_transaction_read_only = off"),
    "database": ("for the database", "ALTER DATABASE {database} SET default_transaction_read_only = off"),
    "database user": ("for the role in this database",
                      "ALTER ROLE {role} IN DATABASE {database} SET default_transaction_read_only = off"),
}


def check_writable(cursor):
    """Refuse in one line a session whose transactions are read-only: a standby, or
    default_transaction_read_only = on (for the role, the database, the server or the URL)."""
    cursor.execute(
        "SELECT pg_catalog.pg_is_in_recovery(), s.setting, s.source, current_user,"
        " pg_catalog.current_database() FROM pg_catalog.pg_settings s"
        " WHERE s.name = 'default_transaction_read_only'")
    recovering, setting, source, role, database = cursor.fetchone()
    if recovering:
        raise ConfigurationError("the server is a standby in recovery: its transactions are "
                                 "read-only; migrate its primary; nothing was changed")
    if setting != "on":
        return
    where, fix = READ_ONLY_SOURCES.get(source, ("by the %s" % source, None))
    fix = fix.format(role=sql.Identifier(role).as_string(cursor),
                     database=sql.Identifier(database).as_string(cursor)) if fix else None
    raise ConfigurationError(
        "the role %s's transactions are read-only (default_transaction_read_only = on, set %s); "
        "nothing was changed; %s, or migrate as a role that may write" % (
            role, where, "turn it off: %s" % fix if fix else "turn it off where it is set"))


def _history_privileges(cursor, lacking, history, history_table, shown, backup_column, missing):
    """What the history table (or its creation) needs that the role lacks, added to `missing`."""
    present = history.later_columns()  # None: no history table yet
    if present is None:
        if lacking("schema", history.schema, ["CREATE"]):
            missing.append("CREATE on schema %s (to create %s)" % (history.schema, shown[history_table]))
        return
    lacks = lacking("table", history_table, ["SELECT", "INSERT", "UPDATE"])
    if lacks:
        missing.append("%s on %s" % (", ".join(lacks), shown[history_table]))
    cursor.execute("SELECT pg_catalog.pg_get_serial_sequence(%s, 'id')", (history_table,))
    sequence = cursor.fetchone()[0]
    if sequence and lacking("sequence", sequence, ["USAGE"]) \
            and lacking("sequence", sequence, ["UPDATE"]):
        missing.append("USAGE (or UPDATE) on %s" % sequence)
    if backup_column and "backup" not in present:
        cursor.execute("SELECT pg_catalog.pg_has_role(relowner, 'USAGE') FROM"
                       " pg_catalog.pg_class WHERE oid = pg_catalog.to_regclass(%s)",
                       (history_table,))
        if not cursor.fetchone()[0]:
            missing.append("ownership of %s, to add its column backup for --backup "
                           "(or add it once as its owner: ALTER TABLE %s ADD COLUMN "
                           "backup text)" % (shown[history_table], history_table))
