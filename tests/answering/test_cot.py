"""Chain-of-thought answering: BBH's few-shot prompt, free steps, the last 'So the answer is X' scored."""

from __future__ import annotations

from salam.answering.answerer import Answerer
from salam.answering.cot import cot_prompt, extract_cot, final_answer
from salam.data.bbh import cot_exemplar_block, cot_exemplars_for
from salam.testing import ScriptedChatModel
from salam.types import Question

ARITH = Question(id="a", task="multistep_arithmetic_two", text="((1 + 2) * (3 - 4)) =", answer="-3")
MC = Question(id="m", task="date_understanding", text="Which day?", options=["Monday", "Tuesday"], answer="B")


def test_the_prompt_is_the_tasks_three_exemplars_then_the_question(data_dir):
    exemplars = cot_exemplar_block(ARITH.task, 3, str(data_dir))
    prompt = cot_prompt(ARITH, exemplars=exemplars)
    assert prompt.count("Q: ") == 4 and prompt.count("A: Let's think step by step.") == 4
    assert prompt.endswith("Q: ((1 + 2) * (3 - 4)) =\nA: Let's think step by step.")
    assert "canary" not in prompt
    assert cot_exemplar_block("Age", 3, str(data_dir)) == "" and cot_exemplar_block(ARITH.task, 0, str(data_dir)) == ""


def test_the_last_stated_answer_is_taken_and_letters_are_normalised():
    assert final_answer("So the answer is 5.\nWait, recheck.\nSo the answer is -3.") == "-3"
    assert final_answer("no conclusion") is None
    assert extract_cot(MC, "Tomorrow is Tuesday. So the answer is (B).") == "B"
    assert extract_cot(MC, "So the answer is Monday.") == "A"


def test_cot_mode_scores_exact_match_of_the_final_answer(data_dir):
    model = ScriptedChatModel(replies=["\n(1 + 2) = 3, (3 - 4) = -1. So the answer is -3.", "\nSo the answer is 3."])
    answerer = Answerer(model, "cot", exemplars=cot_exemplars_for(1, str(data_dir)))
    right, wrong = answerer.answer([(ARITH, ""), (ARITH, "")])
    assert (right.answer, right.correct) == ("-3", True) and (wrong.answer, wrong.correct) == ("3", False)
    assert model.prompts[0].count("Q: ") == 2


def test_the_bench_runs_free_answer_bbh_tasks_in_cot_mode(tmp_path, data_dir):
    from salam.bench.runner import BenchConfig, run_benchmark

    def solve(prompt: str) -> str:
        from salam.train.tripost.checkers.scripts import SCRIPTS

        text = prompt.rsplit("Q: ", 1)[1].split("\nA:")[0]
        q = Question(id="x", task="boolean_expressions", text=text, answer="?")
        return "\n" + "\n".join(SCRIPTS["boolean_expressions"].solve(q))

    config = BenchConfig(benchmark="bbh", tasks=["boolean_expressions"], limit=5, conditions=["none"],
                         answer_mode="cot", data_dir=str(data_dir), batch_size=2)
    summary = run_benchmark(config, tmp_path / "run", model=ScriptedChatModel(reply_fn=solve),
                            assistant_model=ScriptedChatModel())
    assert summary["conditions"]["none"]["accuracy"] == 1.0
    from salam.bench.rundir import RunDir

    row = next(iter(RunDir(tmp_path / "run").samples("none").values()))
    assert "So the answer is" in row["output"] and row["prompt"].count("Q: ") == 4
