"""`salam memory ...` as a user runs it: JSON output, idempotent import, one-line errors."""

from __future__ import annotations

import json

import pytest
from helpers import cli, rec

from salam.types import MistakeRecord


@pytest.mark.slow
def test_memory_commands_end_to_end(tmp_path):
    source = tmp_path / "records.jsonl"
    records = [MistakeRecord(task="Age", question=f"A {20 + i}-year-old and a {70 + i}-year-old met. Who forgot?",
                             wrong_answer="A", true_answer="C", guideline=f"Use only stated facts {i}.") for i in range(5)]
    source.write_text("".join(r.model_dump_json() + "\n" for r in records))
    mem = ["--memory", str(tmp_path / "mem")]
    first = cli("memory", "import", str(source), *mem, "--embedder", "hash-bow-64", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["added"] == 5
    again = json.loads(cli("memory", "import", str(source), *mem, "--json").stdout)
    assert again["added"] == 0 and again["total_in_memory"] == 5

    stats = json.loads(cli("memory", "stats", *mem, "--json").stdout)
    assert stats["total"] == 5 and stats["namespaces"]["default"]["tasks"] == {"Age": 5}
    listed = json.loads(cli("memory", "list", *mem, "--json", "--limit", "2", "--page", "2").stdout)
    assert len(listed) == 2
    shown = json.loads(cli("memory", "show", records[0].id, *mem, "--json").stdout)
    assert shown["guideline"] == "Use only stated facts 0."
    hits = json.loads(cli("memory", "search", "A 25-year-old and a 75-year-old met. Who forgot?", *mem, "--json", "-k", "2").stdout)
    assert len(hits) == 2 and hits[0]["similarity"] >= hits[1]["similarity"] and hits[0]["guideline"]
    table = cli("memory", "search", "Who forgot?", *mem)
    assert table.returncode == 0 and "similarity" in table.stdout

    out = tmp_path / "export.jsonl"
    assert cli("memory", "export", *mem, "-o", str(out)).returncode == 0
    assert len(out.read_text().splitlines()) == 5
    assert "deleted 1 of 1" in cli("memory", "delete", records[0].id, *mem).stdout
    assert json.loads(cli("memory", "prune", *mem, "--json", "--max-count", "2").stdout)["removed"] == 2
    assert json.loads(cli("memory", "stats", *mem, "--json").stdout)["total"] == 2


@pytest.mark.slow
def test_memory_errors_are_one_line(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "data.bin").write_bytes(b"\x00\x01")
    for args in (["memory", "stats", "--memory", str(foreign)],
                 ["memory", "stats", "--memory", str(tmp_path / "absent")],
                 ["memory", "show", "nope", "--memory", str(foreign)],
                 ["memory", "import", str(tmp_path / "missing.jsonl"), "--memory", str(tmp_path / "m")]):
        result = cli(*args)
        assert result.returncode != 0 and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert (foreign / "data.bin").read_bytes() == b"\x00\x01"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "true_answer": "A"}\nnot json\n')
    result = cli("memory", "import", str(bad), "--memory", str(tmp_path / "m2"), "--embedder", "hash-bow-64")
    assert result.returncode == 1 and "bad.jsonl:2" in result.stderr


def test_stored_markup_and_escapes_are_shown_as_text(tmp_path):
    from typer.testing import CliRunner

    from salam.cli.main import app
    from salam.memory import MistakeMemory
    from salam.testing import HashEmbedder

    folder = tmp_path / "m"
    with MistakeMemory.open(folder, embedder=HashEmbedder()) as mem:
        record = rec("Who closed [/] the \x1b]0;pwned\x07 door [bold]?", guideline="Read [/red] the text \x1b[2J again.")
        mem.add([record])
    runner = CliRunner()
    for args in (["memory", "list"], ["memory", "search", "closed door"], ["memory", "show", record.id]):
        result = runner.invoke(app, [*args, "--memory", str(folder), "--embedder", "hash-bow-64"])
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.output and "\x07" not in result.output
    assert "[/]" in runner.invoke(app, ["memory", "show", record.id, "--memory", str(folder)]).output
