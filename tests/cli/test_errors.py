"""Bad option values are usage errors, never tracebacks."""

from __future__ import annotations

import pytest
from helpers import cli


@pytest.mark.slow
@pytest.mark.parametrize("args", [("bench", "bbq", "--limit", "abc"), ("train", "eval-assistant", "--assistant", "local",
                                                                     "--train-offset", "-3"), ("nosuch",)])
def test_bad_option_values_are_usage_errors_not_tracebacks(args):
    result = cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "Error: " in result.stderr
