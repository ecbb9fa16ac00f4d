"""The benchmark runner still runs end to end: a tiny load against the raw and wsapi variants, tables with ratios."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_runner_prints_a_table_with_ratios_for_each_scenario() -> None:
    command = [sys.executable, "-m", "benchmarks.run", "--variants", "raw,wsapi", "--duration", "0.3"]
    command += ["--idle-connections", "100"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    tables = re.split(r"^## ", result.stdout, flags=re.MULTILINE)[1:]
    assert [t.split(":", 1)[0] for t in tables] == ["echo", "handshake", "memory"]
    for table in tables:
        assert "| x raw |" in table
        assert re.search(r"^\| raw \| [\d,.]+ \| 1\.00 \|", table, flags=re.MULTILINE), table
        wsapi = re.search(r"^\| wsapi \| [\d,.]+ \| (\d+\.\d\d) \|.* (\d+) \|$", table, flags=re.MULTILINE)
        assert wsapi is not None, table
        assert float(wsapi.group(1)) > 0
        assert wsapi.group(2) == "0", f"the clients saw errors:\n{table}"
