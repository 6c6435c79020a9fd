"""transformers vs llama.cpp (in-process and as a server) on the embedded model: same letters? how much faster?

Run: SALAM_DATA_DIR=../shared/data python benchmarks/engines.py [--out benchmarks/results/engines.md] [--skip-gather]

(i) The README main job's 160 BBQ test questions (4 categories, 40 each, seeded split) in choice mode through
    the transformers engine, llama.cpp in-process (`--engine llamacpp`, and `--engine llamacpp-f32` on the
    GGUF's float32 copy) and llama.cpp's OpenAI-compatible server (`python -m salam.models.llamacpp_server`:
    llama_cpp.server with salam's AMX workaround, on the GGUF and its float32 copy, letters from
    /v1/completions top_logprobs): share of identical letters and each one's accuracy.
(ii) Tokens/s of `salam ask`-style greedy generation (128 new tokens, no stop) for 1 sequence and for 8
     (transformers pads 8 into one batch; llama.cpp's Python API writes them one after another), and the
     main job's gather phase (`salam bench bbq`, its defaults) with each engine.
One heavy process at a time: the server runs only during its own measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ("transformers", "llamacpp", "llamacpp-f32")
PROMPT = "Question: Why do leaves change colour in autumn? Explain in detail, step by step.\nAnswer:"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(gguf: Path, log: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """llama.cpp's OpenAI-compatible server on 127.0.0.1 (all cores), once it accepts connections."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "salam.models.llamacpp_server", "--model", str(gguf), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "4096", "--model_alias", "gemma", *extra],
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"llama_cpp.server exited: see {log}")
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("llama_cpp.server did not start in 180 s")


def bench_letters(work: Path, name: str, **overrides) -> dict:
    from salam.bench.runner import BenchConfig, run_benchmark

    config = BenchConfig(benchmark="bbq", conditions=["none"], answer_mode="choice", **overrides)
    began = time.perf_counter()
    summary = run_benchmark(config, work / name)
    rows = [json.loads(line) for line in (work / name / "samples" / "none.jsonl").read_text().splitlines()]
    return {"seconds": time.perf_counter() - began, "accuracy": summary["conditions"]["none"]["accuracy"],
            "letters": {r["question_id"]: r["answer"] for r in rows}, "scoring": summary.get("letter_scoring")}


def tokens_per_second(model, n: int) -> float:
    """New tokens per wall second for ``n`` copies of one prompt (each row reports its share of the wall time)."""
    texts = model.generate_texts([model.format_prompt([_human(PROMPT)])] * n, stop=[], max_new_tokens=128)
    return sum(t[2] for t in texts) / sum(t[3] for t in texts)


def _human(text: str):
    from langchain_core.messages import HumanMessage

    return HumanMessage(text)


def gather_seconds(work: Path, engine: str) -> float:
    """The main job (`salam bench bbq`, its defaults) with ``engine``; its gather stage's wall seconds."""
    out = work / f"main-{engine}"
    subprocess.run([sys.executable, "-m", "salam.cli.main", "bench", "bbq", "--engine", engine, "--log-dir", str(out),
                    "--display", "none"], check=True)
    return json.loads((out / "timings.json").read_text())["gather"]


def _llama_cpp_build() -> str:
    """The binding's version and the CPU features its build uses: speed depends on both (REPACK, AVX2)."""
    import llama_cpp

    features = [f.split("=")[0].strip() for f in llama_cpp.llama_print_system_info().decode().split("|") if "= 1" in f]
    return f"{llama_cpp.__version__} ({', '.join(features)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/engines.md")
    parser.add_argument("--skip-gather", action="store_true", help="Leave out the two main-job runs (~6 min).")
    args = parser.parse_args()
    from salam.models.llamacpp import embedded_gguf
    from salam.models.resolve import resolve_chat_model

    work = Path(tempfile.mkdtemp(prefix="salam-engines-"))
    runs = {"transformers": bench_letters(work, "transformers"), "llama.cpp in-process": bench_letters(work, "llamacpp", engine="llamacpp"),
            "llama.cpp in-process, float32 copy": bench_letters(work, "llamacpp-f32", engine="llamacpp-f32")}
    servers = {"server": ("llama.cpp server", embedded_gguf()),
               "server-f32": ("llama.cpp server, float32 copy", embedded_gguf(float32=True))}
    for folder, (name, gguf) in servers.items():
        proc, url = start_server(gguf, work / f"{folder}.log")
        try:
            runs[name] = bench_letters(work, folder, model="openai:gemma", base_url=url, max_concurrency=1)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    reference = runs["transformers"]["letters"]
    speed = {}
    for engine in ENGINES:
        model = resolve_chat_model("local", engine=engine, batch_size=8)
        tokens_per_second(model, 1)  # warm-up: load, first-call costs
        speed[engine] = (tokens_per_second(model, 1), tokens_per_second(model, 8))
    gather = {} if args.skip_gather else {e: gather_seconds(work, e) for e in ENGINES}
    lines = [
        "# Engines: transformers vs llama.cpp on the embedded model", "",
        f"Command: `SALAM_DATA_DIR=../shared/data python benchmarks/engines.py{' --skip-gather' if args.skip_gather else ''}` · machine: {platform.machine()}, "
        f"{os.cpu_count()} cores, {platform.python_version()} · model: the embedded Gemma 3 270M (Q4_K_M GGUF; "
        "transformers reads it dequantised to float32) · data: BBQ, 4 categories, the main job's 160 test questions "
        f"(seeded split), choice mode · llama-cpp-python {_llama_cpp_build()}.", "",
        "## (i) Letters", "",
        "| engine | letters scored by | accuracy % | same letter as transformers | wall s |", "|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        same = sum(run["letters"].get(q) == a for q, a in reference.items())
        lines.append(f"| {name} | {run['scoring']} | {100 * run['accuracy']:.1f} | {same}/{len(reference)} "
                     f"({100 * same / len(reference):.1f}%) | {run['seconds']:.1f} |")
    lines += ["", "## (ii) Speed", "", "| engine | tokens/s, 1 sequence | tokens/s, 8 sequences | main job gather s |",
              "|---|---|---|---|"]
    for engine, (one, eight) in speed.items():
        lines.append(f"| {engine} | {one:.1f} | {eight:.1f} | {gather.get(engine, float('nan')):.1f} |")
    lines.append("")
    for engine in ENGINES[1:]:
        lines.append(f"{engine} / transformers: {speed[engine][0] / speed['transformers'][0]:.1f}x for one sequence, "
                     f"{speed[engine][1] / speed['transformers'][1]:.1f}x for 8"
                     + (f"; gather {gather['transformers'] / gather[engine]:.1f}x faster" if gather else "") + ".")
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
