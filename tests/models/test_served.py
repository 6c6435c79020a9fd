"""Served models over real HTTP (a scripted OpenAI-compatible server): letter scoring from logprobs, bounded
concurrency, retries, the response journal and the one-line errors."""

from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("langchain_openai")


def _served(server, **options):
    from salam.models.served import ServedChatModel
    from salam.models.serving import ServingOptions

    return ServedChatModel.connect("scripted", base_url=server.url, api_key="x", serving=ServingOptions(**options))


def _config(tmp_path, data_dir, url, **overrides):
    from salam.bench.runner import BenchConfig

    settings = dict(benchmark="bbq", model="openai:scripted", base_url=url, tasks=["Age", "Nationality"], limit=6,
                    train_limit=4, data_dir=str(data_dir), conditions=["none"], answer_mode="choice", embedder="hash-bow-64",
                    max_retries=2)
    return BenchConfig(**{**settings, **overrides})


def test_option_logprobs_exact_then_stripped_then_a_counted_floor():
    from salam.models.served import option_logprobs

    scores, missing = option_logprobs({"A": -0.2, " B": -1.5, "(C": -2.0, "x": -4.0}, ["A", "B", "C", "D"])
    assert scores == [-0.2, -1.5, -2.0, -4.0] and missing == 1


def test_completions_and_chat_logprobs_give_the_same_letters():
    from salam.testing_server import ScriptedServer, letter_reply

    with ScriptedServer(letter_reply("B")) as server:
        for endpoint in ("completions", "chat"):
            model = _served(server, logprobs=endpoint)
            model.check_scoring()
            scores = model.score_options(["Q1 Answer: (", "Q2 Answer: ("], [["A", "B", "C"], ["A", "B"]])
            assert [max(range(len(s)), key=s.__getitem__) for s in scores] == [1, 1]
            assert model.endpoint.endswith("/completions")


def test_chat_only_api_works_with_chat_logprobs_and_is_named_when_not():
    from salam.errors import SalamError
    from salam.testing_server import ScriptedServer

    with ScriptedServer(chat_only=True) as server:
        _served(server, logprobs="chat").check_scoring()
        with pytest.raises(SalamError, match=r"/completions failed.*NotFound"):
            _served(server, logprobs="completions").check_scoring()


def test_a_server_without_logprobs_is_refused_before_any_run_folder(tmp_path, data_dir):
    from salam.bench.runner import run_benchmark
    from salam.errors import SalamError
    from salam.testing_server import ScriptedServer

    with ScriptedServer(logprobs=False) as server:
        with pytest.raises(SalamError, match=r"needs letter log-probabilities.*/completions returned no top_logprobs"):
            run_benchmark(_config(tmp_path, data_dir, server.url), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_choice_mode_bench_through_a_server_counts_requests_per_stage(tmp_path, data_dir):
    from salam.bench.runner import run_benchmark
    from salam.testing_server import ScriptedServer, letter_reply

    with ScriptedServer(letter_reply("A"), fail_first=[429, 503]) as server:
        summary = run_benchmark(_config(tmp_path, data_dir, server.url), tmp_path / "run")
    run = tmp_path / "run"
    counts = json.loads((run / "requests.json").read_text())
    # the check that the server gives logprobs met the two failures and retried them; the 12 questions then went through
    assert counts["check"] == {"requests": 3, "retries": 2, "errors": 2, "replayed": 0, "missing_letters": 0}
    assert counts["none"]["requests"] == 12 and counts["none"]["retries"] == 0
    assert summary["conditions"]["none"]["n"] == 12
    assert summary["letter_scoring"] == "top-20 logprobs of /completions" and summary["requests"]["check"]["retries"] == 2
    rows = [json.loads(line) for line in (run / "samples" / "none.jsonl").read_text().splitlines()]
    assert {r["answer"] for r in rows} == {"A"}
    from salam.bench.report import write_report

    text = write_report(run).read_text()
    assert "letters scored by: top-20 logprobs of /completions" in text and "check: 3 requests, 2 retries, 2 errors; none: 12 requests" in text


def test_at_most_max_concurrency_requests_are_in_flight_and_they_overlap():
    from salam.testing_server import ScriptedServer

    with ScriptedServer(delay_s=0.2) as server:
        model = _served(server, max_concurrency=8)
        began = time.perf_counter()
        model.score_options([f"Q{i} Answer: (" for i in range(32)], [["A", "B"]] * 32)
        elapsed = time.perf_counter() - began
    assert server.in_flight_max == 8
    assert elapsed < 0.2 * 32 / 3  # 4 waves of 8, not 32 one after another


def test_a_dying_server_is_retried_then_one_line(tmp_path):
    from salam.errors import SalamError
    from salam.testing_server import ScriptedServer

    with ScriptedServer(fail_first=[503] * 10) as server:
        model = _served(server, max_retries=1)
        with pytest.raises(SalamError, match=r"/completions failed after 1 retries: InternalServerError"):
            model.score_options(["Q Answer: ("], [["A", "B"]])
        assert server.requests == 2


def test_the_journal_answers_a_resumed_process_without_asking_again(tmp_path):
    from salam.testing_server import ScriptedServer, letter_reply

    journal = tmp_path / "requests.jsonl"
    prompts = [f"Q{i} Answer: (" for i in range(5)]
    with ScriptedServer(letter_reply("C")) as server:
        first = _served(server)
        first.transport.attach(journal)
        before = first.score_options(prompts, [["A", "B", "C"]] * 5)
        assert server.requests == 5
        again = _served(server)  # a new process after a kill: same requests, answered from the journal
        again.transport.attach(journal)
        after = again.score_options(prompts + ["Q5 Answer: ("], [["A", "B", "C"]] * 6)
        assert server.requests == 6 and after[:5] == before
        assert again.transport.counts.take()["other"]["replayed"] == 5


@pytest.mark.parametrize("bad", [{"max_concurrency": 0}, {"max_concurrency": -3}, {"max_retries": -1}, {"timeout": 0}])
def test_bad_serving_options_are_one_line(bad):
    from salam.errors import SalamError
    from salam.models.serving import ServingOptions

    with pytest.raises(SalamError, match="^--"):
        ServingOptions(**bad)


def test_a_server_that_dies_mid_run_stops_it_in_one_line_and_the_run_resumes(tmp_path, data_dir):
    from salam.bench.runner import run_benchmark
    from salam.errors import SalamError
    from salam.testing_server import ScriptedServer, letter_reply

    config = _config(tmp_path, data_dir, "", answer_mode="generate", max_retries=1, max_concurrency=2)
    with ScriptedServer(letter_reply("B"), fail_from=8) as server:
        config.base_url = server.url
        with pytest.raises(SalamError, match=r"/chat/completions failed after 1 retries: .*503"):
            run_benchmark(config, tmp_path / "run")
        server.fail_from = None
        asked_before = server.requests
        summary = run_benchmark(config, tmp_path / "run", resume=True)
        asked_again = server.requests - asked_before
    assert summary["conditions"]["none"]["n"] == 12
    assert asked_again == 12 - 7  # the 7 answers that arrived before the outage came from the journal
    counts = json.loads((tmp_path / "run" / "requests.json").read_text())
    assert counts["none"]["replayed"] == 7 and counts["none"]["errors"] >= 2
