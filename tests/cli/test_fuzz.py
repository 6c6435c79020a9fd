"""A fuzzer: malformed JSONL lines, data files and option values through the real entry point.

Each case must end in a non-zero exit with a message, never an exception escaping the CLI (a
traceback for a user), and must leave an existing memory exactly as it was. The test runs
``SALAM_FUZZ_CASES`` cases (150 by default; ``benchmarks/fuzz_inputs.md`` records a run of 1,000).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from helpers import rec

from salam.memory import MistakeMemory
from salam.testing import HashEmbedder, run_cli

GOOD = json.loads(rec("a valid record").model_dump_json())
JUNK_VALUES = [None, 5, -1, 3.5, "", "x" * 5000, [], {}, [1, 2], {"a": 1}, True, "\x00\x1b[2J", "Ｃ", "nan", "😀" * 50]
_NOT_A_NUMBER = ["abc", "", "0x10", "--", "[]", "1,5", "½"]
_COUNT = ["-1", "-100", "3.7", "1e999", *_NOT_A_NUMBER]          # invalid for a count that may be 0
_POSITIVE = ["0", *_COUNT]                                       # invalid for a count of at least 1
_SIMILARITY = ["nan", "inf", "-inf", "1.5", "-2", "1e999", *_NOT_A_NUMBER]
INVALID = {
    "--page": _POSITIVE, "--limit": _COUNT, "-k": _POSITIVE, "--threshold": _SIMILARITY, "--margin": _POSITIVE,
    "--max-age-days": ["-1", "-0.5", *_NOT_A_NUMBER], "--max-count": _COUNT, "--batch-size": _POSITIVE,
    "--answer-mode": ["bogus", "", "CHOICE", "-5"], "--condition": ["bogus", "", "None", "-5"], "--rounds": _COUNT,
    "--train-fraction": ["0", "1", "nan", "-0.5", "2", *_NOT_A_NUMBER], "--learning-rate": ["0", "-1", "2", "nan", *_NOT_A_NUMBER],
}


def _malformed_line(rng: random.Random) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        return rng.choice(["{", "}", "not json", '{"question": ', "\x00\x01", "[[[", '"just a string"', "123", "null"])
    if kind == 1:
        return json.dumps(rng.choice([[], [GOOD], 7, "text", None, True]))
    record = dict(GOOD)
    if kind == 2:
        record[rng.choice(["question", "true_answer"])] = rng.choice([None, 5, [], {}])
    elif kind == 3:
        key = rng.choice(["kind", "source", "created_at"])  # 5 is a valid created_at (a unix time), not a malformed one
        record[key] = rng.choice(["bogus", "yesterday", [], None] + ([5] if key != "created_at" else []))
    elif kind == 4:
        record.pop(rng.choice(["question", "true_answer"]))
    else:
        record[rng.choice(["retrieved", "helped", "hurt", "options", "schema_version"])] = rng.choice(JUNK_VALUES[1:])
        if isinstance(record.get("options"), list) or record.get("retrieved") in (5, -1, True):
            record["question"] = None  # make sure the line is malformed, not merely odd
    return json.dumps(record)


def _bbq_line(rng: random.Random) -> str:
    row = {"example_id": 1, "question_index": "1", "question_polarity": "neg", "context_condition": "ambig",
           "category": "Age", "answer_info": {"ans0": ["a", "old"], "ans1": ["b", "nonOld"], "ans2": ["c", "unknown"]},
           "context": "c", "question": "q", "ans0": "a", "ans1": "b", "ans2": "c", "label": 1}
    choice = rng.randrange(4)
    if choice == 0:
        row.pop(rng.choice(["context", "ans0", "label", "category", "example_id"]))
    elif choice == 1:
        row["label"] = rng.choice(["x", None, 9, -7, [], 1.5])
    elif choice == 2:
        row["answer_info"] = rng.choice([[], "x", {"ans0": 5}, None])
    else:
        return rng.choice(["[1]", "{", '"s"', "42", json.dumps([row])])
    return json.dumps(row)


RUN_DAMAGE = {
    "manifest.json": ['{"config": "oops"}', "{bad", '{"config": {"conditions": ["none", "../../../secret"]}}', "[]"],
    "summary.json": ['{"conditions": {"none": {"n": 3}}}', '{"conditions": ["none"]}', '{"self_correct": {"macro": {}}}', "{"],
    "timings.json": ["[1, 2", '"text"'],
}
"""Damage to the files a run's report reads (a comparison of two runs reads only their summaries and samples)."""
TRAINING_DAMAGE = {"salam_train_run.json": ["{bad", "[]", '{"method": 5}'], "salam_train_manifest.json": ["{bad", '"text"']}


def _damaged_run(rng: random.Random, run: Path, folder: Path, names: list[str]) -> Path:
    import shutil

    copy = folder / "run"
    shutil.copytree(run, copy)
    name = rng.choice(names)
    (copy / name).write_text(rng.choice(RUN_DAMAGE[name]))
    return copy


def _case(rng: random.Random, tmp: Path, store: str, i: int, run: Path | None = None) -> list[str]:
    kind = rng.randrange(9 if run is not None else 7)
    folder = tmp / f"case{i}"
    folder.mkdir()
    if kind == 7:  # a malformed run folder: its report (one run, or paired with the intact one)
        pair = rng.random() < 0.5
        damaged = _damaged_run(rng, run, folder, ["summary.json"] if pair else sorted(RUN_DAMAGE))  # type: ignore[arg-type]
        return ["bench", "report", *([str(run)] if pair else []), str(damaged)]
    if kind == 8:  # a malformed training folder, resumed
        name = rng.choice(sorted(TRAINING_DAMAGE))
        (folder / "out").mkdir()
        (folder / "out" / name).write_text(rng.choice(TRAINING_DAMAGE[name]))
        return ["train", "sft", "--out", str(folder / "out"), "--resume", "--tasks", "Age", "--limit", "2"]
    if kind == 0:  # a JSONL import with at least one malformed line among valid ones
        lines = [json.dumps(json.loads(rec(f"fuzz {i} {j}").model_dump_json())) for j in range(rng.randrange(3))]
        lines.insert(rng.randrange(len(lines) + 1), _malformed_line(rng))
        (folder / "in.jsonl").write_text("\n".join(lines) + "\n")
        return ["memory", "import", str(folder / "in.jsonl"), "--memory", store]
    if kind == 1:  # a BBQ category file
        (folder / "bbq").mkdir()
        (folder / "bbq" / "Age.jsonl").write_text("\n".join(_bbq_line(rng) for _ in range(rng.randrange(1, 3))) + "\n")
        return ["exam", "--bench", "bbq", "--tasks", "Age", "--data-dir", str(folder), "--memory", store]
    if kind == 2:  # a BBH task file
        (folder / "bbh").mkdir()
        body = rng.choice(['{"examples": 5}', '{"examples": [1]}', '{"examples": [{"input": 1}]}', "[", '{"x": []}',
                           '{"examples": [{"target": "(A)"}]}', '"text"'])
        (folder / "bbh" / "navigate.json").write_text(body)
        return ["exam", "--bench", "bbh", "--tasks", "navigate", "--data-dir", str(folder), "--memory", store]
    if kind == 3:  # the SALAM release
        (folder / "rel").mkdir()
        body = rng.choice(['{"a": 1}', "[1, 2]", '[{"response/prompt_str": 5}]', '[{"task": "x"}]', "{", '[null]',
                           '[{"response/prompt_str": "Q", "response/output": "A"}]'])
        (folder / "rel" / "bbq_flan_t5_mistakes.json").write_text(body)
        if rng.random() < 0.5:
            (folder / "rel" / "bbq_feedback_gpt4.json").write_text(rng.choice(['{"instances": 5}', '{"instances": [1]}', "[]", "{"]))
        return ["memory", "import", "--salam", str(folder / "rel"), "--memory", store]
    if kind == 4:  # teacher files for train il
        (folder / "t.json").write_text(rng.choice(['{"instances": 5}', '{"instances": [1]}', "[]", "{", '{"instances": [{"input": 3, "output": 4}]}']))
        return ["train", "il", "--out", str(folder / "out"), "--teacher", str(folder / "t.json")]
    if kind == 5:  # memory commands with bad values
        command, option = rng.choice([("list", "--page"), ("list", "--limit"), ("search", "-k"), ("search", "--threshold"),
                                      ("prune", "--margin"), ("prune", "--max-age-days"), ("prune", "--max-count")])
        value = rng.choice(INVALID[option])
        return ["memory", command, *(["x"] if command == "search" else []), option, value, "--memory", store]
    command, option = rng.choice([("bench", "--limit"), ("bench", "--batch-size"), ("bench", "--threshold"), ("bench", "-k"),
                                  ("bench", "--answer-mode"), ("exam", "--threshold"), ("exam", "--condition"), ("gather", "--rounds"),
                                  ("exam", "--train-fraction"), ("train", "--learning-rate")])
    value = rng.choice(INVALID[option])
    if command == "train":
        return ["train", "il", "--out", str(folder / "o"), "--teacher", "x.json", option, value]
    return [command, *(["bbq"] if command == "bench" else ["--bench", "bbq"]), option, value]


def _intact_run(folder: Path) -> Path:
    """A finished run (scripted model, real BBQ files) for the malformed-run cases to damage copies of."""
    from salam.bench.runner import BenchConfig, run_benchmark
    from salam.testing import ScriptedChatModel

    config = BenchConfig(benchmark="bbq", tasks=["Age"], limit=2, train_limit=2, conditions=["none"], answer_mode="generate",
                         batch_size=2, embedder="hash-bow-64", self_correct=True, gather=False)
    run_benchmark(config, folder, model=ScriptedChatModel(replies=["A)"]))
    return folder


def _fingerprint(folder: str) -> list[str]:
    with MistakeMemory.open(folder, embedder=HashEmbedder()) as mem:
        return sorted(r.model_dump_json() for r in mem.iter_records())


def test_malformed_inputs_never_crash_and_never_change_the_store(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    store = str(tmp_path / "store")
    with MistakeMemory.open(store, embedder=HashEmbedder()) as mem:
        mem.add([rec(f"an existing record {i}") for i in range(10)])
    before = _fingerprint(store)
    run = _intact_run(tmp_path / "intact") if os.environ.get("SALAM_DATA_DIR") else None
    rng = random.Random(int(os.environ.get("SALAM_FUZZ_SEED", "0")))
    n = int(os.environ.get("SALAM_FUZZ_CASES", "150"))
    failures = []
    for i in range(n):
        argv = _case(rng, tmp_path, store, i, run)
        try:
            code, out, err = run_cli(*argv)
        except BaseException as exc:  # noqa: BLE001 - an escaping exception is exactly what this test looks for
            failures.append(f"{argv}: {type(exc).__name__}: {exc}")
            continue
        if code == 0 or not err.strip() or "Traceback" in err:
            failures.append(f"{argv}: exit {code}, stderr {err[-300:]!r}")
    assert not failures, "\n".join(failures[:20])
    assert _fingerprint(store) == before
    print(f"fuzz: {n} cases, 0 failures, store unchanged")
