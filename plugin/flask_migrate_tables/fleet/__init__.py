"""A fleet of databases with the same schema: `migrate_tables --databases FILE` and
`migrate_status --databases FILE` (docs/fleet.md).

Each database is migrated by the same `Migrator.migrate()` a single database gets
(settings.UrlSettings: its own engine and session), so each keeps every guarantee of a
run (lock, history, exactly-once, lock waits, pooler refusal, session isolation); a
database already at the target costs one read (probe.py) and takes no lock.
"""
