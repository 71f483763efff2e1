"""The rules squawk reports: each one's kind, level and safe rewrite with this runner."""
from collections import namedtuple

ERROR, WARNING, NOTE = "error", "warning", "note"
LEVELS = (ERROR, WARNING, NOTE)
RULE_PAGE = "https://squawkhq.com/docs/%s"

# What a rule is about decides its level (and whether a table's size and newness matter).
LOCKING = "locking"     # locks or rewrites an existing table: error, a note on a small table
BREAKING = "breaking"   # running code may still use what is renamed or dropped: warning
DANGER = "danger"       # loses data or always fails: error
STYLE = "style"         # a type or naming choice: note
OTHER = "other"         # anything else, and rules this module does not know yet: warning
LEVEL = {LOCKING: ERROR, BREAKING: WARNING, DANGER: ERROR, STYLE: NOTE, OTHER: WARNING}

_OUTSIDE = "the runner runs it on its own, outside the script's transaction"
_LATER = ("VALIDATE CONSTRAINT in a later script (or under `-- migrate: no-transaction`, "
          "where each statement commits on its own)")
_USING_INDEX = ("CREATE UNIQUE INDEX CONCURRENTLY ix ON t (col); then ALTER TABLE t ADD CONSTRAINT "
                "c %s USING INDEX ix")
_LATER_RELEASE = "stop using it in the code first; %s in a later release"

# rule: (kind, the safe rewrite with this runner)
RULES = {
    "require-concurrent-index-creation": (LOCKING, "CREATE INDEX CONCURRENTLY ...; " + _OUTSIDE),
    "require-concurrent-index-deletion": (LOCKING, "DROP INDEX CONCURRENTLY ...; " + _OUTSIDE),
    "require-concurrent-reindex": (LOCKING, "REINDEX ... CONCURRENTLY (PostgreSQL 12+); " + _OUTSIDE),
    "require-concurrent-partition-detach": (
        LOCKING, "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+); " + _OUTSIDE),
    "adding-field-with-default": (
        LOCKING, "add the column without the volatile default, SET DEFAULT for new rows, "
                 "then backfill old rows in batches in a later script"),
    "changing-column-type": (
        LOCKING, "add a column of the new type, fill it (a trigger for new writes, batches for "
                 "old rows), move the code to it, then drop the old column"),
    "adding-foreign-key-constraint": (
        LOCKING, "ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID here; " + _LATER),
    "constraint-missing-not-valid": (LOCKING, "add the constraint NOT VALID here; " + _LATER),
    "adding-not-nullable-field": (
        LOCKING, "ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; in a later script VALIDATE "
                 "CONSTRAINT c, then SET NOT NULL (PostgreSQL 12+ then skips the scan)"),
    "disallowed-unique-constraint": (LOCKING, _USING_INDEX % "UNIQUE"),
    "adding-serial-primary-key-field": (LOCKING, _USING_INDEX % "PRIMARY KEY"),
    "adding-primary-key-constraint": (LOCKING, _USING_INDEX % "PRIMARY KEY"),
    "prefer-repack": (LOCKING, "rebuild the table with pg_repack instead of VACUUM FULL or CLUSTER"),
    "renaming-column": (
        BREAKING, "add the new column, write both, backfill, move the readers, then drop the old "
                  "one in a later release"),
    "renaming-table": (
        BREAKING, "rename it in a release where no running code uses the old name (or leave a "
                  "view under the old name meanwhile)"),
    "ban-drop-column": (BREAKING, _LATER_RELEASE % "drop the column"),
    "ban-drop-table": (BREAKING, _LATER_RELEASE % "drop the table"),
    "ban-drop-not-null": (BREAKING, "make sure every reader copes with NULL before dropping NOT NULL"),
    "adding-required-field": (
        BREAKING, "give the column a non-volatile DEFAULT, or add it nullable, backfill, then "
                  "SET NOT NULL"),
    "ban-drop-database": (DANGER, "never drop a database from a migration"),
    "ban-truncate-cascade": (DANGER, "TRUNCATE exactly the tables you mean, without CASCADE"),
    "ban-duplicate-column-assignments": (DANGER, "assign each column once (PostgreSQL refuses it)"),
    "prefer-bigint-over-int": (STYLE, "bigint (bigserial), so the ids do not run out"),
    "prefer-bigint-over-smallint": (STYLE, "bigint, so the values do not run out"),
    "prefer-identity": (STYLE, "bigint GENERATED ALWAYS AS IDENTITY instead of serial"),
    "prefer-text-field": (STYLE, "text with a CHECK (length(col) <= n) constraint"),
    "prefer-timestamp-tz": (STYLE, "timestamptz"),
    "prefer-timestamptz": (STYLE, "timestamptz"),
    "ban-char-field": (STYLE, "text (or varchar): char(n) pads with spaces"),
    "require-enum-value-ordering": (STYLE, "say where the value goes: ADD VALUE ... BEFORE/AFTER"),
    "identifier-too-long": (OTHER, "keep names within 63 bytes: PostgreSQL cuts longer ones"),
    "ban-create-domain-with-constraint": (OTHER, "a CHECK constraint on the table's column instead"),
    "ban-alter-domain-with-add-constraint": (OTHER, "a CHECK constraint on the table's column instead"),
}


Finding = namedtuple("Finding", "file line rule level message fix statement_line")
Finding.__new__.__defaults__ = (None,)
JSON_KEYS = ("file", "line", "rule", "level", "message", "fix")


def finding_dict(finding):
    return {key: getattr(finding, key) for key in JSON_KEYS}


def kind_of(rule):
    if rule in RULES:
        return RULES[rule][0]
    if rule.startswith(("ban-drop-", "renaming-")):
        return BREAKING
    return OTHER


def fix_for(rule, squawk_help=None):
    if rule in RULES:
        return RULES[rule][1]
    return (squawk_help or "").strip() or "see %s" % (RULE_PAGE % rule)
