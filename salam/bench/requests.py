"""A run's requests to served models: journaled in its folder, counted per stage.

Local models make no requests; for them every call here does nothing.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from salam.bench.rundir import RunDir


def _transports(models: tuple[Any, ...]) -> list[Any]:
    seen: dict[int, Any] = {}
    for model in models:
        transport = getattr(model, "transport", None)
        if transport is not None and hasattr(transport, "attach"):
            seen[id(transport)] = transport
    return list(seen.values())


class RunRequests:
    """Attach the run's journal to each served model's transport; :meth:`stage` counts what a stage asked."""

    def __init__(self, run: RunDir, *models: Any) -> None:
        self.run = run
        self.transports = _transports(models)
        for transport in self.transports:
            transport.attach(run.journal_path)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Requests made inside are counted under ``name`` and added to ``requests.json``, even if the stage fails."""
        if not self.transports:
            yield
            return
        from salam.models.serving import request_phase

        try:
            with request_phase(name):
                yield
        finally:
            for transport in self.transports:
                self.run.add_requests(transport.counts.take())
