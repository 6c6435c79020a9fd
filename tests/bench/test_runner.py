"""The benchmark runner: a killed and resumed run gives the same summary; the report renders."""

from __future__ import annotations

import json
import math

import pytest


def _config(tmp_path, data_dir, **overrides):
    from salam.bench.runner import BenchConfig

    settings = dict(benchmark="bbq", tasks=["Age", "Nationality"], limit=6, train_limit=4, data_dir=str(data_dir),
                    conditions=["none", "mistake", "feedback"], answer_mode="generate", batch_size=2,
                    embedder="hash-bow-64", threshold=0.3)
    return BenchConfig(**{**settings, **overrides})


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
    run = tmp_path / "run`<img src=x onerror=alert(1)>`"
    run_benchmark(_config(tmp_path, data_dir), run, model=main, assistant_model=helper)
    report = write_report(run).read_text()
    assert "| feedback |" in report and "s_DIS" in report and "generate" in report and "rank distinct" in report
    assert "<img" not in report and "`<" not in report
    assert (run / "accuracy.png").stat().st_size > 1000 and (run / "bias.png").is_file()
    assert "| run" in compare([run, run])


def test_the_retrieval_rank_reaches_every_search_and_the_report(tmp_path, data_dir, monkeypatch):
    from salam.bench.report import write_report
    from salam.bench.runner import run_benchmark
    from salam.memory import MistakeMemory

    ranks: list[str] = []
    real = MistakeMemory.similar_many

    def recording(self, *args, **kwargs):
        ranks.append(kwargs.get("rank", "the store's default"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(MistakeMemory, "similar_many", recording)
    main, helper = _models()
    run_benchmark(_config(tmp_path, data_dir, rank="similarity"), tmp_path / "run", model=main, assistant_model=helper)
    assert ranks and set(ranks) == {"similarity"}
    assert "rank similarity" in write_report(tmp_path / "run").read_text()


def test_a_run_made_before_the_rank_was_recorded_resumes_only_with_the_rank_it_used(tmp_path, data_dir):
    """Such runs retrieved by plain similarity: resuming one under today's default (distinct) would mix two ranks."""
    from salam.bench.runner import prepare

    prepare(_config(tmp_path, data_dir, rank="similarity"), tmp_path / "old")
    manifest = tmp_path / "old" / "manifest.json"
    saved = json.loads(manifest.read_text())
    del saved["config"]["rank"]
    manifest.write_text(json.dumps(saved))
    with pytest.raises(Exception, match="different settings.*rank"):
        prepare(_config(tmp_path, data_dir), tmp_path / "old", resume=True)
    assert prepare(_config(tmp_path, data_dir, rank="similarity"), tmp_path / "old", resume=True).config.rank == "similarity"


def test_runs_sharing_a_memory_get_their_own_namespace_even_with_the_same_folder_name(tmp_path, data_dir):
    from salam.bench.runner import prepare

    shared = str(tmp_path / "shared-memory")
    a = prepare(_config(tmp_path, data_dir, memory=shared), tmp_path / "a" / "exp")
    b = prepare(_config(tmp_path, data_dir, memory=shared), tmp_path / "b" / "exp")
    assert a.namespace != b.namespace and a.namespace.startswith("run-exp-")
    assert a.run.manifest()["namespace"] == a.namespace
    assert prepare(_config(tmp_path, data_dir, memory=shared), tmp_path / "a" / "exp", resume=True).namespace == a.namespace


def test_resume_names_a_changed_setting_and_accepts_a_run_made_before_a_setting_existed(tmp_path, data_dir):
    import json

    from salam.bench.runner import prepare
    from salam.errors import SalamError

    prep = prepare(_config(tmp_path, data_dir), tmp_path / "run")
    with pytest.raises(SalamError, match=r"different settings than the run in .*: limit$"):
        prepare(_config(tmp_path, data_dir, limit=7), tmp_path / "run", resume=True)
    manifest = json.loads(prep.run.manifest_path.read_text())
    del manifest["config"]["max_new_tokens"]  # as a run folder written before --max-new-tokens existed
    prep.run.manifest_path.write_text(json.dumps(manifest))
    prepare(_config(tmp_path, data_dir), tmp_path / "run", resume=True)
    with pytest.raises(SalamError, match="max_new_tokens"):
        prepare(_config(tmp_path, data_dir, max_new_tokens=64), tmp_path / "run", resume=True)


def test_credentials_in_the_base_url_never_reach_the_manifest(tmp_path, data_dir):
    from salam.bench.runner import prepare

    prep = prepare(_config(tmp_path, data_dir, base_url="http://user:TOKEN123@127.0.0.1:9/v1"), tmp_path / "run")
    text = prep.run.manifest_path.read_text()
    assert "TOKEN123" not in text and prep.run.manifest()["config"]["base_url"] == "http://***@127.0.0.1:9/v1"
    prepare(_config(tmp_path, data_dir, base_url="http://user:TOKEN123@127.0.0.1:9/v1"), tmp_path / "run", resume=True)


@pytest.mark.parametrize("overrides", [
    {"model": "openai:gpt-4o-mini", "base_url": "http://127.0.0.1:9/v1", "answer_mode": "choice"},
    {"namespace": "not a namespace!", "memory": "MEMORY"},
    {"conditions": ["none", "bogus"]},
    {"answer_mode": "bogus"},
])
def test_refused_settings_leave_no_half_made_run_folder(tmp_path, data_dir, overrides):
    from salam.bench.runner import run_benchmark
    from salam.errors import SalamError

    if overrides.get("memory") == "MEMORY":
        overrides = {**overrides, "memory": str(tmp_path / "mem")}
    main, helper = _models()
    model = None if "model" in overrides else main
    with pytest.raises(SalamError):
        run_benchmark(_config(tmp_path, data_dir, **overrides), tmp_path / "run", model=model, assistant_model=helper)
    assert not (tmp_path / "run" / "manifest.json").exists()


def test_an_unwritable_log_dir_is_refused_before_any_work(tmp_path, data_dir):
    from salam.bench.runner import prepare
    from salam.errors import SalamError

    (tmp_path / "a-file").write_text("")
    with pytest.raises(SalamError, match="cannot write to"):
        prepare(_config(tmp_path, data_dir), tmp_path / "a-file" / "run")


def test_self_correct_adds_the_two_attempt_metrics_and_compare_pairs_runs(tmp_path, data_dir):
    from salam.bench.report import compare, write_report
    from salam.bench.runner import run_benchmark
    from salam.testing import ScriptedChatModel

    helper = ScriptedChatModel(replies=['Use only facts from the text.", "reason": "guess"}'])
    stubborn = ScriptedChatModel(reply_fn=lambda p: "A)")
    fixer = ScriptedChatModel(reply_fn=lambda p: "C)" if "First answer" in p else "A)")
    config = dict(conditions=["none"], self_correct=True)
    a = run_benchmark(_config(tmp_path, data_dir, **config), tmp_path / "stubborn", model=stubborn, assistant_model=helper)
    b = run_benchmark(_config(tmp_path, data_dir, **config), tmp_path / "fixer", model=fixer, assistant_model=helper)
    sc = b["self_correct"]
    assert set(sc) >= {"macro", "per_task", "pooled"} and set(sc["macro"]) >= {"acc_t1", "acc_t2", "delta", "delta_i_to_c", "delta_c_to_i"}
    assert a["self_correct"]["macro"]["delta"] == 0.0 and sc["macro"]["acc_t1"] == a["self_correct"]["macro"]["acc_t1"]
    assert sc["pooled"]["delta"] == pytest.approx(sc["pooled"]["delta_i_to_c"] - sc["pooled"]["delta_c_to_i"])
    assert all(0.0 <= sc["macro"][k] <= 1.0 for k in ("acc_t1", "acc_t2", "delta_i_to_c", "delta_c_to_i"))
    assert "## Self-correction" in write_report(tmp_path / "fixer").read_text()
    table = compare([tmp_path / "stubborn", tmp_path / "fixer"])
    assert "Acc@t2" in table and "| fixer | Acc@t2 | 12 |" in table


def test_tripost_mode_reports_final_accuracy_rounds_and_false_claims(tmp_path, data_dir):
    """`salam bench bbh --self-correct tripost`: attempt, own feedback, update; the final answer fills acc_t2."""
    from salam.bench.rundir import RunDir
    from salam.bench.runner import run_benchmark
    from salam.train.tripost.runner import FEEDBACK

    class Fixer:
        """Answers True first; told nothing, says its steps are wrong once, then answers the gold."""

        def format_prompt(self, messages):
            return messages[0].content + "\n<model>\n"

        budgets: set = set()

        def generate_texts(self, prompts, stop=None, max_new_tokens=None, stop_pattern=None):
            self.budgets.add(max_new_tokens)
            out = []
            for p in prompts:
                so_far = p.split("\n<model>\n", 1)[1]
                if not so_far:
                    out.append("Z = True. So the answer is True.")
                elif so_far.endswith(FEEDBACK):
                    out.append(" All steps are correct." if "Update:" in so_far else " In step 1 the part \"True\" is incorrect.")
                else:
                    out.append("Z = False. So the answer is False.")
            return [(t, 0, 0, 0.0) for t in out]

    config = _config(tmp_path, data_dir, benchmark="bbh", tasks=["boolean_expressions"], limit=6, conditions=[],
                     self_correct=True, self_correct_mode="tripost", answer_mode="choice", shots=0, max_new_tokens=200)
    from salam.testing import ScriptedChatModel
    from salam.train.tripost.runner import FEEDBACK_MAX_NEW_TOKENS

    fixer = Fixer()
    summary = run_benchmark(config, tmp_path / "tp", model=fixer, assistant_model=ScriptedChatModel())
    assert fixer.budgets == {200, FEEDBACK_MAX_NEW_TOKENS}  # --max-new-tokens caps attempts and updates
    sc = summary["self_correct"]
    assert RunDir(tmp_path / "tp").manifest()["config"]["answer_mode"] == "cot"
    truth = [row["t1"]["correct"] for row in RunDir(tmp_path / "tp").samples("self_correct").values()]
    assert sc["macro"]["acc_t1"] == sum(truth) / 6 and sc["macro"]["acc_t2"] == sum(1 for t in truth if not t) / 6
    assert sc["tripost"]["mean_rounds"] == 1.0 and sc["tripost"]["claims_correct_when_wrong"] == sc["tripost"]["wrong_final"]
    from salam.bench.report import run_markdown

    assert "TriPosT mode" in run_markdown(tmp_path / "tp")

    class SureFixer(Fixer):
        """The same model, sure of nothing: P(wrong) 0.4 before every feedback."""

        def score_options(self, prompts, choices):
            return [[math.log(0.6), math.log(0.4)] for _ in prompts]

    config.wrong_threshold = 0.45  # P(wrong) 0.4 never reaches it: "correct" every time, no updates
    sc = run_benchmark(config, tmp_path / "thr", model=SureFixer(), assistant_model=ScriptedChatModel())["self_correct"]
    assert sc["tripost"] == {**sc["tripost"], "mean_rounds": 0.0, "wrong_threshold": 0.45}
    assert "its P(wrong) reached 0.45 (--wrong-threshold)" in run_markdown(tmp_path / "thr")
