"""``salam gather`` and ``salam exam`` (filled in with the agent)."""

import typer


def register(app: typer.Typer) -> None:
    return None
