"""The benchmark runner: gather on the train split, examine the test split under each condition, log, score.

Three steps, each resumable from the run folder (:mod:`salam.bench.rundir`): ``prepare`` (data,
split, manifest), ``gather_step`` (the SALAM gather loop into the run's memory), ``examine_step``
(one condition's sample log). ``run_benchmark`` chains them and writes the summary.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from salam.answering.cot import COT_MAX_NEW_TOKENS
from salam.bench.rundir import SELF_CORRECT, RunDir, check_writable
from salam.conditions import CONDITION_NAMES
from salam.data.split import Splits, side
from salam.defaults import (
    ANSWER_MAX_NEW_TOKENS,
    ASSISTANT_MAX_NEW_TOKENS,
    BATCH_SIZE,
    SAME_TASK,
    retrieval_for,
)
from salam.errors import SalamError
from salam.provenance import provenance
from salam.types import Question

StageProgress = Callable[[str, int, int], Any]
"""Progress callback of a run: (stage, done, total)."""


@dataclass
class BenchConfig:
    """Everything that decides a benchmark run's results; saved in its manifest and checked on ``--resume``."""

    benchmark: str
    """``bbq`` or ``bbh``."""
    model: str = "local"
    """Main model spec."""
    assistant: str | None = None
    """Study assistant spec (default: the main model)."""
    tasks: list[str] = field(default_factory=list)
    """Categories (BBQ) or tasks/subsets (BBH); empty: all available (BBH: the paper's 16)."""
    limit: int | None = 40
    """Test questions per task (None: all)."""
    train_limit: int | None = 12
    """Train questions per task to gather on (None: all)."""
    conditions: list[str] = field(default_factory=lambda: ["none", "mistake", "feedback"])
    """Memory conditions to examine, in order (``none`` first gives the paired baseline)."""
    k: int | None = None
    """Memories per question (None: the paper's value for the benchmark)."""
    threshold: float | None = None
    """Least cosine similarity (None: the paper's value for the benchmark)."""
    rounds: int = 1
    """Retries with feedback per mistake while gathering."""
    answer_mode: str = "choice"
    """``choice`` (letter scoring, local models), ``generate`` (one line) or ``cot`` (steps after BBH's chain-of-thought prompt)."""
    shots: int = 3
    """Chain-of-thought exemplars per prompt in ``cot`` mode (BBH's evaluation: 3)."""
    batch_size: int = BATCH_SIZE
    """Prompts per model call."""
    seed: int = 0
    """Seed of the stratified split."""
    split: str = "seeded"
    """``seeded`` (stratified) or ``file-order`` (the paper's)."""
    train_fraction: float = 0.8
    """Share of each task that is the train split."""
    memory: str | None = None
    """A shared memory folder (default: the run's own ``memory/``)."""
    namespace: str | None = None
    """Namespace to gather into and read from (default: one of the run's own)."""
    gather: bool = True
    """Gather on the train split first (False: examine with the memory as it is)."""
    embedder: str | None = None
    """Embedder of a new memory (default: the bundled MiniLM)."""
    data_dir: str | None = None
    """Folder with ``bbq/`` and ``bbh/`` (default: ``$SALAM_DATA_DIR``, then the cache)."""
    base_url: str | None = None
    """OpenAI-compatible server for ``openai:`` specs."""
    same_task: bool = SAME_TASK
    """Retrieve only memories of the question's own task."""
    self_correct: bool = False
    """Also run the two-attempt self-correction protocol on the test split (Acc@t1, Acc@t2, Δ...)."""
    self_correct_memory: bool = False
    """Attempt 2 carries the memory's guidelines for the question (the feedback_only condition)."""
    self_correct_mode: str = "two-attempt"
    """``two-attempt`` (SCoRe's protocol), ``tripost`` (attempt → own feedback → update, chain of thought) or
    ``verify`` (attempt → verification → a revision only when P(wrong) reaches ``verify_threshold``)."""
    verify_threshold: float | None = None
    """``verify`` mode: τ; None takes the one a `salam train verify` model's manifest records, else 0.5."""
    max_rounds: int = 5
    """Updates at most, in ``tripost`` mode."""
    wrong_threshold: float | None = None
    """``tripost`` mode: the model's feedback names a wrong step when its P(" In" vs " All") reaches this
    (salam's addition; None: its greedy feedback)."""
    max_new_tokens: int | None = None
    """Tokens one chain-of-thought turn may write (``cot`` answers, ``tripost`` attempts and updates; None: 512).
    Local models only; a model that never states its answer costs this much per turn."""

    @property
    def cot_tokens(self) -> int:
        """The token budget of one chain-of-thought turn."""
        return self.max_new_tokens or COT_MAX_NEW_TOKENS

    def resolved(self) -> "BenchConfig":
        """Fill the paper's retrieval defaults and check the values that are not checked elsewhere."""
        k, threshold = retrieval_for(self.benchmark)
        self.k = k if self.k is None else self.k
        self.threshold = threshold if self.threshold is None else self.threshold
        self.assistant = self.assistant or self.model
        if not self.conditions and not self.self_correct and not self.self_correct_memory:
            raise SalamError(f"--conditions is empty: give one or more of {', '.join(CONDITION_NAMES)}")
        bad = [c for c in self.conditions if c not in CONDITION_NAMES]
        if bad:
            raise SalamError(f"unknown condition(s) {', '.join(bad)}; choose from {', '.join(CONDITION_NAMES)}")
        if self.answer_mode not in ("generate", "choice", "cot"):
            raise SalamError("--answer-mode must be choice, generate or cot")
        if self.self_correct_mode not in ("two-attempt", "tripost", "verify"):
            raise SalamError(f"--self-correct must be two-attempt, tripost or verify, not {self.self_correct_mode!r}")
        if self.self_correct_mode == "tripost":
            self.self_correct, self.answer_mode = True, "cot"  # TriPosT reasons in steps
        elif self.self_correct_mode == "verify":
            self.self_correct = True
            self.verify_threshold = _verify_threshold(self.verify_threshold, self.model)
        elif self.answer_mode == "cot" and (self.self_correct or self.self_correct_memory):
            raise SalamError("two-attempt self-correction runs in choice or generate mode; "
                             "in cot mode use --self-correct tripost")
        if self.verify_threshold is not None and self.self_correct_mode != "verify":
            raise SalamError("--verify-threshold decides when to revise: use it with --self-correct verify")
        if self.wrong_threshold is not None and self.self_correct_mode != "tripost":
            raise SalamError("--wrong-threshold decides TriPosT's feedback: use it with --self-correct tripost")
        from salam.train.tripost.runner import check_wrong_threshold

        check_wrong_threshold(self.wrong_threshold)
        if self.self_correct_memory and not self.self_correct:
            self.self_correct = True
        return self

    def recorded(self) -> dict[str, Any]:
        """The settings as the manifest records them (and ``--resume`` compares them): no credentials."""
        from salam._util.urls import redact_url

        return {**asdict(self), "base_url": redact_url(self.base_url)}


def _verify_threshold(given: float | None, model: str) -> float:
    """τ of a verify run: the given one, else the one the model's training chose (its manifest), else 0.5."""
    from salam.selfcorrect.verify import DEFAULT_THRESHOLD, check_threshold
    from salam.train.folder import trained_setting

    check_threshold(given)
    if given is not None:
        return given
    chosen = trained_setting(model, "verify_threshold")
    return float(chosen) if isinstance(chosen, (int, float)) else DEFAULT_THRESHOLD


@dataclass
class Prepared:
    """A run ready to gather and examine: its folder, split and namespace."""

    run: RunDir
    config: BenchConfig
    splits: Splits
    namespace: str
    memory_dir: str

    @property
    def train(self) -> list[Question]:
        return side(self.splits, "train")

    @property
    def test(self) -> list[Question]:
        return side(self.splits, "test")

    @property
    def outcome_key(self) -> str:
        """Unique to this run folder: a resumed run's outcome counts are not counted twice."""
        from salam.types import content_hash

        return "run-" + content_hash(str(self.run.path.resolve()), length=12)


def run_namespace(config: BenchConfig, run: RunDir) -> str:
    """The namespace a run gathers into: the given one, the one its manifest recorded (a resume), or one
    unique to the run folder's full path, so two runs sharing a ``--memory`` never read each other's mistakes."""
    from salam.memory.chroma import check_namespace
    from salam.types import content_hash

    if config.namespace:
        return check_namespace(config.namespace)
    if run.exists():
        return run.manifest()["namespace"]
    if not config.memory:
        return "run"  # the run's own memory folder holds nothing else
    path = run.path.resolve()
    return check_namespace(f"run-{path.name[:40]}-{content_hash(str(path), length=10)}".replace(" ", "_"))


def prepare(config: BenchConfig, run_dir: Path, resume: bool = False) -> Prepared:
    """Load and split the data, check a resume, and write the manifest before any work."""
    from salam.data.questions import load_benchmark
    from salam.data.split import split_benchmark

    config = config.resolved()
    run = RunDir(run_dir)
    if run.exists() and not resume:
        raise SalamError(f"{run_dir} already holds a run: pass --resume to continue it, or choose another --log-dir")
    if not run.exists() and Path(run_dir).is_dir() and any(Path(run_dir).iterdir()):
        raise SalamError(f"{run_dir} is not empty and holds no salam run (no {RunDir.MANIFEST}): "
                         "choose an empty or new --log-dir")
    check_writable(run_dir)
    if resume and run.exists():
        saved, now = run.manifest()["config"], config.recorded()
        # A setting added after the run was made counts as its default, so older runs still resume.
        defaults = BenchConfig(benchmark=config.benchmark).recorded()
        diff = sorted(k for k in set(saved) | set(now) if saved.get(k, defaults.get(k)) != now.get(k))
        if diff:
            raise SalamError(f"--resume with different settings than the run in {run_dir}: {', '.join(diff)}")
    data, checksums = load_benchmark(config.benchmark, config.tasks, config.data_dir)
    splits = split_benchmark(data, train_fraction=config.train_fraction, seed=config.seed, mode=config.split,  # type: ignore[arg-type]
                             train_limit=config.train_limit, limit=config.limit)
    namespace = run_namespace(config, run)
    memory_dir = config.memory or str(run.memory_path)
    run.create({
        **provenance(), "config": config.recorded(), "namespace": namespace, "memory": memory_dir, "data_checksums": checksums,
        "split": {t: {"train": [q.id for q in s["train"]], "test": [q.id for q in s["test"]]} for t, s in splits.items()},
    })
    return Prepared(run, config, splits, namespace, memory_dir)


def gather_step(prep: Prepared, model: Any, assistant: Any, memory: Any, progress: StageProgress | None = None) -> None:
    """Gather on the train split into the run's namespace (resumes from the transcript)."""
    from salam.loops import gather

    train, config = prep.train, prep.config
    began = time.perf_counter()
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress("gather", done, len(train))

    report = gather(train, model, assistant, memory, namespace=prep.namespace, rounds=config.rounds,
                    transcript=prep.run.transcript_path, progress=tick, answerer=answerer_for(config, model))
    prep.run.add_timing("gather", time.perf_counter() - began)
    prep.run.add_assistant_stats({"parse_failures": report.parse_failures, "leaks": report.leaks})


def examine_step(prep: Prepared, condition: str, model: Any, assistant: Any, memory: Any,
                 progress: StageProgress | None = None) -> None:
    """Examine the test questions not yet logged under ``condition``, appending to its sample log."""
    from salam.loops import examine

    config, test = prep.config, prep.test
    finished = prep.run.samples(condition)
    todo = [q for q in test if q.id not in finished]
    baseline = {qid: bool(row["correct"]) for qid, row in prep.run.samples("none").items()} if condition != "none" else None
    if progress:
        progress(condition, len(test) - len(todo), len(test))
    began = time.perf_counter()
    step = config.batch_size * 4
    for start in range(0, len(todo), step):
        chunk = todo[start : start + step]
        results = examine(chunk, model, memory, condition=condition, k=config.k or 0, threshold=config.threshold or 0.0,  # type: ignore[arg-type]
                          namespace=prep.namespace, assistant=assistant, answerer=answerer_for(config, model),
                          batch_size=config.batch_size, same_task=config.same_task, baseline=baseline,
                          outcome_key=prep.outcome_key)
        prep.run.append_samples(condition, results)
        if progress:
            progress(condition, len(test) - len(todo) + start + len(chunk), len(test))
    prep.run.add_timing(condition, time.perf_counter() - began)


def answerer_for(config: BenchConfig, model: Any) -> Any:
    """The answerer of every stage of a run: its mode, batch size and chain-of-thought shots."""
    from salam.answering.answerer import Answerer
    from salam.data.bbh import cot_exemplars_for

    return Answerer(model, config.answer_mode, config.batch_size, cot_exemplars_for(config.shots, config.data_dir),  # type: ignore[arg-type]
                    config.cot_tokens)


def self_correct_step(prep: Prepared, model: Any, memory: Any, progress: StageProgress | None = None) -> None:
    """Run the two-attempt protocol on the test questions not yet logged, appending to its sample log."""
    from salam.selfcorrect.protocol import Guidelines, TwoAttemptRunner

    config, test = prep.config, prep.test
    todo = [q for q in test if q.id not in prep.run.samples(SELF_CORRECT)]
    guidelines = Guidelines(memory, prep.namespace, config.k or 0, config.threshold or 0.0, config.same_task) \
        if config.self_correct_memory else None
    if config.self_correct_mode == "tripost":
        from salam.data.bbh import cot_exemplars_for
        from salam.train.tripost.runner import TriPosTRunner

        runner: Any = TriPosTRunner(model, config.max_rounds, cot_exemplars_for(config.shots, config.data_dir), guidelines,
                                    config.cot_tokens, config.wrong_threshold)
    elif config.self_correct_mode == "verify":
        from salam.data.bbh import cot_exemplars_for
        from salam.selfcorrect.verify import VerifyRunner

        runner = VerifyRunner(model, config.answer_mode, config.batch_size, guidelines,  # type: ignore[arg-type]
                              config.verify_threshold or 0.0, exemplars=cot_exemplars_for(config.shots, config.data_dir))
    else:
        runner = TwoAttemptRunner(model, config.answer_mode, config.batch_size, guidelines)  # type: ignore[arg-type]
    began = time.perf_counter()
    step = config.batch_size * 4
    for start in range(0, len(todo), step):
        chunk = todo[start : start + step]
        prep.run.append_samples(SELF_CORRECT, runner.run(chunk))
        if progress:
            progress(SELF_CORRECT, len(test) - len(todo) + start + len(chunk), len(test))
    prep.run.add_timing(SELF_CORRECT, time.perf_counter() - began)


def run_benchmark(
    config: BenchConfig, run_dir: Path, resume: bool = False, progress: StageProgress | None = None,
    *, model: Any = None, assistant_model: Any = None,
) -> dict[str, Any]:
    """Run (or resume) a benchmark into ``run_dir`` and return its summary.

    ``model`` / ``assistant_model`` (LangChain chat models) override the specs in ``config`` for library use.
    """
    from salam._util.quiet import quiet_libraries
    from salam.assistant import StudyAssistant
    from salam.bench.summary import summarise
    from salam.memory.store import MistakeMemory
    from salam.models.resolve import model_label, resolve_chat_model

    quiet_libraries()
    config = config.resolved()
    # Everything that can be refused is refused before the manifest exists: no half-made run folders.
    model = model or resolve_chat_model(config.model, base_url=config.base_url, batch_size=config.batch_size,
                                        max_new_tokens=config.cot_tokens if config.answer_mode == "cot"
                                        else ANSWER_MAX_NEW_TOKENS)
    answerer_for(config, model)
    if config.self_correct_mode == "tripost":
        from salam.train.tripost.runner import TriPosTRunner

        TriPosTRunner(model, wrong_threshold=config.wrong_threshold)  # refuses a provider model before the run exists
    elif config.self_correct_mode == "verify":
        from salam.selfcorrect.verify import VerifyRunner

        VerifyRunner(model, config.answer_mode)  # type: ignore[arg-type]  # a model that cannot score verdicts: before the run exists
    # Same spec for both: the local backend caches loaded weights per folder, so this costs no second load.
    assistant = StudyAssistant(assistant_model or resolve_chat_model(
        config.assistant, base_url=config.base_url, max_new_tokens=ASSISTANT_MAX_NEW_TOKENS, batch_size=config.batch_size))
    prep = prepare(config, run_dir, resume)
    with MistakeMemory.open(prep.memory_dir, embedder=config.embedder) as memory:
        needs_memory = any(c != "none" for c in config.conditions) or config.self_correct_memory
        if needs_memory and prep.train and config.gather:
            gather_step(prep, model, assistant, memory, progress)
        for condition in config.conditions:
            examine_step(prep, condition, model, assistant, memory, progress)
        if config.self_correct:
            self_correct_step(prep, model, memory, progress)
    summary = summarise(prep.run, prep.test, config.conditions, model_label(model), assistant.name)
    prep.run.write_summary(summary)
    return summary
