"""Repeatable scripts on disk: read, refused, and put in dependency order (real files, pglast; no database)."""
import os

import pytest

from flask_migrate_tables.errors import InvalidScripts
from flask_migrate_tables.source.files import checksum
from flask_migrate_tables.source.repeatables import (REPEATABLE_DIR, DbObject, dependency_order,
                                                      discover_repeatables)
from flask_migrate_tables.source.statements import TRANSACTION


def write(migration_dir, files):
    folder = migration_dir / REPEATABLE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        (folder / name).write_bytes(data)
    return str(migration_dir)


def names(repeatables):
    return [r.name for r in repeatables]


def test_no_folder_means_no_repeatables(tmp_path):
    assert discover_repeatables(str(tmp_path)) == []
    (tmp_path / REPEATABLE_DIR).mkdir()
    assert discover_repeatables(str(tmp_path)) == []


def test_view_on_view_on_table_ordered_against_the_alphabet(tmp_path):
    directory = write(tmp_path, {
        "a_top.sql": "CREATE OR REPLACE VIEW top AS SELECT id FROM middle WHERE id > 1;",
        "b_middle.sql": "CREATE OR REPLACE VIEW middle AS SELECT id FROM public.base_view;",
        "c_base.sql": "DROP VIEW IF EXISTS base_view CASCADE;\n"
                      "CREATE VIEW Base_View AS SELECT id FROM items;",
    })
    found = discover_repeatables(directory)
    assert names(found) == ["c_base", "b_middle", "a_top"]
    base = found[0]
    assert base.filename == "repeatable/c_base.sql"
    assert base.path == os.path.join(directory, REPEATABLE_DIR, "c_base.sql")
    assert base.checksum == checksum(base.text)
    assert base.plan.mode == TRANSACTION
    assert base.creates == (DbObject("view", None, "base_view", None),)
    assert DbObject("relation", None, "items", None) in base.references
    assert DbObject("relation", None, "middle", None) in found[2].references


def test_function_before_the_trigger_that_calls_it(tmp_path):
    directory = write(tmp_path, {
        "a_trigger.sql": "DROP TRIGGER IF EXISTS touch ON items;\n"
                         "CREATE TRIGGER touch BEFORE UPDATE ON items FOR EACH ROW "
                         "EXECUTE FUNCTION app.touch();",
        "z_function.sql": "CREATE OR REPLACE FUNCTION app.touch() RETURNS trigger AS $$\n"
                          "BEGIN NEW.updated := now(); RETURN NEW; END;\n$$ LANGUAGE plpgsql;",
    })
    found = discover_repeatables(directory)
    assert names(found) == ["z_function", "a_trigger"]
    trigger = found[1].creates[0]
    assert trigger.kind == "trigger" and trigger.name == "touch"
    assert trigger.table == DbObject("table", None, "items", None)


def test_type_before_the_function_and_sql_body_references(tmp_path):
    directory = write(tmp_path, {
        "a_total.sql": "CREATE OR REPLACE FUNCTION total(p pair) RETURNS int AS "
                       "'SELECT (p).a + (p).b + extra()' LANGUAGE sql;",
        "b_extra.sql": "CREATE OR REPLACE FUNCTION extra() RETURNS int LANGUAGE sql RETURN 1;",
        "c_pair.sql": "DROP TYPE IF EXISTS pair CASCADE;\nCREATE TYPE pair AS (a int, b int);",
    })
    assert names(discover_repeatables(directory)) == ["b_extra", "c_pair", "a_total"]


def test_independent_files_and_ties_go_by_name(tmp_path):
    directory = write(tmp_path, {
        "m.sql": "CREATE OR REPLACE VIEW m AS SELECT 1 AS one;",
        "b.sql": "CREATE OR REPLACE VIEW b AS SELECT * FROM a;",
        "c.sql": "CREATE OR REPLACE VIEW c AS SELECT * FROM a;",
        "a.sql": "CREATE OR REPLACE VIEW a AS SELECT * FROM some_table;",
        "README.md": "not a script",
        "old.sql~": "not a script",
    })
    assert names(discover_repeatables(directory)) == ["a", "b", "c", "m"]


def test_quoted_names_are_not_folded_and_other_schemas_do_not_match(tmp_path):
    directory = write(tmp_path, {
        "a.sql": 'CREATE OR REPLACE VIEW a AS SELECT * FROM "Upper" JOIN other.b USING (id);',
        "b.sql": "CREATE OR REPLACE VIEW b AS SELECT 1 AS id;",
        "u.sql": "CREATE OR REPLACE VIEW upper AS SELECT 1 AS id;",
    })
    assert names(discover_repeatables(directory)) == ["a", "b", "u"]


def test_a_cycle_is_refused_naming_its_files(tmp_path):
    directory = write(tmp_path, {
        "a.sql": "CREATE OR REPLACE VIEW a AS SELECT * FROM b;",
        "b.sql": "CREATE OR REPLACE VIEW b AS SELECT * FROM c;",
        "c.sql": "CREATE OR REPLACE VIEW c AS SELECT * FROM a;",
        "d.sql": "CREATE OR REPLACE VIEW d AS SELECT * FROM a;",
    })
    with pytest.raises(InvalidScripts) as error:
        discover_repeatables(directory)
    assert "repeatable scripts depend on each other in a cycle: a.sql -> b.sql -> c.sql -> a.sql" \
        in str(error.value)
    assert "d.sql" not in str(error.value)


def test_dependency_order_alone_orders_what_it_is_given(tmp_path):
    directory = write(tmp_path, {"x.sql": "CREATE VIEW x AS SELECT * FROM y;",
                                 "y.sql": "CREATE VIEW y AS SELECT 1;"})
    found = discover_repeatables(directory)
    assert names(dependency_order(list(reversed(found)))) == ["y", "x"]


@pytest.mark.parametrize("name", ["my view.sql", "vue-é.sql", ".sql", "a+b.sql", "X.SQL"])
def test_a_bad_file_name_is_refused(tmp_path, name):
    directory = write(tmp_path, {name: "SELECT 1;"})
    with pytest.raises(InvalidScripts) as error:
        discover_repeatables(directory)
    assert name in str(error.value) and "letters, digits" in str(error.value)


def test_a_nul_byte_is_refused_with_its_line(tmp_path):
    directory = write(tmp_path, {"v.sql": b"CREATE VIEW v AS SELECT 1;\nSELECT 2;\x00\n"})
    with pytest.raises(InvalidScripts) as error:
        discover_repeatables(directory)
    assert "v.sql: line 2" in str(error.value) and "NUL" in str(error.value)


def test_invalid_utf8_is_refused(tmp_path):
    directory = write(tmp_path, {"v.sql": b"CREATE VIEW v AS SELECT '\xff';"})
    with pytest.raises(InvalidScripts, match="not valid UTF-8"):
        discover_repeatables(directory)


def test_a_bom_is_taken_off(tmp_path):
    directory = write(tmp_path, {"v.sql": b"\xef\xbb\xbfCREATE OR REPLACE VIEW v AS SELECT 1;"})
    assert discover_repeatables(directory)[0].text.startswith("CREATE")


@pytest.mark.parametrize("statement, why", [
    ("CREATE INDEX CONCURRENTLY items_name ON items (name);", "CREATE INDEX CONCURRENTLY"),
    ("VACUUM items;", "VACUUM"),
    ("COMMIT;", "transaction control"),
])
def test_a_statement_that_cannot_run_in_a_transaction_is_refused(tmp_path, statement, why):
    directory = write(tmp_path, {"v.sql": "CREATE OR REPLACE VIEW v AS SELECT 1;\n" + statement})
    with pytest.raises(InvalidScripts) as error:
        discover_repeatables(directory)
    message = str(error.value)
    assert "repeatable/v.sql: line 2" in message and why in message
    assert "\n" not in message


def test_the_no_transaction_header_is_refused(tmp_path):
    directory = write(tmp_path, {"v.sql": "-- migrate: no-transaction\nCREATE OR REPLACE VIEW v AS SELECT 1;"})
    with pytest.raises(InvalidScripts, match="repeatable/v.sql: .*one transaction"):
        discover_repeatables(directory)


def test_a_syntax_error_is_refused_with_its_line(tmp_path):
    directory = write(tmp_path, {"v.sql": "CREATE OR REPLACE VIEW v AS SELECT 1;\nCREATE VIEW AS;"})
    with pytest.raises(InvalidScripts, match="repeatable/v.sql: line 2: SQLSTATE 42601"):
        discover_repeatables(directory)
