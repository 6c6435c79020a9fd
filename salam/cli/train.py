"""salam train."""
import typer

app = typer.Typer(help="Imitation learning.", no_args_is_help=True)
