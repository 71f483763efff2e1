#!/usr/bin/env python
"""Issue 21's fleet benchmark: 200 databases, (a) all at the target, (b) each 3 scripts behind.

Compares `manage.py migrate_tables --databases FILE --yes` with --jobs 1 and --jobs 4
against the shell loop users write today (one `manage.py migrate_tables --yes` per
database); wall time and peak RSS of each. The app is a copy of tests/sample_app with
five small scripts (__db_version__ = 5); every database starts as a copy of a template
migrated to v2; (b) puts each database back to v2 before each run (not timed).

    python bench/fleet.py [--databases 200] [--reps 3] [--loop-reps 1] [--write-results]

The server is a throw-away embedded PostgreSQL; the databases are made with fsync off
(200 CREATE DATABASE), then fsync is turned back on (reload) before anything is timed.
"""
import argparse
import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

from common import (BENCH_DIR, REPO_ROOT, command_environment, format_machine, host_info, log,
                    replace_block, run_timed, spread, start_embedded)

SCRIPTS = {
    1: "CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL);\n",
    2: "CREATE INDEX items_name ON items (name);\n",
    3: "CREATE TABLE t3 (id int PRIMARY KEY, item bigint REFERENCES items);\n",
    4: "ALTER TABLE items ADD COLUMN note text;\nCREATE TABLE t4 (id int);\n",
    5: "CREATE TABLE t5 (id int, at timestamptz DEFAULT now());\nINSERT INTO t5 (id) VALUES (1);\n",
}
RESET = ("DROP TABLE IF EXISTS t3, t4, t5; ALTER TABLE items DROP COLUMN IF EXISTS note; "
         "DELETE FROM version_history WHERE version > 2; UPDATE version SET version = 2")
BEGIN, END = "<!-- fleet-bench:begin -->", "<!-- fleet-bench:end -->"


def make_app(folder):
    root = os.path.join(folder, "app")
    shutil.copytree(os.path.join(REPO_ROOT, "tests", "sample_app"), root,
                    ignore=shutil.ignore_patterns("__pycache__"))
    migration = os.path.join(root, "sql", "migration")
    for name in os.listdir(migration):
        os.unlink(os.path.join(migration, name))
    for version, text in SCRIPTS.items():
        with open(os.path.join(migration, "v%d.sql" % version), "w") as handle:
            handle.write(text)
    init = os.path.join(root, "notes", "__init__.py")
    lines = open(init).read().splitlines()
    with open(init, "w") as handle:
        handle.write("\n".join("__db_version__ = 5" if line.startswith("__db_version__") else line
                               for line in lines) + "\n")
    return root


def manage(app, args, url):
    env = dict(command_environment(), DATABASE_URL=url)
    return run_timed([sys.executable, "manage.py"] + list(args), cwd=app, env=env)


def make_fleet(server, app, count):
    """`count` databases at v2 (copies of a template); the file listing them."""
    connection = server.connect()
    with connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE fleet_template")
    done = manage(app, ["migrate_tables", "--yes", "--to", "2"], server.url_for("fleet_template"))
    assert done.returncode == 0, done.stderr
    names = ["fleet_%03d" % number for number in range(count)]
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute('CREATE DATABASE "%s" TEMPLATE fleet_template STRATEGY FILE_COPY' % name)
    connection.close()
    path = os.path.join(os.path.dirname(app), "fleet.txt")
    with open(path, "w") as handle:
        handle.write("\n".join(server.url_for(name) for name in names) + "\n")
    return path, names


def reset(server, names):
    def one(name):
        connection = server.connect(name)
        with connection.cursor() as cursor:
            cursor.execute(RESET)
        connection.close()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, names))


def shell_loop(app, path):
    script = 'while read -r url; do DATABASE_URL="$url" "%s" manage.py migrate_tables --yes ' \
             '>/dev/null || exit 1; done < "%s"' % (sys.executable, path)
    return run_timed(["bash", "-c", script], cwd=app, env=command_environment())


def measure(server, app, path, names, scenario, kind, reps):
    runs = []
    for _ in range(reps):
        if scenario == "b":
            reset(server, names)
        if kind == "loop":
            run = shell_loop(app, path)
        else:
            run = manage(app, ["migrate_tables", "--databases", path, "--yes", "--jobs", kind],
                         server.url_for("postgres"))
        assert run.returncode == 0, (run.stdout[-2000:], run.stderr[-2000:])
        runs.append(run)
        log("  (%s) %s: %.2f s, %d MB" % (scenario, kind, run.seconds, run.maxrss_kb // 1024))
    return {"scenario": scenario, "kind": kind, "seconds": [r.seconds for r in runs],
            "maxrss_mb": max(r.maxrss_kb for r in runs) / 1024.0}


def table(rows, count):
    names = {"1": "`--databases --jobs 1`", "4": "`--databases --jobs 4`",
             "loop": "shell loop, one `manage.py migrate_tables --yes` each"}
    lines = ["| scenario (%d databases) | command | runs | wall median (min-max) | peak RSS |" % count,
             "| --- | --- | --- | --- | --- |"]
    for row in rows:
        median, low, high = spread(row["seconds"])
        lines.append("| %s | %s | %d | %.2f s (%.2f-%.2f) | %.0f MB |" % (
            {"a": "(a) all at the target", "b": "(b) each 3 scripts behind"}[row["scenario"]],
            names[row["kind"]], len(row["seconds"]), median, low, high, row["maxrss_mb"]))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", type=int, default=200)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--loop-reps", type=int, default=1)
    parser.add_argument("--write-results", action="store_true")
    options = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="fleetbench-")
    server = start_embedded()
    try:
        server.configure(fsync="off")
        app = make_app(folder)
        path, names = make_fleet(server, app, options.databases)
        server.configure(fsync="on")
        assert manage(app, ["migrate_tables", "--databases", path, "--yes"],
                      server.url_for("postgres")).returncode == 0  # warm-up: bytecode, caches
        rows = []
        for scenario in ("a", "b"):
            for kind in ("1", "4", "loop"):
                reps = options.loop_reps if kind == "loop" else options.reps
                rows.append(measure(server, app, path, names, scenario, kind, reps))
        info = host_info(("Flask", "SQLAlchemy", "psycopg2-binary"))
        machine = format_machine(info, (("cpu", "CPU"), ("cores", "cores"), ("load", "load"),
                                        ("python", "Python"), ("packages", "packages"),
                                        ("commit", "commit"), ("date", "date")))
        text = table(rows, options.databases)
        print(machine + "\n\n" + text)
        if options.write_results:
            block = "\n".join([BEGIN, "### Latest run", "", "`python bench/fleet.py %s`" % " ".join(
                sys.argv[1:]), "", machine, "", text, END])
            replace_block(os.path.join(BENCH_DIR, "RESULTS.md"), block, "", BEGIN, END)
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
