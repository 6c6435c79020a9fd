"""Imitation-learning data for the study assistant: prompt/completion pairs in the exact analysis format.

Sources: this project's gather transcripts (only successful exchanges: the retry after the guideline
was right) and imported teacher feedback (the SALAM paper's GPT-4 files). Each filter's count is kept.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from salam.answering.options import split_options
from salam.answering.scoring import normalise_letter
from salam.assistant.assistant import ANALYSE_PREFIX, analyse_prompt
from salam.assistant.leakage import find_leak
from salam.assistant.parsing import parse_feedback
from salam.data.files import read_data_text
from salam.errors import data_shape
from salam.loops import read_transcript
from salam.types import Question

_TEACHER_ANSWERS = re.compile(r"We get the answer (.+?) from the model while the true answer is (.+?)\.\s", re.DOTALL)


@dataclass
class Example:
    prompt: str
    completion: str
    source: str
    task: str
    question: dict = field(default_factory=dict)  # the Question, for held-out evaluation
    wrong: str = ""


@dataclass
class DatasetReport:
    counts: dict[str, int] = field(default_factory=dict)

    def step(self, name: str, value: int) -> None:
        self.counts[name] = value


def completion_for(reason: str, guideline: str) -> str:
    """What the assistant should write after the prompt's ``{"guideline": "``: the rest of the JSON."""
    rest = json.dumps({"guideline": guideline, "reason": reason}, ensure_ascii=False)
    assert rest.startswith(ANALYSE_PREFIX)
    return rest[len(ANALYSE_PREFIX):]


def from_transcripts(paths: Sequence[Path], report: DatasetReport) -> list[tuple[Question, str, str, str, str]]:
    """(question, wrong answer, reason, guideline, source) from the feedback right before each successful retry."""
    exchanges = [ex for p in paths for ex in read_transcript(p)]
    report.step("transcript exchanges", len(exchanges))
    good = [ex for ex in exchanges if ex.successful]
    report.step("successful exchanges", len(good))
    out = []
    for ex in good:
        # attempts[-2] was wrong, feedback[-1] was written for it, attempts[-1] was right
        fb, wrong = ex.feedback[-1], ex.attempts[-2]
        out.append((ex.question, wrong.given_answer, fb.reason, fb.guideline, "transcript"))
    return out



def from_teacher(paths: Sequence[Path], report: DatasetReport) -> list[tuple[Question, str, str, str, str]]:
    """The SALAM release's ``*_feedback_gpt4.json``: input holds question and both answers, output the JSON feedback."""
    out = []
    total = 0
    for path in paths:
        text = read_data_text(path)
        with data_shape(path, 'a SALAM feedback file ({"instances": [{"input", "output"}, ...]})'):
            instances = json.loads(text)["instances"]
            total += len(instances)
            out += [item for i, inst in enumerate(instances) if (item := _teacher_item(path, i, inst))]
    report.step("teacher instances", total)
    report.step("teacher parsed", len(out))
    return out


def _teacher_item(path: Path, index: int, inst: dict) -> tuple[Question, str, str, str, str] | None:
    question_text = inst["input"].split("\nWe get the answer")[0]
    match = _TEACHER_ANSWERS.search(inst["input"])
    parsed = parse_feedback(str(inst["output"]))
    if not match or not parsed:
        return None
    text, options = split_options(question_text)
    q = Question(id=f"{path.stem}-{index}", task=path.stem.split("_")[0], text=text, options=options,
                 answer=normalise_letter(match.group(2)) if options else match.group(2).strip())
    return q, normalise_letter(match.group(1)) if options else match.group(1).strip(), parsed[0], parsed[1], "teacher"


def build_examples(
    transcripts: Sequence[Path] = (), teacher: Sequence[Path] = (), limit: int | None = None, seed: int = 0,
    validation_fraction: float = 0.1,
) -> tuple[list[Example], list[Example], DatasetReport]:
    """Train and validation examples, deduplicated, without leaking guidelines."""
    report = DatasetReport()
    raw = from_transcripts(transcripts, report) + from_teacher(teacher, report)
    report.step("candidates", len(raw))
    seen: set[str] = set()
    unique = []
    for item in raw:
        key = hashlib.sha256((item[0].render() + "\x1f" + str(item[1]) + "\x1f" + item[3]).encode()).hexdigest()
        if key not in seen:
            seen.add(key)
            unique.append(item)
    report.step("after dedupe", len(unique))
    clean = [it for it in unique if it[3].strip() and not find_leak(it[3], it[0]) and not find_leak(it[2], it[0])]
    report.step("after leakage filter", len(clean))
    rng = random.Random(seed)
    rng.shuffle(clean)
    if limit is not None:
        clean = clean[:limit]
        report.step("after --limit", len(clean))
    examples = [Example(analyse_prompt(q, wrong), completion_for(reason, guideline), source, q.task,
                        q.model_dump(mode="json"), wrong)
                for q, wrong, reason, guideline, source in clean]
    n_val = max(1, int(round(len(examples) * validation_fraction))) if len(examples) >= 10 else 0
    report.step("train", len(examples) - n_val)
    report.step("validation", n_val)
    return examples[n_val:], examples[:n_val], report
