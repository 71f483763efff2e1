"""bench/fleet.py at a tiny size (its own embedded server), so the fleet benchmark cannot rot."""
import os
import subprocess
import sys

from tests.helpers import REPO_ROOT


def test_the_fleet_benchmark_runs_at_a_tiny_size():
    completed = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "bench", "fleet.py"), "--databases", "3",
         "--reps", "1"], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    table = completed.stdout
    assert "| scenario (3 databases) |" in table
    for line in ("(a) all at the target | `--databases --jobs 4`",
                 "(b) each 3 scripts behind | shell loop"):
        assert line in table
