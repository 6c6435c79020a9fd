"""Verify, then revise: train one model to answer, to check its own answers, and to revise those it
judges wrong (salam's recipe after PAG, Jiang et al. 2025), in choice mode.

``VerifyConfig`` + ``train_verify``, the supervised multi-task variant:
1. First answers are sampled at ``temperature`` from the starting model (``init``, e.g. the SFT model)
   on the training split — ``n_init`` per question, each distinct (question, answer) once — and
   labelled right or wrong by the gold letter.
2. One LoRA is trained on three kinds of letter examples: the *answer* (the gold letter after the
   ordinary prompt, so attempt 1 keeps what SFT taught), the *verdict* (A correct / B wrong after the
   verification prompt of :mod:`salam.selfcorrect.verify`, balanced right : wrong 1 : 1 overall or, with
   ``verdict_balance="kind"``, inside each kind of first answer), and the
   *revision* (the gold letter after a wrong first answer was judged wrong). With ``memory`` the
   verification and revision prompts carry the memory's guidelines, as ``--self-correct-memory`` does.
3. τ is chosen on held-out questions of the training split (after the trained and validation ones,
   never the test split): the trained model answers, verifies and revises all of them, and τ is the
   P(wrong) threshold that maximises their Acc@t2 (revise when P(wrong)·fix rate > 1 − P(wrong)), with the
   revision reading (any letter, or another letter than the first) that maximises it. Both are written
   to the manifest, and ``salam bench --self-correct verify`` uses them unless ``--verify-threshold`` /
   ``--verify-reading`` say otherwise. :func:`rechoose` runs this step again for a trained folder.
The ``pag`` variant instead maximises PAG's turn-wise returns exactly over the option and verdict
distributions (:mod:`salam.train.verify_objective`): no sampling, every possible first answer weighted by
the model's own probability of giving it.
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
from salam.selfcorrect.protocol import Guidelines
from salam.selfcorrect.sampling import letter_distributions, sample_letters
from salam.selfcorrect.verify import (VERDICTS, VerifyRunner, answer_group, answer_role, expected_revision, revise_prompt,
                                     role_evidence, role_thresholds, verifier_metrics, verify_prompt)
from salam.train.base import (
    BenchTrainConfig,
    OnLog,
    check_base,
    prepare_model,
    prepare_training,
    settings_of,
    texts_hash,
    train_split_questions,
    write_manifest,
)
from salam.train.folder import MANIFEST, TrainDir, adapter_of, save_trained, starting_point
from salam.train.grouped_letters import fit_grouped_letters, shuffled_groups
from salam.train.letters import LetterExample, letter_accuracy
from salam.train.trainer import fit_letters
from salam.types import Question


@dataclass
class VerifyConfig(BenchTrainConfig):
    """Verify-then-revise on a benchmark's training split (choice mode); the SFT fields apply."""

    init: str | None = None
    """The starting model, whose own answers the verifier learns to judge (e.g. the SFT model, local+lora:DIR)."""
    variant: Literal["supervised", "pag"] = "supervised"
    """``supervised``: answer, balanced verdict and revision examples from sampled first answers; ``pag``: PAG's
    turn-wise returns computed exactly over the option and verdict distributions."""
    alpha: float = 1.0
    """``pag``: the bonus on a wrong → right revision."""
    revise_right: bool = False
    """``supervised``: also train revisions of right first answers (as many as of wrong ones), whose target keeps
    the answer, so a revision after a mistaken "wrong" verdict need not break it (CoCoS's "reward keeping")."""
    verdict_balance: Literal["label", "kind"] = "label"
    """``supervised``: how the verdict examples are balanced. ``label``: as many right as wrong answers overall.
    ``kind``: as many right as wrong inside each kind of first answer (the task, and on BBQ the "unknown" option
    or a named person; a kind with only one label gives no verdicts), so knowing the kind cannot predict the
    verdict and only checking the answer can."""
    skip: int = 0
    """Training-split questions per task to skip first: those the starting model was trained on (its answers
    there are rarely wrong), e.g. 300 after `salam train sft`'s default."""
    limit: int | None = 100
    """Training questions per task, after ``skip``."""
    n_init: int = 4
    """First answers sampled per question."""
    temperature: float = 1.0
    """Sampling temperature of the first answers (their diversity is what gives wrong ones to learn from)."""
    heldout: int = 30
    """Held-out questions per task (after the training and validation ones) on which τ is chosen."""
    memory: str | None = None
    """A memory gathered on the training split: verification and revision prompts carry its guidelines."""
    namespace: str = "default"
    """Namespace of that memory."""
    share_question: bool = True
    """``supervised``: train each question's answer, verdict and revision examples together, the question read once
    for all of them (the same loss, fewer tokens); a step takes whole questions, about ``--batch-size`` examples.
    Off: every example is its own prompt."""

    BOUNDS = {**BenchTrainConfig.BOUNDS, "skip": (0, None), "n_init": (1, None), "heldout": (1, None), "alpha": (0.0, None)}


def sample_first_answers(config: VerifyConfig, questions: list[Question], model: Any) -> tuple[list[tuple[Question, str]], Counter]:
    """Distinct (question, first answer) pairs sampled from ``model``, and how many samples were right and wrong."""
    rng = random.Random(f"{config.seed}-verify")
    probs = letter_distributions(model, [answer_prompt(q) for q in questions], questions, config.temperature, config.batch_size)
    pairs, counts = [], Counter()
    for q, p in zip(questions, probs):
        drawn = sample_letters(p, q.letters, config.n_init, rng, top_p=1.0)
        counts.update("right" if a == q.answer else "wrong" for a in drawn)
        pairs += [(q, a) for a in dict.fromkeys(drawn)]
    return pairs, counts


def balanced_verdicts(right: list[tuple[Question, str]], wrong: list[tuple[Question, str]], rng: random.Random,
                      by_kind: bool) -> list[tuple[Question, str]]:
    """As many right as wrong (question, answer) pairs: overall, or inside each :func:`answer_group` (whose
    right : wrong share a verifier could otherwise learn instead of checking); right pairs first."""
    if not by_kind:
        n = min(len(right), len(wrong))
        return rng.sample(right, n) + rng.sample(wrong, n)
    kinds = sorted({answer_group(q, a) for q, a in right + wrong})
    chosen_right, chosen_wrong = [], []
    for kind in kinds:
        r = [p for p in right if answer_group(*p) == kind]
        w = [p for p in wrong if answer_group(*p) == kind]
        n = min(len(r), len(w))
        chosen_right += rng.sample(r, n)
        chosen_wrong += rng.sample(w, n)
    if not chosen_right:
        raise SalamError("no kind of first answer (task, and on BBQ 'unknown' or a named person) is both right and wrong "
                         "somewhere: --verdict-balance kind has no verdicts to train (use --verdict-balance label)")
    return chosen_right + chosen_wrong


def build_examples(config: VerifyConfig, questions: list[Question], pairs: list[tuple[Question, str]],
                   blocks: dict[str, str]) -> tuple[list[LetterExample], dict[str, int], list[str]]:
    """The answer, verdict (balanced right : wrong) and revision examples of the multi-task variant, shuffled, with
    the id of the question each example asks."""
    right = [(q, a) for q, a in pairs if a == q.answer]
    wrong = [(q, a) for q, a in pairs if a != q.answer]
    if not right or not wrong:
        raise SalamError(f"the starting model's {len(pairs)} distinct first answers are {len(right)} right and {len(wrong)} "
                         "wrong: the verifier needs both (raise --temperature or --n-init, or add questions with --limit)")
    rng = random.Random(f"{config.seed}-balance")
    verdicts = balanced_verdicts(right, wrong, rng, by_kind=config.verdict_balance == "kind")
    n = len(verdicts) // 2
    answers = [LetterExample.for_question(q, answer_prompt(q)) for q in questions]
    checks = [LetterExample(verify_prompt(q, a, blocks.get(q.id, "")), VERDICTS, "A" if a == q.answer else "B") for q, a in verdicts]
    revised = wrong + (rng.sample(right, min(len(right), len(wrong))) if config.revise_right else [])
    revisions = [LetterExample.for_question(q, revise_prompt(q, a, blocks.get(q.id, ""))) for q, a in revised]
    owned = list(zip(answers + checks + revisions, [q.id for q in questions] + [q.id for q, _ in verdicts + revised]))
    rng.shuffle(owned)
    kinds = {"answer": len(answers), "verdict_right": n, "verdict_wrong": n, "revision": len(revisions)}
    return [e for e, _ in owned], kinds, [owner for _, owner in owned]


def fit_examples(config: VerifyConfig, model: Any, tokenizer: Any, examples: list[LetterExample], owners: list[str],
                 folder: TrainDir, on_log: OnLog | None) -> dict[str, Any]:
    """One trainer run over the examples: grouped by question (``share_question``) or one prompt each."""
    if not config.share_question:
        return fit_letters(config, model, tokenizer, examples, folder, on_log)
    groups = question_groups(examples, owners)
    return fit_grouped_letters(config, model, tokenizer, shuffled_groups(groups, random.Random(f"{config.seed}-groups")),
                               folder, on_log)


def question_groups(examples: list[LetterExample], owners: list[str]) -> dict[str, list[LetterExample]]:
    """A question's examples that begin alike, as one group. With ``--memory`` the verification and revision prompts
    begin with the guidance and the answer prompt does not: grouped together, they would share only the chat header
    and every prompt would be read whole, so the first line splits them (without memory it is the same for all)."""
    groups: dict[str, list[LetterExample]] = {}
    for example, owner in zip(examples, owners):
        groups.setdefault(f"{owner}\n{example.prompt.split(chr(10), 1)[0]}", []).append(example)
    return groups


def train_verify(config: VerifyConfig, resume: bool = False, overwrite: bool = False, on_log: OnLog | None = None,
                 log: Any = print) -> dict[str, Any]:
    """Sample, build the examples, train one LoRA, choose τ on held-out questions; returns the manifest (with ``spec``)."""
    folder = TrainDir(Path(config.out))
    config = starting_point(config)  # type: ignore[assignment]
    split = (config.benchmark, config.tasks, config.data_dir, config.split_seed)
    train = [q for q in train_split_questions(*split, config.limit, config.skip) if q.is_multiple_choice]
    offset = config.skip + (config.limit or 0)
    validation = [q for q in train_split_questions(*split, config.validation, offset) if q.is_multiple_choice]
    heldout = heldout_questions(config)
    if not train:
        raise SalamError("no multiple-choice questions to train on: verify-then-revise needs lettered options")
    check_base(config.base)
    with folder.claim("verify", settings_of(config), resume, overwrite):
        prepare_training()
        return _train(config, folder, train, validation, heldout, on_log, log)


def _train(config: VerifyConfig, folder: TrainDir, train: list[Question], validation: list[Question], heldout: list[Question],
           on_log: OnLog | None, log: Any) -> dict[str, Any]:
    from salam.models import resolve_chat_model

    began = time.perf_counter()
    start = config.init or config.base
    guidelines = Guidelines.open(config.memory, config.namespace) if config.memory else None
    try:
        blocks = guidelines.block_map(train + heldout) if guidelines else {}
    finally:
        if guidelines is not None:
            guidelines.memory.close()
    if config.variant == "pag":
        model, tokenizer, base_hash = prepare_model(config, config.full, adapter_of(start))
        fields, about = _fit_pag(config, model, tokenizer, train, blocks, folder, on_log)
    else:
        pairs, counts = sample_first_answers(config, train, resolve_chat_model(start, max_new_tokens=12, batch_size=config.batch_size))
        examples, kinds, owners = build_examples(config, train, pairs, blocks)
        log(f"verify: {sum(counts.values())} first answers ({dict(counts)}), {len(pairs)} distinct; examples {kinds}")
        model, tokenizer, base_hash = prepare_model(config, config.full, adapter_of(start))
        fields = fit_examples(config, model, tokenizer, examples, owners, folder, on_log)
        about = {"first_answers": dict(counts), "distinct_first_answers": len(pairs), "examples_by_kind": kinds,
                 "data_sha256": texts_hash(e.prompt + e.target for e in examples)}
    val = [LetterExample.for_question(q, answer_prompt(q)) for q in validation]
    val_accuracy = letter_accuracy(model, tokenizer, val, config.batch_size, config.max_length)
    spec = save_trained(model, tokenizer, folder, config.base, config.full)
    del model
    chosen, signal = choose_threshold(spec, heldout, config, blocks)
    log(describe_choice(chosen, signal))
    manifest = {
        "method": "verify", "variant": config.variant, "base": config.base, "base_model_sha256": base_hash, "init": start,
        "benchmark": config.benchmark, "tasks": sorted({q.task for q in train}), "train_questions": len(train), **about,
        "seed": config.seed, "with_memory": bool(blocks),
        "settings": settings_of(config), **fields, "validation_questions": len(val),
        "validation_accuracy": val_accuracy, "verify_threshold": chosen["threshold"],
        "verify_threshold_by_role": chosen.get("threshold_by_role"), "verify_reading": chosen["reading"], "heldout": {**chosen, **signal}, "recipe_seconds": time.perf_counter() - began, "spec": spec,
    }
    write_manifest(folder.path, MANIFEST, manifest)
    return manifest


def _fit_pag(config: VerifyConfig, model: Any, tokenizer: Any, train: list[Question], blocks: dict[str, str], folder: TrainDir,
             on_log: OnLog | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``pag`` variant: one trainer run of the exact objective over each question's 1 + 2n prompts."""
    from salam.train.trainer import fit
    from salam.train.verify_objective import VerifyCollator, VerifyWeights, verify_trainer_class

    rows = [{"answer": answer_prompt(q), "verify": [verify_prompt(q, a, blocks.get(q.id, "")) for a in q.letters],
             "revise": [revise_prompt(q, a, blocks.get(q.id, "")) for a in q.letters], "letters": q.letters, "gold": q.answer}
            for q in train]
    trainer_class = verify_trainer_class()
    trainer_class.weights = VerifyWeights(alpha=config.alpha)
    tokens = sum(len(ids) for r in rows for ids in tokenizer([r["answer"], *r["verify"], *r["revise"]])["input_ids"])
    fields = fit(config, model, rows, VerifyCollator(tokenizer, config.max_length), trainer_class, folder, on_log, tokens)
    return fields, {"examples_by_kind": {"questions": len(rows), "prompts_per_question": 1 + 2 * max(len(q.letters) for q in train)},
                    "data_sha256": texts_hash(r["answer"] + r["gold"] for r in rows)}


def choose_threshold(spec: str, heldout: list[Question], config: VerifyConfig, blocks: dict[str, str]) -> tuple[dict, dict]:
    """τ by expected Acc@t2 on the held-out questions, with the verifier's measures there (every revision written)."""
    from salam.models import resolve_chat_model

    from salam._util.ranks import current_world

    model = resolve_chat_model(spec, max_new_tokens=12, batch_size=config.batch_size)
    guidelines = _StaticGuidelines(blocks) if blocks else None
    world = current_world()  # each process verifies its share of the held-out questions; all get every row
    runner = VerifyRunner(model, "choice", config.batch_size, guidelines, revise_all=True)  # type: ignore[arg-type]
    rows = world.gather(runner.run(world.shard(heldout)), len(heldout))
    first_right = [bool(r.t1.correct) for r in rows]
    revised_right = {"any": [bool(r.revision and r.revision.correct) for r in rows],
                     "another": [bool(r.revision_other and r.revision_other.correct) for r in rows]}
    chosen = expected_revision([r.p_wrong for r in rows], first_right, revised_right["any"], revised_right["another"])
    by_id = {q.id: q for q in heldout}
    roles = [answer_role(by_id[r.question_id], r.t1.answer) for r in rows]
    if any(roles):
        final = revised_right[chosen["reading"]]
        taus = role_thresholds([r.p_wrong for r in rows], first_right, final, roles)
        fallback = chosen["threshold"]
        chosen["threshold_by_role"] = taus
        chosen["by_role"] = role_evidence([r.p_wrong for r in rows], first_right, final, roles, taus)
        chosen["heldout_acc_t2_by_role"] = sum(
            (rev if r.p_wrong >= taus.get(role, fallback) else first)
            for r, role, first, rev in zip(rows, roles, first_right, final)) / len(rows)
    groups = [answer_group(by_id[r.question_id], r.t1.answer) for r in rows]
    signal = verifier_metrics([r.model_dump() for r in rows], groups)
    return chosen, {k: v for k, v in signal.items() if k in ("auroc", "auroc_within_groups", "auroc_groups_alone", "n")}


def heldout_questions(config: VerifyConfig, per_task: int | None = None) -> list[Question]:
    """The held-out training-split questions τ is chosen on: the first ``per_task`` (default ``--heldout``) of each
    task after the skipped, trained and validation ones, so neither training nor the test split overlaps them."""
    split = (config.benchmark, config.tasks, config.data_dir, config.split_seed)
    offset = config.skip + (config.limit or 0) + config.validation
    return [q for q in train_split_questions(*split, per_task or config.heldout, offset) if q.is_multiple_choice]


def read_verify_folder(out: Path) -> tuple[dict[str, Any], VerifyConfig]:
    """A finished `salam train verify` folder's manifest and the settings it was trained with; one line otherwise."""
    from salam._util.jsonl import read_json

    manifest = read_json(Path(out) / MANIFEST)
    if isinstance(manifest, dict) and manifest.get("method") not in (None, "verify"):
        raise SalamError(f"{out} holds a {manifest.get('method')!r} model: only verify models choose τ")
    try:
        config = VerifyConfig(**{k: v for k, v in manifest["settings"].items() if k in VerifyConfig.__dataclass_fields__})
        manifest["spec"]
    except (ValueError, KeyError, TypeError) as exc:
        raise SalamError(f"{out} holds no finished `salam train verify` model ({type(exc).__name__})") from None
    return manifest, config


def rechoose(out: Path, log: Any = print, heldout: int | None = None) -> dict[str, Any]:
    """Step 3 again for the trained model in ``out``: τ and the revision reading on its held-out questions (the
    manifest's settings, or the first ``heldout`` per task after the trained and validation ones: more questions
    separate the readings better); the manifest keeps the previous choice under ``heldout_previous``."""
    manifest, config = read_verify_folder(out)
    if heldout is not None and heldout < 1:
        raise SalamError(f"--heldout must be at least 1 question per task, not {heldout}")
    per_task = heldout or config.heldout
    questions = heldout_questions(config, per_task)
    blocks: dict[str, str] = {}
    if manifest.get("with_memory") and config.memory:
        guidelines = Guidelines.open(config.memory, config.namespace)
        try:
            blocks = guidelines.block_map(questions)
        finally:
            guidelines.memory.close()
    chosen, signal = choose_threshold(manifest["spec"], questions, config, blocks)
    log(describe_choice(chosen, signal))
    previous = {"verify_threshold": manifest.get("verify_threshold"), "verify_reading": manifest.get("verify_reading", "any"),
                "verify_threshold_by_role": manifest.get("verify_threshold_by_role"),
                "heldout": manifest.get("heldout"), "created": manifest.get("created"), "git_sha": manifest.get("git_sha")}
    manifest = {**manifest, "verify_threshold": chosen["threshold"], "verify_reading": chosen["reading"],
                "verify_threshold_by_role": chosen.get("threshold_by_role"),
                "heldout": {**chosen, **signal, "heldout_per_task": per_task}, "heldout_previous": previous}
    write_manifest(Path(out), MANIFEST, {k: v for k, v in manifest.items() if k not in ("salam_version", "git_sha", "created")})
    return manifest


@dataclass
class _StaticGuidelines:
    """Guidelines computed once (training and held-out questions share the memory's blocks)."""

    by_id: dict[str, str]

    def blocks(self, questions: list[Question]) -> list[tuple[str, list[str], int]]:
        return [(self.by_id.get(q.id, ""), [], 0) for q in questions]


def describe_choice(chosen: dict[str, Any], signal: dict[str, Any]) -> str:
    """The log line of a held-out choice: τ, the reading, what they gave, and how the verifier ranked there."""
    by_role = chosen.get("threshold_by_role")
    roles = (f"; per answer role {', '.join(f'{k} {v:.4f}' for k, v in by_role.items())} -> Acc@t2 "
             f"{chosen['heldout_acc_t2_by_role']:.3f}") if by_role else ""
    return (f"verify: τ = {chosen['threshold']:.4f}, {chosen['reading']} letter (held-out Acc@t1 {chosen['heldout_acc_t1']:.3f} "
            f"-> Acc@t2 {chosen['heldout_acc_t2']:.3f}{roles}, AUROC {format_auroc(signal.get('auroc'))}, inside answer kinds "
            f"{format_auroc(signal.get('auroc_within_groups'))}, the kind alone {format_auroc(signal.get('auroc_groups_alone'))})"
            + "".join(f"\n  {role}: {describe_evidence(e)}" for role, e in (chosen.get("by_role") or {}).items()))


def describe_evidence(e: dict[str, Any]) -> str:
    """One answer role's held-out evidence (:func:`role_evidence`) in words: why its τ revises or does not."""
    rate = lambda v: "n/a" if v is None else f"{100 * v:.0f}%"  # noqa: E731
    return (f"{e['wrong']} of {e['n']} first answers wrong, AUROC {format_auroc(e['auroc'])}; a revision fixes "
            f"{rate(e['fix_rate_of_wrong'])} of the wrong ones and breaks {rate(e['break_rate_of_right'])} of the right ones; "
            f"at its τ {e['revised']} revised, {e['fixed']} fixed, {e['broken']} broken")


def describe_roles(manifest: dict[str, Any]) -> str:
    """The τ per answer role a manifest records and the held-out Acc@t2 it gave, for the CLI's lines ("" if none)."""
    by_role, held = manifest.get("verify_threshold_by_role"), manifest.get("heldout") or {}
    if not by_role:
        return ""
    return (f"; per answer role {', '.join(f'{k} {v:.4f}' for k, v in by_role.items())} "
            f"(held-out Acc@t2 {100 * held.get('heldout_acc_t2_by_role', float('nan')):.1f}%)")


def format_auroc(value: float | None) -> str:
    """A score to 3 decimals, or n/a where it is undefined (held-out answers all right or all wrong)."""
    return "n/a" if value is None else f"{value:.3f}"
