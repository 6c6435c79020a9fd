"""The run folder: the one owner of its file names and of how each file is written and read.

A run directory holds everything needed to audit, resume or view a run::

    manifest.json          settings, models, git sha, data checksums, split (written once, before any work)
    gather.jsonl           the gather transcript (imitation-learning data)
    samples/<cond>.jsonl   per-sample logs: prompt, output, answer, score, memories, tokens, latency
    samples/self_correct.jsonl  the two-attempt protocol per question (with --self-correct two-attempt)
    timings.json           wall seconds per stage, summed over resumes
    assistant_stats.json   the assistant's parse failures and redacted leaks, summed over resumes
    requests.json          served models: requests, retries, errors, replayed answers per stage, summed over resumes
    requests.jsonl         served models: every response as it arrived (what a resume answers again from)
    summary.json           metrics, computed from the sample logs only (a resumed run gives the same summary)
    report.md, *.png       the rendered report
    memory/                the run's own mistake memory (unless --memory points elsewhere)

Training folders and the viewer read and write through the same primitives (``provenance``,
atomic JSON, tolerant JSONL).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from salam._util.jsonl import (
    append_jsonl,
    read_json,
    read_jsonl,
    write_json_atomic,
    write_text_atomic,
)
from salam.errors import SalamError

SELF_CORRECT = "self_correct"
"""The sample log of the two-attempt protocol (``samples/self_correct.jsonl``)."""


def check_writable(folder: Path) -> None:
    """Refuse, before any work, a folder that cannot be created or written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".salam-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise SalamError(f"cannot write to {folder}: {exc.strerror or type(exc).__name__}") from exc


@dataclass(frozen=True)
class RunDir:
    """A benchmark run folder. Paths are properties; reads tolerate a run killed at any moment."""

    path: Path

    MANIFEST = "manifest.json"
    SUMMARY = "summary.json"

    @property
    def manifest_path(self) -> Path:
        return self.path / self.MANIFEST

    @property
    def summary_path(self) -> Path:
        return self.path / self.SUMMARY

    @property
    def timings_path(self) -> Path:
        return self.path / "timings.json"

    @property
    def stats_path(self) -> Path:
        return self.path / "assistant_stats.json"

    @property
    def requests_path(self) -> Path:
        return self.path / "requests.json"

    @property
    def journal_path(self) -> Path:
        return self.path / "requests.jsonl"

    @property
    def transcript_path(self) -> Path:
        return self.path / "gather.jsonl"

    @property
    def report_path(self) -> Path:
        return self.path / "report.md"

    @property
    def memory_path(self) -> Path:
        return self.path / "memory"

    @property
    def samples_dir(self) -> Path:
        return self.path / "samples"

    def samples_path(self, condition: str) -> Path:
        """``samples/<condition>.jsonl``; a name that is not a condition (read from a file: data, not a path) is refused."""
        from salam.conditions import CONDITION_NAMES

        if condition not in (*CONDITION_NAMES, SELF_CORRECT):
            raise SalamError(f"{self.path}: {condition!r} is not a condition (its manifest or summary is corrupted)")
        return self.samples_dir / f"{condition}.jsonl"

    def plot_path(self, name: str) -> Path:
        return self.path / f"{name}.png"

    # -- state ------------------------------------------------------------------------------------
    def exists(self) -> bool:
        """Whether a run was started here (its manifest is written before any work)."""
        return self.manifest_path.is_file()

    def is_finished(self) -> bool:
        return self.summary_path.is_file()

    def create(self, manifest: dict[str, Any]) -> None:
        """Make the folder and write the manifest, unless a manifest is already there (a resume)."""
        self.samples_dir.mkdir(parents=True, exist_ok=True)
        if not self.exists():
            write_json_atomic(self.manifest_path, manifest)

    # -- files ------------------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        return self._json(self.manifest_path, "is it a `salam bench` run folder?")

    def summary(self) -> dict[str, Any]:
        return self._json(self.summary_path, "is it a finished `salam bench` run?")

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json_atomic(self.summary_path, summary)

    def timings(self) -> dict[str, float]:
        return read_json(self.timings_path, {})

    def add_timing(self, stage: str, seconds: float) -> None:
        timings = self.timings()
        timings[stage] = timings.get(stage, 0.0) + seconds
        write_json_atomic(self.timings_path, timings)

    def assistant_stats(self) -> dict[str, int]:
        return read_json(self.stats_path, {})

    def add_assistant_stats(self, counts: dict[str, int]) -> None:
        stats = self.assistant_stats()
        for key, value in counts.items():
            stats[key] = stats.get(key, 0) + value
        write_json_atomic(self.stats_path, stats)

    def requests(self) -> dict[str, dict[str, int]]:
        return read_json(self.requests_path, {})

    def add_requests(self, counts: dict[str, dict[str, int]]) -> None:
        """Add per-stage request counts (e.g. ``{"none": {"requests": 160, "retries": 2}}``) to the run's totals."""
        if not counts:
            return
        totals = self.requests()
        for stage, row in counts.items():
            into = totals.setdefault(stage, {})
            for key, value in row.items():
                into[key] = into.get(key, 0) + value
        write_json_atomic(self.requests_path, totals)

    def samples(self, condition: str) -> dict[str, dict[str, Any]]:
        """Sample rows of one condition by question id (a torn last line is skipped)."""
        return {row["question_id"]: row for row in read_jsonl(self.samples_path(condition)) if "question_id" in row}

    def append_samples(self, condition: str, rows: Iterable[Any]) -> None:
        """Append pydantic rows (``model_dump_json``) durably."""
        append_jsonl(self.samples_path(condition), (row.model_dump_json() for row in rows))

    def write_report(self, text: str) -> Path:
        write_text_atomic(self.report_path, text)
        return self.report_path

    def _json(self, path: Path, hint: str) -> dict[str, Any]:
        try:
            value = read_json(path)
        except (OSError, ValueError) as exc:
            raise SalamError(f"{path} is unreadable or corrupted ({type(exc).__name__}); {hint}") from exc
        if not isinstance(value, dict):
            raise SalamError(f"no {path.name} in {self.path}: {hint}")
        return value
