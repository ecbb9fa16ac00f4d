"""The benchmark runner still runs end to end: a tiny load against a base and a wsapi variant of each family, and
tables with ratios to the base."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The scenario each table heading names, and its base and wsapi variants.
EXPECTED = {
    "echo": ("raw", "wsapi"),
    "handshake": ("raw", "wsapi"),
    "memory": ("raw", "wsapi"),
    "typed_echo": ("typed_echo_raw", "typed_echo_messages"),
    "fanout (100 subscribers)": ("fanout_raw", "fanout_wsapi"),
    "fanout_deflate (100 subscribers)": ("fanout_raw", "fanout_wsapi"),
    "fanout_memory_deflate": ("fanout_raw", "fanout_wsapi"),
}


def test_runner_prints_a_table_with_ratios_for_each_scenario() -> None:
    variants = ",".join(name for pair in EXPECTED.values() for name in pair)
    command = [sys.executable, "-m", "benchmarks.run", "--quick", "--variants", variants, "--duration", "0.3"]
    command += ["--scenarios", "echo,handshake,memory,typed_echo,fanout,fanout_deflate,fanout_memory_deflate"]
    command += ["--idle-connections", "100"]
    command += ["--subscribers", "100"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    tables = re.split(r"^## ", result.stdout, flags=re.MULTILINE)[1:]
    assert [t.split(":", 1)[0] for t in tables] == list(EXPECTED)
    for table, (base, wsapi) in zip(tables, EXPECTED.values(), strict=True):
        assert "| x raw |" in table
        assert re.search(rf"^\| {base} \| [\d,.]+ \| 1\.00 \|", table, flags=re.MULTILINE), table
        row = re.search(rf"^\| {wsapi} \| [\d,.]+ \| (\d+\.\d\d) \|.* (\d+) \|$", table, flags=re.MULTILINE)
        assert row is not None, table
        assert float(row.group(1)) > 0
        assert row.group(2) == "0", f"the clients saw errors:\n{table}"
