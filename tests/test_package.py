"""Package surface: public names, lazy imports, version and help."""

from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import cli

import salam

PUBLIC = [
    "Attempt", "Embedder", "ExamResult", "Exchange", "Feedback", "GatherReport", "MistakeMemory", "MistakeRecord", "Question",
    "RetrievedMemory", "SalamError", "StudyAssistant", "StudyAssistedChatModel", "__version__", "assist", "examine", "gather",
    "resolve_chat_model",
]


def test_public_names_are_pinned():
    assert sorted(salam.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert getattr(salam, name) is not None


@pytest.mark.slow
def test_cli_import_is_lazy():
    code = (
        "import sys, salam.cli.main\n"
        "heavy = ['torch', 'transformers', 'trl', 'peft', 'chromadb', 'sentence_transformers']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.slow
def test_version_and_help():
    assert cli("version").stdout.strip() == salam.__version__
    assert "memory" in cli("--help").stdout
