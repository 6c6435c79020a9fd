"""The viewer's pages through Starlette's test client: content, filters, escaping, tokens, bad input."""

from __future__ import annotations

import pytest

pytest.importorskip("starlette")

from starlette.testclient import TestClient  # noqa: E402

from salam.view.app import ViewConfig, create_app  # noqa: E402


def _client(demo, **kw):
    config = ViewConfig(logs=demo["runs"], memory=str(demo["memory"]), **kw)
    return TestClient(create_app(config), base_url="http://127.0.0.1"), config


def test_runs_run_page_filters_and_a_sample(demo):
    client, _ = _client(demo)
    listing = client.get("/runs").text
    assert "/runs/demo" in listing and "none " in listing
    page = client.get("/runs/demo").text
    assert 'id="summary"' in page and "feedback" in page and 'id="self-correct"' in page
    all_rows = client.get("/runs/demo").text.count('data-href="/runs/demo/sample/')
    flipped = client.get("/runs/demo?flipped=1").text
    assert 0 < flipped.count('data-href="/runs/demo/sample/') < all_rows and "flipped" in flipped
    qid = flipped.split('data-href="/runs/demo/sample/')[1].split('"')[0]
    sample = client.get(f"/runs/demo/sample/{qid}").text
    assert "Question:" in sample and "attempt 2" in sample


def test_a_verify_run_shows_the_verifier_and_its_auroc_inside_each_answer_kind(demo):
    import json

    summary_file = demo["runs"] / "demo" / "summary.json"
    summary = json.loads(summary_file.read_text())
    summary["self_correct"]["verify"] = {
        "threshold": 0.6, "auroc": 0.842, "auroc_within_groups": 0.852, "auroc_groups_alone": 0.633,
        "auroc_by_kind": {"named": 0.543, "unknown": 0.986, "rare": None}, "precision_wrong": 0.6, "recall_wrong": 0.25,
        "revision_rate": 0.1, "fix_rate": 0.6, "fixes": 8, "breaks": 5, "reading": "another"}
    summary_file.write_text(json.dumps(summary))
    page = _client(demo)[0].get("/runs/demo").text
    assert 'id="verifier"' in page and "0.842" in page
    assert "AUROC inside each answer kind: named 0.543, unknown 0.986, rare —" in page


def test_compare_and_training_pages(demo, tmp_path):
    import shutil

    shutil.copytree(demo["runs"] / "demo", demo["runs"] / "demo-copy")
    client, _ = _client(demo)
    page = client.get("/compare?a=demo&b=demo-copy").text
    assert 'id="compare"' in page and "0/0" in page
    assert "sft-demo" in client.get("/training").text
    training = client.get("/training/sft-demo").text
    assert "<svg" in training and "polyline" in training and "50.0%" in training


def test_memory_search_record_and_escaping(demo):
    client, _ = _client(demo)
    page = client.get("/memory").text
    assert 'id="memory-total">3<' in page
    assert "&lt;script&gt;" in page and "<script>alert" not in page
    found = client.get("/memory?q=apples").text
    assert 'id="record-count">1<' in found
    semantic = client.get("/memory?q=pears+at+the+market&mode=semantic&ns=default").text
    assert "similarity" in semantic and "apples and pears" in semantic
    rid = found.split('href="/memory/record/')[1].split('"')[0]
    record = client.get(f"/memory/record/{rid}").text
    assert "apples and pears at the market" in record and 'id="delete"' in record
    export = client.get("/memory/export?q=apples")
    assert export.status_code == 200 and export.text.count("\n") == 1 and rid in export.text


def test_delete_needs_the_token_and_a_confirmation(demo):
    client, config = _client(demo)
    rid = client.get("/memory?q=apples").text.split('href="/memory/record/')[1].split('"')[0]
    assert client.post(f"/memory/record/{rid}/delete", data={"token": "forged", "confirm": "yes"}).status_code == 403
    asked = client.post(f"/memory/record/{rid}/delete", data={"token": config.token})
    assert asked.status_code == 200 and 'id="confirm"' in asked.text
    assert 'id="memory-total">3<' in client.get("/memory").text
    done = client.post(f"/memory/record/{rid}/delete", data={"token": config.token, "confirm": "yes"}, follow_redirects=True)
    assert "deleted 1 record" in done.text and 'id="memory-total">2<' in done.text


def test_read_only_has_no_edits(demo):
    client, config = _client(demo, read_only=True)
    rid = client.get("/memory?q=apples").text.split('href="/memory/record/')[1].split('"')[0]
    assert 'id="delete"' not in client.get(f"/memory/record/{rid}").text
    assert client.post(f"/memory/record/{rid}/delete", data={"token": config.token, "confirm": "yes"}).status_code == 403
    assert client.get("/memory/prune").status_code == 403


def test_prune_previews_then_removes(demo):
    from salam.memory import MistakeMemory

    with MistakeMemory.open(demo["memory"]) as mem:
        bad = next(r for r in mem.iter_records() if "train" in r.question)
        for i in range(3):
            mem.record_outcome([bad.id], correct=False, baseline_correct=True, key=f"k{i}")
    client, config = _client(demo)
    preview = client.get("/memory/prune?margin=2").text
    assert "Prune 1 records" in preview
    done = client.post("/memory/prune", data={"token": config.token, "confirm": "yes", "margin": "2"}, follow_redirects=True)
    assert "pruned 1 records" in done.text and 'id="memory-total">2<' in done.text


def test_bad_folders_and_a_busy_memory_are_one_line_and_the_server_keeps_serving(demo, tmp_path):
    from salam.memory import MistakeMemory

    (demo["runs"] / "broken").mkdir()
    (demo["runs"] / "broken" / "manifest.json").write_text('{"config": {}}')
    (demo["runs"] / "broken" / "summary.json").write_text("{not json")
    not_a_run = tmp_path / "not-a-run"
    not_a_run.mkdir()
    config = ViewConfig(run_dirs=[not_a_run], logs=demo["runs"], memory=str(demo["memory"]))
    client = TestClient(create_app(config), base_url="http://127.0.0.1")
    listing = client.get("/runs").text
    assert "not a salam run or training folder" in listing
    broken = client.get("/runs/broken")
    assert broken.status_code == 422 and "unreadable or corrupted" in broken.text
    with MistakeMemory.open(demo["memory"]):  # another process would hold the lock like this
        busy = client.get("/memory")
    assert busy.status_code == 503 and "in use by another process" in busy.text
    assert client.get("/runs/demo").status_code == 200


def test_the_cli_refuses_when_there_is_nothing_to_show(tmp_path):
    from salam.testing import run_cli

    code, _, err = run_cli("view", "--logs", str(tmp_path / "nowhere"))
    assert code != 0 and err.strip().startswith("error: nothing to show") and len(err.strip().splitlines()) == 1


def test_merged_and_flagged_records_show_in_the_memory_pages(demo):
    from salam.memory import MistakeMemory
    from salam.testing import HashEmbedder

    with MistakeMemory.open(demo["memory"], embedder=HashEmbedder()) as mem:
        apples, train = sorted(mem.iter_records(task="Age"), key=lambda r: r.question)
        mem.rewrite([apples.model_copy(update={"merged_ids": ["aaaa1111", "bbbb2222"]}),
                     train.model_copy(update={"flagged": f"differs from {apples.id}"})])
    client, _ = _client(demo)
    page = client.get("/memory").text
    assert "2 into 1" in page and "(+2 merged)" in page and ">flagged<" in page
    record = client.get(f"/memory/record/{apples.id}").text
    assert 'id="merged"' in record and "aaaa1111" in record
    flagged = client.get(f"/memory/record/{train.id}").text
    assert 'id="flagged"' in flagged and f'href="/memory/record/{apples.id}"' in flagged
