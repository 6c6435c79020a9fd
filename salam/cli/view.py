"""``salam view``: serve the local web viewer of runs, training folders and the mistake memory."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def view(
        run_dirs: list[Path] = typer.Argument(None, help="Run or training folders to show (besides those under --logs)."),
        memory: Optional[str] = typer.Option(None, "--memory", help="A memory folder to browse and edit."),
        chroma_url: Optional[str] = typer.Option(None, "--chroma-url", help="Or a Chroma server holding the memory."),
        logs: Path = typer.Option(Path("runs"), "--logs", help="Folder whose run and training folders are listed."),
        host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (another than 127.0.0.1 exposes the memory)."),
        port: int = typer.Option(7777, "--port", min=1, max=65535),
        read_only: bool = typer.Option(False, "--read-only", help="No delete or prune."),
        open_browser: bool = typer.Option(False, "--open", help="Open the page in a browser."),
    ) -> None:
        """A local web page: runs (summary, samples, side by side), training curves, the memory (search, delete)."""
        from salam.errors import SalamError
        from salam.view.app import ViewConfig, create_app
        from salam.view.data import discover

        config = ViewConfig(run_dirs=list(run_dirs or []), logs=logs, memory=memory, chroma_url=chroma_url, read_only=read_only,
                            host=host)
        found = discover(config.run_dirs, logs)
        for problem in found.problems:
            typer.echo(f"warning: {problem}", err=True)
        if memory and not Path(memory).expanduser().is_dir():
            raise SalamError(f"no memory folder at {memory}")
        if not (found.runs or found.trainings or memory or chroma_url):
            raise SalamError(f"nothing to show: no run or training folders (looked in {logs} and the folders given) "
                             "and no --memory")
        if host not in ("127.0.0.1", "localhost", "::1"):
            typer.echo(f"warning: serving on {host}: other machines can read your runs and memory"
                       + ("" if read_only else " and, with the page's token, delete from it (use --read-only)"), err=True)
        import uvicorn

        url = f"http://{'localhost' if host in ('127.0.0.1', '::1') else host}:{port}/"
        typer.echo(f"salam view: {url} ({len(found.runs)} runs, {len(found.trainings)} training folders"
                   + (", memory " + (memory or chroma_url or "") if memory or chroma_url else "") + "); Ctrl-C stops it")
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        uvicorn.run(create_app(config), host=host, port=port, log_level="warning")
