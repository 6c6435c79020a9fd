"""Where do llama.cpp's letters differ from transformers'? Same tokens, near-tied letters, or a real gap?

Run: SALAM_DATA_DIR=../shared/data python benchmarks/engines_agreement.py [SPEC ...] [--dequantised]
     [--out benchmarks/results/engines_agreement.md]

For each model spec (default: `local`; add e.g. `local+lora:runs/sft-bbq` for a trained model) the README
main job's 160 BBQ test questions (seeded split) are scored in choice mode by both engines in-process, with
the bench's answer prompt: whether the token ids fed to each engine are identical, the share of identical
letters, the log-probability gap between the engines, and agreement by the margin between transformers'
best and second letter (a near tie can flip on the rounding of llama.cpp's quantised matrix products).

``--dequantised`` adds `--engine llamacpp-f32`, llama.cpp reading a float32 copy of the same GGUF (every
quantised tensor dequantised with the ``gguf`` package, as transformers dequantises it on load): the same weights, but matrix products in
float32 instead of llama.cpp's 8-bit quantised activations. If the letters then agree, the differences above
are that rounding and not the engine's prompt, tokens or scoring.
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MARGINS = (0.05, 0.1, 0.2, 0.5)


def measure(spec: str, dequantised: bool = False) -> dict:
    from langchain_core.messages import HumanMessage

    from salam.answering.answerer import answer_prompt
    from salam.data.questions import load_benchmark
    from salam.data.split import side, split_benchmark
    from salam.models.local import encode_prompts
    from salam.models.resolve import resolve_chat_model

    data, _ = load_benchmark("bbq", [], None)
    questions = side(split_benchmark(data, seed=0, limit=40), "test")
    hf = resolve_chat_model(spec, engine="transformers", batch_size=8)
    cpp = resolve_chat_model(spec, engine="llamacpp")
    if dequantised:
        cpp = resolve_chat_model(spec, engine="llamacpp-f32")
    prompts = [hf.format_prompt([HumanMessage(answer_prompt(q))]) for q in questions]
    letters = [q.letters for q in questions]
    _, tokenizer = hf._loaded()
    same_tokens = sum(encode_prompts(tokenizer, [p], 10**6)["input_ids"][0].tolist() == cpp._tokens(p) for p in prompts)
    a, b = np.array(hf.score_options(prompts, letters)), np.array(cpp.score_options(prompts, letters))
    gold = np.array([q.letters.index(q.answer) for q in questions])
    top2 = np.sort(a, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    agree = a.argmax(1) == b.argmax(1)
    return {"spec": spec + (" (llamacpp-f32)" if dequantised else ""), "n": len(questions), "same_tokens": same_tokens, "agree": int(agree.sum()),
            "acc_hf": float((a.argmax(1) == gold).mean()), "acc_cpp": float((b.argmax(1) == gold).mean()),
            "gap_median": float(np.median(np.abs(a - b))), "gap_max": float(np.abs(a - b).max()),
            "margin_median": float(np.median(margin)), "margin_disagree": float(np.median(margin[~agree])) if (~agree).any() else None,
            "by_margin": {m: (int((margin >= m).sum()), int(agree[margin >= m].sum())) for m in MARGINS}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="*", default=["local"])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/engines_agreement.md")
    parser.add_argument("--dequantised", action="store_true",
                        help="also each spec with llama.cpp on a float32 copy of the GGUF (same weights, no quantised products)")
    args = parser.parse_args()
    runs = [measure(spec) for spec in args.specs]
    runs += [measure(spec, dequantised=True) for spec in args.specs] if args.dequantised else []
    lines = [
        "# Letter agreement, transformers vs llama.cpp in-process, by margin", "",
        f"Command: `SALAM_DATA_DIR=../shared/data python benchmarks/engines_agreement.py {' '.join(args.specs)}{' --dequantised' if args.dequantised else ''}` · machine: "
        f"{platform.machine()}, {os.cpu_count()} cores · data: BBQ, the main job's 160 test questions (seeded split), choice "
        "mode, the bench's answer prompt · margin: transformers' best letter minus its second, in nats.", "",
        "| model | same token ids | same letter | accuracy transformers / llama.cpp % | |log p| gap median / max | "
        "margin median (all / where they differ) | " + " | ".join(f"same letter where margin ≥ {m}" for m in MARGINS) + " |",
        "|" + "---|" * (6 + len(MARGINS)),
    ]
    for r in runs:
        differ = "—" if r["margin_disagree"] is None else f"{r['margin_disagree']:.3f}"
        lines.append(
            f"| `{r['spec']}` | {r['same_tokens']}/{r['n']} | {r['agree']}/{r['n']} ({100 * r['agree'] / r['n']:.1f}%) | "
            f"{100 * r['acc_hf']:.1f} / {100 * r['acc_cpp']:.1f} | {r['gap_median']:.3f} / {r['gap_max']:.3f} | "
            f"{r['margin_median']:.3f} / {differ} | "
            + " | ".join(f"{ok}/{n}" for n, ok in (r["by_margin"][m] for m in MARGINS)) + " |")
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
