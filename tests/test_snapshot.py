"""flask_migrate_tables.authoring.snapshot: an independent comparison of two schemas, on real databases.

Each test gets two fresh databases, `left` (say, the migrations) and `right` (the
models). The usual shape: the same DDL on both compares equal, then one change on
one side gives exactly the expected differences, and describe() says it in one line.
"""
import re
import time
import uuid
from collections import namedtuple

import pytest

from flask_migrate_tables.authoring.snapshot import (NOTE_KINDS, Difference, compare, describe, differences,
                                    failures, snapshot)
from tests.helpers import Database, fresh_databases, wait_for

Pair = namedtuple("Pair", "left right")


@pytest.fixture
def pair(server_url):
    """Two fresh, empty databases on the test server (made and dropped side by side)."""
    with fresh_databases(server_url, 2) as databases:
        yield Pair(*databases)


@pytest.fixture
def roles(server_url, pair):
    """make_role() -> a new role with a unique name (roles are cluster-wide and tests run in
    parallel); each one is dropped afterwards, with what it owns or was granted in both databases."""
    made = []

    def make_role():
        name = "snap_%s" % uuid.uuid4().hex[:12]
        Database(server_url).execute("CREATE ROLE %s" % name)
        made.append(name)
        return name
    yield make_role
    for name in made:
        for database in pair:
            database.execute("DROP OWNED BY %s" % name)
        Database(server_url).execute("DROP ROLE %s" % name)


def both(pair, sql):
    for database in pair:
        if sql:
            database.execute(sql)


def keys(diffs):
    return [(difference.kind, difference.name) for difference in diffs]


def version(pair):
    return int(pair.left.scalar("SHOW server_version_num"))


def same_then(pair, setup, change, exclude_tables=()):
    """Run `setup` on both sides and check they compare equal; then `change` on the right
    (or a (left sql, right sql) pair) and return the differences."""
    both(pair, setup)
    assert compare(pair.left.url, pair.right.url, exclude_tables) == []
    left_sql, right_sql = change if isinstance(change, tuple) else (None, change)
    for database, sql in ((pair.left, left_sql), (pair.right, right_sql)):
        if sql:
            database.execute(sql)
    return compare(pair.left.url, pair.right.url, exclude_tables)



FUNCTION = "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'SELECT a + 1'"
TRIGGER = ("CREATE TABLE t (a int);"
           " CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';"
           " CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION trg()")
VIEW = "CREATE TABLE t (a int, b int); CREATE VIEW v AS SELECT a FROM t"
PARTITIONED = ("CREATE TABLE p (k int) PARTITION BY RANGE (k);"
               " CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (1) TO (10)")
M, R = "in the migrations", "in the models"

# (id, setup on both, change on the right (or (left, right)), the differences expected
#  ((kind, name) or (kind, name, from server version)), describe() of the first one)
CASES = [
    # grants
    ("grant on a view", VIEW, "GRANT SELECT ON v TO PUBLIC", [("grant", "view public.v")],
     "grant on view public.v: SELECT to PUBLIC %s, not %s" % (R, M)),
    ("column grant", "CREATE TABLE t (a int, b int)", "GRANT SELECT (b), UPDATE (b) ON t TO PUBLIC",
     [("grant", "column public.t.b")],
     "grant on column public.t.b: SELECT to PUBLIC, UPDATE to PUBLIC %s, not %s" % (R, M)),
    ("grant on a serial's sequence", "CREATE TABLE t (id serial)",
     "GRANT USAGE ON SEQUENCE t_id_seq TO PUBLIC", [("grant", "sequence public.t_id_seq")],
     "grant on sequence public.t_id_seq: USAGE to PUBLIC %s, not %s" % (R, M)),
    ("revoke on a function", FUNCTION, "REVOKE EXECUTE ON FUNCTION f(int) FROM PUBLIC",
     [("grant", "function public.f(a integer)")],
     "grant on function public.f(a integer): EXECUTE to PUBLIC %s, not %s" % (M, R)),
    ("revoke on a type", "CREATE TYPE mood AS ENUM ('a')", "REVOKE USAGE ON TYPE mood FROM PUBLIC",
     [("grant", "type public.mood")], "grant on type public.mood: USAGE to PUBLIC %s, not %s" % (M, R)),
    ("grant on a schema", "CREATE SCHEMA s", "GRANT USAGE ON SCHEMA s TO PUBLIC",
     [("grant", "schema s")], "grant on schema s: USAGE to PUBLIC %s, not %s" % (R, M)),
    ("default privileges", "", "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC",
     [("default privileges", "on tables")],
     "default privileges on tables: SELECT to PUBLIC %s, not %s" % (R, M)),
    ("default privileges revoked", "",
     "ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
     [("default privileges", "on functions")],
     "default privileges on functions: no EXECUTE to PUBLIC %s, not %s" % (R, M)),
    ("default privileges in a schema", "CREATE SCHEMA s",
     "ALTER DEFAULT PRIVILEGES IN SCHEMA s GRANT USAGE ON SEQUENCES TO PUBLIC",
     [("default privileges", "on sequences in schema s")],
     "default privileges on sequences in schema s: USAGE to PUBLIC %s, not %s" % (R, M)),
    # comments
    ("comment on a view's column", VIEW, "COMMENT ON COLUMN v.a IS 'the a'",
     [("comment", "column public.v.a")], "comment on column public.v.a: 'the a' %s, not %s" % (R, M)),
    ("comment on a primary key's index", "CREATE TABLE t (id int PRIMARY KEY)",
     "COMMENT ON INDEX t_pkey IS 'pk'", [("comment", "index public.t_pkey")],
     "comment on index public.t_pkey: 'pk' %s, not %s" % (R, M)),
    ("comment on a serial's sequence", "CREATE TABLE t (id serial)",
     "COMMENT ON SEQUENCE t_id_seq IS 'ids'", [("comment", "sequence public.t_id_seq")], None),
    ("comment on a constraint", "CREATE TABLE t (a int CONSTRAINT positive CHECK (a > 0))",
     "COMMENT ON CONSTRAINT positive ON t IS 'x'", [("comment", "constraint public.t.positive")], None),
    ("comment on a function", FUNCTION, "COMMENT ON FUNCTION f(int) IS 'x'",
     [("comment", "function public.f(a integer)")], None),
    ("comment on a type", "CREATE TYPE mood AS ENUM ('a')", "COMMENT ON TYPE mood IS 'x'",
     [("comment", "type public.mood")], None),
    ("comment on a domain", "CREATE DOMAIN d AS int", "COMMENT ON DOMAIN d IS 'x'",
     [("comment", "domain public.d")], None),
    ("comment on a composite type's attribute", "CREATE TYPE pair AS (a int)",
     "COMMENT ON COLUMN pair.a IS 'x'", [("comment", "column public.pair.a")], None),
    ("comment on a schema", "CREATE SCHEMA s", "COMMENT ON SCHEMA s IS 'x'",
     [("comment", "schema s")], None),
    ("comment on a trigger", TRIGGER, "COMMENT ON TRIGGER tr ON t IS 'x'",
     [("comment", "trigger public.t.tr")], None),
    ("comment on a materialized view", "CREATE MATERIALIZED VIEW mv AS SELECT 1 AS one",
     "COMMENT ON MATERIALIZED VIEW mv IS 'x'", [("comment", "materialized view public.mv")], None),
    ("comment changed", "CREATE TABLE t (a int); COMMENT ON TABLE t IS 'old'",
     "COMMENT ON TABLE t IS 'new'", [("comment", "table public.t")],
     "comment on table public.t: 'old' %s, 'new' %s" % (M, R)),
    # columns
    ("column type", "CREATE TABLE notes (body text)", "ALTER TABLE notes ALTER body TYPE varchar(20)",
     [("column", "public.notes.body")],
     "column public.notes.body: type text %s, character varying(20) %s" % (M, R)),
    ("column added", "CREATE TABLE t (a int)", "ALTER TABLE t ADD b text",
     [("column", "public.t.b")], "column public.t.b: %s, not %s" % (R, M)),
    ("not null", "CREATE TABLE t (a int)", "ALTER TABLE t ALTER a SET NOT NULL",
     [("column", "public.t.a")],
     "column public.t.a: not null %s, not %s" % (R, M)),
    ("changed default", "CREATE TABLE t (a int DEFAULT 1)", "ALTER TABLE t ALTER a SET DEFAULT 2",
     [("column", "public.t.a")], "column public.t.a: default 1 %s, 2 %s" % (M, R)),
    ("statistics target", "CREATE TABLE t (c int)", "ALTER TABLE t ALTER c SET STATISTICS 500",
     [("column", "public.t.c")], "column public.t.c: statistics 500 %s, not %s" % (R, M)),
    ("statistics target back to the default", "CREATE TABLE t (c int)",
     ("ALTER TABLE t ALTER c SET STATISTICS 500; ALTER TABLE t ALTER c SET STATISTICS -1",
      "ALTER TABLE t ALTER c SET STATISTICS 0"),
     [("column", "public.t.c")], "column public.t.c: statistics 0 %s, not %s" % (R, M)),
    ("collation", "CREATE TABLE t (a text)", 'ALTER TABLE t ALTER a TYPE text COLLATE "C"',
     [("column", "public.t.a")], 'column public.t.a: collate "C" %s, not %s' % (R, M)),
    ("storage", "CREATE TABLE t (a text)", "ALTER TABLE t ALTER a SET STORAGE EXTERNAL",
     [("column", "public.t.a")], "column public.t.a: storage external %s, not %s" % (R, M)),
    ("generated expression", "CREATE TABLE t (a int, b int GENERATED ALWAYS AS (a * 2) STORED)",
     "ALTER TABLE t DROP b; ALTER TABLE t ADD b int GENERATED ALWAYS AS (a * 3) STORED",
     [("column", "public.t.b")],
     "column public.t.b: generated always as ((a * 2)) stored %s, always as ((a * 3)) stored %s"
     % (M, R)),
    ("identity options", "CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY)",
     "ALTER TABLE t ALTER id SET INCREMENT BY 2", [("column", "public.t.id")], None),
    ("identity kind", "CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY)",
     "ALTER TABLE t ALTER id SET GENERATED BY DEFAULT", [("column", "public.t.id")], None),
    ("serial vs identity", "",
     ("CREATE TABLE t (id serial)", "CREATE TABLE t (id integer GENERATED BY DEFAULT AS IDENTITY)"),
     [("column", "public.t.id"), ("sequence", "public.t_id_seq")],
     "column public.t.id: default nextval('public.t_id_seq'::regclass) %s, not %s;"
     " identity by default (sequence public.t_id_seq, type integer, start 1, increment 1,"
     " minvalue 1, maxvalue 2147483647,"
     " cache 1, no cycle) %s, not %s" % (M, R, R, M)),
    # tables
    ("cluster using", "CREATE TABLE t (id int PRIMARY KEY)", "CLUSTER t USING t_pkey",
     [("table", "public.t")], "table public.t: cluster on t_pkey %s, not %s" % (R, M)),
    ("cluster on", "CREATE TABLE t (id int PRIMARY KEY, a int); CREATE INDEX t_a ON t (a);"
     " ALTER TABLE t CLUSTER ON t_pkey", "ALTER TABLE t CLUSTER ON t_a", [("table", "public.t")],
     "table public.t: cluster on t_pkey %s, t_a %s" % (M, R)),
    ("row level security", "CREATE TABLE t (a int)", "ALTER TABLE t ENABLE ROW LEVEL SECURITY",
     [("table", "public.t")], "table public.t: row level security %s, not %s" % (R, M)),
    ("forced row level security", "CREATE TABLE t (a int); ALTER TABLE t ENABLE ROW LEVEL SECURITY",
     "ALTER TABLE t FORCE ROW LEVEL SECURITY", [("table", "public.t")],
     "table public.t: force row level security %s, not %s" % (R, M)),
    ("unlogged", "CREATE TABLE t (a int)", "ALTER TABLE t SET UNLOGGED", [("table", "public.t")],
     "table public.t: unlogged %s, not %s" % (R, M)),
    ("reloptions", "CREATE TABLE t (a int)", "ALTER TABLE t SET (fillfactor = 70)",
     [("table", "public.t")], "table public.t: options fillfactor=70 %s, not %s" % (R, M)),
    ("toast reloptions", "CREATE TABLE t (a text)", "ALTER TABLE t SET (toast.autovacuum_enabled = off)",
     [("table", "public.t")],
     "table public.t: toast options autovacuum_enabled=off %s, not %s" % (R, M)),
    ("column options", "CREATE TABLE t (a int)", "ALTER TABLE t ALTER a SET (n_distinct = 100)",
     [("column", "public.t.a")], "column public.t.a: options n_distinct=100 %s, not %s" % (R, M)),
    ("replica identity", "CREATE TABLE t (a int)", "ALTER TABLE t REPLICA IDENTITY FULL",
     [("table", "public.t")], "table public.t: replica identity full %s, not %s" % (R, M)),
    ("replica identity index", "CREATE TABLE t (a int NOT NULL); CREATE UNIQUE INDEX t_a ON t (a)",
     "ALTER TABLE t REPLICA IDENTITY USING INDEX t_a", [("table", "public.t")],
     "table public.t: replica identity using index t_a %s, not %s" % (R, M)),
    ("partition bound", PARTITIONED,
     "ALTER TABLE p DETACH PARTITION p1; ALTER TABLE p ATTACH PARTITION p1 FOR VALUES FROM (1) TO (20)",
     [("table", "public.p1")],
     "table public.p1: partition of public.p FOR VALUES FROM (1) TO (10) %s,"
     " public.p FOR VALUES FROM (1) TO (20) %s" % (M, R)),
    ("partition key", "",
     ("CREATE TABLE p (k int) PARTITION BY RANGE (k)", "CREATE TABLE p (k int) PARTITION BY LIST (k)"),
     [("partitioned table", "public.p")],
     "partitioned table public.p: partition by RANGE (k) %s, LIST (k) %s" % (M, R)),
    ("typed table", "CREATE TYPE pair AS (a int); CREATE TABLE t (a int)",
     "DROP TABLE t; CREATE TABLE t OF pair", [("table", "public.t")],
     "table public.t: of type public.pair %s, not %s" % (R, M)),
    ("inheritance parent", "CREATE TABLE a (x int); CREATE TABLE b (x int);"
     " CREATE TABLE c (x int) INHERITS (a)", "ALTER TABLE c INHERIT b", [("table", "public.c")],
     "table public.c: inherits public.a %s, public.a, public.b %s" % (M, R)),
    ("table added", "", "CREATE TABLE t (a int)", [("column", "public.t.a"), ("table", "public.t")],
     "column public.t.a: %s, not %s" % (R, M)),
    # constraints and indexes
    ("check constraint", "CREATE TABLE t (a int)", "ALTER TABLE t ADD CONSTRAINT positive CHECK (a > 0)",
     [("constraint", "public.t.positive")], "constraint public.t.positive: %s, not %s" % (R, M)),
    ("not valid", "CREATE TABLE t (a int); ALTER TABLE t ADD CONSTRAINT positive CHECK (a > 0) NOT VALID",
     "ALTER TABLE t VALIDATE CONSTRAINT positive", [("constraint", "public.t.positive")],
     "constraint public.t.positive: not valid %s, not %s;"
     " definition CHECK ((a > 0)) NOT VALID %s, CHECK ((a > 0)) %s" % (M, R, M, R)),
    ("deferrable",
     "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (a_id int CONSTRAINT fk REFERENCES a)",
     "ALTER TABLE b ALTER CONSTRAINT fk DEFERRABLE INITIALLY DEFERRED", [("constraint", "public.b.fk")],
     "constraint public.b.fk: deferrable %s, not %s; initially deferred %s, not %s;"
     " definition FOREIGN KEY (a_id) REFERENCES public.a(id) %s,"
     " FOREIGN KEY (a_id) REFERENCES public.a(id) DEFERRABLE INITIALLY DEFERRED %s"
     % (R, M, R, M, M, R)),
    ("index", "CREATE TABLE t (a int, b int); CREATE INDEX i ON t (a)",
     "DROP INDEX i; CREATE INDEX i ON t (a, b)", [("index", "public.i")],
     "index public.i: definition CREATE INDEX i ON public.t USING btree (a) %s,"
     " CREATE INDEX i ON public.t USING btree (a, b) %s" % (M, R)),
    ("extended statistics", "CREATE TABLE t (a int, b int)", "CREATE STATISTICS st ON a, b FROM t",
     [("statistics", "public.st")], "statistics public.st: %s, not %s" % (R, M)),
    # sequences
    ("sequence type", "CREATE SEQUENCE s", "ALTER SEQUENCE s AS integer", [("sequence", "public.s")],
     "sequence public.s: type bigint %s, integer %s;"
     " maxvalue 9223372036854775807 %s, 2147483647 %s" % (M, R, M, R)),
    ("sequence owned by", "CREATE TABLE t (a int); CREATE SEQUENCE s", "ALTER SEQUENCE s OWNED BY t.a",
     [("sequence", "public.s")], "sequence public.s: owned by public.t.a %s, not %s" % (R, M)),
    ("sequence cycle", "CREATE SEQUENCE s", "ALTER SEQUENCE s CYCLE CACHE 10",
     [("sequence", "public.s")],
     "sequence public.s: cache 1 %s, 10 %s; no cycle %s, cycle %s" % (M, R, M, R)),
    # types
    ("enum label added", "CREATE TYPE mood AS ENUM ('a', 'b')", "ALTER TYPE mood ADD VALUE 'c'",
     [("enum", "public.mood")], "enum public.mood: labels 'a', 'b' %s, 'a', 'b', 'c' %s" % (M, R)),
    ("enum label order", "CREATE TYPE mood AS ENUM ('a', 'b')",
     ("ALTER TYPE mood ADD VALUE 'c'", "ALTER TYPE mood ADD VALUE 'c' BEFORE 'a'"),
     [("enum", "public.mood")], "enum public.mood: labels 'a', 'b', 'c' %s, 'c', 'a', 'b' %s" % (M, R)),
    ("domain default", "CREATE DOMAIN d AS int", "ALTER DOMAIN d SET DEFAULT 1",
     [("domain", "public.d")], "domain public.d: default 1 %s, not %s" % (R, M)),
    ("domain constraint", "CREATE DOMAIN d AS int",
     "ALTER DOMAIN d ADD CONSTRAINT positive CHECK (VALUE > 0)", [("domain", "public.d")],
     "domain public.d: constraint positive CHECK ((VALUE > 0)) %s, not %s" % (R, M)),
    ("composite attribute", "CREATE TYPE pair AS (a int)", "ALTER TYPE pair ADD ATTRIBUTE b text",
     [("composite type", "public.pair")],
     "composite type public.pair: attributes a integer %s, a integer, b text %s" % (M, R)),
    ("range type", "", ("CREATE TYPE r AS RANGE (subtype = float8)",
                        "CREATE TYPE r AS RANGE (subtype = float8, subtype_diff = float8mi)"),
     [("range type", "public.r")],
     "range type public.r: subdiff float8mi(double precision,double precision) %s, not %s" % (R, M)),
    # routines
    ("function body", FUNCTION,
     "CREATE OR REPLACE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'SELECT a + 2'",
     [("function", "public.f(a integer)")],
     "function public.f(a integer): definition ...LANGUAGE sql AS $function$SELECT a + 1$function$ %s,"
     " ...LANGUAGE sql AS $function$SELECT a + 2$function$ %s" % (M, R)),
    ("function volatility", FUNCTION, "ALTER FUNCTION f(int) IMMUTABLE",
     [("function", "public.f(a integer)")], None),
    ("procedure body", "CREATE PROCEDURE pr() LANGUAGE sql AS 'SELECT 1'",
     "CREATE OR REPLACE PROCEDURE pr() LANGUAGE sql AS 'SELECT 2'", [("procedure", "public.pr()")],
     None),
    ("aggregate", "CREATE AGGREGATE agg(int) (sfunc = int4pl, stype = int, initcond = '0')",
     "DROP AGGREGATE agg(int); CREATE AGGREGATE agg(int) (sfunc = int4pl, stype = int, initcond = '1')",
     [("aggregate", "public.agg(integer)")],
     "aggregate public.agg(integer): initcond '0' %s, '1' %s" % (M, R)),
    # views
    # (PostgreSQL 16+ leaves out the "t." of a view's columns)
    ("view", VIEW, "CREATE OR REPLACE VIEW v AS SELECT a FROM t WHERE a > 0", [("view", "public.v")],
     re.compile(r"view public\.v: definition SELECT (t\.)?a FROM public\.t; in the migrations,"
                r" SELECT (t\.)?a FROM public\.t WHERE \((t\.)?a > 0\); in the models")),
    ("view options", VIEW, "ALTER VIEW v SET (security_barrier = true)", [("view", "public.v")],
     "view public.v: options security_barrier=true %s, not %s" % (R, M)),
    ("materialized view with no data", "",
     ("CREATE MATERIALIZED VIEW mv AS SELECT 1 AS one",
      "CREATE MATERIALIZED VIEW mv AS SELECT 1 AS one WITH NO DATA"),
     [("materialized view", "public.mv")],
     "materialized view public.mv: not populated %s, not %s" % (R, M)),
    ("materialized view", "CREATE MATERIALIZED VIEW mv AS SELECT 1 AS one",
     "DROP MATERIALIZED VIEW mv; CREATE MATERIALIZED VIEW mv AS SELECT 2 AS one",
     [("materialized view", "public.mv")],
     "materialized view public.mv: definition SELECT 1 AS one; %s, SELECT 2 AS one; %s" % (M, R)),
    # triggers, rules, policies
    ("trigger changed", TRIGGER,
     "DROP TRIGGER tr ON t; CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION trg()",
     [("trigger", "public.t.tr")],
     "trigger public.t.tr: definition CREATE TRIGGER tr BEFORE INSERT ON public.t FOR EACH ROW EXECUTE"
     " FUNCTION public.trg() %s, CREATE TRIGGER tr AFTER INSERT ON public.t FOR EACH ROW EXECUTE"
     " FUNCTION public.trg() %s" % (M, R)),
    ("trigger disabled", TRIGGER, "ALTER TABLE t DISABLE TRIGGER tr", [("trigger", "public.t.tr")],
     "trigger public.t.tr: disabled %s, not %s" % (R, M)),
    ("rule", "CREATE TABLE t (a int)", "CREATE RULE r AS ON DELETE TO t DO INSTEAD NOTHING",
     [("rule", "public.t.r")], "rule public.t.r: %s, not %s" % (R, M)),
    ("policy", "CREATE TABLE t (a int)", "CREATE POLICY p ON t USING (a > 0)",
     [("policy", "public.t.p")], "policy public.t.p: %s, not %s" % (R, M)),
    ("policy changed", "CREATE TABLE t (a int); CREATE POLICY p ON t USING (a > 0)",
     "ALTER POLICY p ON t USING (a > 1)", [("policy", "public.t.p")],
     "policy public.t.p: using ((a > 0)) %s, ((a > 1)) %s" % (M, R)),
    ("restrictive policy", "CREATE TABLE t (a int)",
     ("CREATE POLICY p ON t FOR UPDATE USING (a > 0)",
      "CREATE POLICY p ON t AS RESTRICTIVE FOR UPDATE USING (a > 0)"),
     [("policy", "public.t.p")], "policy public.t.p: as permissive %s, restrictive %s" % (M, R)),
    ("event trigger",
     "CREATE FUNCTION evt() RETURNS event_trigger LANGUAGE plpgsql AS 'BEGIN END'",
     "CREATE EVENT TRIGGER e ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION evt()",
     [("event trigger", "e")], "event trigger e: %s, not %s" % (R, M)),
    # schemas
    ("schema", "", "CREATE SCHEMA s", [("schema", "s")], "schema s: %s, not %s" % (R, M)),
    ("an object in another schema", "CREATE SCHEMA s; CREATE TABLE s.t (a int)",
     "CREATE INDEX i ON s.t (a)", [("index", "s.i")], "index s.i: %s, not %s" % (R, M)),
]


@pytest.mark.parametrize("setup, change, expected, line", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_one_change_gives_the_expected_difference(pair, setup, change, expected, line):
    diffs = same_then(pair, setup, change)
    expected = [key[:2] for key in expected if len(key) == 2 or version(pair) >= key[2]]
    assert keys(diffs) == sorted(expected), [describe(difference) for difference in diffs]
    first = next(difference for difference in diffs if keys([difference]) == expected[:1])
    text = describe(first)
    assert "\n" not in text
    if hasattr(line, "fullmatch"):
        assert line.fullmatch(text), text
    elif line is not None:
        assert text == line
    else:
        assert text.startswith("%s %s: " % (first.kind, first.name)) or text.startswith(
            "%s on %s: " % (first.kind, first.name)), text


def test_compression(pair):
    if version(pair) < 140000:
        pytest.skip("column compression is PostgreSQL 14+")
    diffs = same_then(pair, "CREATE TABLE t (a text)", "ALTER TABLE t ALTER a SET COMPRESSION pglz")
    assert keys(diffs) == [("column", "public.t.a")]
    assert describe(diffs[0]) == "column public.t.a: compression pglz %s, not %s" % (R, M)


def test_a_rich_schema_compares_equal_to_itself_and_covers_every_kind(pair):
    both(pair, RICH)
    assert compare(pair.left.url, pair.right.url) == []
    kinds = {kind for kind, _ in snapshot(pair.left.url)}
    assert kinds >= {
        "schema", "table", "partitioned table", "view", "materialized view", "sequence", "column",
        "column order", "constraint", "index", "enum", "domain", "composite type", "range type",
        "function", "procedure", "aggregate", "trigger", "event trigger", "rule", "policy",
        "statistics", "extension", "comment", "grant", "default privileges"}, kinds


RICH = """
CREATE SCHEMA app; COMMENT ON SCHEMA app IS 'the app';
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE DOMAIN posint AS integer DEFAULT 1 NOT NULL CHECK (VALUE > 0);
CREATE TYPE pair AS (a integer, b text COLLATE "C");
CREATE TYPE floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE, m mood DEFAULT 'ok',
                    created timestamptz DEFAULT now(), born date DEFAULT '2000-01-31', n posint);
CREATE TABLE app.notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                        user_id int REFERENCES users DEFERRABLE INITIALLY DEFERRED,
                        body text COLLATE "C", twice int GENERATED ALWAYS AS (user_id * 2) STORED);
ALTER TABLE app.notes ALTER body SET STATISTICS 500, ALTER body SET STORAGE external;
CREATE INDEX notes_user ON app.notes (user_id);
CREATE INDEX notes_positive ON app.notes (lower(body) DESC NULLS LAST) INCLUDE (id) WHERE user_id > 0;
ALTER TABLE app.notes CLUSTER ON notes_user;
COMMENT ON COLUMN app.notes.body IS 'the body'; COMMENT ON INDEX app.notes_pkey IS 'pk';
CREATE VIEW v AS SELECT id, body FROM app.notes; COMMENT ON COLUMN v.body IS 'vb';
CREATE MATERIALIZED VIEW mv AS SELECT count(*) FROM users;
CREATE SEQUENCE s AS integer CYCLE;
CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'SELECT a + 1';
CREATE PROCEDURE p() LANGUAGE sql AS 'SELECT 1';
CREATE AGGREGATE mysum(int) (sfunc = int4pl, stype = int, initcond = '0');
CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER t1 BEFORE INSERT ON app.notes FOR EACH ROW EXECUTE FUNCTION trg();
CREATE RULE r1 AS ON DELETE TO users DO INSTEAD NOTHING;
ALTER TABLE app.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY pol ON app.notes FOR SELECT USING (user_id > 0);
CREATE TABLE parted (id int, k date) PARTITION BY RANGE (k);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE base (a int); CREATE TABLE child (b int) INHERITS (base);
GRANT SELECT ON v TO PUBLIC; GRANT SELECT (body) ON app.notes TO PUBLIC;
ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
CREATE STATISTICS st ON user_id, body FROM app.notes;
CREATE FUNCTION evt() RETURNS event_trigger LANGUAGE plpgsql AS 'BEGIN END';
CREATE EVENT TRIGGER e1 ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION evt();
CREATE UNLOGGED TABLE ul (a int) WITH (fillfactor=70);
CREATE TABLE "Odd, Name" ("a, b" int, "C" text);
CREATE EXTENSION IF NOT EXISTS plpgsql;
"""


# -- column order ----------------------------------------------------------------------

def test_column_order_is_a_note_not_a_failure(pair):
    pair.left.execute("CREATE TABLE t (a int, b int)")
    pair.right.execute("CREATE TABLE t (b int, a int)")
    diffs = compare(pair.left.url, pair.right.url)
    assert diffs == [Difference("column order", "public.t", "a, b", "b, a")]
    assert "column order" in NOTE_KINDS
    assert failures(diffs) == []
    assert describe(diffs[0]) == "column order of public.t: a, b %s, b, a %s" % (M, R)


def test_column_order_compares_the_common_columns_only(pair):
    pair.left.execute("CREATE TABLE t (a int, b int, c int); CREATE TABLE u (a int, b int)")
    pair.right.execute("CREATE TABLE t (a int, c int); CREATE TABLE u (b int, x int, a int)")
    diffs = compare(pair.left.url, pair.right.url)
    assert keys(diffs) == [("column", "public.t.b"), ("column", "public.u.x"),
                           ("column order", "public.u")]
    assert diffs[-1] == Difference("column order", "public.u", "a, b", "b, a")
    assert keys(failures(diffs)) == keys(diffs[:2])


def test_quoted_names_with_commas_and_dots(pair):
    pair.left.execute('CREATE TABLE "a.b, c" ("x, y" int, "Z" int)')
    pair.right.execute('CREATE TABLE "a.b, c" ("Z" int, "x, y" int)')
    diffs = compare(pair.left.url, pair.right.url)
    assert diffs == [Difference("column order", 'public."a.b, c"', '"x, y", "Z"', '"Z", "x, y"')]
    assert ('column', 'public."a.b, c"."x, y"') in snapshot(pair.left.url)


# -- grants ----------------------------------------------------------------------------

def test_a_null_acl_equals_an_explicit_default_acl(pair):
    both(pair, "CREATE TABLE t (a int); " + FUNCTION + "; CREATE TYPE mood AS ENUM ('a');"
               " CREATE SCHEMA s; CREATE SEQUENCE q")
    pair.right.execute(
        "GRANT SELECT ON t TO PUBLIC; REVOKE SELECT ON t FROM PUBLIC;"
        " GRANT EXECUTE ON FUNCTION f(int) TO PUBLIC; GRANT USAGE ON TYPE mood TO PUBLIC;"
        " GRANT USAGE ON SCHEMA s TO PUBLIC; REVOKE USAGE ON SCHEMA s FROM PUBLIC;"
        " GRANT USAGE ON SEQUENCE q TO PUBLIC; REVOKE USAGE ON SEQUENCE q FROM PUBLIC")
    acls = "SELECT (SELECT relacl FROM pg_class WHERE relname = 't') IS NULL," \
           " (SELECT proacl FROM pg_proc WHERE proname = 'f') IS NULL," \
           " (SELECT typacl FROM pg_type WHERE typname = 'mood') IS NULL," \
           " (SELECT nspacl FROM pg_namespace WHERE nspname = 's') IS NULL," \
           " (SELECT relacl FROM pg_class WHERE relname = 'q') IS NULL"
    assert pair.left.query(acls) == [(True,) * 5]
    assert pair.right.query(acls) == [(False,) * 5]
    assert compare(pair.left.url, pair.right.url) == []


def test_grants_to_roles_in_any_order(pair, roles):
    reader, writer = roles(), roles()
    both(pair, "CREATE TABLE t (a int, b int)")
    pair.left.execute("GRANT SELECT, INSERT ON t TO %s; GRANT SELECT ON t TO %s;"
                      " GRANT UPDATE (b) ON t TO %s" % (writer, reader, reader))
    pair.right.execute("GRANT UPDATE (b) ON t TO %s; GRANT SELECT ON t TO %s;"
                       " GRANT INSERT, SELECT ON t TO %s" % (reader, reader, writer))
    assert compare(pair.left.url, pair.right.url) == []
    pair.right.execute("GRANT UPDATE ON t TO %s WITH GRANT OPTION; REVOKE INSERT ON t FROM %s"
                       % (reader, writer))
    diffs = compare(pair.left.url, pair.right.url)
    assert keys(diffs) == [("grant", "table public.t")]
    assert describe(diffs[0]) == (
        "grant on table public.t: UPDATE to %s with grant option %s, not %s; INSERT to %s %s, not %s"
        % (reader, R, M, writer, M, R))


def test_policy_roles_and_default_privileges_for_another_role(pair, roles):
    owner, reader = roles(), roles()
    both(pair, "CREATE TABLE t (a int); CREATE POLICY p ON t TO %s USING (true)" % reader)
    assert compare(pair.left.url, pair.right.url) == []
    pair.right.execute("ALTER POLICY p ON t TO %s, %s;"
                       " ALTER DEFAULT PRIVILEGES FOR ROLE %s GRANT SELECT ON TABLES TO %s"
                       % (reader, owner, owner, reader))
    diffs = compare(pair.left.url, pair.right.url)
    assert keys(diffs) == [("default privileges", "for role %s on tables" % owner),
                           ("policy", "public.t.p")]
    assert describe(diffs[0]) == "default privileges for role %s on tables: SELECT to %s %s, not %s" % (
        owner, reader, R, M)
    assert describe(diffs[1]) == "policy public.t.p: to %s %s, %s %s" % (
        reader, M, ", ".join(sorted([owner, reader])), R)


def test_owners_are_not_compared(pair, roles):
    owner = roles()
    both(pair, "CREATE SCHEMA s; CREATE TABLE s.t (a int); " + FUNCTION)
    pair.right.execute("ALTER SCHEMA s OWNER TO {0}; ALTER TABLE s.t OWNER TO {0};"
                       " ALTER FUNCTION f(int) OWNER TO {0}".format(owner))
    assert compare(pair.left.url, pair.right.url) == []


# -- extensions, exclusions, settings ----------------------------------------------------

def test_objects_of_an_extension_are_not_listed(pair):
    extension = available(pair.left, "citext", "hstore", "cube", "pg_trgm")
    both(pair, "CREATE EXTENSION %s" % extension)
    snap = snapshot(pair.left.url)
    assert snap[("extension", extension)].startswith("version ")
    listed = [key for key in snap if extension in key[1] and key[0] != "extension"
              and key != ("comment", "extension " + extension)]
    assert listed == []
    assert compare(pair.left.url, pair.right.url) == []
    pair.right.execute("DROP EXTENSION %s" % extension)
    assert keys(compare(pair.left.url, pair.right.url)) == [
        ("comment", "extension " + extension), ("extension", extension)]


def test_extension_version(pair):
    rows = pair.left.query(
        "SELECT name, array_agg(version ORDER BY version) FROM pg_available_extension_versions"
        " GROUP BY name HAVING count(*) > 1 ORDER BY name")
    for name, versions in rows:
        default = pair.left.scalar(
            "SELECT default_version FROM pg_available_extensions WHERE name = %s", (name,))
        for old in versions:
            if old == default:
                continue
            try:
                pair.left.execute('CREATE EXTENSION "%s" VERSION \'%s\'' % (name, old))
            except Exception:
                continue
            pair.right.execute('CREATE EXTENSION "%s"' % name)
            diffs = failures(compare(pair.left.url, pair.right.url))
            assert ("extension", name) in keys(diffs)
            line = describe(next(d for d in diffs if d.kind == "extension"))
            assert line == "extension %s: version %s %s, %s %s" % (name, old, M, default, R)
            assert {d.kind for d in diffs} <= {"extension", "comment"}, diffs
            return
    pytest.skip("no extension shipped with this server can be created at two versions")


def test_exclude_tables(pair):
    both(pair, "CREATE TABLE t (a int)")
    pair.right.execute(
        "CREATE TABLE version_history (id serial PRIMARY KEY, version int NOT NULL"
        " CHECK (version > 0), note text);"
        " CREATE INDEX version_history_version ON version_history (version);"
        " COMMENT ON TABLE version_history IS 'x'; COMMENT ON COLUMN version_history.note IS 'y';"
        " GRANT SELECT ON version_history TO PUBLIC;"
        " GRANT USAGE ON SEQUENCE version_history_id_seq TO PUBLIC;"
        " CREATE RULE r AS ON DELETE TO version_history DO INSTEAD NOTHING;"
        " CREATE POLICY p ON version_history USING (true)")
    assert compare(pair.left.url, pair.right.url) != []
    assert compare(pair.left.url, pair.right.url, exclude_tables=("version_history",)) == []
    assert compare(pair.left.url, pair.right.url, exclude_tables=("public.version_history",)) == []
    assert compare(pair.left.url, pair.right.url, exclude_tables="version_history") == []
    assert compare(pair.left.url, pair.right.url, exclude_tables=("other.version_history",)) != []
    snap = snapshot(pair.right.url, exclude_tables=["version_history"])
    assert [key for key in snap if "version_history" in key[1]] == []


def test_session_settings_of_a_database_do_not_matter(pair):
    setup = ("CREATE SCHEMA s; CREATE TYPE s.mood AS ENUM ('a');"
             " CREATE TABLE t (d date DEFAULT '2000-01-31', ts timestamptz DEFAULT '2000-01-31 12:00+00',"
             " i interval DEFAULT '1 day 2 hours', m s.mood DEFAULT 'a', f float8 DEFAULT 0.1);"
             " CREATE VIEW v AS SELECT d, m FROM t")
    both(pair, setup)
    pair.right.execute('ALTER DATABASE "%s" SET search_path = s, public;'
                       ' ALTER DATABASE "%s" SET DateStyle = \'SQL, DMY\';'
                       ' ALTER DATABASE "%s" SET IntervalStyle = \'sql_standard\';'
                       ' ALTER DATABASE "%s" SET TimeZone = \'Asia/Kolkata\';'
                       ' ALTER DATABASE "%s" SET extra_float_digits = 3'
                       % ((pair.right.name,) * 5))
    assert compare(pair.left.url, pair.right.url) == []


def test_invalid_index(pair):
    both(pair, "CREATE TABLE t (a int)")
    pair.left.execute("INSERT INTO t VALUES (1), (2)")
    pair.right.execute("INSERT INTO t VALUES (1), (1)")
    pair.left.execute("CREATE UNIQUE INDEX CONCURRENTLY t_a ON t (a)")
    with pytest.raises(Exception):
        pair.right.execute("CREATE UNIQUE INDEX CONCURRENTLY t_a ON t (a)")
    diffs = compare(pair.left.url, pair.right.url)
    assert keys(diffs) == [("index", "public.t_a")]
    assert describe(diffs[0]) == "index public.t_a: invalid %s, not %s" % (R, M)


def test_foreign_table(pair):
    available(pair.left, "file_fdw")
    setup = ("CREATE EXTENSION file_fdw; CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;"
             " CREATE FOREIGN TABLE ft (a int) SERVER files OPTIONS (filename '/dev/null')")
    diffs = same_then(pair, setup, "ALTER FOREIGN TABLE ft OPTIONS (SET filename '/dev/zero')")
    assert keys(diffs) == [("foreign table", "public.ft")]
    assert describe(diffs[0]) == (
        "foreign table public.ft: foreign options filename=/dev/null %s, filename=/dev/zero %s" % (M, R))


def available(database, *names):
    """The first of these extensions the server has (skips the test when it has none)."""
    found = {row[0] for row in database.query("SELECT name FROM pg_available_extensions")}
    for name in names:
        if name in found:
            return name
    pytest.skip("the server has none of the extensions %s" % ", ".join(names))


# -- read-only, fast -------------------------------------------------------------------

def test_snapshot_is_read_only_and_leaves_nothing_behind(pair):
    both(pair, RICH)
    database = pair.left
    catalog = ("SELECT (SELECT count(*) FROM pg_class), (SELECT max(xmin::text::bigint) FROM pg_class),"
               " (SELECT count(*) FROM pg_depend), (SELECT count(*) FROM pg_description),"
               " (SELECT max(xmin::text::bigint) FROM pg_attribute)")
    others = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
              " AND pid <> pg_backend_pid()")
    before = database.query(catalog)
    snap = snapshot(database.url)
    assert database.query(catalog) == before
    # Its transaction was rolled back before the connection was closed: no lock is left...
    assert database.scalar(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
        " WHERE d.datname = current_database() AND l.pid <> pg_backend_pid()") == 0
    # ...and no session (a backend ends a moment after its client closes).
    wait_for(lambda: database.scalar(others) == 0, timeout=10)
    # It needs no write: a database whose transactions are read-only is snapshot all the same.
    database.execute('ALTER DATABASE "%s" SET default_transaction_read_only = on' % database.name)
    assert snapshot(database.url) == snap


def test_two_hundred_tables_are_quick(pair):
    statements = []
    for number in range(200):
        reference = "REFERENCES t%d (id)" % (number - 1) if number else ""
        statements.append(
            "CREATE TABLE t{0} (id serial PRIMARY KEY, parent_id integer {1},"
            " name varchar(80) NOT NULL, created timestamptz DEFAULT now(), body text);"
            " CREATE INDEX t{0}_name ON t{0} (name); COMMENT ON TABLE t{0} IS 'table {0}';"
            .format(number, reference))
    both(pair, "\n".join(statements))
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        snap = snapshot(pair.left.url)
        timings.append(time.perf_counter() - started)
    assert len([key for key in snap if key[0] == "table"]) == 200
    assert min(timings) < 1.0, timings  # about 0.08 s on an idle laptop; CI machines are busy
    assert compare(pair.left.url, pair.right.url) == []


# -- differences(), describe(), failures() without a database ---------------------------

def test_differences_are_sorted_and_deterministic():
    left = {("table", "public.b"): "", ("column", "public.b.x"): "type integer",
            ("grant", "table public.b"): "SELECT to PUBLIC", ("comment", "table public.b"): "same"}
    right = {("table", "public.a"): "", ("column", "public.b.x"): "type bigint",
             ("comment", "table public.b"): "same"}
    assert differences(left, right) == [
        Difference("column", "public.b.x", "type integer", "type bigint"),
        Difference("grant", "table public.b", "SELECT to PUBLIC", None),
        Difference("table", "public.a", None, ""),
        Difference("table", "public.b", "", None)]
    assert differences(left, dict(left)) == []
    assert differences({}, {}) == []


def test_describe_lines():
    assert describe(Difference("grant", "table public.notes", None, "SELECT to reader")) == \
        "grant on table public.notes: SELECT to reader in the models, not in the migrations"
    assert describe(Difference("column", "public.notes.body", "type text",
                               "type varchar(20)")) == \
        "column public.notes.body: type text in the migrations, varchar(20) in the models"
    assert describe(Difference("column", "public.t.a", "type text; not null", "type text"),
                    "A", "B") == "column public.t.a: not null in A, not in B"
    assert describe(Difference("table", "public.t", None, "unlogged"), "A", "B") == \
        "table public.t: in B, not in A"
    assert describe(Difference("comment", "table public.t", "it's\nold", None)) == \
        "comment on table public.t: 'it''s old' in the migrations, not in the models"
    assert describe(Difference("column", "public.t.a", "type text; default 'a; b'::text",
                               "type text; default 'a; c'::text"))
    long_left = "definition " + " ".join("SELECT %d," % number for number in range(50)) + " x"
    long_right = long_left.replace("SELECT 25,", "SELECT 26,")
    line = describe(Difference("view", "public.v", long_left, long_right))
    assert "SELECT 25," in line and "SELECT 26," in line and "..." in line and len(line) < 300
    assert "\n" not in describe(Difference("function", "public.f()", "definition a\nb", "definition a\nc"))


def test_failures_drop_the_notes():
    diffs = [Difference("column order", "public.t", "a, b", "b, a"),
             Difference("column", "public.t.c", None, "type integer")]
    assert failures(diffs) == diffs[1:]
    assert failures([]) == []
