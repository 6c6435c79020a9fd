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
