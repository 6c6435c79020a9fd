"""Plain SFT on gold letters: one tokenisation for training and answering; the spec reproduces training."""

from __future__ import annotations

import pytest

from salam.errors import SalamError
from salam.train.folder import TrainDir


def test_a_folder_in_use_is_refused_without_resume_or_overwrite(tmp_path):
    (tmp_path / "out" / "checkpoints").mkdir(parents=True)  # a killed training's leftovers
    with pytest.raises(SalamError, match="--resume"):
        with TrainDir(tmp_path / "out").claim("sft", {}, resume=False, overwrite=False):
            pass
    with TrainDir(tmp_path / "out").claim("sft", {}, resume=True, overwrite=False):
        assert (tmp_path / "out" / "checkpoints").is_dir()
    with TrainDir(tmp_path / "out").claim("sft", {}, resume=False, overwrite=True):
        assert not (tmp_path / "out" / "checkpoints").exists()


@pytest.mark.slow
def test_training_batches_are_tokenised_as_the_bench_tokenises(local_model):
    from langchain_core.messages import HumanMessage

    from salam.answering.answerer import answer_prompt
    from salam.train.letters import LetterCollator, LetterExample
    from salam.types import Question

    _, tokenizer = local_model._loaded()
    q = Question(id="q", text="Who left?", options=["Ann", "Bob", "Unknown"], answer="C")
    batch = LetterCollator(tokenizer)([LetterExample.for_question(q, answer_prompt(q)).as_row()])
    bench = local_model._encode([local_model.format_prompt([HumanMessage(answer_prompt(q))])])
    assert batch["input_ids"].tolist() == bench["input_ids"].tolist()
    assert batch["input_ids"][0, 0].item() == tokenizer.bos_token_id and batch["target_index"].tolist() == [2]


@pytest.mark.slow
def test_two_steps_then_the_spec_answers_as_training_measured(tmp_path, data_dir):
    from salam.answering.answerer import Answerer
    from salam.models import resolve_chat_model
    from salam.train.base import training_questions
    from salam.train.sft import SFTTrainConfig, train_sft

    config = SFTTrainConfig(out=tmp_path / "sft", tasks=["Age"], limit=8, validation=12, max_steps=2, batch_size=4,
                            data_dir=str(data_dir))
    manifest = train_sft(config)
    assert manifest["spec"] == f"local+lora:{tmp_path / 'sft'}" and manifest["steps"] == 2
    assert TrainDir(tmp_path / "sft").manifest()["git_sha"] and TrainDir(tmp_path / "sft").manifest()["base"] == "local"
    _, validation = training_questions(config)
    attempts = Answerer(resolve_chat_model(manifest["spec"]), "choice").answer([(q, "") for q in validation])
    assert sum(a.correct for a in attempts) / len(attempts) == pytest.approx(manifest["validation_accuracy"], abs=1 / len(attempts))
    with pytest.raises(SalamError, match="not empty"):
        train_sft(config)
