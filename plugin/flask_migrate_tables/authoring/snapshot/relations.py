"""The snapshot's items for schemas, relations, columns, types and constraints (RelationItems)."""
from collections import namedtuple

from .details import join_fields, set_target, sql_literal

# A row of catalog.py's _RELATIONS.
_Relation = namedtuple("_Relation", (
    "oid schema table name relkind persistence options rls force_rls replident clustered"
    " replident_index partkey bound is_partition parents viewdef indexdef valid indrelid"
    " access_method seqtype start increment minimum maximum cache cycle owner owner_column"
    " owner_kind server foreign_options of_type toast_options populated"))

_RELATION_KINDS = {"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view",
                   "S": "sequence", "f": "foreign table", "i": "index", "I": "index"}
_TABLE_LIKE = ("r", "p", "f")  # relkinds whose column order is a note
_TYPE_KINDS = {"e": "enum", "d": "domain", "c": "composite type", "r": "range type"}
_STORAGE = {"p": "plain", "e": "external", "m": "main", "x": "extended"}
_COMPRESSION = {"p": "pglz", "l": "lz4"}


def sequence_options(row):
    """A sequence's options, from its _Relation."""
    options = ["unlogged" if row.persistence == "u" else None, "type %s" % row.seqtype,
               "start %s" % row.start, "increment %s" % row.increment, "minvalue %s" % row.minimum,
               "maxvalue %s" % row.maximum, "cache %s" % row.cache, "cycle" if row.cycle else "no cycle"]
    return [option for option in options if option]


class RelationItems:
    """The items other items name: schemas, relations, columns, types and constraints.

    Builder (builder.py) goes on with the rest; the rows are the catalog queries' (catalog.py).
    """

    def __init__(self, exclude_tables, members):
        self.items = {}
        self.members = {}  # catalog -> oids that belong to an extension
        for catalog, oid in members:
            self.members.setdefault(catalog, set()).add(oid)
        self.exclude = {exclude_tables} if isinstance(exclude_tables, str) else set(exclude_tables)
        # oid -> "kind name", for comments and grants; whatever is left out is not in them.
        self.objects = {}
        self.columns = {}  # (relid, attnum) -> "schema.table.column"
        self.relations = {}  # oid -> qualified name of the relations kept

    def add(self, kind, name, detail):
        self.items[(kind, name)] = detail

    def member(self, catalog, oid):
        return oid in self.members.get(catalog, ())

    def _schemas(self, rows):
        for oid, name in rows:
            if not self.member("pg_namespace", oid):
                self.add("schema", name, "")
                self.objects[("pg_namespace", oid)] = "schema " + name

    def _relations(self, rows):
        excluded, kept, sequences = set(), {}, []
        for row in map(_Relation._make, rows):
            if self.member("pg_class", row.oid):
                excluded.add(row.oid)
            elif row.relkind in ("r", "p", "f", "v", "m") and (
                    row.table in self.exclude or "%s.%s" % (row.schema, row.table) in self.exclude):
                excluded.add(row.oid)
            else:
                kept[row.oid] = row
        for oid, row in list(kept.items()):  # their indexes and sequences
            if (row.relkind in ("i", "I") and row.indrelid in excluded) or (
                    row.relkind == "S" and row.owner in excluded):
                excluded.add(oid)
                del kept[oid]
        self.identity = {}  # (relid, attnum) -> the options of an identity column's sequence
        for oid, row in kept.items():
            self.relations[oid] = row.name
            self.objects[("pg_class", oid)] = "%s %s" % (_RELATION_KINDS[row.relkind], row.name)
        for row in kept.values():
            kind = _RELATION_KINDS[row.relkind]
            if row.relkind in ("i", "I"):
                self.add(kind, row.name, join_fields(None if row.valid else "invalid",
                                                 "definition " + row.indexdef))
                continue
            if row.relkind == "S":
                if row.owner_kind == "i":  # an identity column's sequence: part of the column
                    self.identity[(row.owner, row.owner_column)] = ", ".join(
                        ["sequence %s" % row.name] + sequence_options(row))
                else:
                    sequences.append(row)
                continue
            identity = None  # views have relreplident 'n'
            if row.relkind not in ("v", "m"):
                identity = {"f": "full", "n": "nothing",
                            "i": "using index %s" % row.replident_index}.get(row.replident)
            parent, parents = None, row.parents
            if row.is_partition and parents:
                parent, parents = parents[0], parents[1:]
            self.add(kind, row.name, join_fields(
                "unlogged" if row.persistence == "u" else None,
                "of type %s" % row.of_type if row.of_type else None,
                "access method %s" % row.access_method
                if row.access_method not in (None, "heap") else None,
                "options %s" % ", ".join(sorted(row.options)) if row.options else None,
                "toast options %s" % ", ".join(sorted(row.toast_options)) if row.toast_options else None,
                "not populated" if row.relkind == "m" and not row.populated else None,
                "row level security" if row.rls else None,
                "force row level security" if row.force_rls else None,
                "replica identity %s" % identity if identity else None,
                "cluster on %s" % row.clustered if row.clustered else None,
                "inherits %s" % ", ".join(parents) if parents else None,
                "partition by %s" % row.partkey if row.partkey else None,
                "partition of %s %s" % (parent, row.bound) if parent else None,
                "server %s" % row.server if row.server else None,
                "foreign options %s" % ", ".join(sorted(row.foreign_options))
                if row.foreign_options else None,
                "definition %s" % row.viewdef.strip() if row.viewdef is not None else None))
        self._sequences = sequences

    def _columns(self, rows):
        order, attributes = {}, {}
        for (relid, attnum, column, type_, not_null, identity, generated, default, collation,
             statistics, storage, compression, options, fdw_options, relkind) in rows:
            if relid not in self.relations and relkind != "c":
                continue
            if relkind == "c":
                attributes.setdefault(relid, []).append(
                    (attnum, column, "%s%s" % (type_, " collate %s" % collation if collation else "")))
                continue
            name = "%s.%s" % (self.relations[relid], column)
            self.columns[(relid, attnum)] = name
            if relkind in _TABLE_LIKE:
                order.setdefault(relid, []).append(column)
            generated_field = None
            if generated:
                generated_field = "generated always as (%s) %s" % (
                    default, "stored" if generated == "s" else "virtual")
                default = None
            identity_field = None
            if identity:
                identity_field = "identity %s (%s)" % ("always" if identity == "a" else "by default",
                                                       self.identity.get((relid, attnum), "?"))
            self.add("column", name, join_fields(
                "type %s" % type_, "not null" if not_null else None,
                "default %s" % default if default is not None else None,
                identity_field, generated_field,
                "collate %s" % collation if collation else None,
                "statistics %d" % set_target(statistics) if set_target(statistics) is not None else None,
                "storage %s" % _STORAGE[storage] if storage else None,
                "compression %s" % _COMPRESSION.get(compression, compression) if compression else None,
                "options %s" % ", ".join(sorted(options)) if options else None,
                "foreign options %s" % ", ".join(sorted(fdw_options)) if fdw_options else None))
        self.attributes = attributes
        for relid, columns in order.items():
            self.add("column order", self.relations[relid], ", ".join(columns))
        # Sequences come after the columns: OWNED BY names a column.
        for row in self._sequences:
            owned = None
            if row.owner_kind == "a":
                owned = "owned by %s" % self.columns.get((row.owner, row.owner_column), "?")
            self.add("sequence", row.name, join_fields(*(sequence_options(row) + [owned])))

    def _types(self, rows):
        self.domains = {}
        for (oid, name, typtype, relid, labels, base, default, not_null, collation, subtype, opclass,
             range_collation, canonical, subdiff) in rows:
            if self.member("pg_type", oid) or (relid and self.member("pg_class", relid)):
                continue
            kind = _TYPE_KINDS[typtype]
            self.objects[("pg_type", oid)] = "%s %s" % ("domain" if typtype == "d" else "type", name)
            if typtype == "e":
                self.add(kind, name, "labels " + ", ".join(sql_literal(label) for label in labels or ()))
            elif typtype == "d":
                self.domains[oid] = (name, [
                    "type %s" % base, "default %s" % default if default is not None else None,
                    "not null" if not_null else None, "collate %s" % collation if collation else None])
            elif typtype == "c":
                for attnum, column, _ in self.attributes.get(relid, ()):
                    self.columns[(relid, attnum)] = "%s.%s" % (name, column)
                self.add(kind, name, "attributes " + ", ".join(
                    "%s %s" % (column, type_) for _, column, type_ in self.attributes.get(relid, ())))
            else:
                self.add(kind, name, join_fields(
                    "subtype %s" % subtype, "opclass %s" % opclass,
                    "collate %s" % range_collation if range_collation else None,
                    "canonical %s" % canonical if canonical else None,
                    "subdiff %s" % subdiff if subdiff else None))

    def _constraints(self, rows):
        domain_constraints = {}
        for oid, relid, typid, conname, definition, deferrable, deferred, validated in rows:
            flags = ["deferrable" if deferrable else None,
                     "initially deferred" if deferred else None,
                     None if validated else "not valid"]
            if relid:
                if relid not in self.relations:
                    continue
                name = "%s.%s" % (self.relations[relid], conname)
                self.objects[("pg_constraint", oid)] = "constraint " + name
                self.add("constraint", name, join_fields(*(flags + ["definition " + definition])))
            elif typid in self.domains:
                name = "%s.%s" % (self.domains[typid][0], conname)
                self.objects[("pg_constraint", oid)] = "constraint " + name
                domain_constraints.setdefault(typid, []).append(
                    "constraint %s %s%s" % (conname, definition, "" if validated else " (not valid)"))
        for typid, (name, fields) in self.domains.items():
            self.add("domain", name, join_fields(*(fields + sorted(domain_constraints.get(typid, ())))))
