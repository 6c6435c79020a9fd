"""What the viewer's pages share: its config, the memory handle, the templates (:class:`Viewer`, on ``app.state``).

``salam view``: a local web app to look at runs, training folders and the mistake memory.

Starlette + Jinja2 (already in salam's dependency tree through Chroma), server-rendered pages with a
little plain JavaScript and no CDN, so it works offline. Every stored text is escaped by Jinja2's
autoescaping. Edits (delete, prune) are POSTs that carry a per-process token and a confirmation step,
so another page cannot post them; ``read_only`` removes them. The memory is opened through
:class:`MistakeMemory` (its lock, or a Chroma server) on first use and kept open while serving.

The handlers are module-level functions in :mod:`salam.view.run_pages` and :mod:`salam.view.memory_pages`;
what they share (the config, the templates, the memory) is the :class:`Viewer` on ``app.state``.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salam.errors import MALFORMED, SalamError, describe_malformed
from salam.view import data

PAGE_SIZE = 200
"""Rows per page of the sample and record tables."""
LOCK_WAIT_S = 2.0
"""How long the viewer waits for a memory folder another process holds before saying so."""
STATS_TTL_S = 10.0
"""How long counts of a shared Chroma server's memory are reused (an embedded folder's only change here)."""


@dataclass
class ViewConfig:
    run_dirs: list[Path] = field(default_factory=list)
    logs: Path | None = Path("runs")
    memory: str | None = None
    chroma_url: str | None = None
    read_only: bool = False
    host: str = "127.0.0.1"
    """The interface the server binds: requests must name it (or a loopback name) as their Host."""
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))


class MemoryHandle:
    """The memory, opened once on first use; a failure (in use, foreign embedder, corrupted) is kept as one line."""

    def __init__(self, config: ViewConfig) -> None:
        self.config = config
        self._memory: Any = None
        self._stats: dict[str, Any] | None = None
        self._stats_at = 0.0
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return bool(self.config.memory or self.config.chroma_url)

    def get(self) -> Any:
        """The open memory; raises SalamError with a one-line reason."""
        from salam.memory import MistakeMemory

        with self._lock:
            if self._memory is None:
                if not self.configured:
                    raise SalamError("no memory given: start with --memory DIR or --chroma-url URL")
                self._memory = MistakeMemory.open(self.config.memory, url=self.config.chroma_url, create=False,
                                                  lock_timeout=LOCK_WAIT_S)
            return self._memory

    def stats(self) -> dict[str, Any]:
        """The memory's counts, cached until this viewer edits it (or for ``STATS_TTL_S`` on a shared server):
        counting reads every record's metadata, too slow to repeat on each page of a large memory."""
        mem = self.get()
        with self._lock:
            fresh = self._stats is not None and (self.config.chroma_url is None or time.monotonic() - self._stats_at < STATS_TTL_S)
            if not fresh:
                self._stats, self._stats_at = mem.stats(), time.monotonic()
            return self._stats

    def changed(self) -> None:
        with self._lock:
            self._stats = None

    def close(self) -> None:
        with self._lock:
            if self._memory is not None:
                self._memory.close()
                self._memory = None


class Viewer:
    """What every page handler shares: the config, the templates, the memory handle, the folders found."""

    def __init__(self, config: ViewConfig) -> None:
        from jinja2 import Environment, PackageLoader, select_autoescape

        self.config = config
        self.memory = MemoryHandle(config)
        self.env = Environment(loader=PackageLoader("salam.view", "templates"), autoescape=select_autoescape(["html"]))

    def page(self, name: str, status: int = 200, **context: Any) -> Any:
        from starlette.responses import HTMLResponse

        html = self.env.get_template(name).render(read_only=self.config.read_only, token=self.config.token, **context)
        return HTMLResponse(html, status_code=status)

    def problem(self, message: str, status: int = 404) -> Any:
        return self.page("problem.html", status=status, message=message)

    def found(self) -> data.Found:
        return data.discover(self.config.run_dirs, self.config.logs)


def viewer_of(request: Any) -> Viewer:
    """The viewer a request's application serves."""
    return request.app.state.viewer


def whole_number(value: str | None, name: str, default: int, least: int = 1) -> int:
    """A query parameter that must be a whole number of at least ``least``; else a one-line SalamError."""
    try:
        number = int(value) if value not in (None, "") else default
    except ValueError:
        raise SalamError(f"{name} must be a whole number, not {value!r}") from None
    if number < least:
        raise SalamError(f"{name} must be at least {least}, not {number}")
    return number


def page_number(value: str | None) -> int:
    """A ``page`` query parameter as a page number (0 for anything that is not a whole number)."""
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


def tolerant(handler: Any) -> Any:
    """A page handler whose folder's malformed files become a one-line problem page (422), never a 500."""
    import functools

    from jinja2 import TemplateError

    @functools.wraps(handler)
    async def page(request: Any) -> Any:
        try:
            return await handler(request)
        except (*MALFORMED, TemplateError) as exc:
            return viewer_of(request).problem(f"cannot show this page: {describe_malformed(exc)}", 422)

    return page
