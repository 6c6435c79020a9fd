"""SCoRe (Kumar et al., 2024): two-stage, KL-regularised RL for self-correction (choice or generate mode).

``ScoreConfig`` + ``train_score``: stage I (``--stage1-steps``) then stage II (``--stage2-steps``), each a
run of :class:`ScoreTrainer` (a ``transformers.Trainer`` whose loss is the exact objective of
:mod:`salam.train.score.objective`), into ``OUT/stage1`` and ``OUT/stage2`` with their manifests
(reward and KL curves, Acc@t1/Acc@t2 on validation questions every ``eval_every`` steps). The
reference is the starting model (``init``: the base, or a trained spec such as the SFT baseline),
its distributions computed once before training (choice mode; generate mode samples and uses the RLOO
loss of :mod:`salam.train.score.generate` against a frozen copy of it). Ablations: ``no_stage1``, ``alpha=0`` (no shaping),
``single_turn`` (train attempt 1 only). A KL above ``max_kl`` stops the stage and restores the last
weights whose KL was below it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from salam._util.jsonl import read_json, write_json_atomic
from salam.answering.answerer import answer_prompt
from salam.errors import SalamError
from salam.selfcorrect.protocol import correction_prompt
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
from salam.train.folder import MANIFEST, TrainDir, adapter_of, run_parts, save_trained, starting_point
from salam.train.score.objective import ScoreWeights, Stage, objective
from salam.train.trainer import TrainRun, cpu_trainer_args, last_checkpoint, loss_recorder, run_trainer
from salam.types import Question

REFERENCE = "reference.json"
"""The starting model's option log-probabilities per training question (OUT/reference.json)."""


@dataclass
class ScoreConfig(BenchTrainConfig):
    """SCoRe on a benchmark's training split (choice mode); the SFT fields (data, LoRA/full, optimiser) apply."""

    stage1_steps: int = 50
    """Optimizer steps of stage I (0 with ``no_stage1``)."""
    stage2_steps: int = 100
    """Optimizer steps of stage II."""
    beta1: float = 0.01
    """KL weight of stage II and of attempt 2 in stage I (paper: 0.01)."""
    beta2: float = 0.1
    """KL weight of attempt 1 in stage I (paper: 0.1-0.25)."""
    alpha: float = 10.0
    """Shaped bonus on attempt 2 in stage II (paper: 10; 0 is the no-shaping ablation)."""
    init: str | None = None
    """Starting and reference model: a trained spec (local+lora:DIR, hf:DIR); default the base model."""
    no_stage1: bool = False
    """Ablation: skip stage I."""
    single_turn: bool = False
    """Ablation: train attempt 1 only (single-turn RL), no stages."""
    eval_every: int = 25
    """Acc@t1/Acc@t2 on the validation questions every this many steps."""
    max_kl: float = 2.0
    """A mean KL above this stops the stage (the last weights below it are kept)."""
    memory: str | None = None
    """A memory gathered on the training split: attempt-2 prompts carry its guidelines (as
    ``bench --self-correct-memory`` does at test time), information attempt 1 does not have."""
    namespace: str = "default"
    """Namespace of that memory."""
    mode: str = "choice"
    """``choice``: exact expectations over the option letters; ``generate``: sampled one-line answers, RLOO."""
    generations: int = 4
    """Generate mode: sampled trajectories per question (the leave-one-out group)."""
    temperature: float = 1.0
    """Generate mode: sampling temperature of both attempts."""
    limit: int | None = 250
    """Training questions per task."""
    learning_rate: float = 5e-5
    """Peak learning rate (cosine schedule, two warm-up steps)."""
    batch_size: int = 4

    BOUNDS = {**BenchTrainConfig.BOUNDS, "stage1_steps": (0, None), "stage2_steps": (0, None), "beta1": (0.0, None),
              "beta2": (0.0, None), "alpha": (0.0, None), "eval_every": (1, None), "max_kl": (0.0, None),
              "generations": (1, None), "temperature": (0.0, None)}
    CHOICES = {**BenchTrainConfig.CHOICES, "mode": ("choice", "generate")}


def rows_for(questions: Sequence[Question], guidance: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Attempt-1 prompt and one attempt-2 prompt per possible first answer (after the question's guidelines)."""
    guidance = guidance or {}
    return [{"prompt1": answer_prompt(q), "prompts2": [correction_prompt(q, letter, guidance.get(q.id, "")) for letter in q.letters],
             "letters": q.letters, "gold": q.letters.index(q.answer)} for q in questions]


class ScoreCollator:
    """Rows -> each question's prompts (attempt 1, then attempt 2 after every option) as one shared-prefix group."""

    def __init__(self, tokenizer: Any, max_length: int = 1024) -> None:
        self.tokenizer, self.max_length = tokenizer, max_length

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        import torch

        from salam.models.local import format_user
        from salam.train.letters import option_tensors
        from salam.train.shared_prefix import encode_groups

        width = max(len(r["letters"]) for r in rows)
        groups = []
        for r in rows:
            prompts2 = r["prompts2"] + [r["prompts2"][0]] * (width - len(r["prompts2"]))  # padding, masked out
            groups.append([format_user(self.tokenizer, t) for t in [r["prompt1"], *prompts2]])
        option_ids, mask = option_tensors(self.tokenizer, [r["letters"] for r in rows])
        batch = {**encode_groups(self.tokenizer, groups, self.max_length), "option_ids": option_ids,
                 "option_mask": mask, "gold": torch.tensor([r["gold"] for r in rows])}
        if "ref1" in rows[0]:
            batch["ref1"] = torch.tensor([_pad(r["ref1"], width) for r in rows])
            batch["ref2"] = torch.tensor([[_pad(row, width) for row in r["ref2"]] + [[0.0] * width] * (width - len(r["ref2"]))
                                          for r in rows])
        return batch


def _pad(values: list[float], width: int) -> list[float]:
    return list(values) + [0.0] * (width - len(values))


def option_logits(model: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
    """(attempt-1 logits [B, n], attempt-2 logits [B, n, n]) over the options; the question is read once per group."""
    from salam.train.shared_prefix import last_logits

    logits = last_logits(model, batch).float()
    b, n = batch["option_ids"].shape
    ids = batch["option_ids"].repeat_interleave(1 + n, dim=0)
    letters = logits.gather(1, ids).view(b, 1 + n, n)
    return letters[:, 0, :], letters[:, 1:, :]


def reference(model: Any, collate: ScoreCollator, rows: list[dict[str, Any]], batch_size: int) -> None:
    """Store the starting model's log-probabilities in each row (``ref1``, ``ref2``): the KL's reference.

    In a multi-process run each process computes its share and every process gets all rows' references."""
    import torch

    from salam._util.ranks import current_world
    from salam.train.score.objective import masked_softmax

    world = current_world()
    mine = world.shard(rows)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(mine), batch_size):
            chunk = mine[start : start + batch_size]
            batch = collate(chunk)
            l1, l2 = option_logits(model, batch)
            _, logp1 = masked_softmax(l1, batch["option_mask"])
            _, logp2 = masked_softmax(l2, batch["option_mask"][:, None, :].expand_as(l2))
            for i, r in enumerate(chunk):
                n = len(r["letters"])
                r["ref1"] = logp1[i, :n].tolist()
                r["ref2"] = [logp2[i, a, :n].tolist() for a in range(n)]
    for row, done in zip(rows, world.gather([(r["ref1"], r["ref2"]) for r in mine], len(rows))):
        row["ref1"], row["ref2"] = done
    model.train()


def accuracy_t1_t2(model: Any, collate: ScoreCollator, rows: list[dict[str, Any]], batch_size: int) -> tuple[float, float]:
    """Greedy Acc@t1 and Acc@t2 (attempt 2 given the greedy first answer) with the training tokenisation."""
    import torch

    right1 = right2 = 0
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(rows), batch_size):
            batch = collate(rows[start : start + batch_size])
            l1, l2 = option_logits(model, batch)
            first = l1.masked_fill(~batch["option_mask"], float("-inf")).argmax(-1)
            second = l2[torch.arange(len(first)), first].masked_fill(~batch["option_mask"], float("-inf")).argmax(-1)
            right1 += int((first == batch["gold"]).sum())
            right2 += int((second == batch["gold"]).sum())
    if was_training:
        model.train()
    return right1 / max(1, len(rows)), right2 / max(1, len(rows))


def score_trainer_class() -> type:
    """``ScoreTrainer``, built on first use so that importing salam does not import transformers."""
    from transformers import Trainer

    class ScoreTrainer(Trainer):
        """A ``transformers.Trainer`` whose loss is SCoRe's exact choice-mode objective for one stage."""

        stage: Stage = "stage2"
        weights: ScoreWeights = ScoreWeights()
        curve: list[dict[str, float]]
        sampling: dict[str, Any] | None = None
        """Generate mode: ``reference`` (the frozen starting model), ``tokenizer``, ``generations``, ``temperature``,
        ``guidance`` (question id -> attempt-2 guidelines)."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001
            if self.sampling is not None:
                from salam.train.score.generate import generate_objective

                s = self.sampling
                loss, parts = generate_objective(model, s["reference"], s["tokenizer"], inputs["questions"], self.stage,
                                                 self.weights, s["generations"], s["temperature"], s["guidance"])
            else:
                l1, l2 = option_logits(model, inputs)
                loss, parts = objective(l1, l2, inputs["option_mask"], inputs["gold"], inputs["ref1"], inputs["ref2"],
                                        self.stage, self.weights)
            self.curve.append({"step": self.state.global_step, **{k: float(v) for k, v in parts.items()}})
            return (loss, {}) if return_outputs else loss

    return ScoreTrainer


def guard_callback(trainer: Any, validate: Any, config: ScoreConfig, record: dict[str, Any]) -> Any:
    """Every ``eval_every`` steps: validation accuracy; and the KL guard (stop, keep the last good weights)."""
    from transformers import TrainerCallback

    def snapshot() -> dict[str, Any]:
        return {k: v.detach().clone() for k, v in trainer.model.named_parameters() if v.requires_grad}

    record["good"] = snapshot()

    class Guard(TrainerCallback):
        def on_step_end(self, _args, state, control, **_kw):  # noqa: ANN001
            recent = trainer.curve[-max(1, config.batch_size):]
            kl_now = max(sum(c["kl_t1"] for c in recent) / len(recent), sum(c["kl_t2"] for c in recent) / len(recent))
            if kl_now > config.max_kl:
                record["stopped"] = f"mean KL {kl_now:.3f} > --max-kl {config.max_kl} at step {state.global_step}"
                control.should_training_stop = True
                return control
            if state.global_step % config.eval_every == 0 or state.global_step == state.max_steps:
                t1, t2 = validate()
                record["validation"].append({"step": state.global_step, "acc_t1": t1, "acc_t2": t2})
                record["good"] = snapshot()
            return control

    return Guard()


def train_score(config: ScoreConfig, resume: bool = False, overwrite: bool = False, on_log: OnLog | None = None,
                log: Any = print) -> dict[str, Any]:
    """Stage I then stage II (or the single-turn ablation) into ``config.out``; returns the summary manifest."""
    folder = TrainDir(Path(config.out))
    config = starting_point(config)  # type: ignore[arg-type]
    train, validation = training_questions(config, multiple_choice_only=config.mode == "choice")
    guidance = _guidance(config, train + validation)
    stages: list[tuple[Stage, int]] = [("single-turn", config.stage2_steps)] if config.single_turn else \
        ([] if config.no_stage1 else [("stage1", config.stage1_steps)]) + [("stage2", config.stage2_steps)]
    if not stages or all(steps <= 0 for _, steps in stages):
        raise SalamError("nothing to train: give --stage1-steps and/or --stage2-steps above 0")
    check_base(config.base)
    with folder.claim("score", settings_of(config), resume, overwrite):
        prepare_training()
        start_reference: Any = None  # the starting model's distributions (choice) or a frozen copy of it (generate), made once
        todo = [(stage, steps) for stage, steps in stages if steps > 0]

        def one(number: int, previous: str, part: TrainDir) -> str:
            nonlocal start_reference
            stage, steps = todo[number - 1]
            manifest, start_reference = _stage(config, stage, steps, previous, part, train, validation, guidance,
                                               start_reference, on_log, log)
            return manifest["spec"]

        previous = run_parts(folder, [stage for stage, _ in todo], config.init or config.base, one, log)
        manifests = [TrainDir(folder.path / stage).manifest() for stage, _ in todo]
        summary = {"method": "score", "stages": manifests, "settings": settings_of(config), "spec": previous}
        write_manifest(folder.path, MANIFEST, summary)
        return summary


def _guidance(config: ScoreConfig, questions: list[Question]) -> dict[str, str]:
    """Each question's guidelines from ``config.memory`` ({} without one); a question never retrieves its own record."""
    if not config.memory:
        return {}
    from salam.selfcorrect.protocol import Guidelines

    guidelines = Guidelines.open(config.memory, config.namespace)
    try:
        return guidelines.block_map(questions)
    finally:
        guidelines.memory.close()


def _stage(config: ScoreConfig, stage: Stage, steps: int, previous: str, folder: TrainDir, train: list[Question],
           validation: list[Question], guidance: dict[str, str], start_reference: Any, on_log: OnLog | None,
           log: Any) -> tuple[dict[str, Any], Any]:
    from transformers import TrainingArguments

    began = time.perf_counter()
    model, tokenizer, base_hash = prepare_model(config, config.full, adapter_of(previous))
    if config.mode == "generate":
        setup = _generate_setup(config, model, tokenizer, train, validation, guidance, start_reference)
    else:
        setup = _choice_setup(config, model, tokenizer, train, validation, guidance, start_reference, folder, log, began)
    folder.path.mkdir(parents=True, exist_ok=True)
    args = TrainingArguments(**cpu_trainer_args(config, quiet=on_log is not None, output_dir=folder.checkpoints, max_steps=steps),
                             remove_unused_columns=False)
    run = TrainRun(resumed_from=last_checkpoint(folder.path))
    trainer = score_trainer_class()(model=model, args=args, train_dataset=setup["dataset"],
                                    data_collator=setup["collate"], callbacks=[loss_recorder(run.losses, on_log)])
    trainer.stage, trainer.weights, trainer.curve = stage, ScoreWeights(config.beta1, config.beta2, config.alpha), []
    trainer.sampling = setup.get("sampling")
    record: dict[str, Any] = {"validation": [], "stopped": None}
    trainer.add_callback(guard_callback(trainer, setup["validate"], config, record))
    start_acc = setup["validate"]()
    record["validation"].append({"step": 0, "acc_t1": start_acc[0], "acc_t2": start_acc[1]})
    tokens = sum(len(ids) for ids in tokenizer([answer_prompt(q) for q in train])["input_ids"])
    result, fields = run_trainer(trainer, run, tokens, config.epochs)
    if record["stopped"]:
        log(f"{stage}: stopped, {record['stopped']}; keeping the last weights below it")
        params = dict(model.named_parameters())
        for name, value in record["good"].items():
            params[name].data.copy_(value)
    manifest = {
        "method": "score", "stage": stage, "mode": config.mode, "base": config.base, "base_model_sha256": base_hash,
        "init": config.init or config.base, "continued_from": previous, "benchmark": config.benchmark,
        "with_memory": bool(config.memory), "questions_with_guidelines": sum(1 for q in train if guidance.get(q.id)),
        "tasks": sorted({q.task for q in train}), "train_questions": len(train), "seed": config.seed,
        "settings": settings_of(config), **fields,
        "curve": _every(trainer.curve, 5), "validation": record["validation"], "stopped": record["stopped"],
        "stage_seconds": time.perf_counter() - began,
    }
    if config.mode == "generate":
        manifest["constant_reward_questions"] = int(sum(c["constant_reward"] for c in trainer.curve))
    manifest["spec"] = save_trained(model, tokenizer, folder, config.base, config.full)
    write_manifest(folder.path, MANIFEST, manifest)
    log(f"{stage}: {manifest['steps']} steps in {manifest['train_seconds']:.0f} s, validation {record['validation'][-1]}")
    return manifest, setup["reference"]


def _choice_setup(config: ScoreConfig, model: Any, tokenizer: Any, train: list[Question], validation: list[Question],
                  guidance: dict[str, str], reference_rows: list[dict[str, Any]] | None, folder: TrainDir, log: Any, began: float) -> dict[str, Any]:
    """Choice mode: the starting model's option distributions (computed once, saved for --resume) are the reference."""
    from datasets import Dataset

    collate = ScoreCollator(tokenizer, config.max_length)
    saved = folder.path.parent / REFERENCE
    if reference_rows is None and saved.is_file():  # a resumed run keeps the reference it started with
        reference_rows = read_json(saved)
    if reference_rows is None:  # the starting model is the reference of every stage
        reference_rows = rows_for(train, guidance)
        reference(model, collate, reference_rows, config.batch_size)
        write_json_atomic(saved, reference_rows)
        log(f"reference distributions of {len(reference_rows)} questions in {time.perf_counter() - began:.0f} s")
    val_rows = rows_for(validation, guidance)
    return {"dataset": Dataset.from_list(reference_rows), "collate": collate, "reference": reference_rows,
            "validate": lambda: accuracy_t1_t2(model, collate, val_rows, config.batch_size)}


def _generate_setup(config: ScoreConfig, model: Any, tokenizer: Any, train: list[Question],
                    validation: list[Question], guidance: dict[str, str], reference_model: Any) -> dict[str, Any]:
    """Generate mode: a frozen copy of the starting model is the reference of the per-token KL."""
    from datasets import Dataset

    from salam.train.score.generate import frozen_start, generate_accuracy

    reference_model = reference_model if reference_model is not None else frozen_start(config)
    return {"reference": reference_model, "dataset": Dataset.from_list([{"index": i} for i in range(len(train))]),
            "collate": lambda rows: {"questions": [train[r["index"]] for r in rows]},
            "sampling": {"reference": reference_model, "tokenizer": tokenizer, "generations": config.generations,
                         "temperature": config.temperature, "guidance": guidance},
            "validate": lambda: generate_accuracy(model, tokenizer, validation, config.batch_size, guidance)}


def _every(curve: list[dict[str, float]], n: int) -> list[dict[str, float]]:
    """The per-batch curve averaged over runs of ``n`` entries (a readable manifest)."""
    out = []
    for start in range(0, len(curve), n):
        chunk = curve[start : start + n]
        out.append({k: sum(c[k] for c in chunk) / len(chunk) for k in chunk[0]})
    return out
