"""The viewer against hostile pages and corrupted folders: DNS rebinding, framing, paths from files, bad
query parameters and malformed runs/trainings give a refusal or a one-line page, never a 500."""

from __future__ import annotations

import json
import random
import shutil

import pytest

pytest.importorskip("starlette")

from starlette.testclient import TestClient  # noqa: E402

from salam.view.app import ViewConfig, create_app  # noqa: E402


def _client(demo, host="127.0.0.1", **kw):
    config = ViewConfig(logs=demo["runs"], memory=str(demo["memory"]), **kw)
    return TestClient(create_app(config), base_url=f"http://{host}:7777", raise_server_exceptions=False), config


def _records(demo, *clients):
    from salam.memory import MistakeMemory
    from salam.testing import HashEmbedder

    for client in clients:
        client.app.state.memory.close()  # the viewer holds the folder while it serves
    with MistakeMemory.open(demo["memory"], embedder=HashEmbedder()) as mem:
        return sorted(r.id for r in mem.iter_records())


def test_dns_rebinding_and_cross_site_posts_are_refused(demo):
    before = _records(demo)
    client, config = _client(demo)
    rid = before[0]
    # a page served from attacker.example, a name that resolves to 127.0.0.1
    evil, _ = _client(demo, host="attacker.example")
    page = evil.get("/memory")
    assert page.status_code == 403 and config.token not in page.text and "not this viewer's" in page.text
    posted = client.post(f"/memory/record/{rid}/delete", data={"token": config.token, "confirm": "yes"},
                         headers={"Origin": "http://attacker.example:7777"}, follow_redirects=False)
    assert posted.status_code == 403 and "posted from" in posted.text
    assert client.post(f"/memory/record/{rid}/delete", data={"token": config.token, "confirm": "yes"},
                       headers={"Origin": "null"}, follow_redirects=False).status_code == 403
    assert _records(demo, client, evil) == before
    for name in ("localhost", "127.0.0.1"):
        assert _client(demo, host=name)[0].get("/runs").status_code == 200
    ok = client.post(f"/memory/record/{rid}/delete", data={"token": config.token, "confirm": "yes"},
                     headers={"Origin": "http://127.0.0.1:7777"}, follow_redirects=False)
    assert ok.status_code == 303 and _records(demo, client) == before[1:]


def test_no_page_can_be_framed(demo):
    client, _ = _client(demo)
    for path in ("/runs", "/memory", "/memory/prune", "/nowhere"):
        headers = client.get(path).headers
        assert headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in headers["content-security-policy"]


def test_prune_takes_the_same_margins_as_the_cli(demo):
    from salam.errors import StoreError
    from salam.memory import MistakeMemory
    from salam.testing import HashEmbedder

    before = _records(demo)
    client, config = _client(demo)
    for margin in ("0", "-3", "abc", "1.5"):
        assert client.get(f"/memory/prune?margin={margin}").status_code == 422
        posted = client.post("/memory/prune", data={"token": config.token, "confirm": "yes", "margin": margin},
                             follow_redirects=False)
        assert posted.status_code == 422, margin
    assert _records(demo, client) == before
    with MistakeMemory.open(demo["memory"], embedder=HashEmbedder()) as mem, pytest.raises(StoreError, match="--margin must be"):
        mem.prune(margin=0)


def _corrupt(runs, name, manifest=None, summary=None, timings=None, samples=None):
    folder = runs / name
    shutil.copytree(runs / "demo", folder)
    for file, value in (("manifest.json", manifest), ("summary.json", summary), ("timings.json", timings)):
        if value is not None:
            (folder / file).write_text(value if isinstance(value, str) else json.dumps(value))
    for condition, text in (samples or {}).items():
        (folder / "samples" / f"{condition}.jsonl").write_text(text)
    return folder


def test_malformed_folders_are_one_line_each_and_the_rest_keeps_serving(demo, tmp_path):
    runs = demo["runs"]
    summary = json.loads((runs / "demo" / "summary.json").read_text())
    manifest = json.loads((runs / "demo" / "manifest.json").read_text())
    secret = tmp_path / "secret.jsonl"
    secret.write_text(json.dumps({"question_id": "q", "answer": "the secret"}) + "\n")
    no_accuracy = {**summary, "conditions": {"none": {"n": 3}}}
    cases = {
        "config-oops": {"manifest": {**manifest, "config": "oops"}},
        "traversal": {"manifest": {**manifest, "config": {**manifest["config"], "conditions": ["none", "../../../secret"]}}},
        "no-accuracy": {"summary": no_accuracy},
        "conditions-list": {"summary": {**summary, "conditions": ["none"]}},
        "empty-macro": {"summary": {**summary, "self_correct": {"macro": {}}}},
        "bad-timings": {"timings": "[1, 2"},
        "no-t2": {"samples": {"self_correct": json.dumps({"question_id": "x", "task": "Age", "t1": {"correct": True}}) + "\n"}},
    }
    for name, kw in cases.items():
        _corrupt(runs, name, **kw)
    (runs / "train-bad").mkdir()
    (runs / "train-bad" / "salam_train_manifest.json").write_text("{bad")
    (runs / "train-loss").mkdir()
    (runs / "train-loss" / "salam_train_manifest.json").write_text(json.dumps({"method": "sft", "loss_log": [{"step": "x"}, 5]}))
    (runs / "demo-\udcff".encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")).mkdir()
    client, _ = _client(demo)
    listing = client.get("/runs")
    assert listing.status_code == 200 and "/runs/demo" in listing.text and "&#39;accuracy&#39;</td>" not in listing.text
    assert client.get("/training").status_code == 200
    for name in cases:
        for path in (f"/runs/{name}", f"/runs/{name}?page=abc", f"/runs/{name}?flipped=1", f"/compare?a=demo&b={name}"):
            response = client.get(path)
            assert response.status_code in (200, 404, 422), (path, response.status_code, response.text[:300])
            assert "the secret" not in response.text
    for path in ("/training/train-bad", "/training/train-loss"):
        assert client.get(path).status_code in (200, 422)
    assert client.get("/runs/demo").status_code == 200


def test_fuzzed_query_parameters_never_give_a_500(demo):
    before = _records(demo)
    client, _ = _client(demo)
    rng = random.Random(0)
    values = ["abc", "1e3", "-1", "0", "", "%00", "../../etc/passwd", "9" * 30, "nan", "<script>", "ÿ", "1.5"]
    paths = ["/runs", "/runs/demo", "/memory", "/memory/export", "/memory/prune", "/compare", "/training"]
    params = ["page", "k", "margin", "q", "mode", "ns", "task", "kind", "condition", "correct", "flipped", "a", "b"]
    failures = []
    for _ in range(300):
        query = "&".join(f"{rng.choice(params)}={rng.choice(values)}" for _ in range(rng.randint(1, 4)))
        if rng.random() < 0.3:
            query += "&mode=semantic&q=apples"
        path = f"{rng.choice(paths)}?{query}"
        response = client.get(path)
        if response.status_code >= 500:
            failures.append(f"{path}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures[:10])
    assert _records(demo, client) == before
