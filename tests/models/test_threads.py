"""How many torch threads a process takes: the user's say first, else its share of the cores."""

from __future__ import annotations

import os

from salam.models.threads import default_thread_count


def test_thread_count_follows_the_user_then_shares_the_cores_among_launched_processes(monkeypatch):
    for name in ("SALAM_NUM_THREADS", "OMP_NUM_THREADS", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert default_thread_count() == 8  # one process: all cores, at most 8
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert default_thread_count() == 4  # accelerate launch / torchrun with 4 processes on this machine
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "32")
    assert default_thread_count() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert default_thread_count() == 3
    monkeypatch.setenv("SALAM_NUM_THREADS", "2")
    assert default_thread_count() == 2
    monkeypatch.setenv("SALAM_NUM_THREADS", "lots")
    assert default_thread_count() == 3  # not a count: the next source decides
