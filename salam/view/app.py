"""``salam view``'s Starlette application: the routes over the page handlers of :mod:`salam.view.run_pages`
and :mod:`salam.view.memory_pages`, and the :class:`~salam.view.viewer.Viewer` they share."""

from __future__ import annotations

import contextlib
from typing import Any

from salam.view.viewer import ViewConfig, Viewer

__all__ = ["ViewConfig", "create_app"]


def create_app(config: ViewConfig) -> Any:
    """The Starlette application for ``config``."""
    from importlib.resources import files

    from starlette.applications import Starlette
    from starlette.responses import RedirectResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from salam.view import memory_pages, run_pages

    async def home(_request: Any) -> Any:
        return RedirectResponse("/runs", status_code=302)

    routes = [
        Route("/", home), Route("/runs", run_pages.runs), Route("/runs/{run}", run_pages.run),
        Route("/runs/{run}/plot/{name}.png", run_pages.plot), Route("/runs/{run}/sample/{qid}", run_pages.sample),
        Route("/compare", run_pages.compare), Route("/training", run_pages.trainings), Route("/training/{tid}", run_pages.training),
        Route("/memory", memory_pages.memory_list), Route("/memory/export", memory_pages.memory_export),
        Route("/memory/record/{rid}", memory_pages.record),
        Route("/memory/record/{rid}/delete", memory_pages.record_delete, methods=["POST"]),
        Route("/memory/prune", memory_pages.prune, methods=["GET", "POST"]),
        Mount("/static", app=StaticFiles(directory=str(files("salam.view") / "static")), name="static"),
    ]
    viewer = Viewer(config)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> Any:
        yield
        viewer.memory.close()  # release the memory folder's lock when the server stops

    from starlette.middleware import Middleware

    from salam.view.guard import LocalOnly

    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(LocalOnly, bound=config.host)])
    app.state.viewer = viewer
    app.state.memory = viewer.memory
    return app
