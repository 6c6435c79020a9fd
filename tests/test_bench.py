"""Benchmark loaders on the real files, answer extraction, metrics, and kill/resume of a run."""

from __future__ import annotations

import json
import math

import pytest

from salam.answers import extract_choice, extract_free, is_correct
from salam.bench.bbh import BBH_TASKS, PAPER_MC_TASKS, load_bbh
from salam.bench.bbq import BBQ_CATEGORIES, load_bbq
from salam.bench.metrics import bbq_scores, bias_score, bootstrap_ci, mcnemar
from salam.bench.split import balanced_prefix, split_task
from salam.errors import DataError
from salam.types import Question


def test_named_task_lists():
    assert len(BBH_TASKS) == 27 and len(PAPER_MC_TASKS) == 16 and set(PAPER_MC_TASKS) <= set(BBH_TASKS)
    assert len(BBQ_CATEGORIES) == 11


def test_bbq_loader_on_real_files(data_dir):
    data = load_bbq(["Age", "Disability_status", "Nationality", "Physical_appearance"], data_dir)
    assert {k: len(v) for k, v in data.items()} == {"Age": 3680, "Disability_status": 1556, "Nationality": 3080,
                                                    "Physical_appearance": 1576}
    for questions in data.values():
        for q in questions:
            assert len(q.options) == 3 and q.answer in "ABC"
            unknown = q.metadata["unknown_letter"]
            assert unknown in "ABC" and q.metadata["answer_groups"]["ABC".index(unknown)] == "unknown"
            assert q.metadata["context_condition"] in ("ambig", "disambig")
            assert q.metadata["question_polarity"] in ("neg", "nonneg")
            if q.metadata["context_condition"] == "ambig":
                assert q.answer == unknown  # BBQ: the right answer to an ambiguous context is always "unknown"
    first = data["Age"][0]
    assert first.render().endswith("(C) Can't be determined") and first.metadata["stereotyped_groups"] == ["old"]


def test_bbh_loader_on_real_files(data_dir):
    present = [t for t in BBH_TASKS if (data_dir / "bbh" / f"{t}.json").is_file()]
    assert len(present) == 25
    data = load_bbh(present, data_dir)
    mc = [t for t in present if t in PAPER_MC_TASKS]
    assert len(mc) == 14
    for task in mc:
        for q in data[task]:
            assert len(q.options) >= 2 and q.answer in q.letters, (task, q.id)
    assert len(data["penguins_in_a_table"]) == 146
    assert len(data["movie_recommendation"]) == 249  # one upstream target ("Monsters, Inc") names no option: dropped
    nav = data["navigate"][0]
    assert not nav.options and nav.answer in ("Yes", "No")
    assert data["geometric_shapes"][0].options[0].startswith("circle")


def test_missing_data_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SALAM_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("urllib.request.urlopen", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(DataError) as info:
        load_bbq(["Age"], tmp_path / "nowhere")
    message = str(info.value)
    assert "\n" not in message and "nowhere" in message and "SALAM_DATA_DIR" in message
    with pytest.raises(DataError, match="unknown BBQ category"):
        load_bbq(["Aging"], tmp_path)


@pytest.mark.parametrize("output, expected", [
    ("B) The grandson", "B"), ("C", "C"), ("A.", "A"), ("The answer is (B).", "B"), (" the answer is B", "B"),
    ("(C) Can't be determined", "C"), ("Answer: C", "C"), ("I think the grandson did it", "B"),
    ("xyz", None), ("", None), ("Option A is wrong but maybe", "A"),
])
def test_choice_extraction_shapes(output, expected):
    assert extract_choice(output, ["A", "B", "C"], ["The grandfather", "The grandson", "Can't be determined"]) == expected


def test_real_model_output_shapes():
    # outputs the embedded model wrote after "Answer: (" in generate mode
    letters, options = ["A", "B", "C"], ["The 22-year-old", "Cannot be determined", "The 40-year-old"]
    assert extract_choice("A) The 22-", letters, options) == "A"
    assert extract_choice("B)\nQuestion: Who", letters, options) == "B"
    assert extract_choice("1) The 40-year-old", letters, options) == "C"


def test_free_form_scoring():
    q = Question(id="x", text="?", answer="Yes")
    assert is_correct(q, extract_free("yes.")) and is_correct(q, extract_free("The answer is Yes"))
    assert not is_correct(q, extract_free("No")) and not is_correct(q, None)


def _bbq(polarity: str, condition: str, answer: str, groups=("old", "nonOld", "unknown")) -> Question:
    info = {f"ans{i}": [g, g] for i, g in enumerate(groups)}
    return Question(id=f"{polarity}{condition}{answer}", text="?", options=list(groups), answer=answer,
                    metadata={"question_polarity": polarity, "context_condition": condition, "answer_info": info,
                              "stereotyped_groups": ["old"], "unknown_letter": "C"})


def test_bias_score_hand_computed():
    # neg question: picking the stereotyped group (A) is biased; nonneg: picking the other group (B) is biased
    qs = [_bbq("neg", "disambig", "A"), _bbq("neg", "disambig", "B"), _bbq("nonneg", "disambig", "B"), _bbq("nonneg", "disambig", "A")]
    answers = ["A", "A", "B", "C"]  # biased, biased, biased, unknown (left out)
    assert bias_score(qs, answers) == pytest.approx(2 * 3 / 3 - 1)
    assert bias_score(qs, ["B", "B", "A", "A"]) == pytest.approx(-1.0)
    assert bias_score(qs, ["A", "B", "A", None]) == pytest.approx(2 * 1 / 3 - 1)
    assert math.isnan(bias_score(qs, ["C", "C", "C", "C"]))


def test_ambiguous_bias_is_scaled_by_error():
    amb = [_bbq("neg", "ambig", "C") for _ in range(4)]
    answers = ["A", "A", "B", "C"]   # 1 of 4 right; non-unknown: A, A (biased), B (anti) -> s = 2*2/3-1 = 1/3
    correct = [a == "C" for a in answers]
    scores = bbq_scores(amb, answers, correct)
    assert scores["acc_ambig"] == 0.25
    assert scores["bias_ambig"] == pytest.approx((1 - 0.25) * (1 / 3))


def test_mcnemar_and_bootstrap():
    assert mcnemar([True] * 10, [True] * 10)["p_value"] == 1.0
    result = mcnemar([False] * 10, [True] * 10)
    assert (result["b"], result["c"]) == (0, 10) and result["p_value"] == pytest.approx(2 / 1024)
    lo, hi = bootstrap_ci([True] * 50 + [False] * 50)
    assert 0.35 < lo < 0.5 < hi < 0.65


def test_split_is_seeded_stratified_and_disjoint(data_dir):
    qs = load_bbq(["Age"], data_dir)["Age"]
    train, test = split_task(qs, 0.8, seed=1)
    assert not {q.id for q in train} & {q.id for q in test} and len(train) + len(test) == len(qs)
    assert split_task(qs, 0.8, seed=1)[1] == test and split_task(qs, 0.8, seed=2)[1] != test
    share = sum(q.metadata["context_condition"] == "ambig" for q in test) / len(test)
    assert abs(share - 0.5) < 0.01
    small = balanced_prefix(test, 10)
    assert sum(q.metadata["context_condition"] == "ambig" for q in small) == 5
    file_train, file_test = split_task(qs, 0.8, mode="file-order")
    assert file_train[0].id == qs[0].id and file_test[-1].id == qs[-1].id


def _config(tmp_path, data_dir):
    from salam.bench.runner import BenchConfig

    return BenchConfig(benchmark="bbq", tasks=["Age", "Nationality"], limit=6, train_limit=4, data_dir=str(data_dir),
                       conditions=["none", "mistake", "feedback"], answer_mode="generate", batch_size=2,
                       embedder="hash-bow-64", threshold=0.3)


def _models():
    from salam.testing import ScriptedChatModel

    main = ScriptedChatModel(reply_fn=lambda p: "B)" if "Guideline" in p or "Wrong answer" in p else "A)")
    helper = ScriptedChatModel(replies=['Use only facts from the text.", "reason": "guess"}'])
    return main, helper


def test_killed_and_resumed_run_gives_the_same_summary(tmp_path, data_dir):
    from salam.bench.runner import run_benchmark

    main, helper = _models()
    full = run_benchmark(_config(tmp_path, data_dir), tmp_path / "full", model=main, assistant_model=helper)

    calls = {"n": 0}
    crash_main, crash_helper = _models()
    real = crash_main.reply_fn

    def dying(prompt: str) -> str:
        calls["n"] += 1
        if calls["n"] == 30:
            raise KeyboardInterrupt  # the process is stopped mid-run
        return real(prompt)

    crash_main.reply_fn = dying
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(_config(tmp_path, data_dir), tmp_path / "resumed", model=crash_main, assistant_model=crash_helper)
    assert not (tmp_path / "resumed" / "summary.json").exists()
    main2, helper2 = _models()
    with pytest.raises(Exception, match="--resume"):
        run_benchmark(_config(tmp_path, data_dir), tmp_path / "resumed", model=main2, assistant_model=helper2)
    resumed = run_benchmark(_config(tmp_path, data_dir), tmp_path / "resumed", resume=True, model=main2, assistant_model=helper2)
    assert resumed == full
    assert full["conditions"]["none"]["n"] == 12 and "bbq" in full["conditions"]["feedback"]
    for condition in ("none", "mistake", "feedback"):
        lines = (tmp_path / "resumed" / "samples" / f"{condition}.jsonl").read_text().splitlines()
        ids = [json.loads(line)["question_id"] for line in lines]
        assert len(ids) == len(set(ids)) == 12
    manifest = json.loads((tmp_path / "full" / "manifest.json").read_text())
    assert manifest["split"]["Age"]["test"] and manifest["data_checksums"]["bbq/Age.jsonl"]


def test_report_renders_markdown_and_plots(tmp_path, data_dir):
    from salam.bench.report import compare, write_report
    from salam.bench.runner import run_benchmark

    main, helper = _models()
    run_benchmark(_config(tmp_path, data_dir), tmp_path / "run", model=main, assistant_model=helper)
    report = write_report(tmp_path / "run").read_text()
    assert "| feedback |" in report and "s_DIS" in report and "generate" in report
    assert (tmp_path / "run" / "accuracy.png").stat().st_size > 1000 and (tmp_path / "run" / "bias.png").is_file()
    assert "| run |" in compare([tmp_path / "run", tmp_path / "run"])


def test_bench_cli_bad_input(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "salam.cli.main", "bench", "bbq", "--conditions", "none,bogus",
                             "--log-dir", str(tmp_path / "x"), "--display", "none"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and result.stderr.startswith("error: unknown condition") and "Traceback" not in result.stderr
    result = subprocess.run([sys.executable, "-m", "salam.cli.main", "bench", "report", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "no summary.json" in result.stderr
