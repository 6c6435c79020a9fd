"""``salam view``: a local web app to look at runs, training folders and the mistake memory.

Starlette + Jinja2 (already in salam's dependency tree through Chroma), server-rendered pages with a
little plain JavaScript and no CDN, so it works offline. Every stored text is escaped by Jinja2's
autoescaping. Edits (delete, prune) are POSTs that carry a per-process token and a confirmation step,
so another page cannot post them; ``read_only`` removes them. The memory is opened through
:class:`MistakeMemory` (its lock, or a Chroma server) on first use and kept open while serving.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salam.errors import SalamError
from salam.view import charts, data

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


def create_app(config: ViewConfig) -> Any:
    """The Starlette application for ``config``."""
    from jinja2 import Environment, PackageLoader, select_autoescape
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response, StreamingResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    env = Environment(loader=PackageLoader("salam.view", "templates"), autoescape=select_autoescape(["html"]))
    memory = MemoryHandle(config)

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(name).render(read_only=config.read_only, token=config.token, **context)
        return HTMLResponse(html, status_code=status)

    def problem(message: str, status: int = 404) -> HTMLResponse:
        return page("problem.html", status=status, message=message)

    def found() -> data.Found:
        return data.discover(config.run_dirs, config.logs)

    def run_path(request: Request) -> Path | None:
        return found().runs.get(request.path_params["run"])

    async def home(_request: Request) -> Response:
        return RedirectResponse("/runs", status_code=302)

    async def runs(_request: Request) -> Response:
        f = found()
        rows = [data.run_row(slug, path) for slug, path in f.runs.items()]
        return page("runs.html", rows=rows, problems=f.problems, trainings=len(f.trainings))

    async def run(request: Request) -> Response:
        path = run_path(request)
        if path is None:
            return problem(f"no run {request.path_params['run']!r}: see the runs list")
        q = request.query_params
        try:
            info = data.run_page(path)
            rows = data.sample_rows(path, q.get("task", ""), q.get("condition", ""), q.get("correct", ""), q.get("flipped") == "1")
            conditions = data.conditions_of(path)
        except SalamError as exc:
            return problem(data.one_line(exc), 422)
        start = max(0, int(q.get("page", "0") or 0)) * PAGE_SIZE
        conds = info["summary"].get("conditions", {})
        chart = charts.bars(list(conds), [100 * c["accuracy"] for c in conds.values()])
        return page("run.html", id=request.path_params["run"], path=str(path), info=info, rows=rows[start : start + PAGE_SIZE],
                    total=len(rows), page_no=start // PAGE_SIZE, pages=(len(rows) + PAGE_SIZE - 1) // PAGE_SIZE,
                    conditions=conditions, tasks=info["summary"].get("tasks", []), query=dict(q), chart=chart,
                    others=[s for s in found().runs if s != request.path_params["run"]])

    async def plot(request: Request) -> Response:
        from salam.bench.rundir import RunDir

        path = run_path(request)
        name = request.path_params["name"]
        if path is None or name not in ("accuracy", "bias") or not RunDir(path).plot_path(name).is_file():
            return problem("no such plot")
        return FileResponse(RunDir(path).plot_path(name), media_type="image/png")

    async def sample(request: Request) -> Response:
        path = run_path(request)
        if path is None:
            return problem(f"no run {request.path_params['run']!r}")
        try:
            info = data.sample_page(path, request.path_params["qid"])
        except SalamError as exc:
            return problem(data.one_line(exc))
        return page("sample.html", id=request.path_params["run"], info=info)

    async def compare(request: Request) -> Response:
        f = found()
        a, b = request.query_params.get("a", ""), request.query_params.get("b", "")
        if a not in f.runs or b not in f.runs:
            return problem("compare needs two runs: /compare?a=RUN&b=RUN (ids from the runs list)")
        try:
            rows = data.paired(f.runs[a], f.runs[b])
        except SalamError as exc:
            return problem(data.one_line(exc), 422)
        return page("compare.html", a=a, b=b, rows=rows)

    def memory_or_problem() -> Any:
        try:
            return memory.get(), None
        except SalamError as exc:
            return None, problem(data.one_line(exc), 503)

    def filtered(mem: Any, q: Any, offset: int = 0, limit: int | None = None) -> tuple[int, list[Any], dict[str, float]]:
        """(matches, the page of records, similarities): ``mode=semantic`` ranks by the memory's own ``similar``."""
        ns, task, kind, text = q.get("ns") or None, q.get("task") or None, q.get("kind") or None, (q.get("q") or "").strip()
        if text and q.get("mode") == "semantic":  # every namespace unless one is chosen, best first
            k = int(q.get("k", "20") or 20)
            hits = sorted((h for name in ([ns] if ns else mem.namespaces()) for h in mem.similar(
                text, k=k, threshold=0.0, namespace=name, task=task, kind=kind or "mistake", allow_self=True)),
                key=lambda h: -h.similarity)[:k]
            return len(hits), [h.record for h in hits], {h.record.id: h.similarity for h in hits}
        total, records = mem.find_text(text, namespace=ns, task=task, kind=kind, offset=offset, limit=limit)  # "": all
        return total, records, {}

    async def memory_list(request: Request) -> Response:
        mem, failure = memory_or_problem()
        if failure:
            return failure
        q = request.query_params
        start = max(0, int(q.get("page", "0") or 0)) * PAGE_SIZE
        try:
            total, records, similarity = filtered(mem, q, start, PAGE_SIZE)
            stats = memory.stats()
        except SalamError as exc:
            return problem(data.one_line(exc), 422)
        if similarity:
            records = records[start : start + PAGE_SIZE]
        return page("memory.html", stats=stats, records=records, total=total, similarity=similarity, query=dict(q),
                    page_no=start // PAGE_SIZE, pages=(total + PAGE_SIZE - 1) // PAGE_SIZE, notice=q.get("notice", ""))

    async def memory_export(request: Request) -> Response:
        mem, failure = memory_or_problem()
        if failure:
            return failure
        _, records, _ = filtered(mem, request.query_params)
        body = "".join(r.model_dump_json() + "\n" for r in records)
        return StreamingResponse(iter([body]), media_type="application/x-ndjson",
                                 headers={"Content-Disposition": 'attachment; filename="salam-memory.jsonl"'})

    async def record(request: Request) -> Response:
        mem, failure = memory_or_problem()
        if failure:
            return failure
        found_record = mem.get(request.path_params["rid"])
        if found_record is None:
            return problem(f"no record {request.path_params['rid']!r} (deleted?)")
        return page("record.html", r=found_record)

    async def checked_form(request: Request) -> tuple[dict[str, str] | None, Response | None]:
        if config.read_only:
            return None, problem("this viewer is read-only (--read-only)", 403)
        # The forms are a few urlencoded fields: parsed here rather than adding python-multipart for them.
        from urllib.parse import parse_qs

        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        if not secrets.compare_digest(form.get("token", ""), config.token):
            return None, problem("refused: the form's token does not match this viewer (a page from elsewhere?)", 403)
        return form, None

    async def record_delete(request: Request) -> Response:
        form, failure = await checked_form(request)
        if failure:
            return failure
        mem, failure = memory_or_problem()
        if failure:
            return failure
        rid = request.path_params["rid"]
        r = mem.get(rid)
        if r is None:
            return problem(f"no record {rid!r} (deleted?)")
        if form.get("confirm") != "yes":
            return page("confirm.html", action=f"/memory/record/{rid}/delete", what=f"Delete record {rid}?", records=[r], extra={})
        removed = mem.delete([rid])
        memory.changed()
        return RedirectResponse(f"/memory?notice=deleted+{removed}+record", status_code=303)

    async def prune(request: Request) -> Response:
        mem, failure = memory_or_problem()
        if failure:
            return failure
        try:
            margin = int(request.query_params.get("margin", "2") or 2)
        except ValueError:
            return problem("--margin must be a whole number", 422)
        ns = request.query_params.get("ns") or None
        if request.method == "POST":
            form, failure = await checked_form(request)
            if failure:
                return failure
            margin, ns = int(form.get("margin", margin)), form.get("ns") or None
            if form.get("confirm") == "yes":
                report = mem.prune(margin=margin, namespace=ns)
                memory.changed()
                return RedirectResponse(f"/memory?notice=pruned+{report.removed}+records", status_code=303)
        if config.read_only:
            return problem("this viewer is read-only (--read-only)", 403)
        preview = mem.prune(margin=margin, namespace=ns, dry_run=True)
        return page("confirm.html", action="/memory/prune", what=f"Prune {preview.removed} records that hurt more than "
                    f"they helped by {margin} or more?", records=[], extra={"margin": margin, "ns": ns or ""})

    async def trainings(_request: Request) -> Response:
        f = found()
        return page("trainings.html", rows=[data.training_row(s, p) for s, p in f.trainings.items()])

    async def training(request: Request) -> Response:
        path = found().trainings.get(request.path_params["tid"])
        if path is None:
            return problem(f"no training folder {request.path_params['tid']!r}")
        try:
            info = data.training_page(path)
        except SalamError as exc:
            return problem(data.one_line(exc), 422)
        losses = charts.lines({name: [(p["step"], p["loss"]) for p in m.get("loss_log", [])] for name, m in info["parts"]},
                              y_label="loss")
        rewards = charts.lines({f"{name} {key}": [(c["step"], c[key]) for c in m.get("curve", [])]
                                for name, m in info["parts"] for key in ("reward_t1", "reward_t2") if m.get("curve")},
                               y_label="expected reward")
        return page("training.html", id=request.path_params["tid"], path=str(path), info=info, losses=losses, rewards=rewards)

    from importlib.resources import files

    routes = [
        Route("/", home), Route("/runs", runs), Route("/runs/{run}", run), Route("/runs/{run}/plot/{name}.png", plot),
        Route("/runs/{run}/sample/{qid}", sample), Route("/compare", compare),
        Route("/memory", memory_list), Route("/memory/export", memory_export), Route("/memory/record/{rid}", record),
        Route("/memory/record/{rid}/delete", record_delete, methods=["POST"]),
        Route("/memory/prune", prune, methods=["GET", "POST"]),
        Route("/training", trainings), Route("/training/{tid}", training),
        Mount("/static", app=StaticFiles(directory=str(files("salam.view") / "static")), name="static"),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> Any:
        yield
        memory.close()  # release the memory folder's lock when the server stops

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.memory = memory
    return app
