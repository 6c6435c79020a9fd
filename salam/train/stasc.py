"""STaSC — Self-Taught Self-Correction (Moskvoretskii et al., 2025), in choice mode.

Each iteration: sample ``n_init`` first answers per training question from M0 (``initial=fixed``) or
the previous model (``evolving``); sample ``n_corr`` corrections of each with the latest model; keep
wrong→right pairs (``filter=improving``) or also right→right (``non-decreasing``; the public code's
version of this filter keeps only right→right, a bug not copied here); fine-tune on (question, first
answer, correction) with the loss on the correction only, from M0 (``finetune=fixed``) or from the
previous model (``evolving``). Reward = the gold letter. With ``memory`` the correction prompts in
training carry the memory's guidelines (as ``bench --self-correct-memory`` does at test time), so the
model learns to use what SALAM stores.

Choice mode samples from the softmax over option letters (:mod:`salam.selfcorrect.sampling`), so the
n_init x n_corr samples of a question cost one forward pass per distinct first answer. Distinct
(question, first answer, correction) examples are trained once each: in choice mode most samples are
repeats of a few letters (the counts are in each iteration's manifest).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from salam.answering.answerer import answer_prompt
from salam.errors import SalamError
from salam.selfcorrect.protocol import Guidelines, correction_prompt
from salam.selfcorrect.sampling import letter_distributions, sample_letters
from salam.train.base import (
    BenchTrainConfig,
    OnLog,
    check_base,
    prepare_model,
    prepare_training,
    settings_of,
    training_questions,
    write_manifest,
)
from salam.train.folder import MANIFEST, TrainDir, adapter_of, run_iterations, save_trained, starting_point
from salam.train.letters import LetterExample, letter_accuracy
from salam.train.trainer import fit_letters
from salam.types import Question

Schedule = Literal["fixed", "evolving"]
Filter = Literal["improving", "non-decreasing"]


@dataclass
class StascConfig(BenchTrainConfig):
    """STaSC on a benchmark's training split; the SFT fields (data, LoRA/full, optimiser) apply to every iteration."""

    iterations: int = 2
    """Sample-filter-train rounds (paper: 10)."""
    initial: Schedule = "fixed"
    """First answers from M0 (fixed) or from the previous iteration's model (evolving)."""
    finetune: Schedule = "fixed"
    """Each iteration trains from M0 (fixed) or continues the previous model (evolving)."""
    filter: Filter = "improving"
    """Keep wrong→right corrections (improving) or also right→right (non-decreasing)."""
    n_init: int = 5
    """First answers sampled per question (paper: 5)."""
    n_corr: int = 5
    """Corrections sampled per first answer (paper: 5)."""
    temperature: float = 0.6
    """Sampling temperature (paper: 0.6, top-p 0.9)."""
    top_p: float = 0.9
    """Nucleus of the sampling distribution."""
    memory: str | None = None
    """A memory gathered on the training split: correction prompts carry its guidelines."""
    namespace: str = "default"
    """Namespace of that memory."""
    limit: int | None = 100
    """Training questions per task (each costs n_init x n_corr samples)."""
    init: str | None = None
    """M0, the model the recipe starts from: a trained spec (``local+lora:DIR``, e.g. the SFT baseline, or
    ``hf:DIR``); default the base model. With ``finetune=fixed`` every iteration trains from it."""

    BOUNDS = {**BenchTrainConfig.BOUNDS, "n_init": (1, None), "n_corr": (1, None), "top_p": (0.01, 1.0)}


def _model(spec: str) -> Any:
    from salam.models import resolve_chat_model

    return resolve_chat_model(spec, max_new_tokens=12)


def sample_pairs(questions: list[Question], init_model: Any, corr_model: Any, config: StascConfig, rng: random.Random,
                 guidelines: Guidelines | None) -> tuple[list[tuple[Question, str, str, str]], Counter]:
    """(question, first answer, correction, guidance) for every sample, and counts by outcome (i→c, c→c, c→i, i→i)."""
    firsts = letter_distributions(init_model, [answer_prompt(q) for q in questions], questions, config.temperature, config.batch_size)
    blocks = [b for b, _, _ in guidelines.blocks(questions)] if guidelines else [""] * len(questions)
    drawn = [sample_letters(p, q.letters, config.n_init, rng, config.top_p) for q, p in zip(questions, firsts)]
    distinct = [(qi, letter) for qi, letters in enumerate(drawn) for letter in dict.fromkeys(letters)]
    prompts = [correction_prompt(questions[qi], letter, blocks[qi]) for qi, letter in distinct]
    corrections = dict(zip(distinct, letter_distributions(corr_model, prompts, [questions[qi] for qi, _ in distinct],
                                                          config.temperature, config.batch_size)))
    pairs, outcomes = [], Counter()
    for qi, letters in enumerate(drawn):
        q = questions[qi]
        for first in letters:
            for fixed in sample_letters(corrections[(qi, first)], q.letters, config.n_corr, rng, config.top_p):
                outcomes[f"{'c' if first == q.answer else 'i'}→{'c' if fixed == q.answer else 'i'}"] += 1
                pairs.append((q, first, fixed, blocks[qi]))
    return pairs, outcomes


def keep(pairs: list[tuple[Question, str, str, str]], rule: Filter) -> tuple[list[LetterExample], Counter]:
    """The filter: wrong→right (improving) or also right→right (non-decreasing), each distinct example once;
    and how many distinct examples of each outcome were kept."""
    kept: dict[tuple[str, str, str], LetterExample] = {}
    kinds: Counter = Counter()
    for q, first, fixed, block in pairs:
        improving = first != q.answer and fixed == q.answer
        holding = first == q.answer and fixed == q.answer
        if (improving or (rule == "non-decreasing" and holding)) and (q.id, first, fixed) not in kept:
            kept[(q.id, first, fixed)] = LetterExample.for_question(q, correction_prompt(q, first, block), fixed)
            kinds["i→c" if improving else "c→c"] += 1
    return list(kept.values()), kinds


def train_stasc(config: StascConfig, resume: bool = False, overwrite: bool = False, on_log: OnLog | None = None,
                log: Any = print) -> dict[str, Any]:
    """Run the iterations into ``config.out`` (one folder per iteration) and return the final manifest."""
    folder = TrainDir(Path(config.out))
    config = starting_point(config)
    train, validation = training_questions(config)
    check_base(config.base)
    with folder.claim("stasc", settings_of(config), resume, overwrite):
        prepare_training()
        guidelines = _guidelines(config)
        try:
            return _iterate(config, folder, train, validation, guidelines, on_log, log)
        finally:
            if guidelines is not None:
                guidelines.memory.close()


def _iterate(config: StascConfig, folder: TrainDir, train: list[Question], validation: list[Question],
             guidelines: Guidelines | None, on_log: OnLog | None, log: Any) -> dict[str, Any]:
    base_spec = config.init or config.base

    def one(number: int, previous: str, step: TrainDir) -> str:
        began = time.perf_counter()
        rng = random.Random(f"{config.seed}-{number}")
        init_model = _model(base_spec if config.initial == "fixed" else previous)
        pairs, outcomes = sample_pairs(train, init_model, _model(previous), config, rng, guidelines)
        examples, kept_kinds = keep(pairs, config.filter)
        log(f"iteration {number}: {len(pairs)} samples {dict(outcomes)}, {len(examples)} distinct examples kept")
        if not any(first != q.answer and fixed == q.answer for q, first, fixed, _ in pairs):
            raise SalamError(f"iteration {number}: no improving correction among {len(pairs)} samples "
                             f"({', '.join(f'{k} {v}' for k, v in sorted(outcomes.items()))}); raise --temperature or --n-corr")
        step.path.mkdir(parents=True, exist_ok=True)
        adapter = adapter_of(previous if config.finetune == "evolving" else base_spec)
        model, tokenizer, base_hash = prepare_model(config, config.full, adapter)
        fields = fit_letters(config, model, tokenizer, examples, step, on_log)
        val = [LetterExample.for_question(q, answer_prompt(q)) for q in validation]
        manifest = {
            "method": "stasc", "iteration": number, "base": config.base, "base_model_sha256": base_hash, "init": base_spec,
            "benchmark": config.benchmark, "tasks": sorted({q.task for q in train}), "seed": config.seed,
            "initial_from": base_spec if config.initial == "fixed" else previous, "corrections_from": previous,
            "samples_by_outcome": dict(outcomes), "samples": len(pairs), "kept": len(examples),
            "kept_by_outcome": dict(kept_kinds),
            "with_memory": bool(guidelines), "questions_with_guidelines": len({q.id for q, _, _, block in pairs if block}),
            "settings": settings_of(config), **fields,
            "validation_accuracy_t1": letter_accuracy(model, tokenizer, val, config.batch_size, config.max_length),
            "iteration_seconds": time.perf_counter() - began,
        }
        manifest["spec"] = save_trained(model, tokenizer, step, config.base, config.full)
        write_manifest(step.path, MANIFEST, manifest)
        log(f"iteration {number}: trained in {fields['train_seconds']:.0f} s, {manifest['spec']}")
        return manifest["spec"]

    previous = run_iterations(folder, config.iterations, base_spec, one, log)
    summary = {"method": "stasc", "iterations": [folder.iteration(i).manifest() for i in range(1, config.iterations + 1)],
               "settings": settings_of(config), "spec": previous}
    write_manifest(folder.path, MANIFEST, summary)
    return summary


def _guidelines(config: StascConfig) -> Guidelines | None:
    return Guidelines.open(config.memory, config.namespace) if config.memory else None
