"""TriPosT (Yu et al., 2023): the main model learns to write feedback on its own attempts and to use it.

1. Supervised start: fine-tune on gold rationales of generated questions (``OUT/sft``).
2. Each iteration (``OUT/iter-N``): the current model attempts fresh generated questions (T 1.0); the
   script feedback module edits its attempts interactively (:mod:`salam.train.tripost.data`); kept
   trajectories become improvement / non-improvement examples, rebalanced, and the model is
   fine-tuned on them with the feedback and update tokens weighted ``feedback_weight``
   (:mod:`salam.train.completions`). Each iteration continues the previous iteration's adapter.

Training questions come from the scripts' generators at their *seen* difficulties, so BBH's own
questions stay test data; the *unseen* (harder) difficulties are for evaluation only. Prompts are the
zero-shot chain-of-thought prompt (``salam bench bbh --answer-mode cot --shots 0`` asks the same way).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salam.answering.cot import ANSWER_END, COT_MAX_NEW_TOKENS, cot_prompt
from salam.errors import SalamError
from salam.train.base import (
    OnLog,
    TrainConfig,
    check_base,
    prepare_model,
    prepare_training,
    settings_of,
    texts_hash,
    train_split_questions,
    write_manifest,
)
from salam.train.completions import CompletionCollator, CompletionExample, completion_trainer_class
from salam.train.folder import MANIFEST, TrainDir, run_iterations, save_trained
from salam.train.trainer import fit
from salam.train.tripost.checkers.base import join_steps
from salam.train.tripost.checkers.scripts import SCRIPTS, script_for
from salam.train.tripost.data import (
    Round,
    Trajectory,
    attempt_steps,
    examples_of,
    full_steps,
    gold_example,
    gold_steps,
    rebalance,
)
from salam.train.tripost.runner import MAX_ROUNDS, STOP_STEPS, UPDATE, continue_turn, feedback_turn, update_turn
from salam.types import Question


@dataclass
class TriPostConfig(TrainConfig):
    """TriPosT on generated questions of tasks with a script, or on a benchmark's train split with the assistant."""

    tasks: list[str] = field(default_factory=lambda: list(SCRIPTS))
    """Tasks: with ``feedback="script"`` each needs a script (multistep_arithmetic_two, word_sorting,
    boolean_expressions, dyck_languages); with ``"assistant"`` any task of ``benchmark``."""
    limit: int = 40
    """Training questions per task (generated for script tasks, else from the benchmark's train split)."""
    feedback: str = "script"
    """Feedback and improvement module: ``script`` (exact step checkers) or ``assistant`` (a chat model)."""
    assistant: str = "local"
    """The assistant's model spec, with ``feedback="assistant"``."""
    benchmark: str = "bbh"
    """Where tasks without a generator take their questions from (``bbq`` or ``bbh``)."""
    data_dir: str | None = None
    """Folder with bbq/ and bbh/ (default: $SALAM_DATA_DIR)."""
    iterations: int = 2
    """Rollout-edit-train rounds after the supervised start (paper: 3)."""
    max_rounds: int = MAX_ROUNDS
    """Editing rounds per trajectory (paper: 5)."""
    improve_ratio: float = 1.5
    """Improvement : non-improvement examples after rebalancing, at most (paper: 1.5); gold ones match the non-improvement count."""
    feedback_weight: float = 1.5
    """Loss weight of feedback and update tokens (paper: 1.5)."""
    temperature: float = 1.0
    """Sampling temperature of the rollouts (paper: 1.0)."""
    full: bool = False
    """Full fine-tuning (embedding matrix frozen) instead of LoRA."""
    batch_size: int = 4
    grad_accum: int = 2
    learning_rate: float = 2e-4

    BOUNDS = {**TrainConfig.BOUNDS, "max_rounds": (1, None), "improve_ratio": (0.01, None), "feedback_weight": (0.0, None)}
    CHOICES = {"feedback": ("script", "assistant"), "benchmark": ("bbq", "bbh")}


def rollout_questions(config: TriPostConfig, stage: str, offset: int = 0) -> list[Question]:
    """``limit`` questions per task: generated over a script's seen difficulties (``stage`` seeds them apart),
    else the benchmark's seeded train split after its first ``offset`` (the bench's test questions stay unseen;
    an offset past the training ones gives held-out questions from the training distribution)."""
    questions = []
    others = [t for t in config.tasks if t not in SCRIPTS]
    for task in config.tasks:
        if task in SCRIPTS:
            script = SCRIPTS[task]
            rng = random.Random(f"{config.seed}-{stage}-{task}")
            questions += [script.generate(rng, script.seen[i % len(script.seen)], i) for i in range(config.limit)]
    if others:
        questions += train_split_questions(config.benchmark, others, config.data_dir, 0, config.limit, offset)
    return questions


def feedback_modules(config: TriPostConfig) -> dict[str, Any]:
    """The feedback module of each task; a task no module can serve is a one-line error naming the modules."""
    if config.feedback == "assistant":
        from salam.models import resolve_chat_model
        from salam.train.tripost.checkers.assistant import MAX_UPDATE_STEPS, AssistantFeedback

        # ~32 tokens a reasoning line: the rewrite keeps MAX_UPDATE_STEPS lines, so a longer reply is never used
        helper = AssistantFeedback(resolve_chat_model(config.assistant, max_new_tokens=32 * MAX_UPDATE_STEPS))
        return {task: helper for task in config.tasks}
    if config.feedback != "script":
        raise SalamError(f"unknown feedback module {config.feedback!r}: script or assistant")
    return {task: script_for(task) for task in config.tasks}


def train_tripost(config: TriPostConfig, resume: bool = False, overwrite: bool = False, on_log: OnLog | None = None,
                  log: Any = print) -> dict[str, Any]:
    """Supervised start then the iterations, into ``config.out``; returns the summary manifest (with ``spec``)."""
    modules = feedback_modules(config)  # a task without a module: one line naming the modules
    if config.base != "local" and not config.full:
        raise SalamError("TriPosT trains LoRA adapters on the embedded model (--base local) or a full model (--full)")
    folder = TrainDir(Path(config.out))
    check_base(config.base)
    with folder.claim("tripost", settings_of(config), resume, overwrite):
        prepare_training()
        start = TrainDir(folder.path / "sft")
        if not start.is_finished():
            _supervised_start(config, start, on_log, log)
        previous = start.manifest()["spec"]
        log(f"supervised start: {previous}")
        previous = run_iterations(folder, config.iterations, previous,
                                  lambda number, spec, step: _iteration(config, modules, number, spec, step, on_log, log), log)
        summary = {"method": "tripost", "supervised_start": start.manifest(),
                   "iterations": [folder.iteration(i).manifest() for i in range(1, config.iterations + 1)],
                   "settings": settings_of(config), "spec": previous}
        write_manifest(folder.path, MANIFEST, summary)
        return summary


def _supervised_start(config: TriPostConfig, folder: TrainDir, on_log: OnLog | None, log: Any) -> None:
    questions = rollout_questions(config, "sft")
    examples = [CompletionExample(cot_prompt(q), (("\n".join(gold_steps(q)), 1.0),)) for q in questions]
    log(f"supervised start: {len(examples)} gold rationales")
    folder.path.mkdir(parents=True, exist_ok=True)
    model, tokenizer, base_hash = prepare_model(config, config.full)
    fields = _fit(config, model, tokenizer, examples, folder, on_log)
    manifest = {"method": "tripost-sft", "base": config.base, "base_model_sha256": base_hash, "tasks": config.tasks,
                "seed": config.seed, "questions": len(questions), "data_sha256": texts_hash(e.prompt + e.text for e in examples),
                "settings": settings_of(config), **fields}
    manifest["spec"] = save_trained(model, tokenizer, folder, config.base, config.full)
    write_manifest(folder.path, MANIFEST, manifest)


def _fit(config: TriPostConfig, model: Any, tokenizer: Any, examples: list[CompletionExample], folder: TrainDir,
         on_log: OnLog | None) -> dict[str, Any]:
    tokens = sum(len(ids) for ids in tokenizer([e.prompt + e.text for e in examples])["input_ids"])
    return fit(config, model, [e.as_row() for e in examples], CompletionCollator(tokenizer, config.max_length),
               completion_trainer_class(), folder, on_log, tokens)


def _iteration(config: TriPostConfig, modules: dict[str, Any], number: int, previous: str, step: TrainDir,
               on_log: OnLog | None, log: Any) -> str:
    from salam.models import resolve_chat_model

    began = time.perf_counter()
    questions = rollout_questions(config, f"iter-{number}")
    model = resolve_chat_model(previous, temperature=config.temperature, max_new_tokens=COT_MAX_NEW_TOKENS,
                               batch_size=max(8, config.batch_size * config.grad_accum))
    # One task at a time, so each gets its own token budget (a word sort writes far more than a Boolean).
    trajectories = []
    for task in config.tasks:
        done = rollouts(model, [q for q in questions if q.task == task], config.max_rounds, modules[task])
        trajectories += done
        log(f"iteration {number}: {task} rollouts {dict(Counter(t.outcome for t in done))} "
            f"({time.perf_counter() - began:.0f} s so far)")
    rollout_seconds = time.perf_counter() - began
    outcomes = Counter(t.outcome for t in trajectories)
    log(f"iteration {number}: {len(trajectories)} rollouts {dict(outcomes)} in {rollout_seconds:.0f} s")
    improvement, other = [], []
    for t in trajectories:
        if t.kept:
            imp, non = examples_of(t, config.feedback_weight)
            improvement += imp
            other += non
    rng = random.Random(f"{config.seed}-{number}-rebalance")
    gold = [gold_example(q, config.feedback_weight) for q in questions]
    rng.shuffle(gold)
    examples, kinds = rebalance(improvement, other, gold, config.improve_ratio, rng)
    if not improvement:
        raise SalamError(f"iteration {number}: no improving trajectory among {len(trajectories)} rollouts "
                         f"({', '.join(f'{k} {v}' for k, v in sorted(outcomes.items()))}); raise --limit or --max-rounds")
    step.path.mkdir(parents=True, exist_ok=True)
    adapter = Path(previous.split(":", 1)[1]) if previous.startswith("local+lora:") else None
    if adapter is None and not config.full:
        raise SalamError(f"cannot continue {previous}: not a LoRA adapter")
    base = config if adapter is not None else _with_base(config, previous)
    trained, tokenizer, base_hash = prepare_model(base, config.full, adapter)
    fields = _fit(config, trained, tokenizer, examples, step, on_log)
    manifest = {
        "method": "tripost", "iteration": number, "base": config.base, "base_model_sha256": base_hash,
        "feedback_module": config.feedback if config.feedback == "script" else f"assistant {config.assistant}",
        "continued_from": previous, "tasks": config.tasks, "seed": config.seed, "rollouts": len(trajectories),
        "rollouts_by_outcome": dict(outcomes), "rounds": dict(Counter(len(t.rounds) for t in trajectories if t.kept)),
        "examples_by_kind": dict(kinds), "rollout_seconds": rollout_seconds, "settings": settings_of(config), **fields,
        "iteration_seconds": time.perf_counter() - began,
    }
    manifest["spec"] = save_trained(trained, tokenizer, step, config.base, config.full)
    write_manifest(step.path, MANIFEST, manifest)
    log(f"iteration {number}: {len(examples)} examples {dict(kinds)}, trained in {fields['train_seconds']:.0f} s")
    return manifest["spec"]


def _with_base(config: TriPostConfig, spec: str) -> TriPostConfig:
    from dataclasses import replace

    return replace(config, base=spec)


def rollouts(model: Any, questions: list[Question], max_rounds: int, module: Any) -> list[Trajectory]:
    """Attempts of ``model`` on ``questions`` (one task), edited interactively by the task's feedback module.

    A script's update is the correct step, which the model then continues; the assistant's update is its
    own rewrite of the steps from the faulty one. Batched: one generation call per round.
    """
    prompts = [cot_prompt(q) for q in questions]
    budget = token_budget(["\n".join(gold_steps(q)) for q in questions])
    attempts = continue_turn(model, prompts, [""] * len(questions), STOP_STEPS, budget, ANSWER_END)
    trajectories = [Trajectory(q, attempt_steps(a)) for q, a in zip(questions, attempts)]
    pending = _judge_all(trajectories, range(len(trajectories)), module, {})
    for _ in range(max_rounds):
        if not pending:
            break
        order = list(pending)
        given = dict(zip(order, module.update_many([trajectories[i].question for i in order],
                                                   [full_steps(trajectories[i]) for i in order], [pending[i] for i in order])))
        continued = dict.fromkeys(order, "")
        if module.continues_with_model:
            so_far = [_written(trajectories[i]) + feedback_turn(pending[i].text()) + f"\n{UPDATE}\n" + "\n".join(given[i]) + "\n"
                      for i in order]
            continued = dict(zip(order, continue_turn(model, [prompts[i] for i in order], so_far, STOP_STEPS, budget, ANSWER_END)))
        for i in order:
            update = given[i] + (attempt_steps(continued[i]) if continued[i] else [])
            trajectories[i].rounds.append(Round(pending[i], update))
        pending = _judge_all(trajectories, order, module, pending)
    for i in pending:
        trajectories[i].outcome = "never correct"
    return trajectories


def token_budget(gold_rationales: list[str]) -> int:
    """New tokens a rollout may write: half again the longest gold rationale (~2.5 characters a token),
    so an attempt that never stops costs a bounded time instead of the full chain-of-thought budget."""
    longest = max((len(r) for r in gold_rationales), default=0)
    return min(COT_MAX_NEW_TOKENS, int(1.5 * longest / 2.5) + 32)


def _judge_all(trajectories: list[Trajectory], indices: Any, module: Any, before: dict[int, Any]) -> dict[int, Any]:
    """Check the given trajectories as they now stand (one batched call); those due another round, with their feedback."""
    indices = list(indices)
    checks = module.check_many([trajectories[i].question for i in indices],
                               [join_steps(full_steps(trajectories[i])) for i in indices])
    pending = {}
    for i, feedback in zip(indices, checks):
        verdict = _judge(trajectories[i], feedback, before.get(i))
        if verdict is not None:
            pending[i] = verdict
    return pending


def _judge(t: Trajectory, feedback: Any, before: Any) -> Any:
    """Set the trajectory's outcome from a check; return the feedback when another round is due, else None."""
    if feedback.is_correct:
        t.outcome = "improved" if t.rounds else "correct"
        return None
    if feedback.verdict == "unparseable":
        t.outcome = "unparseable"
        return None
    if before is not None and (feedback.step or 0) <= (before.step or 0):
        t.outcome = "no progress"
        return None
    t.outcome = "never correct"
    return feedback


def _written(t: Trajectory) -> str:
    """The model turn so far: the attempt, then each round's feedback and update."""
    text = "\n".join(t.attempt)
    for r in t.rounds:
        text += feedback_turn(r.feedback.text()) + update_turn(r.update)
    return text
