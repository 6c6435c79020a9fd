"""TriPosT: interactive editing, filtering, splitting and rebalancing on scripted attempts; a real run."""

from __future__ import annotations

import math
import random

import pytest

from salam.train.completions import CompletionExample
from salam.train.tripost.checkers.scripts import SCRIPTS
from salam.train.tripost.data import examples_of, rebalance
from salam.train.tripost.runner import FEEDBACK, UPDATE
from salam.train.tripost.train import rollouts
from salam.types import Question

Q = Question(id="a", task="multistep_arithmetic_two", text="((1 + 2 * 3) - (4 - 5)) =", answer="8")
SCRIPT = SCRIPTS[Q.task]
GOLD = SCRIPT.solve(Q)
WRONG_A = "Let's calculate A = (1 + 2 * 3) = (1 + 6) = 6."


class FakeLocal:
    """What rollouts and the TriPosT runner need of a local model: format a prompt, continue a turn."""

    def __init__(self, reply):
        self.reply, self.seen = reply, []

    def format_prompt(self, messages):
        return messages[0].content + "\n<model>\n"

    def generate_texts(self, prompts, stop=None, max_new_tokens=None, stop_pattern=None):
        self.seen += prompts
        self.budgets = getattr(self, "budgets", []) + [max_new_tokens]
        return [(self.reply(p.split("\n<model>\n", 1)[1]), 0, 0, 0.0) for p in prompts]


def test_a_wrong_step_is_fixed_the_model_continues_and_the_trajectory_splits_into_weighted_examples():
    def reply(so_far: str) -> str:
        if not so_far:
            return "\n".join([GOLD[0], WRONG_A, GOLD[2], "Then, the final equation is A - B = 6 - -1 = 7. So the answer is 7."])
        return "\n".join(GOLD[2:])  # after the given correct step 2, the model writes the rest right

    (t,) = rollouts(FakeLocal(reply), [Q], 5, SCRIPT)
    assert t.outcome == "improved" and len(t.rounds) == 1 and t.rounds[0].feedback.step == 2
    assert t.rounds[0].update == GOLD[1:]
    improvement, other = examples_of(t, feedback_weight=1.5)
    assert len(improvement) == 1 and len(other) == 1
    parts = improvement[0].parts
    assert parts[0] == ("\n".join(t.attempt), 0.0) and len(parts) == 2  # the wrong attempt is context, never a target
    assert parts[1][1] == 1.5 and parts[1][0].startswith(f"\n{FEEDBACK} In step 2 the part \"(1 + 6) = 6\" is incorrect.")
    assert f"\n{UPDATE}\n" + GOLD[1] in parts[1][0] and not improvement[0].ends_turn  # the next feedback follows
    # the trajectory's end is a non-improvement example, as in the authors' code: all before it is context
    assert other[0].parts == (("\n".join(t.attempt) + parts[1][0], 0.0), (f"\n{FEEDBACK} All steps are correct.", 1.5))
    assert other[0].ends_turn


@pytest.mark.parametrize("continuation, outcome, rounds", [
    (WRONG_A, "never correct", 5),   # the model re-inserts its error after each fix: five rounds, still wrong
    ("Let's calculate B = (4 - five) = -1.", "unparseable", 1),  # a step the script cannot read
])
def test_trajectories_that_never_end_right_or_cannot_be_read_are_dropped(continuation, outcome, rounds):
    def reply(so_far: str) -> str:
        return "\n".join([GOLD[0], WRONG_A]) if not so_far else continuation

    (t,) = rollouts(FakeLocal(reply), [Q], 5, SCRIPT)
    assert (t.kept, t.outcome, len(t.rounds)) == (False, outcome, rounds)


def test_steps_that_stop_short_are_continued_one_written_step_per_round():
    """The model stops without an answer each time: the script writes the missing step, until the answer."""
    def reply(so_far: str) -> str:
        return GOLD[0] if not so_far else "I give up."

    (t,) = rollouts(FakeLocal(reply), [Q], 5, SCRIPT)
    assert t.outcome == "improved" and [r.feedback.step for r in t.rounds] == [2, 4]
    assert t.rounds[0].feedback.text() == "Step 2 is missing. The steps stop before stating the answer."


def test_a_round_whose_first_wrong_step_does_not_move_forward_is_no_progress():
    from salam.train.tripost.checkers.base import StepFeedback
    from salam.train.tripost.data import Trajectory
    from salam.train.tripost.train import _judge

    t = Trajectory(Q, GOLD)
    assert _judge(t, StepFeedback("wrong", 3), StepFeedback("wrong", 3)) is None and t.outcome == "no progress"
    assert _judge(t, StepFeedback("wrong", 4), StepFeedback("wrong", 3)) is not None and t.outcome == "never correct"


def test_correct_attempts_become_non_improvement_examples_and_unreadable_steps_are_dropped():
    right = rollouts(FakeLocal(lambda s: "\n".join(GOLD)), [Q], 5, SCRIPT)[0]
    junk = rollouts(FakeLocal(lambda s: "Let's calculate A = (one + 2) = 7."), [Q], 5, SCRIPT)[0]
    assert right.outcome == "correct" and junk.outcome == "unparseable" and not junk.kept
    improvement, other = examples_of(right, 1.5)
    assert improvement == [] and other[0].parts == (("\n".join(GOLD), 1.0), (f"\n{FEEDBACK} All steps are correct.", 1.5))


def test_rebalancing_caps_non_improvement_at_the_ratio_and_adds_as_many_gold():
    """The authors' rule: non-improvement ≤ ⌈improvement / ratio⌉, gold = non-improvement kept (never a filler)."""
    ex = lambda name: CompletionExample(name, ((name, 1.0),))  # noqa: E731
    gold = [ex(f"g{k}") for k in range(9)]
    mixed, kinds = rebalance([ex(f"i{k}") for k in range(3)], [ex(f"o{k}") for k in range(10)], gold, 1.5, random.Random(0))
    assert (kinds["improvement"], kinds["non-improvement"], kinds["gold"]) == (3, 2, 2) and len(mixed) == 7
    mixed, kinds = rebalance([ex(f"i{k}") for k in range(6)], [ex("o")], gold, 1.5, random.Random(0))
    assert (kinds["non-improvement"], kinds["gold"]) == (1, 1) and len(mixed) == 8
    # last session's iteration: 32 improvement, 17 non-improvement (16 ends of edited trajectories + 1 right attempt)
    _, kinds = rebalance([ex(f"i{k}") for k in range(32)], [ex(f"o{k}") for k in range(17)], gold * 3, 1.5, random.Random(0))
    assert (kinds["non-improvement"], kinds["gold"]) == (17, 17)


def test_the_runner_stops_when_the_model_says_correct_and_counts_false_claims():
    from salam.train.tripost.runner import TriPosTRunner

    def fixer(so_far: str) -> str:
        if not so_far:
            return "So the answer is 7."
        if so_far.endswith(f"{FEEDBACK}"):
            return " All steps are correct." if "So the answer is 8." in so_far else " In step 1 the part \"7\" is incorrect."
        return "So the answer is 8."

    (fixed,) = TriPosTRunner(FakeLocal(fixer), max_rounds=5).run([Q])
    assert (fixed.t1.correct, fixed.t2.correct, fixed.rounds, fixed.claimed_correct_when_wrong) == (False, True, 1, False)
    liar = FakeLocal(lambda s: " All steps are correct." if s.endswith(FEEDBACK) else "So the answer is 7.")
    (claimed,) = TriPosTRunner(liar, max_rounds=5).run([Q])
    assert (claimed.t2.correct, claimed.rounds, claimed.claimed_correct_when_wrong) == (False, 0, True)
    stubborn = FakeLocal(lambda s: " In step 1 the part is wrong." if s.endswith(FEEDBACK) else "So the answer is 7.")
    (capped,) = TriPosTRunner(stubborn, max_rounds=2).run([Q])
    assert capped.rounds == 2 and capped.trajectory.count(FEEDBACK) == 3


class FakeScoring(FakeLocal):
    """A local model that also reads next-token log-probabilities: P(wrong) = 0.3 after "7", 0.1 after "8"."""

    def score_options(self, prompts, choices):
        assert all(c == [" All", " In"] for c in choices) and all(p.endswith(FEEDBACK) for p in prompts)
        return [[math.log(0.7), math.log(0.3)] if "answer is 7." in p.rsplit(FEEDBACK, 2)[-2] else
                [math.log(0.9), math.log(0.1)] for p in prompts]


def test_a_wrong_threshold_lets_p_wrong_decide_the_feedback_and_the_model_write_the_rest():
    """Greedy, this model always says correct; at threshold 0.25 its P(wrong) 0.3 after "7" names a step."""
    from salam.errors import SalamError
    from salam.train.tripost.runner import TriPosTRunner

    def reply(so_far: str) -> str:
        if so_far.endswith(f"{FEEDBACK} In"):
            return ' step 1 the part "7" is incorrect.'
        if so_far.endswith(FEEDBACK):
            return " All steps are correct."
        return "So the answer is 8." if UPDATE in so_far else "So the answer is 7."

    (greedy,) = TriPosTRunner(FakeScoring(reply), max_rounds=2).run([Q])
    assert (greedy.t2.correct, greedy.rounds, greedy.claimed_correct_when_wrong, greedy.p_wrong) == (False, 0, True, [])
    model = FakeScoring(reply)
    (fixed,) = TriPosTRunner(model, max_rounds=2, wrong_threshold=0.25).run([Q])
    assert (fixed.t1.correct, fixed.t2.correct, fixed.rounds) == (False, True, 1)
    assert [round(p, 2) for p in fixed.p_wrong] == [0.3, 0.1]  # before each feedback: after "7", after "8"
    assert f'{FEEDBACK} In step 1 the part "7" is incorrect.\n{UPDATE}' in fixed.trajectory
    assert fixed.trajectory.endswith(f"{FEEDBACK} All steps are correct.")
    (kept,) = TriPosTRunner(FakeScoring(reply), max_rounds=2, wrong_threshold=0.5).run([Q])
    assert (kept.rounds, kept.claimed_correct_when_wrong) == (0, True)
    with pytest.raises(SalamError, match="between 0 and 1"):
        TriPosTRunner(model, wrong_threshold=1.5)
    with pytest.raises(SalamError, match="next-token probabilities"):
        TriPosTRunner(FakeLocal(reply), wrong_threshold=0.25)  # a model that cannot score cannot take a threshold


def test_attempts_and_updates_write_at_most_the_given_budget_and_feedback_its_own():
    from salam.train.tripost.runner import FEEDBACK_MAX_NEW_TOKENS, TriPosTRunner

    stubborn = FakeLocal(lambda s: " In step 1 the part is wrong." if s.endswith(FEEDBACK) else "So the answer is 7.")
    TriPosTRunner(stubborn, max_rounds=1, max_new_tokens=100).run([Q])
    # attempt, feedback, update, feedback
    assert stubborn.budgets == [100, FEEDBACK_MAX_NEW_TOKENS, 100, FEEDBACK_MAX_NEW_TOKENS]


def test_a_provider_model_cannot_run_tripost_and_a_task_without_a_script_is_named(tmp_path):
    from salam.errors import SalamError
    from salam.testing import ScriptedChatModel
    from salam.train.tripost.runner import TriPosTRunner
    from salam.train.tripost.train import TriPostConfig, train_tripost

    with pytest.raises(SalamError, match="needs a local model"):
        TriPosTRunner(ScriptedChatModel())
    with pytest.raises(SalamError, match="no script feedback for 'date_understanding'.*--feedback assistant"):
        train_tripost(TriPostConfig(out=tmp_path / "t", tasks=["date_understanding"]))
    assert not (tmp_path / "t").exists()


@pytest.mark.slow
def test_collator_weights_follow_the_segments_and_labels_only_the_completion(local_model):
    from salam.models.local import end_of_turn_id
    from salam.train.completions import CompletionCollator

    _, tokenizer = local_model._loaded()
    row = CompletionExample("Q: 1 + 1 =\nA: Let's think step by step.", (("1 + 1 = 2. So the answer is 2.", 0.0),
                                                                          ("\nFeedback: All steps are correct.", 1.5))).as_row()
    batch = CompletionCollator(tokenizer)([row, {**row, "prompt": "short"}])
    labelled = batch["labels"][0] != -100
    completion = batch["input_ids"][0][labelled].tolist()
    assert tokenizer.decode(completion[:-1]) == "1 + 1 = 2. So the answer is 2.\nFeedback: All steps are correct."
    assert completion[-1] == end_of_turn_id(tokenizer)
    weights = batch["loss_weights"][0][labelled].tolist()
    assert set(weights[:5]) == {0.0} and weights[-3:] == [1.5, 1.5, 1.5]
    assert batch["logits_to_keep"] == int((batch["loss_weights"][0] > 0).sum()) + 1  # no logits for weight-0 context


@pytest.mark.slow
def test_supervised_start_and_one_iteration_then_answer_through_the_spec(tmp_path):
    from salam.models import resolve_chat_model
    from salam.train.folder import TrainDir
    from salam.train.tripost.runner import TriPosTRunner
    from salam.train.tripost.train import TriPostConfig, train_tripost

    config = TriPostConfig(out=tmp_path / "tp", tasks=["boolean_expressions"], limit=4, iterations=1, max_steps=2,
                           batch_size=2, grad_accum=1, max_rounds=5)
    summary = train_tripost(config, log=lambda m: None)
    it = summary["iterations"][0]
    assert summary["spec"] == f"local+lora:{tmp_path / 'tp' / 'iter-1'}" and TrainDir(tmp_path / "tp" / "sft").is_finished()
    assert sum(it["rollouts_by_outcome"].values()) == 4 and it["steps"] == 2
    q = SCRIPTS["boolean_expressions"].generate(random.Random(1), 4)
    (result,) = TriPosTRunner(resolve_chat_model(summary["spec"], max_new_tokens=64), max_rounds=1).run([q])
    assert result.t1.output and result.rounds in (0, 1)


def test_the_assistant_module_names_a_step_and_rewrites_from_it():
    """For tasks no script checks: the reward stays exact, the assistant writes the feedback and the update."""
    from salam.testing import ScriptedChatModel
    from salam.train.tripost.checkers.assistant import AssistantFeedback

    mc = Question(id="m", task="Age", text="Who forgot?", options=["The old man", "The boy", "Unknown"], answer="C")
    helper = ScriptedChatModel(reply_fn=lambda p: ('In step 1 the part "the old man forgot" is incorrect. The text never says who.'
                                                   if "Feedback:" in p.splitlines()[-1] else
                                                   "1. The text does not say who forgot.\n2. So the answer is (C).\n3. extra"))
    module = AssistantFeedback(helper)
    assert module.check(mc, "The text does not say. So the answer is (C).").is_correct and helper.prompts == []
    wrong = "The old man forgot, as old men do.\nSo the answer is (A)."
    feedback = module.check(mc, wrong)
    assert (feedback.verdict, feedback.step, feedback.part) == ("wrong", 1, "the old man forgot")
    assert "the correct answer is (C)" in helper.prompts[0] and helper.prompts[0].endswith("Feedback: In step")
    assert module.update(mc, wrong.splitlines(), feedback) == ["The text does not say who forgot.", "So the answer is (C)."]
    (t,) = rollouts(FakeLocal(lambda s: wrong), [mc], 5, module)
    assert t.outcome == "improved" and len(t.rounds) == 1 and t.rounds[0].update[-1] == "So the answer is (C)."
    silent = AssistantFeedback(ScriptedChatModel(replies=["I am not sure."]))
    assert silent.check(mc, wrong).verdict == "unparseable"


def test_a_small_assistants_feedback_is_made_to_fit_the_rationale():
    """The reply continues "Feedback: In step"; a quote the step lacks becomes the whole step; a step past an
    answered rationale is its (wrong) answer step; a step far outside is unparseable. Checks are one batch."""
    from salam.testing import ScriptedChatModel
    from salam.train.tripost.checkers.assistant import AssistantFeedback

    mc = Question(id="m", task="Age", text="Who forgot?", options=["The old man", "The boy", "Unknown"], answer="C")
    steps = "The old man forgot, as old men do.\nSo the answer is (A)."
    replies = {"1": ' 1, the part "2 + 3 = 5" is incorrect. Age says nothing.', "2": ' 3 the part "x" is incorrect. No.',
               "3": " 9 is wrong."}
    helper = ScriptedChatModel(reply_fn=lambda p: replies[p.split("Who forgot? #", 1)[1][0]])
    questions = [Question(id=str(i), task="Age", text=f"Who forgot? #{i}", options=mc.options, answer="C") for i in "123"]
    copied, past, outside = AssistantFeedback(helper).check_many(questions, [steps] * 3)
    assert (copied.step, copied.part, copied.why) == (1, "The old man forgot, as old men do.", "Age says nothing.")
    assert copied.text().startswith('In step 1 the part "The old man forgot, as old men do." is incorrect.')
    assert (past.verdict, past.step, past.part) == ("wrong", 2, "So the answer is (A).")
    assert outside.verdict == "unparseable" and len(helper.prompts) == 3
    rambling = AssistantFeedback(ScriptedChatModel(replies=["1. The African one\nStep 2:\nThe African one\n2. So the answer is (A)."]))
    assert rambling.update(mc, steps.splitlines(), past) == ["The African one", "So the answer is (C)."]
