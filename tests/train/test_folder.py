"""A training folder belongs to one method and one run: nothing of it is lost to a careless command."""

from __future__ import annotations

import json
import threading

import pytest
from helpers import run_cli

from salam.errors import SalamError
from salam.train.folder import LOCK, MANIFEST, RUN_MARKER, TrainDir
from salam.train.trainer import TIME_FILE, _seconds_before, last_checkpoint

SETTINGS = {"out": "x", "limit": 30, "learning_rate": 2e-4}


def _finished(folder, method="sft", settings=SETTINGS):
    with TrainDir(folder).claim(method, settings, resume=False, overwrite=False):
        (folder / "adapter_config.json").write_text("{}")
        (folder / MANIFEST).write_text(json.dumps({"method": method, "spec": f"local+lora:{folder}"}))


def test_a_run_marker_is_written_and_a_resume_needs_the_same_method_and_settings(tmp_path):
    folder = tmp_path / "m"
    _finished(folder)
    assert json.loads((folder / RUN_MARKER).read_text()) == {"method": "sft", "settings": {"limit": 30, "learning_rate": 2e-4}}
    with pytest.raises(SalamError, match="is not empty: pass --resume"):
        with TrainDir(folder).claim("sft", SETTINGS, resume=False, overwrite=False):
            pass
    with pytest.raises(SalamError, match="holds a `salam train sft` run: --resume continues only a run of the same method"):
        with TrainDir(folder).claim("il", SETTINGS, resume=True, overwrite=False):
            pass
    changed = {**SETTINGS, "limit": 5, "learning_rate": 0.5}
    with pytest.raises(SalamError, match=r"--resume with changed settings \(--learning-rate 0.0002 -> 0.5, --limit 30 -> 5\)"):
        with TrainDir(folder).claim("sft", changed, resume=True, overwrite=False):
            pass
    with TrainDir(folder).claim("sft", {**SETTINGS, "out": "elsewhere/x"}, resume=True, overwrite=False):
        pass  # the same run, reached by another relative path
    assert (folder / "adapter_config.json").is_file()


def test_an_older_folder_without_a_marker_is_owned_by_its_manifest(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / MANIFEST).write_text(json.dumps({"method": "sft"}))
    with pytest.raises(SalamError, match="holds a `salam train sft` run"):
        with TrainDir(folder).claim("stasc", SETTINGS, resume=True, overwrite=False):
            pass


def test_overwrite_removes_a_training_but_never_a_users_files(tmp_path):
    folder = tmp_path / "m"
    _finished(folder)
    (folder / "iter-1").mkdir()
    with TrainDir(folder).claim("stasc", SETTINGS, resume=False, overwrite=True):
        assert sorted(p.name for p in folder.iterdir()) == [LOCK, RUN_MARKER]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    for resume, overwrite in ((False, True), (True, False), (False, False)):
        with pytest.raises(SalamError, match=r"holds files salam did not write \(notes.txt\)"):
            with TrainDir(mine).claim("sft", SETTINGS, resume=resume, overwrite=overwrite):
                pass
    assert (mine / "notes.txt").read_text() == "my notes"


def test_a_second_process_cannot_train_into_a_held_folder(tmp_path):
    folder = tmp_path / "m"
    entered, release = threading.Event(), threading.Event()

    def first():
        with TrainDir(folder).claim("sft", SETTINGS, resume=False, overwrite=False):
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=first)
    thread.start()
    entered.wait(10)
    try:
        with pytest.raises(SalamError, match="is in use by another `salam train` process"):
            with TrainDir(folder).claim("sft", SETTINGS, resume=True, overwrite=False):
                pass
    finally:
        release.set()
        thread.join()


def test_an_out_that_is_a_file_or_unwritable_is_one_line(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(SalamError, match="is a file: give a folder"):
        with TrainDir(tmp_path / "f").claim("sft", SETTINGS, False, False):
            pass
    with pytest.raises(SalamError, match="cannot write --out /proc/salam-x"):
        with TrainDir(tmp_path.parent / "/proc/salam-x").claim("sft", SETTINGS, False, False):
            pass


def test_resume_takes_the_newest_complete_checkpoint_and_its_time(tmp_path):
    checkpoints = tmp_path / "checkpoints"
    for step, complete in ((2, True), (4, True), (6, False)):
        folder = checkpoints / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        (folder / "adapter_model.safetensors").write_text("")
        if complete:
            (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
            (folder / TIME_FILE).write_text(json.dumps({"seconds": 10.0 * step}))
    (checkpoints / "checkpoint-4" / "trainer_state.json").write_text('{"global_st')  # a kill mid-write
    chosen = last_checkpoint(tmp_path)
    assert chosen == checkpoints / "checkpoint-2" and _seconds_before(chosen) == 20.0
    assert sorted(p.name for p in checkpoints.iterdir()) == ["checkpoint-2"]  # the torn ones are written afresh
    assert last_checkpoint(tmp_path / "none") is None


def test_bad_base_or_out_never_touches_the_folder(tmp_path, data_dir):
    out = tmp_path / "m"
    _finished(out)
    before = sorted(p.name for p in out.iterdir())
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    for base, message in (("nonsense", "--base must be 'local' or hf:<hub id or folder>"),
                          (f"hf:{empty}", "is not a model folder: it has no weights")):
        code, _, err = run_cli("train", "sft", "--out", str(out), "--overwrite", "--base", base, "--tasks", "Age",
                               "--limit", "2", "--data-dir", str(data_dir))
        assert code == 1 and message in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == before
    (tmp_path / "file").write_text("x")
    teacher = ["--teacher", str(data_dir / "salam" / "bbq_feedback_gpt4.json"), "--min-examples", "1"]
    for method in ("il", "sft", "stasc", "tripost", "score"):
        extra = teacher if method == "il" else ["--data-dir", str(data_dir), "--tasks", "Age" if method != "tripost" else "word_sorting"]
        code, _, err = run_cli("train", method, "--out", str(tmp_path / "file"), *extra, "--limit", "2")
        assert code == 1 and "is a file: give a folder" in err and "Traceback" not in err, (method, err)


def test_a_resumed_run_keeps_the_whole_loss_log_and_the_whole_time(tmp_path):
    """After a kill, the trainer's restored state holds the steps logged before it: the manifest keeps them,
    and the seconds trained before the checkpoint count in the run's time and speed."""
    from types import SimpleNamespace

    from salam.train.trainer import TrainRun, run_trainer

    checkpoint = tmp_path / "checkpoint-10"
    checkpoint.mkdir()
    (checkpoint / TIME_FILE).write_text(json.dumps({"seconds": 100.0}))

    class ResumedTrainer:
        def __init__(self):
            self.state = SimpleNamespace(log_history=[{"step": 5, "loss": 1.5}, {"step": 10, "loss": 1.2},
                                                      {"step": 15, "loss": 0.9}, {"train_loss": 1.2, "step": 15}])
            self.callbacks = []

        def add_callback(self, callback):
            self.callbacks.append(callback)

        def remove_callback(self, callback):
            pass

        def train(self, resume_from_checkpoint=None):
            assert resume_from_checkpoint == str(checkpoint)
            return SimpleNamespace(training_loss=1.2, global_step=15, metrics={"epoch": 1.0})

    run = TrainRun(resumed_from=checkpoint)
    run.losses.append({"step": 15, "loss": 0.9})  # all the recorder saw after the resume
    _, fields = run_trainer(ResumedTrainer(), run, tokens=1000, epochs=1.0)
    assert fields["loss_log"] == [{"step": 5, "loss": 1.5}, {"step": 10, "loss": 1.2}, {"step": 15, "loss": 0.9}]
    assert fields["train_seconds"] >= 100.0 and fields["tokens_per_second"] <= 1000 / 100.0


def test_a_base_folder_without_a_tokenizer_is_refused_before_anything(tmp_path):
    from salam.train.base import check_base

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_text("")
    with pytest.raises(SalamError, match=r"it has no tokenizer \(tokenizer.json"):
        check_base(f"hf:{folder}")
