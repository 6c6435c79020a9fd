"""The ``salam`` command: one Typer app, one module per command group, heavy imports inside commands."""

from __future__ import annotations

import sys

import typer

from salam.cli import ask as ask_cmd
from salam.cli import bench as bench_cmd
from salam.cli import loops as loops_cmd
from salam.cli import memory as memory_cmd
from salam.cli import train as train_cmd
from salam.cli import view as view_cmd

app = typer.Typer(
    name="salam",
    help="Let any chat model learn from its mistakes: study assistant, mistake memory, benchmarks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def version() -> None:
    """Print the salam version."""
    from salam.provenance import __version__

    typer.echo(__version__)


ask_cmd.register(app)
loops_cmd.register(app)
view_cmd.register(app)
app.add_typer(memory_cmd.app, name="memory")
app.add_typer(bench_cmd.app, name="bench")
app.add_typer(train_cmd.app, name="train")


def run() -> None:
    """Console entry point: user errors become one line on stderr and a non-zero exit."""
    from salam.errors import SalamError

    try:
        returned = app(standalone_mode=False)
    except SalamError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _interrupted()
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except Exception as exc:  # usage errors (bad option values): click's, or the copy newer typer vendors
        if any(cls.__name__ == "ClickException" for cls in type(exc).__mro__):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        raise
    if returned == 130:  # typer turns Ctrl-C into a return value of 130 when not standalone
        _interrupted()
    if isinstance(returned, int) and returned:
        sys.exit(returned)


def _interrupted() -> None:
    typer.echo("interrupted: what was written is kept; run the same command again to continue "
               "(salam bench: add --resume)", err=True)
    sys.exit(130)


if __name__ == "__main__":
    run()
