"""salam bench."""
import typer

app = typer.Typer(help="Run BBH/BBQ benchmarks.", no_args_is_help=True)
