"""Stored text shown to people: no terminal escapes, no Rich markup, no Markdown or HTML."""

from __future__ import annotations

from salam._util.text import markdown_text, printable, terminal


def test_terminal_escapes_and_controls_are_dropped():
    nasty = "ok\x1b]0;pwned\x07 \x1b[31mred\x1b[0m \x9b2J\x00end\n\tnext"
    assert printable(nasty) == "ok red 2Jend\n\tnext"


def test_rich_markup_is_shown_as_written():
    from rich.console import Console

    console = Console(record=True, width=80)
    console.print(terminal("a [/] b [bold]c[/bold]"))
    assert "a [/] b [bold]c[/bold]" in console.export_text()


def test_markdown_cannot_open_code_spans_links_or_html():
    out = markdown_text("run`<img src=x onerror=alert(1)>` [x](javascript:1) |cell|")
    assert "<" not in out and "`" not in out.replace("\\`", "")
    assert "\\[x\\]" in out and "\\|cell\\|" in out
