"""The viewer's pages over the mistake memory: list and search, export, a record, delete and prune."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from salam.errors import SalamError
from salam.memory.prune import check_prune_limits
from salam.view import data
from salam.view.viewer import PAGE_SIZE, Viewer, page_number, tolerant, viewer_of, whole_number


def _memory_or_problem(viewer: Viewer) -> tuple[Any, Response | None]:
    try:
        return viewer.memory.get(), None
    except SalamError as exc:
        return None, viewer.problem(data.one_line(exc), 503)


def filtered(mem: Any, q: Any, offset: int = 0, limit: int | None = None) -> tuple[int, list[Any], dict[str, float]]:
    """(matches, the page of records, similarities): ``mode=semantic`` ranks by the memory's own ``similar``."""
    ns, task, kind, text = q.get("ns") or None, q.get("task") or None, q.get("kind") or None, (q.get("q") or "").strip()
    if text and q.get("mode") == "semantic":  # every namespace unless one is chosen, best first
        k = min(whole_number(q.get("k"), "k", 20), 1000)
        # Plain similarity: an inspection page lists every close record, twins included.
        hits = sorted((h for name in ([ns] if ns else mem.namespaces()) for h in mem.similar(
            text, k=k, threshold=0.0, namespace=name, task=task, kind=kind or "mistake", allow_self=True, rank="similarity")),
            key=lambda h: -h.similarity)[:k]
        return len(hits), [h.record for h in hits], {h.record.id: h.similarity for h in hits}
    total, records = mem.find_text(text, namespace=ns, task=task, kind=kind, offset=offset, limit=limit)  # "": all
    return total, records, {}


@tolerant
async def memory_list(request: Request) -> Response:
    viewer = viewer_of(request)
    mem, failure = _memory_or_problem(viewer)
    if failure:
        return failure
    q = request.query_params
    start = page_number(q.get("page")) * PAGE_SIZE
    try:
        total, records, similarity = filtered(mem, q, start, PAGE_SIZE)
        stats = viewer.memory.stats()
    except SalamError as exc:
        return viewer.problem(data.one_line(exc), 422)
    if similarity:
        records = records[start : start + PAGE_SIZE]
    return viewer.page("memory.html", stats=stats, records=records, total=total, similarity=similarity, query=dict(q),
                       page_no=start // PAGE_SIZE, pages=(total + PAGE_SIZE - 1) // PAGE_SIZE, notice=q.get("notice", ""))


@tolerant
async def memory_export(request: Request) -> Response:
    viewer = viewer_of(request)
    mem, failure = _memory_or_problem(viewer)
    if failure:
        return failure
    try:
        _, records, _ = filtered(mem, request.query_params)
    except SalamError as exc:
        return viewer.problem(data.one_line(exc), 422)
    body = "".join(r.model_dump_json() + "\n" for r in records)
    return StreamingResponse(iter([body]), media_type="application/x-ndjson",
                             headers={"Content-Disposition": 'attachment; filename="salam-memory.jsonl"'})


@tolerant
async def record(request: Request) -> Response:
    viewer = viewer_of(request)
    mem, failure = _memory_or_problem(viewer)
    if failure:
        return failure
    found_record = mem.get(request.path_params["rid"])
    if found_record is None:
        return viewer.problem(f"no record {request.path_params['rid']!r} (deleted?)")
    return viewer.page("record.html", r=found_record)


async def checked_form(request: Request) -> tuple[dict[str, str] | None, Response | None]:
    """The POSTed form when it carries this viewer's token (and the viewer may edit); else a refusal page."""
    viewer = viewer_of(request)
    if viewer.config.read_only:
        return None, viewer.problem("this viewer is read-only (--read-only)", 403)
    # The forms are a few urlencoded fields: parsed here rather than adding python-multipart for them.
    from urllib.parse import parse_qs

    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    if not secrets.compare_digest(form.get("token", ""), viewer.config.token):
        return None, viewer.problem("refused: the form's token does not match this viewer (a page from elsewhere?)", 403)
    return form, None


@tolerant
async def record_delete(request: Request) -> Response:
    viewer = viewer_of(request)
    form, failure = await checked_form(request)
    if failure:
        return failure
    mem, failure = _memory_or_problem(viewer)
    if failure:
        return failure
    rid = request.path_params["rid"]
    r = mem.get(rid)
    if r is None:
        return viewer.problem(f"no record {rid!r} (deleted?)")
    if form.get("confirm") != "yes":  # type: ignore[union-attr]
        return viewer.page("confirm.html", action=f"/memory/record/{rid}/delete", what=f"Delete record {rid}?", records=[r], extra={})
    removed = mem.delete([rid])
    viewer.memory.changed()
    return RedirectResponse(f"/memory?notice=deleted+{removed}+record", status_code=303)


@tolerant
async def prune(request: Request) -> Response:
    viewer = viewer_of(request)
    mem, failure = _memory_or_problem(viewer)
    if failure:
        return failure
    values: Any = request.query_params
    if request.method == "POST":
        form, failure = await checked_form(request)
        if failure:
            return failure
        values = form
    elif viewer.config.read_only:
        return viewer.problem("this viewer is read-only (--read-only)", 403)
    try:
        margin = int(values.get("margin", "2") or 2)
        ns = values.get("ns") or None
        check_prune_limits(margin, None, None)
    except ValueError:
        return viewer.problem("--margin must be a whole number of at least 1", 422)
    except SalamError as exc:
        return viewer.problem(data.one_line(exc), 422)
    if request.method == "POST" and values.get("confirm") == "yes":
        report = mem.prune(margin=margin, namespace=ns)
        viewer.memory.changed()
        return RedirectResponse(f"/memory?notice=pruned+{report.removed}+records", status_code=303)
    preview = mem.prune(margin=margin, namespace=ns, dry_run=True)
    return viewer.page("confirm.html", action="/memory/prune", what=f"Prune {preview.removed} records that hurt more than "
                       f"they helped by {margin} or more?", records=[], extra={"margin": margin, "ns": ns or ""})
