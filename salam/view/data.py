"""What the viewer shows, read only through the modules that own each format.

Run folders through :class:`salam.bench.rundir.RunDir`, training folders through
:class:`salam.train.folder.TrainDir`; a folder that is neither, or whose files are corrupted, becomes
a one-line problem on its page, never an error of the server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salam.bench.rundir import SELF_CORRECT, RunDir
from salam.errors import MALFORMED, SalamError, describe_malformed
from salam.train.folder import TrainDir


@dataclass
class Found:
    """Run and training folders by a short id (the folder's name, made unique), and folders that are neither."""

    runs: dict[str, Path] = field(default_factory=dict)
    trainings: dict[str, Path] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _slug(path: Path, taken: dict[str, Path]) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", path.name) or "run"
    slug, n = base, 2
    while slug in taken and taken[slug] != path:
        slug, n = f"{base}-{n}", n + 1
    return slug


def printable(path: Path) -> str:
    """A path as text that can be shown, even when its name is not UTF-8."""
    import os

    return os.fsencode(path).decode("utf-8", "replace")


def discover(run_dirs: list[Path], logs: Path | None) -> Found:
    """Runs and training folders given explicitly and found one level under ``logs``."""
    found = Found()
    candidates = list(run_dirs)
    if logs is not None and logs.is_dir():
        candidates += sorted(p for p in logs.iterdir() if p.is_dir())
    for path in candidates:
        path = path.resolve()
        if printable(path) != str(path):
            found.problems.append(f"{printable(path)}: its name is not UTF-8 text; rename it to show it")
            continue
        if RunDir(path).exists():
            found.runs.setdefault(_slug(path, found.runs), path)
        elif TrainDir(path).is_finished():
            found.trainings.setdefault(_slug(path, found.trainings), path)
        elif path in [p.resolve() for p in run_dirs]:
            found.problems.append(f"{path} is not a salam run or training folder (no manifest.json or "
                                  "salam_train_manifest.json)")
    return found


def run_row(slug: str, path: Path) -> dict[str, Any]:
    """One line of the runs list: model, benchmark, date, conditions, headline accuracy (or the problem)."""
    run = RunDir(path)
    row: dict[str, Any] = {"id": slug, "path": str(path), "problem": None}
    try:
        manifest = run.manifest()
        config = manifest.get("config", {})
        row.update(benchmark=config.get("benchmark", "?"), model=config.get("model", "?"), created=manifest.get("created", ""),
                   conditions=", ".join(config.get("conditions", [])) + (" + self-correct" if config.get("self_correct") else ""))
        if not run.is_finished():
            row["problem"] = "not finished (no summary.json yet)"
            return row
        summary = run.summary()
        conditions = summary.get("conditions", {})
        first = next(iter(conditions), None)
        row["headline"] = f"{first} {100 * conditions[first]['accuracy']:.1f}%" if first else ""
        sc = summary.get("self_correct", {}).get("macro")
        if sc:
            row["headline"] += f" · t1 {100 * sc['acc_t1']:.1f}% → t2 {100 * sc['acc_t2']:.1f}%"
        row["model"] = summary.get("model", row["model"])
    except MALFORMED as exc:
        row["problem"] = describe_malformed(exc)
    return row


def run_page(path: Path) -> dict[str, Any]:
    """The run's summary, manifest and which plots it has (raises SalamError for a broken run)."""
    run = RunDir(path)
    manifest = run.manifest()
    summary = run.summary()
    return {"manifest": manifest, "summary": summary, "timings": run.timings(),
            "plots": [name for name in ("accuracy", "bias") if run.plot_path(name).is_file()]}


def conditions_of(path: Path) -> list[str]:
    """The run's conditions in order, then the self-correction log if it has one."""
    config = RunDir(path).manifest().get("config", {})
    return list(config.get("conditions", [])) + ([SELF_CORRECT] if config.get("self_correct") else [])


def sample_rows(path: Path, task: str = "", condition: str = "", correct: str = "", flipped: bool = False) -> list[dict[str, Any]]:
    """Per-sample rows of every condition, filtered. ``flipped``: the answer's correctness differs from ``none``
    (or, in the self-correction log, between the two attempts)."""
    run = RunDir(path)
    none = run.samples("none")
    rows = []
    for name in conditions_of(path):
        if condition and name != condition:
            continue
        for qid, row in run.samples(name).items():
            if name == SELF_CORRECT:
                ok = bool(row["t2"]["correct"])
                flip = bool(row["t1"]["correct"]) != ok
                answer = f"{row['t1'].get('answer')} → {row['t2'].get('answer')}"
                used = len(row.get("memories", []))
            else:
                ok = bool(row.get("correct"))
                flip = name != "none" and qid in none and bool(none[qid]["correct"]) != ok
                answer = row.get("answer")
                used = len(row.get("memories", []))
            if task and row.get("task") != task:
                continue
            if correct in ("yes", "no") and ok != (correct == "yes"):
                continue
            if flipped and not flip:
                continue
            rows.append({"question_id": qid, "task": row.get("task", ""), "condition": name, "answer": answer,
                         "correct": ok, "flipped": flip, "memories": used})
    return rows


def sample_page(path: Path, question_id: str) -> dict[str, Any]:
    """One question under every condition: prompt, output, answer, memories with similarity."""
    run = RunDir(path)
    shown = []
    for name in conditions_of(path):
        row = run.samples(name).get(question_id)
        if row is not None:
            shown.append((name, row))
    if not shown:
        raise SalamError(f"no question {question_id!r} in this run")
    return {"question_id": question_id, "task": shown[0][1].get("task", ""), "conditions": shown}


def paired(path_a: Path, path_b: Path) -> list[Any]:
    """Per condition present in both runs (and each self-correction attempt): accuracy of each on the shared
    questions and exact McNemar, as `salam bench report` prints them."""
    from salam.bench.compare import paired_rows

    shared = [c for c in conditions_of(path_a) if c in conditions_of(path_b)]
    return paired_rows(RunDir(path_a), RunDir(path_b), shared)


def training_row(slug: str, path: Path) -> dict[str, Any]:
    folder = TrainDir(path)
    try:
        manifest = folder.manifest()
        parts = manifest.get("iterations", manifest.get("stages", []))
        return {"id": slug, "path": str(path), "problem": None, "method": str(manifest.get("method", "?")),
                "created": str(manifest.get("created", "")), "spec": str(manifest.get("spec", "")),
                "parts": (len(parts) if isinstance(parts, list) else 0) or 1}
    except MALFORMED as exc:
        return {"id": slug, "path": str(path), "problem": describe_malformed(exc)}


def training_page(path: Path) -> dict[str, Any]:
    """The folder's manifest and each part (supervised start, iterations, stages) with its loss curve."""
    folder = TrainDir(path)
    manifest = folder.manifest()
    parts = [(name, sub.manifest()) for name, sub in folder.parts()]
    if not parts:
        parts.append((path.name, manifest))
    return {"manifest": manifest, "parts": parts}


def one_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
