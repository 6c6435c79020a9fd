"""The SALAM loops: ``gather`` (learn from mistakes on questions with answers) and ``examine`` (use them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from pydantic import BaseModel, Field

from salam._util.assets import load_prompt
from salam._util.jsonl import append_jsonl, read_jsonl
from salam.answering.answerer import Answerer, AnswerMode
from salam.assistant.assistant import StudyAssistant
from salam.assistant.leakage import find_leak, guard_retrieved, redact
from salam.conditions import Condition, build_guidance, condition_spec
from salam.defaults import BATCH_SIZE, DEFAULT_RANK, RETRIEVAL_K, RETRIEVAL_THRESHOLD, SAME_TASK
from salam.errors import SalamError, data_shape
from salam.memory.store import MistakeMemory
from salam.models.resolve import model_label
from salam.types import (
    Attempt,
    Exchange,
    Feedback,
    MistakeRecord,
    Question,
    RetrievedMemory,
)

__all__ = ["Advance", "ExamResult", "GatherReport", "examine", "gather", "load_questions_jsonl", "read_transcript"]

Advance = Callable[[int], None]
"""Progress callback of the loops: called with how many more questions are done."""


@dataclass
class GatherReport:
    """What a gather pass did: outcomes per question, what was stored, what the assistant got wrong."""

    questions: int = 0
    skipped: int = 0
    correct_first: int = 0
    fixed: int = 0
    unfixed: int = 0
    mistakes_stored: int = 0
    parse_failures: int = 0
    leaks: int = 0
    transcript: str = ""
    exchanges: list[Exchange] = field(default_factory=list)


def read_transcript(path: str | Path) -> list[Exchange]:
    """Exchanges from a gather transcript; a torn last line (a crash mid-write) is ignored."""
    out = []
    for row in read_jsonl(Path(path)):
        try:
            out.append(Exchange.model_validate(row))
        except ValueError:
            continue
    return out


def _record(question: Question, attempt: Attempt, feedback: Feedback, namespace: str, main: str, assistant: str) -> MistakeRecord:
    return MistakeRecord(
        namespace=namespace, kind="mistake", task=question.task, question=question.render(), options=question.options,
        wrong_answer=attempt.given_answer, true_answer=question.answer,
        reason=feedback.reason, guideline=feedback.guideline if feedback.usable or feedback.leaked else "",
        source="gather", main_model=main, assistant_model=assistant,
    )


def gather(
    questions: Sequence[Question],
    model: Any,
    assistant: StudyAssistant,
    memory: MistakeMemory,
    *,
    namespace: str = "default",
    rounds: int = 2,
    transcript: str | Path | None = None,
    answer_mode: AnswerMode = "generate",
    batch_size: int = BATCH_SIZE,
    store_solved: bool = True,
    progress: Advance | None = None,
    answerer: Answerer | None = None,
) -> GatherReport:
    """Answer, score, analyse each mistake, store it, and retry with the guideline for up to ``rounds`` retries.

    Every exchange is appended to ``transcript`` (JSONL) once its question is finished; a re-run skips
    questions already in the transcript, and memory ids are content hashes, so nothing is duplicated.
    """
    main_name, assistant_name = model_label(model), assistant.name
    answerer = answerer or Answerer(model, answer_mode, batch_size)
    path = Path(transcript) if transcript else None
    done = {ex.question.id for ex in read_transcript(path)} if path else set()
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
    report = GatherReport(transcript=str(path or ""))
    pending = [q for q in questions if q.id not in done]
    report.skipped = len(questions) - len(pending)
    before = (assistant.stats.parse_failures, assistant.stats.leaks)
    for start in range(0, len(pending), batch_size):
        chunk = pending[start : start + batch_size]
        exchanges = _gather_chunk(chunk, answerer, assistant, memory, namespace, rounds, main_name, assistant_name, store_solved, report)
        if path:
            append_jsonl(path, (ex.model_dump_json() for ex in exchanges))
        report.exchanges += exchanges
        if progress:
            progress(len(chunk))
    report.questions = len(questions)
    report.parse_failures = assistant.stats.parse_failures - before[0]
    report.leaks = assistant.stats.leaks - before[1]
    return report


def _gather_chunk(
    chunk: list[Question], answerer: Answerer, assistant: StudyAssistant, memory: MistakeMemory, namespace: str,
    rounds: int, main_name: str, assistant_name: str, store_solved: bool, report: GatherReport,
) -> list[Exchange]:
    attempts: dict[str, list[Attempt]] = {q.id: [] for q in chunk}
    feedback: dict[str, list[Feedback]] = {q.id: [] for q in chunk}
    memory_ids: dict[str, list[str]] = {q.id: [] for q in chunk}
    first = answerer.answer([(q, "") for q in chunk], round_=1)
    for q, a in zip(chunk, first):
        attempts[q.id].append(a)
    if store_solved:
        solved = [MistakeRecord(namespace=namespace, kind="solved", task=q.task, question=q.render(), options=q.options,
                                true_answer=q.answer, source="gather", main_model=main_name)
                  for q, a in zip(chunk, first) if a.correct]
        memory.add(solved)
    wrong = [q for q, a in zip(chunk, first) if not a.correct]
    for round_ in range(2, rounds + 2):
        if not wrong:
            break
        fbs = assistant.analyse_many([(q, attempts[q.id][-1].given_answer) for q in wrong])
        records = []
        for q, fb in zip(wrong, fbs):
            feedback[q.id].append(fb)
            record = _record(q, attempts[q.id][-1], fb, namespace, main_name, assistant_name)
            records.append(record)
            memory_ids[q.id].append(record.id)
        report.mistakes_stored += memory.add(records)
        retry_items = [(q, load_prompt("retry").format(guideline=fb.guideline) if fb.usable else "") for q, fb in zip(wrong, fbs)]
        retries = answerer.answer(retry_items, round_=round_, guidelines=[fb.guideline if fb.usable else None for fb in fbs])
        for q, a in zip(wrong, retries):
            attempts[q.id].append(a)
        wrong = [q for q, a in zip(wrong, retries) if not a.correct]
    exchanges = []
    for q in chunk:
        tries = attempts[q.id]
        outcome = "correct_first" if tries[0].correct else ("fixed" if tries[-1].correct else "unfixed")
        setattr(report, outcome, getattr(report, outcome) + 1)
        exchanges.append(Exchange(question=q, attempts=tries, feedback=feedback[q.id], outcome=outcome,
                                  main_model=main_name, assistant_model=assistant_name, memory_ids=memory_ids[q.id]))
    return exchanges


class MemoryUse(BaseModel):
    """A retrieved memory that went into a prompt, with its similarity to the question."""

    id: str
    similarity: float


class ExamResult(BaseModel):
    """One examined question: what the model saw, said, and which memories it used."""

    question_id: str
    task: str
    condition: str
    prompt: str
    output: str
    answer: str | None
    correct: bool
    memories: list[MemoryUse] = Field(default_factory=list)
    agent_guideline: str | None = None
    redacted: int = 0
    """Guidelines that named this question's answer (or their own) and were redacted before use."""
    tokens: int = 0
    latency_s: float = 0.0


def examine(
    questions: Sequence[Question],
    model: Any,
    memory: MistakeMemory | None,
    *,
    condition: Condition = "feedback",
    k: int = RETRIEVAL_K,
    threshold: float = RETRIEVAL_THRESHOLD,
    namespace: str = "default",
    assistant: StudyAssistant | None = None,
    answer_mode: AnswerMode = "generate",
    batch_size: int = BATCH_SIZE,
    same_task: bool = SAME_TASK,
    rank: str = DEFAULT_RANK,
    record_outcomes: bool = True,
    baseline: dict[str, bool] | None = None,
    outcome_key: str | None = None,
    progress: Advance | None = None,
    answerer: Answerer | None = None,
) -> list[ExamResult]:
    """Answer new questions with what ``condition`` retrieves from memory.

    Every retrieved guideline passes the leakage guard against its own question and the question it
    is used for (with that question's answer where known); redactions are counted per result. ``rank``
    orders the hits (see :meth:`salam.memory.MistakeMemory.similar_many`).
    With ``record_outcomes`` the used memories' counters are updated; ``baseline`` (question id →
    correct under ``none``) makes helped/hurt mean a flip (see :func:`salam.types.memory_outcome`);
    ``outcome_key`` (unique to a run) makes a re-examined question count once, so a resumed run
    never counts an outcome twice.
    """
    spec = condition_spec(condition)
    if spec.needs_assistant and assistant is None:
        raise SalamError(f"the {condition} condition needs a study assistant (--assistant)")
    answerer = answerer or Answerer(model, answer_mode, batch_size)
    kind = spec.kind
    questions = list(questions)
    retrieved: list[list[RetrievedMemory]] = []
    agent_lines: list[str] = []
    redactions: list[int] = []
    # Retrieve (and ask the assistant) for everything first, then answer in one length-sorted pass.
    for start in range(0, len(questions), batch_size):
        chunk = questions[start : start + batch_size]
        if kind is None or memory is None:
            found: list[list[RetrievedMemory]] = [[] for _ in chunk]
        else:
            tasks = [q.task for q in chunk] if same_task else None
            found = memory.similar_many([q.render() for q in chunk], k, threshold, namespace, task=tasks, kind=kind, rank=rank)
        guarded = [guard_retrieved(hits, q) for hits, q in zip(found, chunk)]
        found, counts = [hits for hits, _ in guarded], [n for _, n in guarded]
        lines = [""] * len(chunk)
        if spec.needs_assistant and assistant is not None:
            todo = [i for i, r in enumerate(found) if r]
            advice = assistant.advise_many([(chunk[i], found[i]) for i in todo])
            for i, fb in zip(todo, advice):
                line = fb.guideline if fb.usable else ""
                if line and chunk[i].answer.strip() and find_leak(line, chunk[i]):
                    line, counts[i] = redact(line, chunk[i]), counts[i] + 1
                lines[i] = line
        retrieved += found
        agent_lines += lines
        redactions += counts
    guidance = [build_guidance(condition, r, a) for r, a in zip(retrieved, agent_lines)]
    attempts = answerer.answer(list(zip(questions, guidance)), progress=progress)
    results: list[ExamResult] = []
    for q, a, r, line, g, n in zip(questions, attempts, retrieved, agent_lines, guidance, redactions):
        used = [MemoryUse(id=m.record.id, similarity=m.similarity) for m in r] if g else []
        results.append(ExamResult(
            question_id=q.id, task=q.task, condition=condition, prompt=a.prompt, output=a.output, answer=a.answer,
            correct=a.correct, memories=used, agent_guideline=line or None, redacted=n if g else 0, tokens=a.tokens,
            latency_s=a.latency_s,
        ))
        if record_outcomes and memory is not None and used:
            key = f"{outcome_key}:{condition}:{q.id}" if outcome_key else None
            memory.record_outcome([m.id for m in used], a.correct, (baseline or {}).get(q.id), key=key)
    return results


def load_questions_jsonl(path: str | Path) -> list[Question]:
    """Questions from a JSONL file of salam ``Question`` objects (``id``, ``text``, ``options``, ``answer``, ...)."""
    from salam._util.jsonl import read_jsonl_strict

    what = "a question (id, text, options, answer)"
    out = []
    for where, row in read_jsonl_strict(Path(path), what):
        with data_shape(where, what):
            out.append(Question.model_validate(row))
    return out
