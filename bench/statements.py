#!/usr/bin/env python
"""The server's cost by statement, and the client's by function, of N small migrations (issue 24).

    python bench/statements.py                 # 1,000 scripts: migrate_tables, psql, dbmate
    python bench/statements.py --small 200 --profile 30

Starts an embedded PostgreSQL with pg_stat_statements preloaded, runs workload 1
of bench/run.py (CREATE TABLE, CREATE INDEX, INSERT of 10 rows per script) once
per contender on a fresh database, and prints per contender the top-level
statements the server ran for it: calls, total and per-call execution time, and
the time per script. The scripts' own statements (every one naming a w_... table)
are summed in one line, so what is left is each tool's own bookkeeping. The
postmaster's reaped children give the server CPU of the whole run
(others.ServerCPU). With --profile N, migrate_tables runs once more under
cProfile and its N functions of most own time are printed (the client's cost).
pg_stat_statements's times are wall time on the server (parse to end, not the
network), not CPU.
"""
import argparse
import cProfile
import os
import pstats
import shutil
import subprocess
import sys
import tempfile

import run  # bench/run.py: the workloads, the sample app, the contenders, the server
from common import log, run_timed, start_embedded
import others


def statement_rows(server, dbname):
    """(query, calls, total ms, plan ms) of the top-level statements run in `dbname`."""
    connection = server.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT query, calls, total_exec_time, total_plan_time"
                           " FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
                           " WHERE d.datname = %s AND toplevel ORDER BY total_exec_time DESC", (dbname,))
            return cursor.fetchall()
    finally:
        connection.close()


def reset(server):
    server.execute("SELECT pg_stat_statements_reset()")


def one_line(query, width=110):
    text = " ".join(query.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def table(name, rows, scripts, server_cpu, client_cpu, seconds):
    script = [r for r in rows if "w_t" in r[0]]
    tool = [r for r in rows if "w_t" not in r[0]]
    lines = ["### %s" % name, "",
             "%.2f s wall, client CPU %.2f s, server CPU %.2f s (%.3f ms per script)" % (
                 seconds, client_cpu, server_cpu or 0, 1000 * (server_cpu or 0) / scripts), "",
             "| statement | calls | total ms | µs per call | µs per script |", "|---|---|---|---|---|"]
    total_script = sum(r[2] + r[3] for r in script)
    lines.append("| *the scripts' own statements (%d distinct)* | %d | %.1f | %.1f | %.1f |" % (
        len(script), sum(r[1] for r in script), total_script,
        1000 * total_script / max(1, sum(r[1] for r in script)), 1000 * total_script / scripts))
    for query, calls, exec_ms, plan_ms in tool:
        total = exec_ms + plan_ms
        lines.append("| `%s` | %d | %.1f | %.1f | %.1f |" % (
            one_line(query).replace("|", "\\|"), calls, total, 1000 * total / calls, 1000 * total / scripts))
    total_tool = sum(r[2] + r[3] for r in tool)
    lines.append("| **the tool's own statements, all** | %d | %.1f | | **%.1f** |" % (
        sum(r[1] for r in tool), total_tool, 1000 * total_tool / scripts))
    return "\n".join(lines)


def profile(app, server, dbname, top):
    """migrate_tables under cProfile: its `top` functions by own time, as text."""
    out = tempfile.NamedTemporaryFile(suffix=".prof", delete=False).name
    env = run.command_environment()
    env["DATABASE_URL"] = server.sqlalchemy_url(dbname)
    subprocess.run([sys.executable, "-m", "cProfile", "-o", out, "manage.py", "migrate_tables", "--yes"],
                   cwd=app.root, env=env, stdout=subprocess.DEVNULL, check=True)
    import io
    stream = io.StringIO()
    stats = pstats.Stats(out, stream=stream)
    stats.sort_stats("tottime").print_stats(top)
    os.unlink(out)
    return stream.getvalue()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=1000, help="migrations (default 1000)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also profile migrate_tables and print its N costliest functions")
    parser.add_argument("--dbmate", help="the dbmate binary (default: $DBMATE, bench/.tools, PATH)")
    args = parser.parse_args(argv)
    embedded = start_embedded("pgstmt-")
    embedded.configure(shared_preload_libraries="pg_stat_statements",
                       **{"pg_stat_statements.max": 20000, "pg_stat_statements.track_utility": "on"})
    tmp = tempfile.mkdtemp(prefix="migrate-stmts-")
    try:
        server = run.Server(embedded.url)
        server.cpu = others.ServerCPU(embedded.pgdata)
        server.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        workload = run.small_workload(args.small)
        app = run.SampleApp(os.path.join(tmp, "small"), workload)
        psql = run.find_psql(None)
        contenders = [run.migrate_tables(app), run.psql_session(psql, app)]
        dbmate = others.find_dbmate(args.dbmate)
        if dbmate:
            directory = os.path.join(tmp, "dbmate")
            others.write_dbmate_copy(workload, directory)
            contenders.append(run.Contender("dbmate up", others.dbmate_argv(dbmate, directory),
                                            cwd=directory, kind="dbmate"))
        else:
            log(others.DBMATE_MISSING)
        run.warm_up(server, [app], psql)
        print("%d small migrations; PostgreSQL %s, pg_stat_statements (top-level statements)\n"
              % (args.small, server.scalar("SHOW server_version")))
        for contender in contenders:
            dbname = server.create_database()
            try:
                argv, env = run.command_for(contender, server, dbname)
                server.checkpoint()
                reset(server)
                mark = server.cpu.mark()
                result = run_timed(argv, cwd=contender.cwd, env=env)
                server_cpu = server.cpu.since(mark)
                run.check_run(server, dbname, contender, workload, result)
                rows = statement_rows(server, dbname)
            finally:
                server.drop_database(dbname)
            print(table(contender.name, rows, args.small, server_cpu, result.cpu_s, result.seconds))
            print()
        if args.profile:
            dbname = server.create_database()
            try:
                print("### migrate_tables under cProfile (by own time)\n\n```")
                print(profile(app, server, dbname, args.profile))
                print("```")
            finally:
                server.drop_database(dbname)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        embedded.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
