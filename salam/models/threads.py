"""Torch thread policy for small CPUs.

Measured here (2 cores): two OpenMP threads that spin-wait are slower than one as soon as
anything else runs. Passive waiting keeps two threads a win when the machine is idle and
harmless when it is busy. ``SALAM_NUM_THREADS`` overrides the count.
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

    threads = int(os.environ.get("SALAM_NUM_THREADS", "0")) or max(1, min(os.cpu_count() or 1, 8))
    if not _configured:
        torch.set_num_threads(threads)
        _configured = True
    return torch.get_num_threads()
