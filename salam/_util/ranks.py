"""The processes of one training run (``accelerate launch`` / ``torchrun``): which one writes, and sharing work.

One process is the common case and costs nothing here: no torch import, no process group. With
``WORLD_SIZE`` > 1 the group is made by accelerate's ``PartialState`` (gloo on a CPU, NCCL on GPUs), the
same one the trainer then uses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """This process's rank among ``size`` processes of one run."""

    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        """The process that claims folders and writes manifests, adapters and markers."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait until every process gets here (e.g. until the main one has written what the others read)."""
        if self.size > 1:
            import torch.distributed as dist

            dist.barrier()

    def broadcast(self, value: Any) -> Any:
        """The main process's ``value``, on every process."""
        if self.size == 1:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def shard(self, items: Sequence[T]) -> list[T]:
        """This process's share: every ``size``-th item from ``rank`` (so shares differ by one item at most)."""
        return list(items[self.rank :: self.size])

    def gather(self, mine: list[T], total: int) -> list[T]:
        """Every process's share, back in the order of the items they were taken from (see :meth:`shard`)."""
        if self.size == 1:
            return mine
        import torch.distributed as dist

        parts: list[Any] = [None] * self.size
        dist.all_gather_object(parts, mine)
        return [parts[i % self.size][i // self.size] for i in range(total)]


_world: World | None = None


def current_world() -> World:
    """The run's processes, from the launcher's environment; the process group is made on first use."""
    global _world
    if _world is None:
        size = int(os.environ.get("WORLD_SIZE", "1") or 1)
        if size > 1:
            import torch
            from accelerate import PartialState

            # Without a GPU accelerate makes a multi-process group only when told it is on the CPU (gloo).
            state = PartialState(cpu=not torch.cuda.is_available())
            _world = World(state.process_index, state.num_processes)
        else:
            _world = World()
    return _world
