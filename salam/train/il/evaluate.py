"""Compare study assistants on held-out mistakes, and by what their guidelines do for the main model.

Per assistant: parse-valid rate, leakage rate (before redaction), mean guideline length on held-out
mistakes; then its guidelines for those mistakes become a memory, and the main model answers BBQ test
questions with the ``feedback`` and ``agent`` conditions (``none`` once, as the baseline).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

from salam.types import MistakeRecord, Question


def load_heldout(path: Path, limit: int | None = None) -> list[tuple[Question, str]]:
    """(question, wrong answer) pairs from a ``validation.jsonl`` written by ``salam train il``."""
    from salam._util.jsonl import read_jsonl_strict
    from salam.data.files import read_data_text
    from salam.errors import data_shape

    pairs = []
    what = "a held-out example (question, wrong)"
    for where, row in read_jsonl_strict(path, what, read_data_text(path)):
        with data_shape(where, what):
            pairs.append((Question.model_validate(row["question"]), str(row["wrong"])))
    return pairs[:limit] if limit else pairs


def main_model_mistakes(
    questions: Sequence[Question], model: Any, answer_mode: str = "choice", batch_size: int = 8,
) -> list[tuple[Question, str]]:
    """(question, wrong answer) for each question the main model gets wrong unaided.

    Held-out mistakes from the test split's own distribution: unlike teacher files, they are
    similar enough to the test questions for retrieval to find them, so downstream accuracy
    can actually move.
    """
    from salam.answering.answerer import Answerer

    attempts = Answerer(model, answer_mode, batch_size).answer([(q, "") for q in questions])  # type: ignore[arg-type]
    return [(q, a.given_answer) for q, a in zip(questions, attempts) if not a.correct]


def evaluate_assistants(
    specs: Sequence[Any], heldout: list[tuple[Question, str]], test: list[Question], main_model: Any,
    k: int = 3, threshold: float = 0.9, answer_mode: str = "choice", batch_size: int = 8,
    log: Callable[[str], None] = lambda message: None, embedder: str | None = None,
) -> dict[str, Any]:
    """Per assistant (a model spec or a chat model): feedback quality on ``heldout``, then the
    main model's accuracy on ``test`` with that feedback as its memory (``feedback``, ``agent``)."""
    from salam.assistant.assistant import StudyAssistant
    from salam.loops import examine
    from salam.memory import MistakeMemory
    from salam.models import resolve_chat_model
    from salam.models.resolve import model_label
    from salam.stats import mcnemar

    results: dict[str, Any] = {"n_heldout": len(heldout), "n_test": len(test), "k": k, "threshold": threshold,
                               "answer_mode": answer_mode, "assistants": {}}
    with tempfile.TemporaryDirectory(prefix="salam-eval-") as folder, MistakeMemory.open(Path(folder) / "m", embedder=embedder) as memory:
        none = examine(test, main_model, None, condition="none", answer_mode=answer_mode, batch_size=batch_size)  # type: ignore[arg-type]
        none_correct = [r.correct for r in none]
        log(f"none: {sum(none_correct)}/{len(none)} correct")
        results["none_accuracy"] = sum(none_correct) / len(none) if none else None
        for index, spec in enumerate(specs):
            model = resolve_chat_model(spec, max_new_tokens=64, batch_size=batch_size)
            spec = spec if isinstance(spec, str) else model_label(model)
            assistant = StudyAssistant(model, name=spec)
            log(f"{spec}: analysing {len(heldout)} held-out mistakes")
            feedback = assistant.analyse_many(heldout)
            usable = [(q, w, fb) for (q, w), fb in zip(heldout, feedback) if fb.usable]
            namespace = f"assistant-{index}"
            memory.add([MistakeRecord(namespace=namespace, task=q.task, question=q.render(), options=q.options, wrong_answer=w,
                                      true_answer=q.answer, reason=fb.reason, guideline=fb.guideline, source="import",
                                      assistant_model=spec) for q, w, fb in usable])
            entry: dict[str, Any] = {
                "parse_valid_rate": sum(fb.parse_ok for fb in feedback) / len(feedback),
                "leak_rate": sum(fb.leaked for fb in feedback) / len(feedback),
                "usable_rate": len(usable) / len(feedback),
                "mean_guideline_words": (sum(len(fb.guideline.split()) for _, _, fb in usable) / len(usable)) if usable else 0.0,
                "examples": [fb.guideline for _, _, fb in usable[:3]],
            }
            for condition in ("feedback", "agent"):
                rows = examine(test, main_model, memory, condition=condition, k=k, threshold=threshold, namespace=namespace,  # type: ignore[arg-type]
                               assistant=assistant, answer_mode=answer_mode, batch_size=batch_size, record_outcomes=False)  # type: ignore[arg-type]
                entry[f"{condition}_accuracy"] = sum(r.correct for r in rows) / len(rows) if rows else None
                entry[f"{condition}_with_memory"] = sum(bool(r.memories) for r in rows)
                entry[f"{condition}_vs_none"] = mcnemar(none_correct, [r.correct for r in rows])
                log(f"{spec}: {condition} {sum(r.correct for r in rows)}/{len(rows)} correct, "
                    f"{entry[f'{condition}_with_memory']} with memory")
            results["assistants"][spec] = entry
    return results


def assistants_markdown(results: dict[str, Any], command: str) -> str:
    from salam._util.text import markdown_text as md

    lines = [
        "# Study assistants compared", "", f"Command: `{command}`", "",
        f"Held-out mistakes: {results['n_heldout']} · BBQ test questions: {results['n_test']} · k={results['k']}, "
        f"threshold={results['threshold']} · answer mode: {results['answer_mode']} · `none` accuracy: "
        f"{100 * results['none_accuracy']:.1f}%", "",
        "| assistant | parse-valid % | leak % | usable % | guideline words | `feedback` acc % (with memory; b/c, p) "
        "| `agent` acc % (with memory; b/c, p) |",
        "|---|---|---|---|---|---|---|",
    ]

    def downstream(e: dict[str, Any], condition: str) -> str:
        versus = e.get(f"{condition}_vs_none") or {}
        paired = f"; {versus['b']:.0f}/{versus['c']:.0f}, p={versus['p_value']:.2f}" if versus else ""
        return f"{100 * e[f'{condition}_accuracy']:.1f} ({e[f'{condition}_with_memory']}{paired})"

    for spec, e in results["assistants"].items():
        lines.append(f"| {md(spec)} | {100 * e['parse_valid_rate']:.1f} | {100 * e['leak_rate']:.1f} | {100 * e['usable_rate']:.1f} | "
                     f"{e['mean_guideline_words']:.1f} | {downstream(e, 'feedback')} | {downstream(e, 'agent')} |")
    lines += ["", "b/c: test questions `none` got right and the condition got wrong / the reverse; p: exact McNemar."]
    lines += ["", "Sample guidelines:", ""]
    for spec, e in results["assistants"].items():
        for g in e["examples"]:
            lines.append(f"- {md(spec)}: {md(g)}")
    return "\n".join(lines) + "\n"
