"""benchmarks/tripost_feedback_signal.py: does the feedback turn's first token separate right from wrong attempts?"""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "tripost_feedback_signal.py"


def _script():
    spec = importlib.util.spec_from_file_location("tripost_feedback_signal", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Scorer:
    """A local model's two calls: the formatted prompt, and first-token log-probabilities of the choices."""

    def __init__(self):
        self.seen = []

    def format_prompt(self, messages):
        return f"<user>{messages[0].content}<model>"

    def score_options(self, prompts, choices):
        self.seen += list(zip(prompts, choices))
        # "wrong" is likelier the more "(A)" the attempt has: a checker with some signal
        return [[0.0, math.log(0.2 + 0.3 * p.count("(A)"))] for p in prompts]


def test_the_feedback_token_is_read_after_the_attempt_and_scored_against_the_outcome():
    script = _script()
    records = [{"t1": {"prompt": "Q1", "output": "So the answer is (A).\n", "correct": False}},
               {"t1": {"prompt": "Q2", "output": "So the answer is (B).", "correct": True}},
               {"t1": {"prompt": "Q3", "output": "(A) then (A), so (A).", "correct": False}}]
    scorer = _Scorer()
    probabilities = script.p_wrong(scorer, records)
    assert scorer.seen[0] == ("<user>Q1<model>So the answer is (A).\nFeedback:", [" All", " In"])
    assert [round(p, 3) for p in probabilities] == [round(0.5 / 1.5, 3), round(0.2 / 1.2, 3), round(1.1 / 2.1, 3)]
    s = script.wrong_signal(probabilities, [True, False, True])
    assert s["auroc"] == 1.0 and s["wrong"] == 2 and s["called_wrong"] == 1
    assert math.isclose(s["p_wrong_if_right"], 0.2 / 1.2)
    assert script.wrong_signal([0.1, 0.2], [True, True])["auroc"] is None  # one class only: no AUROC, no crash


def test_a_run_without_tripost_samples_is_a_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--row", "x", str(tmp_path / "missing"), "local"],
                            capture_output=True, text=True)
    assert result.returncode != 0 and result.stderr.strip().startswith("error:") and "Traceback" not in result.stderr
