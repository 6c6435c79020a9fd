"""A finished run (scripted models), a training folder and a memory with an XSS record, for the viewer's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import rec

XSS = "<script>alert('x')</script> Who paid?"


@pytest.fixture
def demo(tmp_path, data_dir) -> dict[str, Path]:
    from salam.bench.runner import BenchConfig, run_benchmark
    from salam.memory import MistakeMemory
    from salam.testing import HashEmbedder, ScriptedChatModel
    from salam.train.base import write_manifest
    from salam.train.folder import MANIFEST

    runs = tmp_path / "runs"
    main = ScriptedChatModel(reply_fn=lambda p: "B)" if "Guideline" in p or "Wrong answer" in p else "A)")
    helper = ScriptedChatModel(replies=['Use only facts from the text.", "reason": "guess"}'])
    config = BenchConfig(benchmark="bbq", tasks=["Age", "Nationality"], limit=6, train_limit=4, data_dir=str(data_dir),
                         conditions=["none", "feedback"], answer_mode="generate", batch_size=2, embedder="hash-bow-64",
                         threshold=0.3, self_correct=True)
    run_benchmark(config, runs / "demo", model=main, assistant_model=helper)
    train = runs / "sft-demo"
    train.mkdir(parents=True)
    write_manifest(train, MANIFEST, {"method": "sft", "spec": f"local+lora:{train}", "steps": 10, "train_seconds": 12.0,
                                      "examples": 80, "peak_rss_mb": 900.0, "validation_accuracy": 0.5,
                                      "loss_log": [{"step": 5, "loss": 1.2}, {"step": 10, "loss": 0.8}], "settings": {"seed": 0}})
    memory = tmp_path / "memory"
    with MistakeMemory.open(memory, embedder=HashEmbedder()) as mem:
        mem.add([rec("apples and pears at the market", task="Age"), rec("a train leaves the station at noon", task="Age"),
                 rec(XSS, guideline="<b>bold</b> <img src=x onerror=alert(1)>", task="Nationality")])
    return {"runs": runs, "memory": memory}
