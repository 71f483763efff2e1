"""Linting migration scripts with squawk, knowing what this runner already does.

`python manage.py lint_migrations [N ...] [--all] [--json]` runs squawk (the
`squawk-cli` wheel, the `lint` extra) over the scripts the database has not run
yet (read like migrate_status reads them), or over the versions given, or over
every script (`--all`, and when no database can be reached). Each finding has
a file, a line (1-based, in the file as it is on disk), squawk's rule, a level,
squawk's one-line explanation and a safe rewrite that fits this runner.

Levels. A rule whose statement locks or rewrites a table that may be large
(an index built without CONCURRENTLY, a column type change, a constraint
validated under a lock, ...) is an error. With a database at hand the table is
weighed (pg_class.reltuples, pg_total_relation_size): under
--small-table-rows rows (default 10,000) the finding is a note, above it an
error with the table's size beside it; a table never analyzed (reltuples -1)
keeps its level. A rule about running code that may still use what a script
renames or drops is a warning, a style rule (bigint, identity, text,
timestamptz) a note, a rule whose statement loses data or always fails
(DROP DATABASE, TRUNCATE ... CASCADE) an error. Exit status 1 when an error
remains, 0 with warnings and notes only, 2 for bad usage or no squawk.

Findings this runner makes moot are dropped, each for one reason:

- `require-timeout-settings`, `require-lock-timeout`, `require-statement-timeout`:
  the runner sets lock_timeout before every step (`--ddl-lock-timeout`, 2 s by
  default) and retries a step whose lock was not granted in time
  (`--ddl-retries`), and sets statement_timeout too (`--statement-timeout`,
  or a script's `-- migrate: statement-timeout=` header); see lockwait.py.
- `prefer-robust-stmts`: it asks for IF NOT EXISTS so that a half-applied
  script can run again; the runner runs each script in one transaction, rolled
  back whole when it fails, and a script in steps is recorded step by step.
- `transaction-nesting`, `ban-concurrent-index-creation-in-transaction`,
  `ban-uncommitted-transaction`: the runner gives each script its own
  transaction and runs every statement that cannot run in one (CREATE INDEX
  CONCURRENTLY, ...) on its own outside it (statements.plan_script). A BEGIN or
  COMMIT inside a script is refused by the runner before anything runs; lint
  reports that refusal itself (rule `runner`).
- `syntax-error`: PostgreSQL's own parser (pglast) reads every script; squawk
  has a parser of its own, so its word is dropped and PostgreSQL's error is
  reported instead (rule `syntax-error`, from pglast).
- Locking and compatibility findings on a table created earlier in the same
  script, or in an earlier script of this lint run that the database has not
  run yet (known only with a database at hand): no one uses that table yet,
  and CONCURRENTLY on an empty table buys nothing.

Squawk runs with `--assume-in-transaction` (the runner's own transaction per
script), except for a script with the `-- migrate: no-transaction` header, and
with the server's version (`--pg-version`) when a database is at hand. A
`.squawk.toml` in the working directory still applies (excluded rules, ...).

Repeatable scripts (sql/migration/repeatable/NAME.sql) are linted too: every one
by default and with --all, or those named (`lint_migrations repeatable/NAME.sql`).
Beside squawk's findings, each statement that fails when its file runs again is an
error of the rule `repeatable-not-rerunnable` (rerunnable.py), and what the runner
refuses in a repeatable (a statement outside a transaction, files in a cycle) is
one of the rule `runner`.

`-- lint: ignore <rule>[, <rule> ...]` on the line before a statement (or in the
comment lines right above it) silences those rules for that statement.

make_migration lints the file it wrote (without a database: no sizes), and
migrate_tables lists error-level findings before its prompt and shows findings
under each statement of a dry run; there a missing squawk or a failing lint is
skipped silently: lint never stands in a deploy's way.

The modules: squawk.py finds and runs squawk; rules.py holds the rules' kinds,
levels and safe rewrites; touched.py what each statement works on, makes and
silences; sizes.py the tables' sizes; filter.py lints scripts (squawk's findings
minus what the runner makes moot); rerunnable.py the rule repeatable-not-rerunnable
and repeatables.py the repeatable scripts' own findings; command.py the lint_migrations command and
the other commands' use of lint.
"""
from .command import lint_command, lint_quietly, lint_written

__all__ = ["lint_command", "lint_quietly", "lint_written"]
