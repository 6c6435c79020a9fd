"""Pydantic models for everything salam saves or sends as JSON."""

from __future__ import annotations

import hashlib
import string
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

LETTERS = string.ascii_uppercase
MEMORY_SCHEMA_VERSION = 1


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def content_hash(*parts: object, length: int = 16) -> str:
    """A stable id from content, so adding the same thing twice is a no-op."""
    h = hashlib.sha256()
    for part in parts:
        h.update(str(part).encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()[:length]


class Question(BaseModel):
    """One question: free text plus optional lettered options; ``answer`` is a letter or free text."""

    id: str
    task: str = "default"
    text: str
    options: list[str] = Field(default_factory=list)
    answer: str
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def letters(self) -> list[str]:
        return list(LETTERS[: len(self.options)])

    @property
    def is_multiple_choice(self) -> bool:
        return bool(self.options)

    def render(self) -> str:
        """The question as the model sees it: text, then ``Options:`` and ``(A) ...`` lines."""
        if not self.options:
            return self.text
        lines = [self.text, "Options:"]
        lines += [f"({letter}) {option}" for letter, option in zip(self.letters, self.options)]
        return "\n".join(lines)

    def option_text(self, letter: str | None) -> str:
        if letter and self.options and letter in self.letters:
            return self.options[self.letters.index(letter)]
        return letter or ""


class Feedback(BaseModel):
    """The study assistant's reply: why the mistake happened and a guideline that hides the answer."""

    reason: str = ""
    guideline: str = ""
    raw: str = ""
    parse_ok: bool = True
    leaked: bool = False
    attempts: int = 1

    @property
    def usable(self) -> bool:
        return self.parse_ok and not self.leaked and bool(self.guideline.strip())


class Attempt(BaseModel):
    """One answer of the main model to one question."""

    round: int
    prompt: str
    output: str
    answer: str | None
    correct: bool
    guideline: str | None = None
    tokens: int = 0
    latency_s: float = 0.0

    @property
    def given_answer(self) -> str:
        """What the model answered: the extracted answer, else the start of its raw output."""
        return self.answer or self.output.strip()[:80]


RecordKind = Literal["mistake", "solved"]
RecordSource = Literal["gather", "import", "correction"]


class MistakeRecord(BaseModel):
    """A past mistake (or a solved case) with the feedback written for it and how it fared since."""

    id: str = ""
    namespace: str = "default"
    kind: RecordKind = "mistake"
    task: str = "default"
    question: str
    options: list[str] = Field(default_factory=list)
    wrong_answer: str | None = None
    true_answer: str
    reason: str = ""
    guideline: str = ""
    source: RecordSource = "gather"
    main_model: str = ""
    assistant_model: str = ""
    created_at: datetime = Field(default_factory=now_utc)
    retrieved: int = 0
    helped: int = 0
    hurt: int = 0
    merged_ids: list[str] = Field(default_factory=list)
    """Ids of the near-duplicate records curation merged into this one (their counters are summed here)."""
    last_retrieved: datetime | None = None
    """When the record was last used for an answer (what capacity eviction keeps the recent ones by)."""
    flagged: str = ""
    """Why curation flagged the record instead of merging it, e.g. ``differs from <id>``: a near-duplicate question
    whose stored correct answer is another one (a contradiction, or a twin that is not one)."""
    schema_version: int = MEMORY_SCHEMA_VERSION

    def model_post_init(self, __context: Any) -> None:
        if not self.id:
            self.id = content_hash(
                self.namespace, self.kind, self.task, self.question, self.wrong_answer, self.true_answer
            )


Outcome = Literal["helped", "hurt"]


def memory_outcome(correct: bool, baseline_correct: bool | None) -> Outcome | None:
    """What retrieved memories did to an answer: the one definition of helped and hurt.

    With a baseline (the same question answered under ``none``), only a flip counts: wrong→right
    *helped*, right→wrong *hurt*, no change is neither. Without one (a live chat, an exam with no
    ``none`` answer) the answer's correctness is all there is: right *helped*, wrong *hurt*.
    """
    if baseline_correct is None:
        return "helped" if correct else "hurt"
    if correct == baseline_correct:
        return None
    return "helped" if correct else "hurt"


class RetrievedMemory(BaseModel):
    """A record returned by retrieval, with its cosine similarity to the query."""

    record: MistakeRecord
    similarity: float


ExchangeOutcome = Literal["correct_first", "fixed", "unfixed"]


class Exchange(BaseModel):
    """One gather-mode transcript line: the question, every attempt and the feedback between them."""

    question: Question
    attempts: list[Attempt]
    feedback: list[Feedback] = Field(default_factory=list)
    outcome: ExchangeOutcome
    main_model: str = ""
    assistant_model: str = ""
    memory_ids: list[str] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=now_utc)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def successful(self) -> bool:
        """A retry after feedback was correct: the imitation-learning signal."""
        return self.outcome == "fixed"
