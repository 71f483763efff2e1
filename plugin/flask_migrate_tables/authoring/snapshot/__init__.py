"""An independent comparison of two schemas: a catalog snapshot of each and the differences.

The diff engine (`schema_diff.py`) can only find what it knows how to emit SQL
for, so a comparison made with it is blind where it is blind. This module
shares no code with it: it reads PostgreSQL's catalog directly into a flat
{(kind, name): detail} dict and compares two such dicts item by item, so it
never says "identical" for schemas whose catalogs differ in what it covers.

    snapshot(url, exclude_tables=())   the catalog of one database, read in a READ ONLY
                                       transaction that is rolled back; its items as
                                       Item(kind, name, detail): [Item(*key, detail) for
                                       key, detail in sorted(snapshot(url).items())]
    differences(left, right)           [Difference(kind, name, left, right)], sorted
    describe(difference)               one line for a person
    compare(left_url, right_url)       snapshot both and diff
    failures(diffs)                    the differences that are not mere notes (NOTE_KINDS)

The modules: catalog.py reads the catalog (snapshot); relations.py and builder.py
turn its rows into items; details.py writes a detail's fields; differ.py compares
two snapshots; wording.py describes a difference.

Covered, in every schema but pg_catalog, information_schema, pg_toast* and
pg_temp*, leaving out objects that belong to an extension (pg_depend 'e') and
the tables of `exclude_tables` (with their columns, constraints, indexes,
owned sequences, triggers, rules, policies, comments and grants):

    schema                 existence
    table, partitioned table, view, materialized view, sequence, foreign table
                           unlogged, reloptions (and the TOAST table's), typed table (OF),
                           table access method if not heap, materialized view not populated,
                           row level security (enabled, forced), replica identity,
                           CLUSTER ON index, inheritance parents (in order),
                           partition key, partition bound and parent,
                           view definition (pg_get_viewdef), foreign server and options,
                           sequence type/start/increment/min/max/cache/cycle and OWNED BY
    column                 type, not null, default, identity (with its sequence's options),
                           generated expression, collation if not the type's,
                           statistics target, storage if not the type's, compression,
                           attribute options (n_distinct...), foreign table column options;
                           columns of tables, views, materialized views, foreign tables
    column order           the order of the columns two tables have in common (a note,
                           not a failure: see NOTE_KINDS)
    constraint             pg_get_constraintdef, deferrable, initially deferred, not valid
                           (table constraints keyed schema.table.name; domain constraints
                           are part of the domain; PostgreSQL 18's named NOT NULL constraints
                           are the column's "not null", their generated names not compared,
                           unless NOT VALID or NO INHERIT)
    index                  pg_get_indexdef, invalid
    enum, domain, composite type, range type
                           labels in order; base type, default, not null, collation and
                           constraints; attributes; subtype, opclass, collation,
                           canonical and subdiff functions
    function, procedure    pg_get_functiondef, keyed schema.name(identity arguments)
    aggregate              signature, result and every pg_aggregate field
    trigger                pg_get_triggerdef, enabled state (not internal triggers)
    event trigger          event, tags, function, enabled state
    rule                   pg_get_ruledef, enabled state (not views' _RETURN rules)
    policy                 command, permissive/restrictive, roles, USING, WITH CHECK
    statistics             extended statistics objects (pg_get_statisticsobjdef, target)
    extension              version and schema
    comment                on all of the above (columns of views and composite types,
                           indexes, constraints, sequences, types, triggers, ...)
    grant                  relacl, attacl (column grants), proacl, typacl, nspacl: one entry
                           per (grantee, privilege, grantable), so the order in the ACL does
                           not matter; a NULL ACL is the default ACL (acldefault); the
                           owner's own entries (grantor = grantee = owner) are left out
    default privileges     pg_default_acl, per schema and global; a global entry is what it
                           changes in the built-in default ("no EXECUTE to PUBLIC"), so one
                           equal to the default is the same as none

Not covered: owners (anywhere: both sides are built by the same role, and owners
are not what migrations are checked for), revoking the owner's own privileges,
grantors, tablespaces, publications and subscriptions, foreign data wrappers and
foreign servers (a foreign table's server name is compared, not the server),
user mappings, collations, operators, operator classes and families, casts,
conversions, text search objects, languages, transforms, access methods, base
types made with CREATE TYPE ... (INPUT = ...), a range type's multirange type
name, statistics targets of index columns, whether a column is inherited and
also local (attislocal), security labels, grants on anything not listed above
(databases, languages, foreign servers, large objects, parameters), database
and role settings, and data (sequence values, materialized views' contents).

Keys: (kind, name), the name being schema.relation for relations, indexes,
sequences, types and statistics; schema.table.column for columns, and
schema.table.name for constraints, triggers, rules and policies;
schema.function(identity arguments) for routines; "<kind> <name>" of the object
for grants and comments ("table public.notes", "column public.notes.body");
"[for role R ]on tables[ in schema S]" for default privileges. Names are quoted
as SQL identifiers where needed (public."Odd Name".col).

Details: "; "-separated fields, each a field name and its value ("type text;
not null; default now()"), a "definition ..." field last (it may hold "; ");
grants and default privileges are the sorted entries ("SELECT to PUBLIC;
UPDATE to reader with grant option"); a comment is its text. Every name that
PostgreSQL prints is schema-qualified: the queries run with search_path =
pg_catalog and fixed DateStyle/IntervalStyle/TimeZone/extra_float_digits, so
two databases whose sessions are set differently still print the same text.
The whole snapshot is one REPEATABLE READ, READ ONLY transaction on one
connection, of about fifteen queries (one per catalog), rolled back.
"""
from .catalog import Item, snapshot
from .differ import NOTE_KINDS, Difference, compare, differences, failures
from .wording import describe

__all__ = ["Difference", "Item", "NOTE_KINDS", "compare", "describe", "differences", "failures",
           "snapshot"]
