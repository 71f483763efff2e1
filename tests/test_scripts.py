"""Unit tests: discovering scripts on disk and reading one."""
import pytest

from flask_migrate_tables.errors import InvalidScripts
from flask_migrate_tables.source.files import check_sequence, checksum, discover, read_script


def make(directory, *names):
    for name in names:
        (directory / name).write_text("SELECT 1;\n")


def test_versions_sort_as_integers(tmp_path):
    make(tmp_path, "v10.sql", "v2.sql", "v1.sql", "v9.sql")
    assert [s.version for s in discover(str(tmp_path)).scripts] == [1, 2, 9, 10]


def test_description_suffix_is_accepted(tmp_path):
    make(tmp_path, "v1.sql", "v2_add_email.sql")
    found = discover(str(tmp_path)).scripts
    assert [(s.version, s.name) for s in found] == [(1, "v1.sql"), (2, "v2_add_email.sql")]


def test_lookalikes_are_ignored_and_listed(tmp_path):
    make(tmp_path, "v1.sql", "v3.sql~", "v3.sql.bak", "v3.sql.orig", "V3.SQL", "v0.sql", "notes.txt")
    discovery = discover(str(tmp_path))
    assert [s.name for s in discovery.scripts] == ["v1.sql"]
    assert sorted(discovery.ignored) == sorted(["v3.sql~", "v3.sql.bak", "v3.sql.orig", "V3.SQL", "v0.sql"])


def test_discovery_returns_paths_without_reading(tmp_path):
    make(tmp_path, "v1.sql")
    (tmp_path / "v1.sql").chmod(0)
    script, = discover(str(tmp_path)).scripts
    assert script.path == str(tmp_path / "v1.sql")


def test_two_files_for_one_version_are_refused(tmp_path):
    make(tmp_path, "v2.sql", "v02.sql", "v1.sql")
    with pytest.raises(InvalidScripts, match=r"version 2: v02\.sql, v2\.sql"):
        discover(str(tmp_path))


def test_missing_directory_is_refused(tmp_path):
    with pytest.raises(InvalidScripts, match="does not exist"):
        discover(str(tmp_path / "nope"))


def test_gap_is_refused(tmp_path):
    make(tmp_path, "v1.sql", "v3.sql")
    with pytest.raises(InvalidScripts, match="no script for version 2"):
        check_sequence(discover(str(tmp_path)).scripts, 3)


def test_code_version_above_the_highest_script_is_refused(tmp_path):
    make(tmp_path, "v1.sql", "v2.sql")
    with pytest.raises(InvalidScripts, match=r"needs version 3 .* no v3\.sql"):
        check_sequence(discover(str(tmp_path)).scripts, 3)


def test_scripts_beyond_the_code_version_and_missing_leading_ones_are_allowed(tmp_path):
    make(tmp_path, "v4.sql", "v5.sql", "v6.sql")
    check_sequence(discover(str(tmp_path)).scripts, 5)


def test_bom_is_removed(tmp_path):
    (tmp_path / "v1.sql").write_bytes(b"\xef\xbb\xbfSELECT 1;\n")
    assert read_script(str(tmp_path / "v1.sql")) == "SELECT 1;\n"


def test_invalid_utf8_names_the_file_and_line(tmp_path):
    (tmp_path / "v1.sql").write_bytes(b"SELECT 1;\nSELECT '\xff';\n")
    with pytest.raises(InvalidScripts, match=r"v1\.sql is not valid UTF-8 \(byte 0xff at line 2\)"):
        read_script(str(tmp_path / "v1.sql"))


def test_checksum_ignores_line_endings_and_bom(tmp_path):
    (tmp_path / "a.sql").write_bytes(b"\xef\xbb\xbfSELECT 1;\r\nSELECT 2;\r\n")
    (tmp_path / "b.sql").write_bytes(b"SELECT 1;\nSELECT 2;\n")
    assert checksum(read_script(str(tmp_path / "a.sql"))) == checksum(read_script(str(tmp_path / "b.sql")))
    assert checksum("SELECT 1;\n") != checksum("SELECT 2;\n")
