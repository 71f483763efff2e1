"""Turning the rows of the catalog queries into the snapshot's items (Builder)."""
from .details import join_fields, set_target, sql_literal
from .relations import RelationItems

_ENABLED = {"D": "disabled", "R": "enabled replica", "A": "enabled always"}  # "O": the default
_POLICY_COMMANDS = {"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}
_DEFAULT_ACL_OBJECTS = {"r": "tables", "S": "sequences", "f": "functions", "T": "types",
                        "n": "schemas", "L": "large objects"}
_AGGREGATE_KINDS = {"n": "normal", "o": "ordered-set", "h": "hypothetical-set"}
_FINAL_MODIFY = {"r": "read_only", "s": "shareable", "w": "read_write"}
_PARALLEL = {"s": "safe", "r": "restricted", "u": "unsafe"}


class Builder(RelationItems):
    """Turns the rows of the catalog queries into the snapshot's items."""

    def __init__(self, rows, exclude_tables):
        super().__init__(exclude_tables, rows["members"])
        self._schemas(rows["schemas"])
        self._relations(rows["relations"])
        self._columns(rows["columns"])
        self._types(rows["types"])
        self._constraints(rows["constraints"])
        self._functions(rows["functions"])
        self._triggers(rows["triggers"], rows["rules"], rows["policies"])
        self._event_triggers(rows["event triggers"])
        self._statistics(rows["statistics"])
        self._extensions(rows["extensions"])
        self._comments(rows["comments"])
        self._grants(rows["grants"])
        self._default_acls(rows["default acls"])

    def _functions(self, rows):
        for row in rows:
            oid, name, prokind, definition = row[:4]
            if self.member("pg_proc", oid):
                continue
            kind = {"p": "procedure", "a": "aggregate"}.get(prokind, "function")
            self.objects[("pg_proc", oid)] = "%s %s" % (kind, name)
            if prokind != "a":
                self.add(kind, name, "definition " + definition.strip())
                continue
            (arguments, result, parallel, aggkind, direct, sfunc, finalfunc, combinefunc, serialfunc,
             deserialfunc, msfunc, minvfunc, mfinalfunc, final_extra, mfinal_extra, final_modify,
             mfinal_modify, sortop, stype, sspace, mstype, msspace, initcond, minitcond) = row[4:]
            self.add(kind, name, join_fields(
                "arguments (%s)" % arguments, "returns %s" % result,
                "kind %s" % _AGGREGATE_KINDS.get(aggkind, aggkind),
                "direct arguments %s" % direct if direct else None,
                "sfunc %s" % sfunc, "stype %s" % stype, "sspace %s" % sspace if sspace else None,
                "initcond %s" % sql_literal(initcond) if initcond is not None else None,
                "finalfunc %s" % finalfunc if finalfunc else None,
                "finalfunc_extra" if final_extra else None,
                "finalfunc_modify %s" % _FINAL_MODIFY.get(final_modify, final_modify)
                if finalfunc else None,
                "combinefunc %s" % combinefunc if combinefunc else None,
                "serialfunc %s" % serialfunc if serialfunc else None,
                "deserialfunc %s" % deserialfunc if deserialfunc else None,
                "msfunc %s" % msfunc if msfunc else None,
                "minvfunc %s" % minvfunc if minvfunc else None,
                "mstype %s" % mstype if mstype else None,
                "msspace %s" % msspace if msspace else None,
                "minitcond %s" % sql_literal(minitcond) if minitcond is not None else None,
                "mfinalfunc %s" % mfinalfunc if mfinalfunc else None,
                "mfinalfunc_extra" if mfinal_extra else None,
                "mfinalfunc_modify %s" % _FINAL_MODIFY.get(mfinal_modify, mfinal_modify)
                if mfinalfunc else None,
                "sortop %s" % sortop if sortop else None,
                "parallel %s" % _PARALLEL.get(parallel, parallel)))

    def _triggers(self, triggers, rules, policies):
        for catalog, kind, rows in (("pg_trigger", "trigger", triggers), ("pg_rewrite", "rule", rules)):
            for oid, relid, name, definition, enabled in rows:
                if relid not in self.relations:
                    continue
                name = "%s.%s" % (self.relations[relid], name)
                self.objects[(catalog, oid)] = "%s %s" % (kind, name)
                self.add(kind, name, join_fields(_ENABLED.get(enabled), "definition " + definition.strip()))
        for oid, relid, name, command, permissive, roles, using, check in policies:
            if relid not in self.relations:
                continue
            name = "%s.%s" % (self.relations[relid], name)
            self.objects[("pg_policy", oid)] = "policy " + name
            self.add("policy", name, join_fields(
                "for %s" % _POLICY_COMMANDS.get(command, command),
                "as %s" % ("permissive" if permissive else "restrictive"),
                "to %s" % ", ".join(sorted(roles)),
                "using (%s)" % using if using is not None else None,
                "with check (%s)" % check if check is not None else None))

    def _event_triggers(self, rows):
        for oid, name, event, function, enabled, tags in rows:
            if self.member("pg_event_trigger", oid):
                continue
            self.objects[("pg_event_trigger", oid)] = "event trigger " + name
            self.add("event trigger", name, join_fields(
                "on %s" % event,
                "tags %s" % ", ".join(sql_literal(tag) for tag in sorted(tags)) if tags else None,
                "execute %s" % function, _ENABLED.get(enabled)))

    def _statistics(self, rows):
        for oid, relid, name, definition, target in rows:
            if relid not in self.relations or self.member("pg_statistic_ext", oid):
                continue
            self.objects[("pg_statistic_ext", oid)] = "statistics " + name
            self.add("statistics", name, join_fields(
                "statistics %d" % set_target(target) if set_target(target) is not None else None,
                "definition " + definition))

    def _extensions(self, rows):
        for oid, name, version, schema in rows:
            self.objects[("pg_extension", oid)] = "extension " + name
            self.add("extension", name, join_fields("version %s" % version, "schema %s" % schema))

    def _comments(self, rows):
        for catalog, oid, subid, text in rows:
            if catalog == "pg_class" and subid:
                target = self.columns.get((oid, subid))
                target = target and "column " + target
            else:
                target = self.objects.get((catalog, oid))
            if target:
                self.add("comment", target, text)

    def _grants(self, rows):
        grants = {}
        for catalog, oid, subid, privilege, grantable, grantee in rows:
            if subid:
                target = self.columns.get((oid, subid))
                target = target and "column " + target
            else:
                target = self.objects.get((catalog, oid))
            if target:
                grants.setdefault(target, set()).add("%s to %s%s" % (
                    privilege, grantee, " with grant option" if grantable else ""))
        for target, entries in grants.items():
            self.add("grant", target, "; ".join(sorted(entries)))

    def _default_acls(self, rows):
        for oid, mine, role, schema, objtype, entries, default in rows:
            if schema is None:  # a global entry: what it changes in the built-in default
                entries = sorted(set(entries) - set(default)) + sorted(
                    "no " + entry for entry in set(default) - set(entries))
            if not entries:
                continue  # the same as no entry
            name = "%son %s%s" % ("" if mine else "for role %s " % role,
                                  _DEFAULT_ACL_OBJECTS.get(objtype, objtype),
                                  " in schema %s" % schema if schema else "")
            self.add("default privileges", name, "; ".join(sorted(entries)))
