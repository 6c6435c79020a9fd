"""Splits: seeded, stratified, disjoint; the library split that gather and exam share with bench."""

from __future__ import annotations

from salam.data.bbq import load_bbq
from salam.data.split import balanced_prefix, split_task


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


def test_gather_and_exam_split_is_the_bench_split_and_honours_seed_and_fraction(data_dir):
    from salam.data.questions import benchmark_side, load_benchmark
    from salam.data.split import side, split_benchmark

    data, _ = load_benchmark("bbq", ["Age"], data_dir)
    bench_test = side(split_benchmark(data, seed=3, limit=6), "test")
    assert [q.id for q in benchmark_side("bbq", "test", tasks=["Age"], data_dir=data_dir, limit=6, seed=3)] == [q.id for q in bench_test]
    assert benchmark_side("bbq", "test", tasks=["Age"], data_dir=data_dir, limit=6, seed=4) != bench_test
    train = benchmark_side("bbq", "train", tasks=["Age"], data_dir=data_dir, seed=3, train_fraction=0.5)
    test = benchmark_side("bbq", "test", tasks=["Age"], data_dir=data_dir, seed=3, train_fraction=0.5)
    assert abs(len(train) - len(test)) <= 2 and not {q.id for q in train} & {q.id for q in test}


def test_train_offset_skips_the_questions_an_earlier_run_used(data_dir):
    from salam.data.questions import load_benchmark
    from salam.data.split import side, split_benchmark

    data, _ = load_benchmark("bbq", ["Age"], data_dir)
    first = side(split_benchmark(data, train_limit=10), "train")
    later = side(split_benchmark(data, train_limit=5, train_offset=10), "train")
    assert len(later) == 5 and not {q.id for q in first} & {q.id for q in later}
