"""BIG-Bench Hard (Suzgun et al., 2022) in its official format, one JSON file per task."""

from __future__ import annotations

import json
import re
from functools import lru_cache, partial
from pathlib import Path
from typing import Callable

from salam.answering.options import split_options
from salam.data.files import locate, read_data_text
from salam.errors import DataError, data_shape
from salam.types import Question

BBH_TASKS = (
    "boolean_expressions", "causal_judgement", "date_understanding", "disambiguation_qa", "dyck_languages",
    "formal_fallacies", "geometric_shapes", "hyperbaton", "logical_deduction_five_objects",
    "logical_deduction_seven_objects", "logical_deduction_three_objects", "movie_recommendation",
    "multistep_arithmetic_two", "navigate", "object_counting", "penguins_in_a_table",
    "reasoning_about_colored_objects", "ruin_names", "salient_translation_error_detection", "snarks",
    "sports_understanding", "temporal_sequences", "tracking_shuffled_objects_five_objects",
    "tracking_shuffled_objects_seven_objects", "tracking_shuffled_objects_three_objects", "web_of_lies",
    "word_sorting",
)

# The 16 multiple-choice tasks of the SALAM paper (the tasks of its released BBH mistake files).
PAPER_MC_TASKS = (
    "date_understanding", "disambiguation_qa", "geometric_shapes", "hyperbaton", "logical_deduction_five_objects",
    "logical_deduction_seven_objects", "logical_deduction_three_objects", "movie_recommendation",
    "penguins_in_a_table", "reasoning_about_colored_objects", "ruin_names", "snarks", "temporal_sequences",
    "tracking_shuffled_objects_five_objects", "tracking_shuffled_objects_seven_objects",
    "tracking_shuffled_objects_three_objects",
)
# The free-answer tasks (no options): scored by exact match of the final answer in cot mode.
FREE_TASKS = ("boolean_expressions", "dyck_languages", "multistep_arithmetic_two", "object_counting", "word_sorting")
SUBSETS = {"all": BBH_TASKS, "paper": PAPER_MC_TASKS, "free": FREE_TASKS}


def bbh_question(task: str, index: int, example: dict) -> Question | None:
    """One BBH example; None for the rare multiple-choice item whose target names no option (an upstream error)."""
    text, options = split_options(example["input"])
    target = str(example["target"]).strip()
    answer = target.strip("()") if options and target.startswith("(") else target
    if options:
        letters = [chr(ord("A") + i) for i in range(len(options))]
        if answer not in letters:
            matches = [letter for letter, option in zip(letters, options) if option.strip().lower() == answer.lower()]
            if len(matches) != 1:
                return None
            answer = matches[0]
    return Question(id=f"bbh-{task}-{index}", task=task, text=text, options=options, answer=answer)


def load_bbh(tasks: list[str] | None = None, data_dir: str | Path | None = None) -> dict[str, list[Question]]:
    """Questions per task, in file order."""
    out: dict[str, list[Question]] = {}
    for task in tasks or list(BBH_TASKS):
        if task not in BBH_TASKS:
            raise DataError(f"unknown BBH task {task!r}; choose from {', '.join(BBH_TASKS)} or a subset: {', '.join(SUBSETS)}")
        path = locate("bbh", task, data_dir)
        with data_shape(path, 'a BBH task file ({"examples": [{"input", "target"}, ...]})'):
            examples = json.loads(read_data_text(path))["examples"]
            questions = [bbh_question(task, i, ex) for i, ex in enumerate(examples)]
        out[task] = [q for q in questions if q is not None]
    return out


def cot_prompt(task: str, data_dir: str | Path | None = None) -> str:
    """The task's official 3-shot chain-of-thought prompt (``Q: ... A: Let's think step by step. ...``), without its canary header."""
    text = read_data_text(locate("bbh-cot-prompts", task, data_dir))
    return (text.split("-----\n", 1)[1] if "-----\n" in text else text).strip()


def cot_exemplars(task: str, data_dir: str | Path | None = None) -> list[tuple[str, str]]:
    """(question, rationale) of each exemplar in the task's chain-of-thought prompt."""
    blocks = re.split(r"\n\s*\nQ: |^Q: ", cot_prompt(task, data_dir), flags=re.MULTILINE)
    pairs = []
    for block in blocks:
        if "\nA: " in block:
            question, rationale = block.split("\nA: ", 1)
            pairs.append((question.strip(), rationale.strip()))
    return pairs


def available_bbh_tasks(candidates: tuple[str, ...], data_dir: str | Path | None = None) -> list[str]:
    from salam.data.files import data_dir as resolve_dir

    folder = resolve_dir(data_dir)
    if folder is None:
        return list(candidates)
    return [t for t in candidates if (folder / "bbh" / f"{t}.json").is_file()]


@lru_cache(maxsize=64)
def cot_exemplar_block(task: str, shots: int, data_dir: str | None = None) -> str:
    """The first ``shots`` exemplars of the task's chain-of-thought prompt as ``Q: ...\nA: ...`` blocks ("" if none)."""
    if shots <= 0 or task not in BBH_TASKS:
        return ""
    pairs = cot_exemplars(task, Path(data_dir) if data_dir else None)
    return "\n\n".join(f"Q: {question}\nA: {rationale}" for question, rationale in pairs[:shots])


def cot_exemplars_for(shots: int, data_dir: str | None = None) -> Callable[[str], str]:
    """The :data:`salam.answering.cot.Exemplars` of a run: ``shots`` exemplars of each BBH task, none elsewhere."""
    return partial(cot_exemplar_block, shots=shots, data_dir=data_dir)
