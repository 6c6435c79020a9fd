"""Verify, then revise: the verdict's P(wrong) decides a revision; metrics, τ choice and the bench mode."""

from __future__ import annotations

import math

import pytest

from salam.errors import SalamError
from salam.selfcorrect.verify import (
    VERDICTS,
    VerifyRunner,
    answer_group,
    expected_revision,
    expected_threshold,
    verifier_metrics,
    verify_prompt,
    written_verdict,
)
from salam.types import Question

Q_RIGHT = Question(id="r", task="t", text="2 + 2?", options=["4", "5", "6"], answer="A")
Q_WRONG = Question(id="w", task="t", text="3 + 3?", options=["5", "6", "7"], answer="B")


class Scorer:
    """A local model: answers (A) to everything; its verifier says P(wrong) 0.8 for "3 + 3" and 0.2 otherwise;
    after "judged wrong" it prefers the first answer again, then the gold."""

    def __init__(self):
        self.seen = []

    def format_prompt(self, messages):
        return messages[0].content

    def count_tokens(self, prompts):
        return [len(p.split()) for p in prompts]

    def score_options(self, prompts, choices):
        self.seen += prompts
        out = []
        for p, options in zip(prompts, choices):
            if options == list(VERDICTS):
                wrong = 0.8 if "3 + 3" in p else 0.2
                out.append([math.log(1 - wrong), math.log(wrong)])
            elif "judged wrong" in p:
                out.append([0.0, -0.5, -3.0])  # (A) again first, then (B)
            else:
                out.append([0.0, -1.0, -2.0])
        return out


def test_revise_only_when_p_wrong_reaches_the_threshold_and_read_both_ways():
    model = Scorer()
    right, wrong = VerifyRunner(model, threshold=0.5).run([Q_RIGHT, Q_WRONG])
    assert (right.t1.answer, right.p_wrong, right.revised, right.t2.answer) == ("A", 0.2, False, "A")
    assert (wrong.t1.answer, wrong.p_wrong, wrong.revised) == ("A", 0.8, True)
    assert wrong.t2.answer == "A" and wrong.t2_other.answer == "B" and wrong.t2_other.correct  # any / another letter
    assert not any("judged wrong" in p and "2 + 2" in p for p in model.seen)  # no revision written for a kept answer
    assert sum("Is the proposed answer correct?" in p for p in model.seen) == 2  # one verdict pass per question
    rows = [r.model_dump() for r in (right, wrong)]
    m = verifier_metrics(rows)
    assert (m["auroc"], m["precision_wrong"], m["recall_wrong"], m["revision_rate"]) == (1.0, 1.0, 1.0, 0.5)
    assert (m["fix_rate"], m["fixes"], m["breaks"], m["acc_t2_another_letter"]) == (0.0, 0, 0, 1.0)
    (kept,) = VerifyRunner(Scorer(), threshold=0.9).run([Q_WRONG])
    assert not kept.revised and kept.t2.answer == "A"


def test_a_revision_written_below_tau_keeps_both_readings_and_its_letter_scores():
    # held-out τ selection writes every revision (revise_all) and must read "another letter" below the run's τ too:
    # the right answer (P(wrong) 0.2 < 0.5) is not revised, yet its another-letter revision is (B), not the kept (A)
    right, wrong = VerifyRunner(Scorer(), threshold=0.5, revise_all=True).run([Q_RIGHT, Q_WRONG])
    assert (right.revised, right.t2.answer, right.t2_other.answer) == (False, "A", "A")
    assert (right.revision.answer, right.revision_other.answer, right.revision_other.correct) == ("A", "B", False)
    assert wrong.revision_other.answer == "B" and wrong.revision_other.correct
    assert right.revision_scores == [0.0, -0.5, -3.0]
    (kept,) = VerifyRunner(Scorer(), threshold=0.5).run([Q_RIGHT])
    assert kept.revision is None and kept.revision_other is None and kept.revision_scores is None


def test_the_another_letter_reading_makes_a_keeping_revision_switch():
    right, wrong = VerifyRunner(Scorer(), threshold=0.5, reading="another").run([Q_RIGHT, Q_WRONG])
    assert (right.revised, right.t2.answer) == (False, "A")  # a kept answer is not read at all
    assert (wrong.reading, wrong.revision.answer, wrong.t2.answer, wrong.t2.correct) == ("another", "A", "B", True)
    m = verifier_metrics([r.model_dump() for r in (right, wrong)])
    assert (m["reading"], m["fixes"], m["fix_rate"], m["acc_t2_any_letter"], m["acc_t2_another_letter"]) == ("another", 1, 1.0, 0.5, 1.0)
    with pytest.raises(SalamError, match="--verify-reading must be any or another"):
        VerifyRunner(Scorer(), reading="first")


def test_answer_groups_split_bbq_answers_into_unknown_and_named_and_the_metrics_read_inside_them():
    bbq = Question(id="b", task="Age", text="Who forgot?", options=["The boy", "Unknown", "The man"], answer="B",
                   metadata={"unknown_letter": "B"})
    assert [answer_group(bbq, a) for a in ("B", "A", None)] == ["Age/unknown", "Age/named", "Age/named"]
    assert answer_group(Q_RIGHT, "A") == "t"  # a question without an "unknown" option: its task
    # the verifier says "wrong" for every named answer and "right" for every unknown one: a kind detector
    rows = [{"t1": {"correct": c}, "p_wrong": p, "revised": False, "threshold": 0.5} for c, p in
            [(True, 0.1), (True, 0.1), (False, 0.9), (True, 0.9)]]
    m = verifier_metrics(rows, ["Age/unknown", "Age/unknown", "Age/named", "Age/named"])
    assert m["auroc"] == pytest.approx(5 / 6) and m["auroc_within_groups"] == 0.5 and m["auroc_groups_alone"] == pytest.approx(5 / 6)
    assert m["auroc_by_kind"] == {"named": 0.5, "unknown": None}  # no wrong "unknown" answer: undefined there
    assert "auroc_within_groups" not in verifier_metrics(rows)
    assert verifier_metrics(rows, ["t", "t", "t", "t"])["auroc_by_kind"] == {}  # no answer kinds outside BBQ


def test_the_verification_prompt_states_the_proposed_answer_and_ends_at_the_verdict_letter():
    prompt = verify_prompt(Q_WRONG, "A")
    assert "Proposed answer: (A)" in prompt and prompt.endswith("Verdict: (") and "(B) No, it is wrong." in prompt


def test_tau_maximises_expected_acc_t2_on_held_out_answers():
    # revising helps only for the two answers with P(wrong) >= 0.7 (their revisions fix them)
    p = [0.9, 0.7, 0.4, 0.2]
    chosen = expected_threshold(p, first_right=[False, False, True, True], revision_right=[True, True, False, False])
    assert chosen["threshold"] == 0.7 and chosen["heldout_acc_t2"] == 1.0 and chosen["heldout_acc_t1"] == 0.5
    never = expected_threshold([0.6, 0.3], first_right=[True, True], revision_right=[False, False])
    assert never["threshold"] == 1.0 and never["heldout_acc_t2"] == 1.0


def test_the_revision_reading_is_chosen_with_tau_and_a_tie_keeps_any_letter():
    p, first = [0.9, 0.7, 0.4, 0.2], [False, False, True, True]
    # the revision keeps its first letter (any: never helps); another letter fixes the two likeliest wrong ones
    chosen = expected_revision(p, first, any_right=[False, False, True, True], another_right=[True, True, False, False])
    assert (chosen["reading"], chosen["threshold"], chosen["heldout_acc_t2"]) == ("another", 0.7, 1.0)
    assert (chosen["heldout_acc_t2_any"], chosen["heldout_acc_t2_another"]) == (0.5, 1.0)
    tie = expected_revision(p, first, any_right=[True, True, False, False], another_right=[True, True, False, False])
    assert (tie["reading"], tie["threshold"]) == ("any", 0.7)


def test_bad_thresholds_models_and_written_verdicts():
    with pytest.raises(SalamError, match="--verify-threshold must be a probability from 0 to 1"):
        VerifyRunner(Scorer(), threshold=1.5)
    from salam.testing import ScriptedChatModel

    with pytest.raises(SalamError, match="reads the verdict letters' log-probabilities"):
        VerifyRunner(ScriptedChatModel(replies=["A"]), mode="choice")
    assert [written_verdict(t) for t in ("B) No", " no, wrong", "(A) Yes", "yes", "maybe")] == ["B", "B", "A", "A", None]


def test_generate_mode_writes_the_verdict_and_the_revision():
    from salam.testing import ScriptedChatModel

    def reply(prompt: str) -> str:
        if "Is the proposed answer correct?" in prompt:
            return "B) No" if "3 + 3" in prompt else "A) Yes"
        if "judged wrong" in prompt:
            return "(B)"
        return "(A)"

    right, wrong = VerifyRunner(ScriptedChatModel(reply_fn=reply), mode="generate").run([Q_RIGHT, Q_WRONG])
    assert (right.p_wrong, right.revised, right.t2.correct) == (0.0, False, True)
    assert (wrong.p_wrong, wrong.revised, wrong.t2.answer, wrong.t2.correct) == (1.0, True, "B", True)
    assert wrong.t2_other is None


def test_the_bench_runs_verify_mode_and_reports_the_verifier(tmp_path, data_dir):
    from salam.bench.report import write_report
    from salam.bench.runner import BenchConfig, run_benchmark
    from salam.testing import ScriptedChatModel

    def reply(prompt: str) -> str:
        if "Is the proposed answer correct?" in prompt:
            return "B) No"
        return "(C)" if "judged wrong" in prompt else "(A)"

    config = BenchConfig(benchmark="bbq", tasks=["Age"], limit=4, train_limit=2, data_dir=str(data_dir), conditions=["none"],
                         answer_mode="generate", batch_size=2, embedder="hash-bow-64", gather=False,
                         self_correct=True, self_correct_mode="verify")
    summary = run_benchmark(config, tmp_path / "run", model=ScriptedChatModel(reply_fn=reply))
    v = summary["self_correct"]["verify"]
    assert v["revision_rate"] == 1.0 and v["threshold"] == 0.5 and v["n"] == 4
    assert "auroc_within_groups" in v and "auroc_groups_alone" in v  # every BBQ first answer has an answer kind
    report = write_report(tmp_path / "run").read_text()
    assert "verify, then revise" in report and "AUROC" in report
    with pytest.raises(SalamError, match="--verify-threshold decides when to revise"):
        BenchConfig(benchmark="bbq", verify_threshold=0.3, self_correct=True).resolved()
    with pytest.raises(SalamError, match="--verify-threshold must be a probability"):
        BenchConfig(benchmark="bbq", verify_threshold=-1, self_correct=True, self_correct_mode="verify").resolved()
    with pytest.raises(SalamError, match="--verify-reading reads a revision's letter"):
        BenchConfig(benchmark="bbq", verify_reading="another", self_correct=True).resolved()
    assert BenchConfig(benchmark="bbq", self_correct_mode="verify").resolved().verify_reading == "any"


def test_the_viewer_shows_the_verifier(tmp_path, data_dir):
    from starlette.testclient import TestClient

    from salam.bench.runner import BenchConfig, run_benchmark
    from salam.testing import ScriptedChatModel
    from salam.view.app import ViewConfig, create_app

    def reply(prompt: str) -> str:
        return "B) No" if "Is the proposed answer correct?" in prompt else "(A)"

    config = BenchConfig(benchmark="bbq", tasks=["Age"], limit=2, train_limit=2, data_dir=str(data_dir), conditions=["none"],
                         answer_mode="generate", batch_size=2, embedder="hash-bow-64", gather=False,
                         self_correct=True, self_correct_mode="verify")
    run_benchmark(config, tmp_path / "runs" / "v", model=ScriptedChatModel(reply_fn=reply))
    page = TestClient(create_app(ViewConfig(logs=tmp_path / "runs")), base_url="http://127.0.0.1").get("/runs/v")
    assert page.status_code == 200 and 'id="verifier"' in page.text and "verify, then revise" in page.text


def test_a_model_that_cannot_score_verdicts_is_refused_before_any_run_folder(tmp_path, data_dir):
    from salam.bench.runner import BenchConfig, run_benchmark
    from salam.testing import ScriptedChatModel

    config = BenchConfig(benchmark="bbq", tasks=["Age"], limit=2, train_limit=2, data_dir=str(data_dir), conditions=["none"],
                         answer_mode="choice", gather=False, self_correct=True, self_correct_mode="verify")
    with pytest.raises(SalamError, match="choice"):
        run_benchmark(config, tmp_path / "run", model=ScriptedChatModel(replies=["A"]))
    assert not (tmp_path / "run").exists()


def test_the_report_gives_the_auroc_inside_kinds_pooled_and_per_kind():
    from salam.bench.report import verify_markdown

    v = {"threshold": 0.6, "auroc": 0.84, "precision_wrong": 0.6, "recall_wrong": 0.3, "revision_rate": 0.1, "fix_rate": 0.4,
         "fixes": 8, "breaks": 7, "auroc_within_groups": 0.852, "auroc_groups_alone": 0.633,
         "auroc_by_kind": {"named": 0.543, "unknown": 0.986}}
    line = verify_markdown(v)[-1]
    assert "0.852 (named 0.543, unknown 0.986); knowing only the kind would give 0.633." in line


def test_a_tau_per_answer_role_is_chosen_on_held_out_answers_and_used_per_answer():
    """BBQ: "unknown" first answers are checked far better than named ones, so each role gets its own τ."""
    from salam.selfcorrect.verify import VerifyRunner, answer_role, role_evidence, role_thresholds
    from salam.testing import ScriptedChatModel

    q = Question(id="b1", task="Age", text="who?", options=["old", "young", "unknown"], answer="A",
                 metadata={"unknown_letter": "C"})
    assert answer_role(q, "C") == "unknown" and answer_role(q, "B") == "named"
    assert answer_role(Question(id="x", task="t", text="?", options=["a", "b"], answer="A"), "A") is None
    # unknown answers: P(wrong) separates them, revising the high ones fixes; named: revising breaks as often as it fixes
    p = [0.9, 0.8, 0.2, 0.1, 0.9, 0.8, 0.7, 0.6]
    first_right = [False, False, True, True, True, False, True, False]
    revised_right = [True, True, False, False, False, True, False, True]
    roles = ["unknown"] * 4 + ["named"] * 4
    taus = role_thresholds(p, first_right, revised_right, roles)
    assert taus["unknown"] == 0.8 and taus["named"] == 1.0  # named: a tie between revising and not keeps the answer
    evidence = role_evidence(p, first_right, revised_right, roles, taus)
    assert evidence["unknown"] == {"n": 4, "wrong": 2, "auroc": 1.0, "fix_rate_of_wrong": 1.0, "break_rate_of_right": 1.0,
                                   "revised": 2, "fixed": 2, "broken": 0}
    assert evidence["named"]["revised"] == 0 and evidence["named"]["fix_rate_of_wrong"] == 1.0
    assert evidence["named"]["auroc"] == 0.25  # wrong at 0.8 and 0.6, right at 0.9 and 0.7: one of four pairs ranked
    from salam.train.verify import describe_evidence

    assert describe_evidence(evidence["unknown"]) == ("2 of 4 first answers wrong, AUROC 1.000; a revision fixes 100% of the "
                                                      "wrong ones and breaks 100% of the right ones; at its τ 2 revised, 2 fixed, 0 broken")
    runner = VerifyRunner(ScriptedChatModel(replies=["x"]), mode="generate", threshold=0.5, role_thresholds=taus)
    assert runner.threshold_for(q, "C") == 0.8 and runner.threshold_for(q, "A") == 1.0
    assert runner.threshold_for(Question(id="y", task="t", text="?", options=["a", "b"], answer="A"), "A") == 0.5
    with pytest.raises(SalamError, match="--verify-threshold must be a probability"):
        VerifyRunner(ScriptedChatModel(replies=["x"]), mode="generate", role_thresholds={"named": 1.5})
