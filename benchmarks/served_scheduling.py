"""How fast does `salam bench` go through a server, and what does a kill -9 cost? Concurrency 1 to 64.

Run: SALAM_DATA_DIR=../shared/data python benchmarks/served_scheduling.py [--out benchmarks/results/served_scheduling.md]
     [--old REV]   (REV: a commit from before bounded concurrency, measured as "lock-step batches of 8")

1. Against llama.cpp's real server (CPU-bound here: one model on 2 cores answers one request at a time):
   the main job's 160 BBQ test questions in choice mode at --max-concurrency 1, 4, 16. The same server's
   generate-mode answers to 320 test questions are recorded for step 2.
2. Against a simulated remote API (benchmarks/replay_server.py: the recorded answers after 300 ms each):
   320 questions in generate mode at --max-concurrency 1, 4, 16, 32, 64, and with salam before this change
   (LangChain batches of 8 in lock-step), wall time of the examine stage and speed-up over one at a time.
3. kill -9 at concurrency 32 in the middle of a run, then --resume: lost and doubled samples, requests the
   resumed run asked again.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engines import _free_port, start_server  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def bench(out: Path, url: str, *args: str, cwd: Path = ROOT, extra_env: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(cwd), **(extra_env or {})}
    cmd = [sys.executable, "-m", "salam.cli.main", "bench", "bbq", "--model", "openai:gemma", "--base-url", url,
           "--conditions", "none", "--log-dir", str(out), "--display", "none", *args]
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=(out.parent / f"{out.name}.err").open("w"))


def finished(proc: subprocess.Popen, what: str) -> None:
    if proc.wait() != 0:
        raise SystemExit(f"{what} failed (exit {proc.returncode})")


def stage_seconds(run: Path) -> float:
    return json.loads((run / "timings.json").read_text())["none"]


def replay(recorded: Path, delay: float) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks/replay_server.py"), "--recorded", str(recorded),
                             "--delay", str(delay), "--port", str(port)])
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/stats", timeout=1)
            return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.1)
    raise SystemExit("replay server did not start")


def served_requests(url: str) -> int:
    return json.loads(urllib.request.urlopen(f"{url}/stats", timeout=5).read())["requests"]


def kill_and_resume(work: Path, url: str) -> dict:
    run = work / "killed"
    before = served_requests(url)
    proc = bench(run, url, "--answer-mode", "generate", "--limit", "80", "--max-concurrency", "32")
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "requests.jsonl").is_file():
        time.sleep(0.05)
    time.sleep(0.5)  # mid-run: answers are arriving
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    logged = len((run / "samples" / "none.jsonl").read_text().splitlines()) if (run / "samples" / "none.jsonl").exists() else 0
    journaled = len((run / "requests.jsonl").read_text().splitlines())
    asked_first = served_requests(url) - before
    finished(bench(run, url, "--answer-mode", "generate", "--limit", "80", "--max-concurrency", "32", "--resume"), "resume")
    rows = [json.loads(line) for line in (run / "samples" / "none.jsonl").read_text().splitlines()]
    ids = [r["question_id"] for r in rows]
    manifest = json.loads((run / "manifest.json").read_text())
    expected = {q for split in manifest["split"].values() for q in split["test"]}
    return {"logged_at_kill": logged, "journaled_at_kill": journaled, "asked_before_kill": asked_first,
            "asked_in_all": served_requests(url) - before, "rows": len(rows), "unique": len(set(ids)),
            "lost": len(expected - set(ids)), "doubled": len(ids) - len(set(ids)), "expected": len(expected)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/served_scheduling.md")
    parser.add_argument("--old", default=None, help="A commit before bounded concurrency (its lock-step batches of 8).")
    parser.add_argument("--delay", type=float, default=0.3)
    args = parser.parse_args()
    from salam.models.llamacpp import embedded_gguf

    work = Path(tempfile.mkdtemp(prefix="salam-served-"))
    server, url = start_server(embedded_gguf(), work / "server.log")
    cpu_bound = {}
    try:
        for c in (1, 4, 16):
            finished(bench(work / f"llama-c{c}", url, "--max-concurrency", str(c)), f"llama.cpp c={c}")
            cpu_bound[c] = stage_seconds(work / f"llama-c{c}")
        finished(bench(work / "record", url, "--answer-mode", "generate", "--limit", "80", "--max-concurrency", "4"), "recording")
    finally:
        server.terminate()
        server.wait(timeout=30)
    recorded = {json.loads(line)["prompt"]: json.loads(line)["output"]
                for line in (work / "record" / "samples" / "none.jsonl").read_text().splitlines()}
    (work / "recorded.json").write_text(json.dumps(recorded))
    proc, replay_url = replay(work / "recorded.json", args.delay)
    try:
        latency = {}
        for c in (1, 4, 16, 32, 64):
            finished(bench(work / f"replay-c{c}", replay_url, "--answer-mode", "generate", "--limit", "80",
                           "--max-concurrency", str(c)), f"replay c={c}")
            latency[c] = stage_seconds(work / f"replay-c{c}")
        old = None
        if args.old:
            tree = work / "old"
            subprocess.run(["git", "worktree", "add", "--detach", str(tree), args.old], cwd=ROOT, check=True, capture_output=True)
            finished(bench(work / "replay-old", replay_url, "--answer-mode", "generate", "--limit", "80", cwd=tree), "old")
            old = stage_seconds(work / "replay-old")
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=True)
        kill = kill_and_resume(work, replay_url)
    finally:
        proc.terminate()
    lines = [
        "# Requests to a server: concurrency, and a kill -9", "",
        f"Command: `SALAM_DATA_DIR=../shared/data python benchmarks/served_scheduling.py{' --old ' + args.old if args.old else ''}` · "
        f"machine: {platform.machine()}, {os.cpu_count()} cores · model: the embedded Gemma 3 270M GGUF served by "
        "llama-cpp-python's server · data: BBQ, 4 categories, seeded split.", "",
        "## llama.cpp's server (CPU-bound: 2 cores, one model)", "",
        "160 test questions, choice mode (letters from /v1/completions top_logprobs).", "",
        "| --max-concurrency | examine wall s | questions/s |", "|---|---|---|",
        *[f"| {c} | {s:.1f} | {160 / s:.2f} |" for c, s in cpu_bound.items()], "",
        f"## A simulated remote API ({int(args.delay * 1000)} ms per request, answers recorded from the server above)", "",
        "320 test questions, generate mode: the examine stage's wall time.", "",
        "| requests in flight | examine wall s | speed-up over 1 | speed-up / concurrency |", "|---|---|---|---|",
        *[f"| {c} | {s:.1f} | {latency[1] / s:.1f}x | {latency[1] / s / c:.2f} |" for c, s in latency.items()],
    ]
    if old is not None:
        lines.append(f"| before: LangChain batches of 8 in lock-step ({args.old[:10]}) | {old:.1f} | {latency[1] / old:.1f}x | — |")
    lines += ["", "## kill -9 at 32 in flight, then --resume", "",
              f"At the kill: {kill['logged_at_kill']} samples logged, {kill['journaled_at_kill']} responses journaled, "
              f"{kill['asked_before_kill']} requests asked. After the resume: {kill['rows']} rows for {kill['expected']} "
              f"questions — **{kill['lost']} lost, {kill['doubled']} doubled**; {kill['asked_in_all']} requests in all "
              f"({kill['asked_in_all'] - kill['expected']} asked twice: those in flight at the kill)."]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
