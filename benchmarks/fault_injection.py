"""Kill salam with SIGKILL at random moments, resume, and check that nothing was lost or doubled.

Run: SALAM_DATA_DIR=... python benchmarks/fault_injection.py [--kills 50] [--train-kills 10]

- `memory import` of 3,000 records (hash embedder, so a run takes seconds): each kill lands at a
  random moment; after it the folder must open, hold at least every record the import had
  acknowledged ("committed N/M"), and hold no duplicates; the next import resumes. At the end the
  memory holds exactly the 3,000 records.
- `bench` (scripted main model and assistant, the real BBQ files, gather + three conditions): each
  kill lands at a random moment of a run that is then resumed with --resume semantics; the final
  summary (computed from the sample logs) must equal an uninterrupted run's.
- `train il` (the real embedded model, LoRA, 6 steps with a checkpoint every 2): killed at random
  moments and rerun; the run must finish with its 6 steps and an adapter that loads.
- `saves` (every `salam train` recipe, the real embedded model, a checkpoint every step): each run is
  killed while it writes a checkpoint (0-0.3 s after the checkpoint's folder appears) and rerun with
  --resume, `--save-kills` times; every rerun must start (none may trip over a half-written
  checkpoint), and the last one must finish with all its steps, its whole loss log and an adapter.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DRIVER = """
import sys
from pathlib import Path
from salam.bench.runner import BenchConfig, run_benchmark
from salam.testing import ScriptedChatModel
config = BenchConfig(benchmark="bbq", tasks=["Age", "Nationality"], limit=10, train_limit=8, data_dir=sys.argv[2],
                     conditions=["none", "mistake", "feedback"], answer_mode="generate", batch_size=2,
                     embedder="hash-bow-64", threshold=0.3)
main = ScriptedChatModel(reply_fn=lambda p: "B)" if "Guideline" in p or "Wrong answer" in p else "A)")
helper = ScriptedChatModel(replies=['Use only facts from the text.", "reason": "guess"}'])
run = Path(sys.argv[1])
run_benchmark(config, run, resume=(run / "manifest.json").exists(), model=main, assistant_model=helper)
"""


def _kill_after(cmd: list[str], delay: float, env: dict, stderr_path: Path) -> int:
    with stderr_path.open("wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=ROOT)
        try:
            proc.wait(timeout=delay)
            return proc.returncode  # it finished before the kill
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return -9


def _memory_state(folder: Path) -> tuple[int, int]:
    from salam.memory import MistakeMemory

    with MistakeMemory.open(folder, embedder="hash-bow-64") as mem:
        ids = [r.id for r in mem.iter_records()]
    return len(ids), len(ids) - len(set(ids))


def import_trial(tmp: Path, kills: int, rng: random.Random, env: dict) -> dict:
    from salam.types import MistakeRecord

    source = tmp / "records.jsonl"
    n = 3000
    source.write_text("".join(MistakeRecord(question=f"imported question {i} " + "filler " * 15, wrong_answer="A",
                                            true_answer="B").model_dump_json() + "\n" for i in range(n)))
    lost = dupes = unusable = killed = completed = 0
    folder = tmp / "mem-0"
    for trial in range(kills):
        cmd = [sys.executable, "-m", "salam.cli.main", "memory", "import", str(source), "--memory", str(folder), "--embedder", "hash-bow-64"]
        code = _kill_after(cmd, rng.uniform(0.5, 5.0), env, tmp / "import.err")
        killed += code == -9
        marks = [m for m in (tmp / "import.err").read_text(errors="ignore").replace("\r", "\n").split("\n") if m.startswith("committed ")]
        acknowledged = int(marks[-1].split()[1].split("/")[0]) if marks else 0
        try:
            count, dup = _memory_state(folder)
        except Exception:  # noqa: BLE001 - an unusable folder is what this counts
            unusable += 1
            continue
        lost += max(0, acknowledged - count)
        dupes += dup
        if count == n:  # this folder is complete: check it, then kill the next imports in a new one
            completed += 1
            folder = tmp / f"mem-{trial + 1}"
    cmd = [sys.executable, "-m", "salam.cli.main", "memory", "import", str(source), "--memory", str(folder), "--embedder", "hash-bow-64"]
    final = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    count, dup = _memory_state(folder)
    return {"runs": kills, "killed": killed, "acknowledged_lost": lost, "duplicates": dupes + dup, "unusable_folders": unusable,
            "folders_completed_by_resuming": completed, "final_exit": final.returncode, "final_records": count, "expected": n}


def bench_trial(tmp: Path, kills: int, rng: random.Random, env: dict, data_dir: str) -> dict:
    driver = tmp / "driver.py"
    driver.write_text(BENCH_DRIVER)
    clean = tmp / "clean"
    subprocess.run([sys.executable, str(driver), str(clean), data_dir], check=True, env=env, cwd=ROOT)
    started = time.perf_counter()
    subprocess.run([sys.executable, str(driver), str(tmp / "timing"), data_dir], check=True, env=env, cwd=ROOT)
    duration = time.perf_counter() - started
    killed = unusable = 0
    summaries_equal = True
    for trial in range(kills):
        run = tmp / f"killed-{trial}"
        code = _kill_after([sys.executable, str(driver), str(run), data_dir], rng.uniform(0.3, duration), env, tmp / "bench.err")
        killed += code == -9
        done = subprocess.run([sys.executable, str(driver), str(run), data_dir], capture_output=True, text=True, env=env, cwd=ROOT)
        if done.returncode != 0:
            unusable += 1
            continue
        a, b = (json.loads((d / "summary.json").read_text()) for d in (clean, run))
        summaries_equal &= a == b
    return {"runs": kills, "killed": killed, "resume_failures": unusable, "summaries_identical": summaries_equal,
            "uninterrupted_run_s": round(duration, 1)}


def train_trial(tmp: Path, kills: int, rng: random.Random, env: dict, data_dir: str) -> dict:
    out = tmp / "il"
    cmd = [sys.executable, "-m", "salam.cli.main", "train", "il", "--out", str(out), "--teacher",
           str(Path(data_dir) / "salam" / "bbq_feedback_gpt4.json"), "--limit", "24", "--max-steps", "6", "--batch-size", "2",
           "--grad-accum", "1", "--min-examples", "8", "--save-steps", "2", "--resume"]  # --resume: the first run starts, later ones continue
    killed = 0
    for _ in range(kills):
        killed += _kill_after(cmd, rng.uniform(5, 40), env, tmp / "train.err") == -9
    final = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    from salam.train.folder import TrainDir

    manifest = TrainDir(out).manifest() if TrainDir(out).is_finished() else {}
    return {"runs": kills, "killed": killed, "final_exit": final.returncode, "steps": manifest.get("steps"),
            "adapter": (out / "adapter_config.json").is_file()}


SAVE_RUNS = {
    "il": ["--teacher", "{data}/salam/bbq_feedback_gpt4.json", "--limit", "24", "--max-steps", "12", "--batch-size", "2",
           "--grad-accum", "1", "--min-examples", "8"],
    "sft": ["--tasks", "Age", "--limit", "24", "--validation", "2", "--max-steps", "12", "--batch-size", "2"],
    "stasc": ["--tasks", "Age", "--limit", "12", "--validation", "2", "--iterations", "1", "--n-init", "3", "--n-corr", "3",
              "--temperature", "1.5", "--max-steps", "12", "--batch-size", "2"],
    "tripost": ["--tasks", "multistep_arithmetic_two", "--limit", "4", "--iterations", "1", "--max-rounds", "1",
                "--max-steps", "6", "--batch-size", "2"],
    "score": ["--tasks", "Age", "--limit", "8", "--validation", "2", "--stage1-steps", "6", "--stage2-steps", "6",
              "--eval-every", "3", "--batch-size", "2"],
    "verify": ["--tasks", "Age", "--limit", "12", "--validation", "2", "--heldout", "2", "--temperature", "2.0",
               "--max-steps", "12", "--batch-size", "2"],
}
"""Small runs of each recipe with 12 checkpoints (TriPosT: 6 in its supervised start, 6 in iteration 1)."""


def _checkpoints(out: Path) -> set[Path]:
    return set(out.glob("**/checkpoints/checkpoint-*")) if out.is_dir() else set()


def _kill_while_saving(cmd: list[str], out: Path, rng: random.Random, env: dict, log: Path, limit_s: float = 900) -> str:
    """Run ``cmd`` and SIGKILL it 0-0.3 s after a new checkpoint folder appears: 'killed', 'finished' or 'failed'."""
    seen = _checkpoints(out)
    with log.open("ab") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=ROOT)
        began = time.monotonic()
        while proc.poll() is None and time.monotonic() - began < limit_s:
            if _checkpoints(out) - seen:
                time.sleep(rng.uniform(0.0, 0.3))
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    return "killed"
            time.sleep(0.02)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return "finished" if proc.returncode == 0 else "failed"


def save_trial(tmp: Path, kills: int, rng: random.Random, env: dict, data_dir: str) -> dict:
    from salam.train.folder import TrainDir
    from salam.train.trainer import is_complete_checkpoint

    results = {}
    for method, extra in SAVE_RUNS.items():
        out = tmp / method
        cmd = [sys.executable, "-m", "salam.cli.main", "train", method, "--out", str(out), "--save-steps", "1", "--display", "none",
               "--resume", *(a.replace("{data}", data_dir) for a in extra)]
        outcomes: dict[str, int] = {"killed": 0, "finished": 0, "failed": 0}
        torn = 0
        began = time.perf_counter()
        for _ in range(kills):
            outcome = _kill_while_saving(cmd, out, rng, env, tmp / f"{method}.err")
            outcomes[outcome] += 1
            torn += sum(not is_complete_checkpoint(c) for c in _checkpoints(out))
            if outcome != "killed":
                break
        final = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        folder = TrainDir(out)
        manifests = [part.manifest() for _, part in folder.parts()] or ([folder.manifest()] if folder.is_finished() else [])
        steps = [m.get("steps") for m in manifests]
        logged = [len(m.get("loss_log", [])) for m in manifests]
        results[method] = {"kills": outcomes["killed"], "kills_that_left_a_torn_checkpoint": torn,
                           "reruns_that_failed": outcomes["failed"] + (final.returncode != 0), "final_exit": final.returncode,
                           "steps": steps, "loss_log_entries": logged, "seconds": round(time.perf_counter() - began)}
        print(method, results[method], flush=True)
    return results


def _curation_state(folder: Path) -> dict:
    from salam.memory import MistakeMemory

    with MistakeMemory.open(folder, embedder="hash-bow-64") as mem:
        records = list(mem.iter_records())
    return {"count": len(records), "ids": sorted(r.id for r in records),
            "covered": sorted({i for r in records for i in (r.id, *r.merged_ids)}),
            "helped": sum(r.helped for r in records), "hurt": sum(r.hurt for r in records)}


def curate_trial(tmp: Path, kills: int, rng: random.Random, env: dict) -> dict:
    """`salam memory curate` killed at a random moment, then run again: the same memory as an uninterrupted one."""
    import shutil

    from salam.memory import MistakeMemory
    from salam.types import MistakeRecord

    base = tmp / "base"
    words = [f"w{n}" for n in range(5000)]
    stories = [" ".join(rng.choice(words) for _ in range(20)) for _ in range(1000)]
    with MistakeMemory.open(base, embedder="hash-bow-64") as mem:  # 1,000 stories, 10 twins each (another name)
        mem.add([MistakeRecord(question=f"{story} and friend{i}. Who?", task=f"task{t % 5}", true_answer="B",
                               helped=i % 3, hurt=i % 2) for t, story in enumerate(stories) for i in range(10)])
    original = _curation_state(base)

    def curate_cmd(folder: Path, export: Path) -> list[str]:
        return [sys.executable, "-m", "salam.cli.main", "memory", "curate", "--memory", str(folder), "--embedder", "hash-bow-64",
                "--threshold", "0.8", "--yes", "--export", str(export)]

    shutil.copytree(base, tmp / "reference")
    subprocess.run(curate_cmd(tmp / "reference", tmp / "reference.jsonl"), check=True, capture_output=True, env=env, cwd=ROOT)
    reference = _curation_state(tmp / "reference")
    killed = mismatched = lost = 0
    for trial in range(kills):
        folder, export = tmp / f"m{trial}", tmp / f"e{trial}.jsonl"
        shutil.copytree(base, folder)
        killed += _kill_after(curate_cmd(folder, export), rng.uniform(1.0, 8.0), env, tmp / "curate.err") == -9
        subprocess.run(curate_cmd(folder, export), capture_output=True, env=env, cwd=ROOT)  # finishes (or plans anew)
        state = _curation_state(folder)
        lost += len(set(original["ids"]) - set(state["covered"]))
        mismatched += state != reference
        shutil.rmtree(folder)
    return {"runs": kills, "killed": killed, "records_before": original["count"], "records_after": reference["count"],
            "ids_lost": lost, "runs_unlike_the_uninterrupted_one": mismatched}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--train-kills", type=int, default=10)
    parser.add_argument("--save-kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="import,bench,train")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/fault_injection.md")
    args = parser.parse_args()
    data_dir = os.environ.get("SALAM_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    env = {**os.environ, "SALAM_DATA_DIR": data_dir, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    rng = random.Random(args.seed)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        if "import" in args.only:
            (Path(tmp) / "i").mkdir()
            results["memory import"] = import_trial(Path(tmp) / "i", args.kills, rng, env)
            print(results["memory import"], flush=True)
        if "bench" in args.only:
            (Path(tmp) / "b").mkdir()
            results["bench"] = bench_trial(Path(tmp) / "b", args.kills, rng, env, data_dir)
            print(results["bench"], flush=True)
        if "train" in args.only:
            (Path(tmp) / "t").mkdir()
            results["train il"] = train_trial(Path(tmp) / "t", args.train_kills, rng, env, data_dir)
            print(results["train il"], flush=True)
        if "curate" in args.only:
            (Path(tmp) / "c").mkdir()
            results["memory curate"] = curate_trial(Path(tmp) / "c", args.kills, rng, env)
            print(results["memory curate"], flush=True)
        if "saves" in args.only:
            (Path(tmp) / "s").mkdir()
            for method, r in save_trial(Path(tmp) / "s", args.save_kills, rng, env, data_dir).items():
                results[f"train {method}, killed while saving"] = r
    lines = ["# Fault injection: SIGKILL at random moments, then resume", "",
             f"Command: `python benchmarks/fault_injection.py --kills {args.kills} --train-kills {args.train_kills} "
             f"--save-kills {args.save_kills} --seed {args.seed} --only {args.only}` "
             f"(2 cores, CPU)", "", "| command | result |", "|---|---|"]
    lines += [f"| {name} | {', '.join(f'{k} {v}' for k, v in r.items())} |" for name, r in results.items()]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
