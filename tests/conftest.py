"""Shared fixtures: offline hub, real data from $SALAM_DATA_DIR, the fake model and hash embedder,
the memory in an embedded folder or on one Chroma server started for the whole session."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("SALAM_LOCK_TIMEOUT", "5")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    value = os.environ.get("SALAM_DATA_DIR")
    if not value or not Path(value).is_dir():
        pytest.skip("set SALAM_DATA_DIR to the benchmark data folder (CI sets ../shared/data)")
    return Path(value)


@pytest.fixture
def hash_embedder():
    from salam.testing import HashEmbedder

    return HashEmbedder()


@pytest.fixture
def memory(tmp_path, hash_embedder):
    from salam.memory import MistakeMemory

    mem = MistakeMemory.open(tmp_path / "memory", embedder=hash_embedder)
    yield mem
    mem.close()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """URL of a `chroma run` server on 127.0.0.1, one for the session (tests clean their collections)."""
    from helpers import free_port, wait_for_port

    exe = shutil.which("chroma")
    if exe is None:
        pytest.skip("the chroma CLI is not installed")
    port = free_port()
    folder = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen([exe, "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc, 60, "chroma server")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.slow)])
def store(request, tmp_path, hash_embedder):
    """The memory behind both back ends: an embedded folder, and the session's Chroma server."""
    from salam.memory import MistakeMemory

    if request.param == "embedded":
        mem = MistakeMemory.open(tmp_path / "memory", embedder=hash_embedder)
    else:
        mem = MistakeMemory.open(url=request.getfixturevalue("chroma_server"), embedder=hash_embedder)
    yield mem
    if request.param == "server":
        for col in mem.backend.client.list_collections():
            mem.backend.client.delete_collection(col.name)
    mem.close()


@pytest.fixture(scope="session")
def local_model():
    from salam.models import resolve_chat_model

    return resolve_chat_model("local", max_new_tokens=8)
