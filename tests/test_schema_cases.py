"""Every case of tests/schema_cases round trip: the generated SQL turns `before` into `after`.

For each case, `before.sql` and `after.sql` are loaded into two fresh
databases; the SQL that make_migration, check_migrations and diff_schema write
(generate.py: the engine's, repaired, and supplemented) is applied to the
first, and then snapshot.py, which shares no code with any of them, must find
no difference but notes (column order). A case whose case.txt has a line
`refuse: <text>` is one the project decided not to support: generating must
stop with one line holding that text, before anything is written.

Cases with a `-- roles: a b` first line get those roles (cluster-wide; made
if missing, never dropped: other tests may use them at the same time).
"""
import os
import re

import pytest

from flask_migrate_tables.errors import UsageError
from flask_migrate_tables.authoring.generate import generate
from flask_migrate_tables.authoring.snapshot import compare, describe, failures
from tests.helpers import REPO_ROOT, Database, fresh_databases

CASES = os.path.join(REPO_ROOT, "tests", "schema_cases")
NAMES = sorted(name for name in os.listdir(CASES) if os.path.isdir(os.path.join(CASES, name)))


def _read(case, name):
    path = os.path.join(CASES, case, name)
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def test_the_corpus_is_there():
    assert len(NAMES) >= 60, NAMES
    for name in NAMES:
        assert _read(name, "before.sql").strip() or _read(name, "after.sql").strip(), name


@pytest.fixture
def two_databases(server_url):
    with fresh_databases(server_url, 2, prefix="case") as databases:
        yield databases


@pytest.mark.parametrize("case", NAMES)
def test_generated_sql_gives_the_target_schema(case, two_databases, server_url):
    before, after = _read(case, "before.sql"), _read(case, "after.sql")
    refusal = re.search(r"^refuse: (.+)$", _read(case, "case.txt"), re.M)
    roles = re.match(r"-- roles: (.+)", before)
    for role in roles.group(1).split() if roles else ():
        Database(server_url).execute(
            "DO $$ BEGIN CREATE ROLE %s; EXCEPTION WHEN duplicate_object OR unique_violation "
            "THEN NULL; END $$" % role)
    source, target = two_databases
    if before.strip():
        source.execute(before)
    if after.strip():
        target.execute(after)

    if refusal:
        catalog = source.catalog(exclude=())
        with pytest.raises(UsageError) as raised:
            generate(source.url, target.url)
        message = str(raised.value)
        assert refusal.group(1) in message, message
        assert len(message.splitlines()) == 1, message
        assert source.catalog(exclude=()) == catalog
        return

    sql = generate(source.url, target.url).sql
    assert sql.strip(), "the schemas of %s differ, but no SQL was generated" % case
    source.execute(sql)
    left = failures(compare(source.url, target.url))
    assert not left, "%s: still different after the generated SQL:\n%s\n\n%s" % (
        case, "\n".join(describe(d, "before + SQL", "after") for d in left), sql)
    assert generate(source.url, target.url).sql == "", "a second diff still finds SQL to write"
