"""Verify, then revise (salam's recipe after PAG, Jiang et al. 2025): answer; check the answer in a
verification turn; revise only when the model's own P(wrong) reaches a threshold τ.

Attempt 1 is the ordinary answer. The verification turn (``prompts/verify.txt``) shows the question and
the proposed answer and asks whether it is correct, as two lettered options (A yes, B no): in choice
mode P(wrong) is the softmax of those two letters' logits, one forward pass; in generate and cot modes
the model writes its verdict and a written "B"/"no" counts as P(wrong) = 1. A revision is the ordinary
answer prompt after one guidance line saying the first answer was judged wrong (``prompts/revise.txt``),
so it runs in every answer mode; in choice mode it is read twice: *any letter* (its best letter, which
may be the first one again) and *another letter* (the best of the others). Which reading is the final
answer is chosen with τ on held-out training-split questions (``salam train verify``): a revision trained
to keep right answers can learn to keep them all, and then only the another-letter reading revises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from pydantic import Field

from salam._util.assets import load_prompt
from salam.answering.answerer import Answerer, AnswerMode, answer_prompt
from salam.answering.cot import Exemplars, no_exemplars
from salam.answering.scoring import is_correct
from salam.defaults import BATCH_SIZE
from salam.errors import SalamError
from salam.selfcorrect.protocol import Guidelines, TwoAttempts, first_answer_text
from salam.types import Attempt, Question

VERDICTS = ("A", "B")
"""The verification turn's options: A the answer is correct, B it is wrong."""
DEFAULT_THRESHOLD = 0.5
"""τ for a model whose training did not choose one: revise when the verdict leans to "wrong"."""
READINGS = ("any", "another")
"""How a choice-mode revision is read: its best letter, or its best letter other than the first answer's."""
DEFAULT_READING = "any"
"""The reading of a model whose training did not choose one (the revision as written)."""


def verify_prompt(question: Question, first_answer: str | None, guidance: str = "") -> str:
    """The verification turn; it ends where the verdict letter goes (``Verdict: (``)."""
    return load_prompt("verify").format(guidance=guidance, question=question.render(),
                                        first_answer=first_answer_text(question, first_answer), answer_prefix=" (")


def revision_note(question: Question, first_answer: str | None) -> str:
    """The line a revision's answer follows: the first answer was judged wrong."""
    return load_prompt("revise").format(first_answer=first_answer_text(question, first_answer))


def revise_prompt(question: Question, first_answer: str | None, guidance: str = "", answerer: Answerer | None = None) -> str:
    """The revision: the answer prompt (of ``answerer``'s mode) with any memory guidance before the question and the
    note after it, so the answer, the verification and the revision of a question begin alike."""
    note = revision_note(question, first_answer)
    return answerer.prompt(question, guidance, note) if answerer is not None else answer_prompt(question, guidance, note)


def check_threshold(value: float | None) -> None:
    """τ is a probability in [0, 1] (0: always revise, 1: revise only when certain), or None for the model's own."""
    if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and 0.0 <= value <= 1.0):
        raise SalamError(f"--verify-threshold must be a probability from 0 to 1, not {value}")


def check_reading(value: str | None) -> None:
    """A revision reading is ``any`` or ``another`` (or None for the model's own)."""
    if value is not None and value not in READINGS:
        raise SalamError(f"--verify-reading must be {' or '.join(READINGS)}, not {value!r}")


class VerifiedAttempts(TwoAttempts):
    """One question under verify-then-revise: ``t2`` is the final answer (in the run's ``reading``)."""

    p_wrong: float
    """The verifier's P(wrong) for the first answer."""
    threshold: float
    revised: bool
    reading: str = DEFAULT_READING
    """Choice mode: which reading of a revision ``t2`` is (``any`` or ``another`` letter)."""
    revision: Attempt | None = None
    """The revision's own attempt (any letter), when one was made."""
    t2_other: Attempt | None = None
    """Choice mode: the final answer when a revision must pick another letter than the first one."""
    revision_other: Attempt | None = None
    """Choice mode: the revision's best letter other than the first answer's, whenever a revision was written
    (held-out τ selection reads it below the run's τ too)."""
    revision_scores: list[float] | None = None
    """Choice mode: the revision's log-probability of each option letter, when one was written."""
    extra: dict[str, Any] = Field(default_factory=dict)


@dataclass
class VerifyRunner:
    """Runs attempt 1 → verification → revision when P(wrong) ≥ ``threshold``, for any model spec."""

    model: Any
    mode: AnswerMode = "choice"
    batch_size: int = BATCH_SIZE
    guidelines: Guidelines | None = None
    threshold: float = DEFAULT_THRESHOLD
    reading: str = DEFAULT_READING
    """Choice mode: the final answer of a revision is its best letter (``any``) or its best other letter."""
    revise_all: bool = False
    """Write every question's revision (held-out τ selection needs their outcomes); the final answer still
    follows the threshold."""
    role_thresholds: dict[str, float] | None = None
    """τ for the first answers of each :func:`answer_role` (BBQ's ``unknown`` / ``named``), chosen on held-out
    questions; answers of another role use ``threshold``."""
    exemplars: Exemplars = no_exemplars
    """cot mode: each task's few-shot block (the bench passes BBH's)."""
    answerer: Answerer = field(init=False)

    def __post_init__(self) -> None:
        check_threshold(self.threshold)
        for value in (self.role_thresholds or {}).values():
            check_threshold(value)
        check_reading(self.reading)
        if self.mode == "choice" and not hasattr(self.model, "score_options"):
            raise SalamError("--self-correct verify in choice mode reads the verdict letters' log-probabilities: it needs "
                             "a model that scores (local, local+lora:..., hf:..., or openai:MODEL with --base-url and logprobs); "
                           "use --answer-mode generate")
        self.answerer = Answerer(self.model, self.mode, self.batch_size, self.exemplars)

    def run(self, questions: Sequence[Question], progress: Any = None) -> list[VerifiedAttempts]:
        questions = list(questions)
        first = self.answerer.answer_prompts(questions, [self.answerer.prompt(q) for q in questions], round_=1)
        blocks = self.guidelines.blocks(questions) if self.guidelines else [("", [], 0)] * len(questions)
        p_wrong = self.verdicts(questions, first, [b for b, _, _ in blocks])
        if progress:
            progress(len(questions) // 2)
        taus = [self.threshold_for(q, a.answer) for q, a in zip(questions, first)]
        todo = [i for i, (p, tau) in enumerate(zip(p_wrong, taus)) if self.revise_all or p >= tau]
        revisions = self._revise([questions[i] for i in todo], [first[i] for i in todo], [blocks[i][0] for i in todo])
        by_index = dict(zip(todo, revisions))
        out = []
        for i, (q, a1, p, tau, (_, ids, n)) in enumerate(zip(questions, first, p_wrong, taus, blocks)):
            revision, other, letter_scores = by_index.get(i, (None, None, None))
            revised = p >= tau
            final = other if self.reading == "another" and other is not None else revision
            out.append(VerifiedAttempts(
                question_id=q.id, task=q.task, t1=a1, t2=final if revised and final else a1,
                t2_other=(other if revised and other else a1) if self.mode == "choice" else None, p_wrong=round(p, 6),
                threshold=tau, revised=revised, reading=self.reading if self.mode == "choice" else DEFAULT_READING,
                revision=revision, revision_other=other, revision_scores=letter_scores, memories=ids, redacted=n))
        if progress:
            progress(len(questions) - len(questions) // 2)
        return out

    def threshold_for(self, question: Question, answer: str | None) -> float:
        """τ for this first answer: its role's, where one was chosen, else the run's."""
        role = answer_role(question, answer)
        return (self.role_thresholds or {}).get(role, self.threshold) if role else self.threshold

    def verdicts(self, questions: Sequence[Question], first: Sequence[Attempt], blocks: Sequence[str]) -> list[float]:
        """P(wrong) of each first answer: two letters' softmax (choice mode) or the written verdict."""
        prompts = [verify_prompt(q, a.answer, b) for q, a, b in zip(questions, first, blocks)]
        if self.mode == "choice":
            from langchain_core.messages import HumanMessage

            formatted = [self.model.format_prompt([HumanMessage(p)]) for p in prompts]
            scores = self.model.score_options(formatted, [list(VERDICTS)] * len(prompts))
            return [1 / (1 + math.exp(right - wrong)) for right, wrong in scores]
        replies = self.model.batch(prompts, stop=["\n"])
        return [1.0 if written_verdict(str(r.content)) == "B" else 0.0 for r in replies]

    def _revise(self, questions: list[Question], first: list[Attempt],
                blocks: list[str]) -> list[tuple[Attempt, Attempt | None, list[float] | None]]:
        """Each revision as (any letter, another letter, the letters' log-probabilities); the last two in choice mode."""
        if not questions:
            return []
        prompts = [revise_prompt(q, a.answer, b, self.answerer) for q, a, b in zip(questions, first, blocks)]
        if self.mode != "choice":
            return [(a, None, None) for a in self.answerer.answer_prompts(questions, prompts, round_=2)]
        from langchain_core.messages import HumanMessage

        formatted = [self.model.format_prompt([HumanMessage(p)]) for p in prompts]
        scores = self.model.score_options(formatted, [q.letters for q in questions])
        tokens = self.model.count_tokens(formatted)
        out = []
        for q, a, s, p, n in zip(questions, first, scores, prompts, tokens):
            best = q.letters[max(range(len(s)), key=s.__getitem__)]
            others = [i for i, letter in enumerate(q.letters) if letter != a.answer] or list(range(len(s)))
            other = q.letters[max(others, key=s.__getitem__)]
            out.append((Attempt(round=2, prompt=p, output=best, answer=best, correct=is_correct(q, best), tokens=n),
                        Attempt(round=2, prompt=p, output=other, answer=other, correct=is_correct(q, other), tokens=n),
                        [round(float(x), 6) for x in s]))
        return out


def written_verdict(text: str) -> str | None:
    """A written verdict's letter: A (correct) or B (wrong), from ``(A)``/``B``/yes/no at its start; else None."""
    words = text.strip().lstrip("(").lower()
    if words.startswith(("b", "no", "wrong", "incorrect")):
        return "B"
    if words.startswith(("a", "yes", "correct", "right")):
        return "A"
    return None


def answer_role(question: Question, answer: str | None) -> str | None:
    """On BBQ, whether a first answer is the "unknown" option (nearly always right on ambiguous questions) or
    names someone; None elsewhere. The same across categories, so a τ per role carries to one never trained on."""
    unknown = question.metadata.get("unknown_letter") if question.metadata else None
    if unknown is None:
        return None
    return "unknown" if answer == unknown else "named"


def answer_group(question: Question, answer: str | None) -> str:
    """The kind of a first answer a verifier could learn to trust without checking it: its task, and on BBQ
    its :func:`answer_role`."""
    role = answer_role(question, answer)
    return question.task if role is None else f"{question.task}/{role}"


def auroc_by_kind(scores: Sequence[float], wrong: Sequence[bool], groups: Sequence[str]) -> dict[str, float | None]:
    """The AUROC inside the groups of each answer kind apart ("named", "unknown" on BBQ), since the pooled
    figure weighs each kind by its right x wrong pairs and one kind can carry it; empty without kinds."""
    from salam.stats import auroc_within_groups

    if not groups or not all("/" in g for g in groups):
        return {}
    kinds: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        kinds.setdefault(g.rsplit("/", 1)[1], []).append(i)
    return {k: auroc_within_groups([scores[i] for i in ix], [wrong[i] for i in ix], [groups[i] for i in ix])
            for k, ix in sorted(kinds.items())}


def verifier_metrics(rows: Sequence[dict[str, Any]], groups: Sequence[str] | None = None) -> dict[str, Any]:
    """How the verifier and the revisions did, from sample rows: AUROC of P(wrong) for a wrong first answer,
    precision and recall of "wrong" (a revision) at the run's τ, the revision rate, and the share of revisions
    that ended right (fix rate, in the run's reading); with both readings' Acc@t2 in choice mode. With each
    row's :func:`answer_group`, also the AUROC inside the groups (pooled, and per kind) and the one the groups
    alone would give: a verifier that only knows which kind of answer is usually wrong has the last, not the first."""
    from salam.stats import auroc, auroc_within_groups, group_prior_auroc

    if not rows:
        return {}
    wrong = [not r["t1"]["correct"] for r in rows]
    revised = [bool(r["revised"]) for r in rows]
    flagged_wrong = sum(w and v for w, v in zip(wrong, revised))
    revisions = [r for r in rows if r["revised"] and r.get("revision")]
    taus = {r.get("threshold") for r in rows}
    out: dict[str, Any] = {
        "n": len(rows), "threshold": rows[0].get("threshold") if len(taus) == 1 else None,
        "reading": rows[0].get("reading", DEFAULT_READING),
        "auroc": auroc([float(r["p_wrong"]) for r in rows], wrong),
        "precision_wrong": flagged_wrong / sum(revised) if any(revised) else None,
        "recall_wrong": flagged_wrong / sum(wrong) if any(wrong) else None,
        "revision_rate": sum(revised) / len(rows),
        "fix_rate": sum(bool(r["t2"]["correct"]) for r in revisions) / len(revisions) if revisions else None,
        "fixes": sum(1 for r in revisions if not r["t1"]["correct"] and r["t2"]["correct"]),
        "breaks": sum(1 for r in revisions if r["t1"]["correct"] and not r["t2"]["correct"]),
    }
    if groups is not None:
        out["auroc_within_groups"] = auroc_within_groups([float(r["p_wrong"]) for r in rows], wrong, groups)
        out["auroc_groups_alone"] = group_prior_auroc(wrong, groups)
        out["auroc_by_kind"] = auroc_by_kind([float(r["p_wrong"]) for r in rows], wrong, groups)
        if len(taus) > 1:  # τ chosen per answer role
            out["threshold_by_role"] = dict(sorted({g.rsplit("/", 1)[-1]: r.get("threshold") for r, g in zip(rows, groups)}.items()))
    if all(r.get("t2_other") for r in rows):
        any_letter = [r["revision"] if r["revised"] and r.get("revision") else r["t1"] for r in rows]
        out["acc_t2_any_letter"] = sum(bool(a["correct"]) for a in any_letter) / len(rows)
        out["acc_t2_another_letter"] = sum(bool(r["t2_other"]["correct"]) for r in rows) / len(rows)
    return out


def expected_revision(p_wrong: Sequence[float], first_right: Sequence[bool], any_right: Sequence[bool],
                      another_right: Sequence[bool] | None = None) -> dict[str, Any]:
    """τ and the revision reading that maximise held-out Acc@t2 (:func:`expected_threshold` for each reading);
    a tie keeps ``any``, the revision as written."""
    chosen = {**expected_threshold(p_wrong, first_right, any_right), "reading": "any"}
    if another_right is not None:
        other = expected_threshold(p_wrong, first_right, another_right)
        chosen["heldout_acc_t2_any"] = chosen["heldout_acc_t2"]
        chosen["heldout_acc_t2_another"] = other["heldout_acc_t2"]
        if other["heldout_acc_t2"] > chosen["heldout_acc_t2"] + 1e-12:
            chosen = {**chosen, **other, "reading": "another"}
    return chosen


def role_indices(roles: Sequence[str | None]) -> dict[str, list[int]]:
    """The positions of each answer role's rows, roles in sorted order (rows without a role left out)."""
    out: dict[str, list[int]] = {}
    for i, role in enumerate(roles):
        if role:
            out.setdefault(role, []).append(i)
    return dict(sorted(out.items()))


def role_thresholds(p_wrong: Sequence[float], first_right: Sequence[bool], revision_right: Sequence[bool],
                    roles: Sequence[str | None]) -> dict[str, float]:
    """τ per answer role (:func:`answer_role`), each by :func:`expected_threshold` on the held-out answers of that
    role, for the reading already chosen: on BBQ the verifier ranks "unknown" answers far better than named ones
    (``benchmarks/results/verify_signal.md``), so one τ for both revises too many of one or too few of the other."""
    chosen = {}
    for role, ix in role_indices(roles).items():
        chosen[role] = expected_threshold([p_wrong[i] for i in ix], [first_right[i] for i in ix],
                                          [revision_right[i] for i in ix])["threshold"]
    return chosen


def role_evidence(p_wrong: Sequence[float], first_right: Sequence[bool], revision_right: Sequence[bool],
                  roles: Sequence[str | None], taus: dict[str, float]) -> dict[str, dict[str, Any]]:
    """What each answer role's held-out answers say, so that a τ that never revises can be traced to its cause:
    how many first answers were wrong, how the verifier ranks them (AUROC), how often the revision fixes a wrong
    answer and breaks a right one, and what revising at the role's τ fixed and broke."""
    from salam.stats import auroc

    out: dict[str, dict[str, Any]] = {}
    for role, ix in role_indices(roles).items():
        wrong = [i for i in ix if not first_right[i]]
        right = [i for i in ix if first_right[i]]
        revised = [i for i in ix if p_wrong[i] >= taus[role]]
        out[role] = {
            "n": len(ix), "wrong": len(wrong), "auroc": auroc([p_wrong[i] for i in ix], [not first_right[i] for i in ix]),
            "fix_rate_of_wrong": sum(bool(revision_right[i]) for i in wrong) / len(wrong) if wrong else None,
            "break_rate_of_right": sum(not revision_right[i] for i in right) / len(right) if right else None,
            "revised": len(revised), "fixed": sum(1 for i in revised if not first_right[i] and revision_right[i]),
            "broken": sum(1 for i in revised if first_right[i] and not revision_right[i]),
        }
    return out


def expected_threshold(p_wrong: Sequence[float], first_right: Sequence[bool], revision_right: Sequence[bool]) -> dict[str, float]:
    """τ that maximises Acc@t2 on held-out answers whose revisions were all written: revising at P(wrong) ≥ τ
    gains the revisions that fix and loses those that break (revise when P(wrong)·fix rate > 1 − P(wrong)).
    Ties: the highest τ (fewest revisions). Candidates are the observed P(wrong) values and 1.0 (never)."""
    if not p_wrong:
        raise SalamError("no held-out answers to choose --verify-threshold on")
    candidates = sorted({*map(float, p_wrong), 1.0 + 1e-9}, reverse=True)
    best: tuple[float, float] | None = None
    for tau in candidates:
        acc = sum(rev if p >= tau else first for p, first, rev in zip(p_wrong, first_right, revision_right)) / len(p_wrong)
        if best is None or acc > best[1] + 1e-12:
            best = (tau, acc)
    tau, acc = best  # type: ignore[misc]
    return {"threshold": min(1.0, tau), "heldout_acc_t2": acc, "heldout_acc_t1": sum(first_right) / len(first_right),
            "heldout_n": len(p_wrong)}
