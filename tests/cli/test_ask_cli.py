"""`salam ask --json` with the embedded model."""

from __future__ import annotations

import json

import pytest
from helpers import cli


@pytest.mark.slow
def test_cli_ask_json_with_the_embedded_model():
    result = cli("ask", "Which is larger, 7 or 9? Answer:", "--json", "--max-new-tokens", "6")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model"] == "gemma-3-270m" and data["usage"]["output_tokens"] > 0
