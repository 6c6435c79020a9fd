"""The viewer's pages over run folders and training folders (module-level Starlette handlers)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from salam.errors import SalamError
from salam.view import charts, data
from salam.view.viewer import PAGE_SIZE, page_number, tolerant, viewer_of


def _run_path(request: Request) -> Path | None:
    return viewer_of(request).found().runs.get(request.path_params["run"])


@tolerant
async def runs(request: Request) -> Response:
    viewer = viewer_of(request)
    f = viewer.found()
    rows = [data.run_row(slug, path) for slug, path in f.runs.items()]
    return viewer.page("runs.html", rows=rows, problems=f.problems, trainings=len(f.trainings))


@tolerant
async def run(request: Request) -> Response:
    viewer = viewer_of(request)
    path = _run_path(request)
    if path is None:
        return viewer.problem(f"no run {request.path_params['run']!r}: see the runs list")
    q = request.query_params
    try:
        info = data.run_page(path)
        rows = data.sample_rows(path, q.get("task", ""), q.get("condition", ""), q.get("correct", ""), q.get("flipped") == "1")
        conditions = data.conditions_of(path)
    except SalamError as exc:
        return viewer.problem(data.one_line(exc), 422)
    start = page_number(q.get("page")) * PAGE_SIZE
    conds = info["summary"].get("conditions", {})
    chart = charts.bars(list(conds), [100 * c["accuracy"] for c in conds.values()])
    return viewer.page("run.html", id=request.path_params["run"], path=str(path), info=info, rows=rows[start : start + PAGE_SIZE],
                       total=len(rows), page_no=start // PAGE_SIZE, pages=(len(rows) + PAGE_SIZE - 1) // PAGE_SIZE,
                       conditions=conditions, tasks=info["summary"].get("tasks", []), query=dict(q), chart=chart,
                       others=[s for s in viewer.found().runs if s != request.path_params["run"]])


@tolerant
async def plot(request: Request) -> Response:
    from salam.bench.rundir import RunDir

    path = _run_path(request)
    name = request.path_params["name"]
    if path is None or name not in ("accuracy", "bias") or not RunDir(path).plot_path(name).is_file():
        return viewer_of(request).problem("no such plot")
    return FileResponse(RunDir(path).plot_path(name), media_type="image/png")


@tolerant
async def sample(request: Request) -> Response:
    viewer = viewer_of(request)
    path = _run_path(request)
    if path is None:
        return viewer.problem(f"no run {request.path_params['run']!r}")
    try:
        info = data.sample_page(path, request.path_params["qid"])
    except SalamError as exc:
        return viewer.problem(data.one_line(exc))
    return viewer.page("sample.html", id=request.path_params["run"], info=info)


@tolerant
async def compare(request: Request) -> Response:
    viewer = viewer_of(request)
    f = viewer.found()
    a, b = request.query_params.get("a", ""), request.query_params.get("b", "")
    if a not in f.runs or b not in f.runs:
        return viewer.problem("compare needs two runs: /compare?a=RUN&b=RUN (ids from the runs list)")
    try:
        rows = data.paired(f.runs[a], f.runs[b])
    except SalamError as exc:
        return viewer.problem(data.one_line(exc), 422)
    return viewer.page("compare.html", a=a, b=b, rows=rows)


@tolerant
async def trainings(request: Request) -> Response:
    viewer = viewer_of(request)
    return viewer.page("trainings.html", rows=[data.training_row(s, p) for s, p in viewer.found().trainings.items()])


@tolerant
async def training(request: Request) -> Response:
    viewer = viewer_of(request)
    path = viewer.found().trainings.get(request.path_params["tid"])
    if path is None:
        return viewer.problem(f"no training folder {request.path_params['tid']!r}")
    try:
        info = data.training_page(path)
    except SalamError as exc:
        return viewer.problem(data.one_line(exc), 422)
    losses = charts.lines({name: [(p["step"], p["loss"]) for p in m.get("loss_log", [])] for name, m in info["parts"]},
                          y_label="loss")
    rewards = charts.lines({f"{name} {key}": [(c["step"], c[key]) for c in m.get("curve", [])]
                            for name, m in info["parts"] for key in ("reward_t1", "reward_t2") if m.get("curve")},
                           y_label="expected reward")
    return viewer.page("training.html", id=request.path_params["tid"], path=str(path), info=info, losses=losses, rewards=rewards)
