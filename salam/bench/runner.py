"""The benchmark runner: gather on the train split, examine the test split under each condition, log, score.

A run directory holds everything needed to audit or resume it::

    manifest.json       settings, models, git sha, data checksums, split
    gather.jsonl        the gather transcript (imitation-learning data)
    samples/<cond>.jsonl per-sample logs: prompt, output, answer, score, memories, tokens, latency
    summary.json        metrics, written from the sample logs (so a resumed run gives the same summary)
    memory/             the run's own mistake memory (unless --memory points elsewhere)
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from salam.errors import SalamError
from salam.guidance import SOURCES
from salam.types import Question

PAPER_RETRIEVAL = {"bbq": (3, 0.9), "bbh": (1, 0.95)}


@dataclass
class BenchConfig:
    benchmark: str
    model: str = "local"
    assistant: str | None = None
    tasks: list[str] = field(default_factory=list)
    limit: int | None = 40
    train_limit: int | None = 12
    conditions: list[str] = field(default_factory=lambda: ["none", "mistake", "feedback"])
    k: int | None = None
    threshold: float | None = None
    rounds: int = 1
    answer_mode: str = "choice"
    batch_size: int = 8
    seed: int = 0
    split: str = "seeded"
    train_fraction: float = 0.8
    memory: str | None = None
    namespace: str | None = None
    gather: bool = True
    embedder: str | None = None
    data_dir: str | None = None
    base_url: str | None = None
    same_task: bool = True

    def resolved(self) -> "BenchConfig":
        k, threshold = PAPER_RETRIEVAL.get(self.benchmark, (3, 0.9))
        self.k = k if self.k is None else self.k
        self.threshold = threshold if self.threshold is None else self.threshold
        self.assistant = self.assistant or self.model
        bad = [c for c in self.conditions if c not in SOURCES]
        if bad:
            raise SalamError(f"unknown condition(s) {', '.join(bad)}; choose from {', '.join(SOURCES)}")
        if self.answer_mode not in ("generate", "choice"):
            raise SalamError("--answer-mode must be generate or choice")
        return self


def _git_sha() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                              cwd=Path(__file__).resolve().parent).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def load_benchmark(config: BenchConfig) -> tuple[dict[str, list[Question]], dict[str, str]]:
    """Questions per task and the sha256 of each data file read."""
    from salam.bench.data import locate, sha256_file

    if config.benchmark == "bbq":
        from salam.bench.bbq import available_bbq_categories, load_bbq

        tasks = config.tasks or available_bbq_categories(config.data_dir)
        data = load_bbq(tasks, config.data_dir)
    elif config.benchmark == "bbh":
        from salam.bench.bbh import PAPER_MC_TASKS, SUBSETS, available_bbh_tasks, load_bbh

        requested = config.tasks or ["paper"]
        tasks = []
        for t in requested:
            tasks += available_bbh_tasks(SUBSETS[t], config.data_dir) if t in SUBSETS else [t]
        if not tasks:
            raise SalamError(f"none of the BBH tasks {', '.join(PAPER_MC_TASKS)} found; set --data-dir")
        data = load_bbh(list(dict.fromkeys(tasks)), config.data_dir)
    else:
        raise SalamError(f"unknown benchmark {config.benchmark!r}: bbq or bbh")
    suffix = ".jsonl" if config.benchmark == "bbq" else ".json"
    checksums = {f"{config.benchmark}/{t}{suffix}": sha256_file(locate(config.benchmark, t, config.data_dir, download=False)) for t in data}
    return data, checksums


def make_split(config: BenchConfig, data: dict[str, list[Question]]) -> dict[str, dict[str, list[Question]]]:
    from salam.bench.split import balanced_prefix, split_task

    out: dict[str, dict[str, list[Question]]] = {}
    for task, questions in data.items():
        train, test = split_task(questions, config.train_fraction, config.seed, config.split)  # type: ignore[arg-type]
        out[task] = {"train": balanced_prefix(train, config.train_limit), "test": balanced_prefix(test, config.limit)}
    return out


def _read_ids(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    ids = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            ids.add(json.loads(line)["question_id"])
        except (ValueError, KeyError):
            continue  # a torn last line from a killed run
    return ids


def _manifest(config: BenchConfig, split: dict, checksums: dict[str, str], namespace: str, memory_dir: str) -> dict[str, Any]:
    from salam import __version__

    return {
        "salam_version": __version__, "git_sha": _git_sha(), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": asdict(config), "namespace": namespace, "memory": memory_dir, "data_checksums": checksums,
        "split": {t: {"train": [q.id for q in s["train"]], "test": [q.id for q in s["test"]]} for t, s in split.items()},
    }


Progress = Callable[[str, int, int], Any]


def run_benchmark(
    config: BenchConfig, run_dir: Path, resume: bool = False, progress: Progress | None = None,
    *, model: Any = None, assistant_model: Any = None,
) -> dict[str, Any]:
    """Run (or resume) a benchmark into ``run_dir`` and return its summary.

    ``model`` / ``assistant_model`` (LangChain chat models) override the specs in ``config`` for library use.
    """
    from salam.agent import examine, gather
    from salam.assistant import StudyAssistant
    from salam.bench.summary import summarise, write_summary
    from salam.jsonl import append_jsonl
    from salam.memory.store import MistakeMemory
    from salam.models.resolve import model_label, resolve_chat_model
    from salam.quiet import quiet_libraries

    quiet_libraries()
    config = config.resolved()
    manifest_path = run_dir / "manifest.json"
    if manifest_path.exists() and not resume:
        raise SalamError(f"{run_dir} already holds a run: pass --resume to continue it, or choose another --log-dir")
    if resume and manifest_path.exists():
        saved = json.loads(manifest_path.read_text())["config"]
        if saved != asdict(config):
            diff = sorted(k for k in saved if saved[k] != asdict(config).get(k))
            raise SalamError(f"--resume with different settings than the run in {run_dir}: {', '.join(diff)}")
    data, checksums = load_benchmark(config)
    split = make_split(config, data)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "samples").mkdir(exist_ok=True)
    namespace = config.namespace or (f"run-{run_dir.resolve().name}"[:61] if config.memory else "run")
    memory_dir = config.memory or str(run_dir / "memory")
    if not manifest_path.exists():
        manifest = _manifest(config, split, checksums, namespace, memory_dir)
        tmp = manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=2, default=str))
        tmp.replace(manifest_path)
    model = model or resolve_chat_model(config.model, base_url=config.base_url, max_new_tokens=12, batch_size=config.batch_size)
    # Same spec for both: the local backend caches loaded weights per folder, so this costs no second load.
    assistant = StudyAssistant(assistant_model or resolve_chat_model(
        config.assistant, base_url=config.base_url, max_new_tokens=64, batch_size=config.batch_size))
    train = [q for s in split.values() for q in s["train"]]
    test = [q for s in split.values() for q in s["test"]]
    timings: dict[str, float] = {}
    timings_path = run_dir / "timings.json"
    if timings_path.is_file():
        timings = json.loads(timings_path.read_text())
    with MistakeMemory.open(memory_dir, embedder=config.embedder) as memory:
        needs_memory = any(c != "none" for c in config.conditions)
        if needs_memory and train and config.gather:
            began = time.perf_counter()
            done = 0

            def tick(n: int) -> None:
                nonlocal done
                done += n
                if progress:
                    progress("gather", done, len(train))

            report = gather(train, model, assistant, memory, namespace=namespace, rounds=config.rounds,
                            transcript=run_dir / "gather.jsonl", answer_mode=config.answer_mode,  # type: ignore[arg-type]
                            batch_size=config.batch_size, progress=tick)
            timings["gather"] = timings.get("gather", 0.0) + time.perf_counter() - began
            _save_json(timings_path, timings)
            stats = {"parse_failures": report.parse_failures, "leaks": report.leaks}
            _merge_json(run_dir / "assistant_stats.json", stats)
        for condition in config.conditions:
            path = run_dir / "samples" / f"{condition}.jsonl"
            finished = _read_ids(path)
            todo = [q for q in test if q.id not in finished]
            if progress:
                progress(condition, len(test) - len(todo), len(test))
            began = time.perf_counter()
            for start in range(0, len(todo), config.batch_size * 4):
                chunk = todo[start : start + config.batch_size * 4]
                results = examine(chunk, model, memory, source=condition, k=config.k or 0, threshold=config.threshold or 0.0,  # type: ignore[arg-type]
                                  namespace=namespace, assistant=assistant, answer_mode=config.answer_mode,  # type: ignore[arg-type]
                                  batch_size=config.batch_size, same_task=config.same_task)
                append_jsonl(path, (r.model_dump_json() for r in results))
                if progress:
                    progress(condition, len(test) - len(todo) + start + len(chunk), len(test))
            timings[condition] = timings.get(condition, 0.0) + time.perf_counter() - began
            _save_json(timings_path, timings)
    summary = summarise(run_dir, test, config.conditions, model_label(model), assistant.name)
    write_summary(run_dir, summary)
    return summary


def _save_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(path)


def _merge_json(path: Path, data: dict[str, int]) -> None:
    old = json.loads(path.read_text()) if path.is_file() else {}
    for key, value in data.items():
        old[key] = old.get(key, 0) + value
    _save_json(path, old)
