"""The benchmark runner: gather on the train split, examine the test split under each condition, log, score.

Three steps, each resumable from the run folder (:mod:`salam.bench.rundir`): ``prepare`` (data,
split, manifest), ``gather_step`` (the SALAM gather loop into the run's memory), ``examine_step``
(one condition's sample log). ``run_benchmark`` chains them and writes the summary.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from salam.bench.config import BenchConfig
from salam.bench.rundir import SELF_CORRECT, RunDir, check_writable
from salam.data.split import Splits, side
from salam.defaults import ANSWER_MAX_NEW_TOKENS, ASSISTANT_MAX_NEW_TOKENS
from salam.errors import SalamError
from salam.provenance import provenance
from salam.types import Question

__all__ = ["BenchConfig", "Prepared", "prepare", "gather_step", "examine_step", "self_correct_step", "run_benchmark"]

StageProgress = Callable[[str, int, int], Any]
"""Progress callback of a run: (stage, done, total)."""


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


def prepare(config: BenchConfig, run_dir: Path, resume: bool = False, scoring: str | None = None) -> Prepared:
    """Load and split the data, check a resume, and write the manifest before any work.

    ``scoring`` names what produced choice-mode letters (a forward pass, or a server's logprobs), for the reports.
    """
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
        defaults = {**BenchConfig(benchmark=config.benchmark).recorded(), **BenchConfig.BEFORE_RECORDED}
        diff = sorted(k for k in set(saved) | set(now)
                      if k not in BenchConfig.SERVING_ONLY and saved.get(k, defaults.get(k)) != now.get(k))
        if diff:
            raise SalamError(f"--resume with different settings than the run in {run_dir}: {', '.join(diff)}")
    data, checksums = load_benchmark(config.benchmark, config.tasks, config.data_dir)
    splits = split_benchmark(data, train_fraction=config.train_fraction, seed=config.seed, mode=config.split,  # type: ignore[arg-type]
                             train_limit=config.train_limit, limit=config.limit)
    namespace = run_namespace(config, run)
    memory_dir = config.memory or str(run.memory_path)
    run.create({
        **provenance(), "config": config.recorded(), "letter_scoring": scoring, "namespace": namespace, "memory": memory_dir, "data_checksums": checksums,
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
                    transcript=prep.run.transcript_path, progress=tick, answerer=answerer_for(config, model),
                    batch_size=calls_at_once(config, model))
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
    step = calls_at_once(config, model) * 4
    for start in range(0, len(todo), step):
        chunk = todo[start : start + step]
        results = examine(chunk, model, memory, condition=condition, k=config.k or 0, threshold=config.threshold or 0.0,  # type: ignore[arg-type]
                          namespace=prep.namespace, assistant=assistant, answerer=answerer_for(config, model),
                          batch_size=calls_at_once(config, model), same_task=config.same_task, rank=config.rank, baseline=baseline,
                          outcome_key=prep.outcome_key)
        prep.run.append_samples(condition, results)
        if progress:
            progress(condition, len(test) - len(todo) + start + len(chunk), len(test))
    prep.run.add_timing(condition, time.perf_counter() - began)


def calls_at_once(config: BenchConfig, model: Any) -> int:
    """Prompts handed to the model per call: a local model's batch; for a server, four times its concurrency, so
    its requests stream through the bounded pool instead of waiting in lock-step for the slowest of each batch."""
    return max(config.batch_size, 4 * int(getattr(model, "max_concurrency", 0) or 0))


def answerer_for(config: BenchConfig, model: Any) -> Any:
    """The answerer of every stage of a run: its mode, batch size and chain-of-thought shots."""
    from salam.answering.answerer import Answerer
    from salam.data.bbh import cot_exemplars_for

    return Answerer(model, config.answer_mode, calls_at_once(config, model), cot_exemplars_for(config.shots, config.data_dir),  # type: ignore[arg-type]
                    config.cot_tokens)


def self_correct_step(prep: Prepared, model: Any, memory: Any, progress: StageProgress | None = None) -> None:
    """Run the two-attempt protocol on the test questions not yet logged, appending to its sample log."""
    from salam.selfcorrect.protocol import Guidelines, TwoAttemptRunner

    config, test = prep.config, prep.test
    todo = [q for q in test if q.id not in prep.run.samples(SELF_CORRECT)]
    guidelines = Guidelines(memory, prep.namespace, config.k or 0, config.threshold or 0.0, config.same_task,
                            config.rank) \
        if config.self_correct_memory else None
    if config.self_correct_mode == "tripost":
        from salam.data.bbh import cot_exemplars_for
        from salam.train.tripost.runner import TriPosTRunner

        runner: Any = TriPosTRunner(model, config.max_rounds, cot_exemplars_for(config.shots, config.data_dir), guidelines,
                                    config.cot_tokens, config.wrong_threshold)
    elif config.self_correct_mode == "verify":
        from salam.data.bbh import cot_exemplars_for
        from salam.selfcorrect.verify import VerifyRunner

        runner = VerifyRunner(model, config.answer_mode, calls_at_once(config, model), guidelines,  # type: ignore[arg-type]
                              config.verify_threshold or 0.0, config.verify_reading or "any",
                              exemplars=cot_exemplars_for(config.shots, config.data_dir),
                              role_thresholds=config.verify_threshold_by_role)
    else:
        runner = TwoAttemptRunner(model, config.answer_mode, calls_at_once(config, model), guidelines)  # type: ignore[arg-type]
    began = time.perf_counter()
    step = calls_at_once(config, model) * 4
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
    from salam.bench.requests import RunRequests
    from salam.memory.store import MistakeMemory
    from salam.models.resolve import letter_scoring, model_label, resolve_chat_model

    quiet_libraries()
    config = config.resolved()
    # Everything that can be refused is refused before the manifest exists: no half-made run folders.
    model = model or resolve_chat_model(config.model, base_url=config.base_url, batch_size=config.batch_size,
                                        max_new_tokens=config.cot_tokens if config.answer_mode == "cot"
                                        else ANSWER_MAX_NEW_TOKENS, serving=config.serving(), engine=config.engine)
    answerer_for(config, model)
    if config.self_correct_mode == "tripost":
        from salam.train.tripost.runner import TriPosTRunner

        TriPosTRunner(model, wrong_threshold=config.wrong_threshold)  # refuses a provider model before the run exists
    elif config.self_correct_mode == "verify":
        from salam.selfcorrect.verify import VerifyRunner

        VerifyRunner(model, config.answer_mode)  # type: ignore[arg-type]  # a model that cannot score verdicts: before the run exists
    # Same spec for both: the local backend caches loaded weights per folder, so this costs no second load.
    assistant = StudyAssistant(assistant_model or resolve_chat_model(
        config.assistant, base_url=config.base_url, max_new_tokens=ASSISTANT_MAX_NEW_TOKENS, batch_size=config.batch_size,
        serving=config.serving(), engine=config.engine))
    prep = prepare(config, run_dir, resume, scoring=letter_scoring(model) if config.answer_mode == "choice" else None)
    requests = RunRequests(prep.run, model, assistant.model)
    with MistakeMemory.open(prep.memory_dir, embedder=config.embedder) as memory:
        needs_memory = any(c != "none" for c in config.conditions) or config.self_correct_memory
        if needs_memory and prep.train and config.gather:
            with requests.stage("gather"):
                gather_step(prep, model, assistant, memory, progress)
        for condition in config.conditions:
            with requests.stage(condition):
                examine_step(prep, condition, model, assistant, memory, progress)
        if config.self_correct:
            with requests.stage(SELF_CORRECT):
                self_correct_step(prep, model, memory, progress)
    summary = summarise(prep.run, prep.test, config.conditions, model_label(model), assistant.name)
    prep.run.write_summary(summary)
    return summary
