"""`salam bench` rejects bad input with one line."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_bench_cli_bad_input(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "salam.cli.main", "bench", "bbq", "--conditions", "none,bogus",
                             "--log-dir", str(tmp_path / "x"), "--display", "none"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and result.stderr.startswith("error: unknown condition") and "Traceback" not in result.stderr
    result = subprocess.run([sys.executable, "-m", "salam.cli.main", "bench", "report", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "no summary.json" in result.stderr
