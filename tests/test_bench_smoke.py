"""bench/run.py at tiny sizes, on the tests' server, so the benchmark cannot rot.

Not a timed test: it checks that every workload runs, that every run left its
database where the scripts take it (bench/run.py checks each run and stops on
a wrong one), that the table and bench/RESULTS.md's generated block are
written, and that no database is left behind.
"""
import json
import os
import subprocess
import sys

from tests.helpers import REPO_ROOT, Database

BENCH = os.path.join(REPO_ROOT, "bench", "run.py")
SMALL, MIXED, REAL, GROWTH = 3, 5, 50, (2, 4)
LIVE_ROWS = 100


def test_benchmark_runs_every_workload_at_tiny_sizes(server_url, tmp_path):
    out_json = tmp_path / "bench.json"
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\nHand-written notes stay.\n")
    env = dict(os.environ)
    env.pop("BENCH_DATABASE_URL", None)

    completed = subprocess.run(
        [sys.executable, BENCH, "--url", server_url, "--small", str(SMALL), "--mixed", str(MIXED), "--real", str(REAL),
         "--big-mb", "0.05", "--growth", ",".join(map(str, GROWTH)), "--reps", "1",
         "--noop-reps", "1", "--big-reps", "1", "--growth-reps", "1",
         "--live-reps", "1", "--live-hold", "3", "--live-clients", "2", "--live-rows", str(LIVE_ROWS),
         "--json", str(out_json), "--write-results", str(results)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env,
        timeout=300)

    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(out_json.read_text())
    rows = report["rows"]
    by_command = {}
    for row in rows:
        by_command.setdefault(row["workload"][:2], []).append(row)
    assert sorted(by_command) == ["1.", "2.", "3.", "4.", "5.", "6.", "7."]

    # Every migrate_tables run reached the version of its scripts, with one applied
    # history row per script; every contender left the same schema and data.
    expected = {"1.": SMALL, "2.": MIXED, "4.": 1, "7.": REAL}
    for key, count in expected.items():
        migrate = next(r for r in by_command[key] if r["command"].startswith("migrate_tables --yes"))
        assert migrate["facts"]["version"] == [count]
        assert migrate["facts"]["history_applied"] == count
        assert migrate["median_s"] > 0 and migrate["ratio"] > 0
        psql = next(r for r in by_command[key] if r["command"].startswith("psql"))
        assert psql["facts"]["fingerprint"] == migrate["facts"]["fingerprint"]
    assert by_command["1."][0]["facts"]["fingerprint"][:2] == [str(SMALL), str(SMALL)]
    yoyo = next(r for r in by_command["1."] if r["command"] == "yoyo apply")
    if yoyo["runs"]:
        assert yoyo["facts"]["yoyo_applied"] == SMALL
        assert yoyo["facts"]["fingerprint"] == by_command["1."][0]["facts"]["fingerprint"]

    noop = by_command["3."]
    assert [r["command"] for r in noop] == ["migrate_tables --yes (nothing to do)", "manage.py --help"]
    assert noop[0]["ratio"] > 0

    rss = next(r for r in by_command["4."] if r["command"] == "migrate_tables peak RSS")
    assert rss["rss_mb"] > 10 and rss["script_mb"] >= 0.05

    growth = by_command["5."]
    for n in GROWTH:
        migrate = next(r for r in growth if r["command"] == "migrate_tables, %d scripts" % n)
        assert migrate["facts"]["version"] == [n]
        assert migrate["own_ms"] > 0 and migrate["overhead_ms"] is not None
    assert growth[-1]["command"] == "overhead per script, %s scripts" % " → ".join(map(str, GROWTH))
    assert len(growth[-1]["values_ms"]) == len(GROWTH)

    # Live traffic: both migrations finished, after the holder let go, with c added and
    # (migrate_tables) version 2 reached; the clients' latencies were measured.
    live = {r["command"]: r for r in by_command["6."]}
    assert sorted(live) == ["migrate_tables --yes", "psql -f"]
    for r in live.values():
        assert r["facts"]["fingerprint"] == [str(LIVE_ROWS), "integer"]
        assert r["facts"]["finished_after_commit"] is True
        assert r["runs"] == 1 and r["median_s"] > 0
        assert r["queries"][0] > 0 and r["worst_s"] >= r["p99_s"] > 0
        assert r["client_errors"] == 0
    assert live["migrate_tables --yes"]["facts"]["version"] == [2]
    assert live["migrate_tables --yes"]["facts"]["history_applied"] == 2

    # The printed table and the generated block of RESULTS.md; the notes around it stay.
    assert "| workload | command | median s" in completed.stdout
    assert "- PostgreSQL: " in completed.stdout
    text = results.read_text()
    assert text.startswith("# Benchmark results\n\nHand-written notes stay.\n")
    assert "<!-- bench/run.py writes from here -->" in text and "1. %d small migrations" % SMALL in text
    assert "| 6. live traffic: 2 clients" in text

    # Nothing left on the server.
    leftovers = Database(server_url).query(
        "SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_%%'")
    assert leftovers == []
