"""Script feedback: gold rationales verify on every BBH question, generated questions parse and verify,
and the checker names the first wrong step of faulty rationales (hand-made and altered exemplars)."""

from __future__ import annotations

import random
import re

import pytest

from salam.answering.cot import final_answer
from salam.errors import SalamError
from salam.train.tripost.checkers.base import StepFeedback, steps_of
from salam.train.tripost.checkers.scripts import SCRIPTS, script_for
from salam.types import Question

TASKS = sorted(SCRIPTS)


@pytest.mark.parametrize("task", TASKS)
def test_every_bbh_question_gets_a_gold_rationale_that_reaches_its_target_and_verifies(task, data_dir):
    from salam.data.bbh import load_bbh

    script = SCRIPTS[task]
    questions = load_bbh([task], data_dir)[task]
    assert len(questions) == 250
    for q in questions:
        rationale = script.rationale(q)
        assert final_answer(rationale) == q.answer, q.text
        assert script.check(q, rationale) == StepFeedback("correct"), q.text


@pytest.mark.parametrize("task", TASKS)
def test_generated_questions_at_every_difficulty_parse_and_their_gold_verifies(task):
    script = SCRIPTS[task]
    rng = random.Random(7)
    for difficulty in script.seen + script.unseen:
        for i in range(20):
            q = script.generate(rng, difficulty, i)
            assert q.task == task and q.metadata["difficulty"] == difficulty
            assert script.check(q, script.rationale(q)).is_correct
            assert final_answer(script.rationale(q)) == q.answer


def _exemplars(data_dir, task: str) -> list[tuple[Question, str]]:
    from salam.data.bbh import cot_exemplars

    pairs = cot_exemplars(task, data_dir)
    assert len(pairs) == 3
    return [(Question(id="x", task=task, text=question, answer=final_answer(rationale)), rationale) for question, rationale in pairs]


ALTER = {  # one step of each exemplar made wrong: (pattern, replacement)
    "multistep_arithmetic_two": (r"Let's calculate B = \(", "Let's calculate B = (1 + "),
    "boolean_expressions": (r'("Z = )([^="]+?)( = )', r"\1not ( \2 )\3"),
    "dyck_languages": (r"(\n2: \S+ ; stack: [^\n]*)", r"\1 ("),
    "word_sorting": (r'(The second letter: "[^"]+": )"(\w)"', r'\1"q"'),
}


@pytest.mark.parametrize("task", TASKS)
def test_the_checker_finds_the_altered_step_of_each_bbh_exemplar(task, data_dir):
    script = SCRIPTS[task]
    pattern, replacement = ALTER[task]
    for question, rationale in _exemplars(data_dir, task):
        altered = re.sub(pattern, replacement, rationale, count=1)
        assert altered != rationale
        changed = next(i for i, (a, b) in enumerate(zip(steps_of(rationale), steps_of(altered)), 1) if a != b)
        feedback = script.check(question, altered)
        assert (feedback.verdict, feedback.step) == ("wrong", changed), feedback


def test_the_checker_reports_the_slips_in_bbhs_own_exemplars(data_dir):
    """Two official exemplars contain a false step; an exact checker must say so, not pass them."""
    arithmetic = _exemplars(data_dir, "multistep_arithmetic_two")[0]
    feedback = SCRIPTS["multistep_arithmetic_two"].check(*arithmetic)
    assert feedback.verdict == "wrong" and "(-61) * (-3)" in feedback.part and "183" in feedback.why
    boolean = _exemplars(data_dir, "boolean_expressions")[2]
    assert SCRIPTS["boolean_expressions"].check(*boolean).part == "not not ( True ) = not not False"


Q_ARITH = Question(id="a", task="multistep_arithmetic_two", text="((1 + 2 * 3) - (4 - 5)) =", answer="8")


@pytest.mark.parametrize("rationale, step, part", [
    ('This equation can be written as "A + B", where A = (1 + 2 * 3) and B = (4 - 5).', 1, "A + B"),
    ('This equation can be written as "A - B", where A = (1 + 2 * 4) and B = (4 - 5).', 1, "A = (1 + 2 * 4)"),
    ("Let's calculate A = (1 + 2 * 3) = (1 + 6) = 6.", 1, "(1 + 6) = 6"),
    ("Let's calculate A = (1 + 2 * 3) = (3 * 3) = 9.", 1, "(1 + 2 * 3) = (3 * 3)"),
    ("Let's calculate A = 7.\nLet's calculate B = (4 - 5) = 1.", 2, "(4 - 5) = 1"),
    ("Then, the final equation is A - B = 7 - -1 = 6. So the answer is 6.", 1, "7 - -1 = 6"),
])
def test_hand_made_arithmetic_mistakes_are_found_at_their_step(rationale, step, part):
    feedback = SCRIPTS["multistep_arithmetic_two"].check(Q_ARITH, "Let's think step by step.\n" + rationale)
    assert (feedback.verdict, feedback.step, feedback.part) == ("wrong", step, part)


def test_hand_made_mistakes_in_the_other_tasks():
    boolean = Question(id="b", task="boolean_expressions", text="not ( True ) or False is", answer="False")
    found = SCRIPTS["boolean_expressions"].check(boolean, "Z = not ( True ) or False.\nZ = not True or False.\nZ = True or False.\nZ = True. So the answer is True.")
    assert (found.step, found.part) == (3, "Z = True or False")
    dyck = Question(id="d", task="dyck_languages", text="Complete the rest of the sequence, making sure that the parentheses are closed properly. Input: ( [ ]", answer=")")
    skipped = SCRIPTS["dyck_languages"].check(dyck, "0: empty stack\n1: ( ; stack: (\n3: ] ; stack: (")
    assert (skipped.step, skipped.why) == (3, "The next input is number 2.")
    early = SCRIPTS["dyck_languages"].check(dyck, '1: ( ; stack: (\nNow, we have reached the end. The final stack is "(".')
    assert early.step == 2 and "has not been processed" in early.why
    words = Question(id="w", task="word_sorting", text="Sort the following words alphabetically: List: pear apple", answer="apple pear")
    swapped = SCRIPTS["word_sorting"].check(words, 'The first letter: "pear": "p" (16). "apple": "a" (1). We now have: (16) "pear" < (1) "apple". So the answer is pear apple.')
    assert swapped.verdict == "wrong" and swapped.part == '"pear" < "apple"'


def test_garbage_is_unparseable_and_steps_that_stop_before_an_answer_miss_a_step():
    script = SCRIPTS["multistep_arithmetic_two"]
    assert script.check(Q_ARITH, "Let's calculate A = (1 + two) = 7.").verdict == "unparseable"
    stopped = script.check(Q_ARITH, "Let's calculate A = (1 + 2 * 3) = 7.\nI do not know")
    assert (stopped.verdict, stopped.step, stopped.text()) == ("wrong", 3, "Step 3 is missing. The steps stop before stating the answer.")
    assert script.check(Q_ARITH, "").step == 1
    for task, script in SCRIPTS.items():
        q = script.generate(random.Random(0), script.seen[0])
        assert script.check(q, "= = ( ( \" 1: ; stack: The first letter: So the answer is").verdict in ("wrong", "unparseable")


@pytest.mark.parametrize("task", TASKS)
def test_improvement_rewrites_from_the_faulty_step_and_then_verifies(task):
    script = SCRIPTS[task]
    q = script.generate(random.Random(3), script.seen[-1])
    gold = steps_of(script.rationale(q))
    broken = "\n".join(gold[:1] + ["Z = 1: wrong ; stack: So the answer is nothing."])
    feedback = script.check(q, broken)
    improved = script.improve(q, broken, feedback)
    assert script.check(q, improved).is_correct and steps_of(improved)[:1] == gold[:1]


def test_a_task_without_a_script_names_the_ones_that_have_one():
    with pytest.raises(SalamError, match="scripts exist for multistep_arithmetic_two, word_sorting"):
        script_for("date_understanding")
