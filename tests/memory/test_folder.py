"""Memory folders: creation that a crash or a bad embedder cannot leave half-done, repair, corruption."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from helpers import cli, rec

from salam.errors import StoreError
from salam.memory import MistakeMemory


def test_a_bad_embedder_on_a_new_folder_writes_nothing_and_leaves_it_usable(tmp_path, hash_embedder):
    folder = tmp_path / "mem"
    with pytest.raises(StoreError, match="cannot load embedder 'bogus'"):
        MistakeMemory.open(folder, embedder="bogus")
    assert {p.name for p in folder.iterdir()} <= {".salam.lock"}
    with MistakeMemory.open(folder, embedder=hash_embedder) as mem:
        mem.add([rec("a question")])
        assert mem.count() == 1


def test_an_incomplete_marker_is_completed(tmp_path, hash_embedder):
    folder = tmp_path / "mem"
    folder.mkdir()
    (folder / "salam.json").write_text(json.dumps({"format": "salam-memory", "embedder": hash_embedder.name, "dim": 64,
                                                    "schema_version": 1, "complete": False}))
    with MistakeMemory.open(folder, embedder=hash_embedder, create=False) as mem:
        assert mem.count() == 0
    assert json.loads((folder / "salam.json").read_text())["complete"] is True


def test_a_chroma_folder_without_a_marker_is_repaired_with_its_embedder(tmp_path, hash_embedder):
    folder = tmp_path / "mem"
    with MistakeMemory.open(folder, embedder=hash_embedder) as mem:
        mem.add([rec("kept through the repair")])
    (folder / "salam.json").unlink()  # what a kill between Chroma's files and the marker left behind
    with MistakeMemory.open(folder, create=False) as mem:
        assert mem.embedder.name == hash_embedder.name and mem.count() == 1
    assert (folder / "salam.json").is_file()


def test_an_empty_chroma_database_is_refused_as_corrupted(tmp_path, hash_embedder):
    folder = tmp_path / "mem"
    with MistakeMemory.open(folder, embedder=hash_embedder):
        pass
    (folder / "chroma" / "chroma.sqlite3").write_bytes(b"")
    with pytest.raises(StoreError, match="corrupted.*empty"):
        MistakeMemory.open(folder, embedder=hash_embedder)


@pytest.mark.slow
@pytest.mark.parametrize("delay", [1.5, 3.0])
def test_import_killed_while_creating_the_folder_then_rerun(tmp_path, data_dir, delay):
    """The issue's repro, on 120 of the paper's BBQ mistakes: kill -9 an import into a new folder
    while the embedder loads (Chroma's files used to appear seconds before the marker), then import again."""
    release = tmp_path / "release"
    release.mkdir()
    mistakes = json.loads((data_dir / "salam" / "bbq_flan_t5_mistakes.json").read_text())[:120]
    (release / "bbq_flan_t5_mistakes.json").write_text(json.dumps(mistakes))
    (release / "bbq_feedback_gpt4.json").write_text((data_dir / "salam" / "bbq_feedback_gpt4.json").read_text())
    folder = tmp_path / "mem"
    args = ["memory", "import", "--salam", str(release), "--memory", str(folder)]
    proc = subprocess.Popen([sys.executable, "-m", "salam.cli.main", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    again = cli(*args)
    assert again.returncode == 0, again.stderr
    assert "memory now holds 120" in again.stdout
