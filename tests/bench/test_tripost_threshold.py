"""benchmarks/tripost_threshold.py: bad input is one line (the choice itself is tested in test_feedback_signal)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "tripost_threshold.py"


def test_a_task_that_does_not_exist_is_a_one_line_error(tmp_path):
    (tmp_path / "bbh").mkdir()
    result = subprocess.run([sys.executable, str(SCRIPT), "--model", "local", "--tasks", "no_such_task",
                             "--data-dir", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error:") and len(result.stderr.strip().splitlines()) == 1
