"""STaSC: the filters on a fixed sample table, choice-mode sampling, and a real iteration through its spec."""

from __future__ import annotations

import random

import numpy as np
import pytest

from salam.errors import SalamError
from salam.selfcorrect.sampling import sample_letters
from salam.train.stasc import keep
from salam.types import Question

Q = Question(id="q", text="Who paid?", options=["Ann", "Bob", "Unknown"], answer="C")
TABLE = [(Q, "A", "C", ""), (Q, "A", "C", ""), (Q, "B", "C", ""), (Q, "C", "C", ""), (Q, "C", "A", ""), (Q, "A", "B", "")]


def test_improving_keeps_wrong_to_right_only_once_each():
    examples, kinds = keep(TABLE, "improving")
    assert sorted(e.prompt.split("First answer: (")[1][0] for e in examples) == ["A", "B"]
    assert all(e.target == "C" for e in examples) and kinds == {"i→c": 2}


def test_non_decreasing_also_keeps_right_to_right_but_never_right_to_wrong():
    examples, kinds = keep(TABLE, "non-decreasing")
    assert kinds == {"i→c": 2, "c→c": 1} and all(e.target == "C" for e in examples)


def test_sampling_respects_the_nucleus():
    rng = random.Random(0)
    draws = sample_letters(np.array([0.85, 0.1, 0.05]), ["A", "B", "C"], 500, rng, top_p=0.9)
    assert set(draws) == {"A", "B"} and draws.count("A") > 400


def test_no_improving_correction_is_one_line_with_counts(tmp_path, data_dir, monkeypatch):
    from salam.train import stasc

    monkeypatch.setattr(stasc, "_model", lambda spec: object())
    monkeypatch.setattr(stasc, "prepare_training", lambda: None)
    monkeypatch.setattr(stasc, "letter_distributions",
                        lambda model, prompts, questions, *a: [np.array([1.0] + [0.0] * (len(q.letters) - 1)) for q in questions])
    config = stasc.StascConfig(out=tmp_path / "s", tasks=["Age"], limit=4, data_dir=str(data_dir))
    with pytest.raises(SalamError, match=r"no improving correction among 100 samples \(.*i→i .*\); raise --temperature or --n-corr"):
        stasc.train_stasc(config, log=lambda m: None)


@pytest.mark.slow
def test_one_iteration_on_real_questions_then_answer_through_the_spec_and_resume(tmp_path, data_dir):
    from salam.answering.answerer import Answerer
    from salam.models import resolve_chat_model
    from salam.train.folder import TrainDir
    from salam.train.stasc import StascConfig, train_stasc

    config = StascConfig(out=tmp_path / "stasc", tasks=["Age"], limit=8, iterations=1, max_steps=2, batch_size=4,
                         temperature=1.0, data_dir=str(data_dir))
    summary = train_stasc(config, log=lambda m: None)
    first = summary["iterations"][0]
    assert summary["spec"] == f"local+lora:{tmp_path / 'stasc' / 'iter-1'}" and first["samples"] == 8 * 5 * 5
    assert sum(first["samples_by_outcome"].values()) == 200 and first["kept"] == sum(first["kept_by_outcome"].values()) > 0
    answers = Answerer(resolve_chat_model(summary["spec"]), "choice").answer([(Q, "")])
    assert answers[0].answer in ("A", "B", "C")
    # Killed before the iteration's manifest was written: --resume redoes it with the same kept examples.
    TrainDir(tmp_path / "stasc").iteration(1).manifest_path.unlink()
    again = train_stasc(config, resume=True, log=lambda m: None)["iterations"][0]
    assert (again["samples_by_outcome"], again["kept"]) == (first["samples_by_outcome"], first["kept"])


def test_init_from_a_trained_adapter_trains_from_it_and_records_it(tmp_path, data_dir, monkeypatch):
    """STaSC on top of SFT: M0 is the SFT adapter; with finetune=fixed every iteration continues it."""
    from salam.train import stasc

    sft = tmp_path / "sft"
    sft.mkdir()
    (sft / "adapter_config.json").write_text("{}")
    seen: dict = {}

    class Stop(Exception):
        pass

    def prepare_model(config, full, adapter=None):
        seen["adapter"] = adapter
        raise Stop

    monkeypatch.setattr(stasc, "_model", lambda spec: seen.setdefault("specs", []).append(spec) or object())
    monkeypatch.setattr(stasc, "prepare_training", lambda: None)
    monkeypatch.setattr(stasc, "prepare_model", prepare_model)
    monkeypatch.setattr(stasc, "letter_distributions",
                        lambda model, prompts, questions, *a: [np.full(len(q.letters), 1 / len(q.letters)) for q in questions])
    config = stasc.StascConfig(out=tmp_path / "s", tasks=["Age"], limit=4, data_dir=str(data_dir), init=f"local+lora:{sft}")
    with pytest.raises(Stop):
        stasc.train_stasc(config, log=lambda m: None)
    assert seen["specs"] == [f"local+lora:{sft}"] * 2 and seen["adapter"] == sft


@pytest.mark.parametrize("init, message", [
    ("openai:gpt-4o", "--init must be a trained model spec"),
    ("local+lora:/nowhere", "--init must be a trained model spec"),
])
def test_init_that_cannot_be_trained_is_one_line(tmp_path, init, message):
    from salam.train.folder import starting_point
    from salam.train.stasc import StascConfig

    with pytest.raises(SalamError, match=message):
        starting_point(StascConfig(out=tmp_path / "s", init=init))
