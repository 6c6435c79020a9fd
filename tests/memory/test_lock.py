"""The folder lock: a second process waits, then fails clearly."""

from __future__ import annotations

import subprocess
import sys

import pytest

from salam.memory import MistakeMemory


@pytest.mark.slow
def test_second_process_waits_then_fails_clearly(tmp_path, hash_embedder):
    with MistakeMemory.open(tmp_path / "m", embedder=hash_embedder):
        code = (
            "import os; os.environ['SALAM_LOCK_TIMEOUT']='1'\n"
            "from salam.memory import MistakeMemory\nfrom salam.testing import HashEmbedder\n"
            f"MistakeMemory.open({str(tmp_path / 'm')!r}, embedder=HashEmbedder())\n"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert result.returncode != 0
        assert "in use by another process" in result.stderr


def test_a_read_only_folder_is_one_line_not_an_oserror(tmp_path, monkeypatch):
    import filelock

    from salam.errors import StoreError
    from salam.memory.lock import acquire_store_lock

    def read_only(self, *args, **kwargs):
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr(filelock.FileLock, "acquire", read_only)
    with pytest.raises(StoreError, match="cannot lock memory .*Read-only file system"):
        acquire_store_lock(tmp_path, timeout=1)


def test_a_memory_on_a_read_only_file_system_can_be_read_not_changed(tmp_path, monkeypatch, hash_embedder):
    """Chroma writes even to read, so a read-only folder is opened from a temporary copy; writes are one line.
    (Checked by hand on a read-only bind mount too: `salam memory stats/list/search` work, `delete` is one line.)"""
    from helpers import rec

    from salam.errors import StoreError
    from salam.memory import folder as folder_module

    with MistakeMemory.open(tmp_path / "mem", embedder=hash_embedder) as mem:
        mem.add([rec("apples at the market"), rec("a train at noon")])
    monkeypatch.setattr(folder_module, "is_read_only", lambda folder: True)
    with MistakeMemory.open(tmp_path / "mem", embedder=hash_embedder, create=False) as mem:
        assert mem.read_only and mem.count() == 2 and mem.similar("apples at the market today", threshold=0.3)
        snapshot = mem._snapshot
        mem.record_outcome([r.id for r in mem.iter_records()], correct=True, baseline_correct=False)  # not kept, no error
        with pytest.raises(StoreError, match="read-only file system: it can be read, not changed"):
            mem.delete([next(mem.iter_records()).id])
        with pytest.raises(StoreError, match="read-only"):
            mem.add([rec("a new one")])
    assert not snapshot.exists()  # the temporary copy is gone with the memory
    monkeypatch.undo()
    with MistakeMemory.open(tmp_path / "mem", embedder=hash_embedder) as mem:
        assert mem.count() == 2 and all(r.retrieved == 0 for r in mem.iter_records())
