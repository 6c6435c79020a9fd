"""Torch thread policy for small CPUs.

Measured here (2 cores): two OpenMP threads that spin-wait are slower than one as soon as
anything else runs. Passive waiting keeps two threads a win when the machine is idle and
harmless when it is busy. ``SALAM_NUM_THREADS`` overrides the count, then ``OMP_NUM_THREADS``; otherwise
the cores are shared among the processes of one launch (``LOCAL_WORLD_SIZE``, set by torchrun and
``accelerate launch``): two training processes of two threads each on two cores ran 4x slower than one.
"""

from __future__ import annotations

import os

_configured = False


def prepare_torch_env() -> None:
    """Call before the first ``import torch``: OpenMP reads the wait policy once, at start-up."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def configure_torch_threads() -> int:
    """Set torch's intra-op thread count once per process; returns it."""
    global _configured
    prepare_torch_env()
    import torch

    threads = default_thread_count()
    if not _configured:
        torch.set_num_threads(threads)
        _configured = True
    return torch.get_num_threads()


def default_thread_count() -> int:
    """``SALAM_NUM_THREADS``, else ``OMP_NUM_THREADS``, else this process's share of the cores (at most 8)."""
    for name in ("SALAM_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    local_processes = os.environ.get("LOCAL_WORLD_SIZE", "1").strip()
    share = int(local_processes) if local_processes.isdigit() and int(local_processes) > 0 else 1
    return max(1, min((os.cpu_count() or 1) // share, 8))
