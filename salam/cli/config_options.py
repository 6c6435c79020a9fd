"""CLI options derived from a config dataclass, so the config is the single source of every option's name,
type, default and help text (as TRL's ``TrlParser`` / ``HfArgumentParser`` derive theirs).

Written here rather than taken from ``HfArgumentParser`` because salam's CLI is Typer (one-line errors,
rich help) and importing transformers would cost ``salam --help`` seconds. A field's help is its attribute
docstring (the string under the field in the class body, as every salam config documents its fields);
values are checked by the config itself (:func:`salam.train.base.check_fields`), so the CLI and the
Python API refuse the same values with the same message.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
import typing
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import typer


def field_docs(cls: type) -> dict[str, str]:
    """Each field's attribute docstring, whitespace collapsed; a subclass's doc wins over its base's."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not is_dataclass(klass):
            continue
        try:
            body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0].body  # type: ignore[attr-defined]
        except (OSError, TypeError, IndexError, AttributeError):
            continue
        for node, after in zip(body, body[1:]):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
                docs[node.target.id] = re.sub(r"\s+", " ", after.value.value.replace("``", "`")).strip()
    return docs


def field_default(f: Any) -> Any:
    """A dataclass field's default value (a factory is called); ``...`` when the field is required."""
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return ...


def option_name(field_name: str, renames: dict[str, str]) -> str:
    return "--" + renames.get(field_name, field_name).replace("_", "-")


def _cli_type(hint: Any) -> tuple[Any, str]:
    """(the annotation Typer sees, how the value converts back): ``list`` fields take comma-separated text,
    except lists of paths, which repeat the option."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    optional = type(None) in typing.get_args(hint)
    base = args[0] if optional and len(args) == 1 else hint
    if typing.get_origin(base) is list:
        item = typing.get_args(base)[0]
        return (list[Path], "paths") if item is Path else (Optional[str], "csv")
    if typing.get_origin(base) is typing.Literal:
        return (Optional[str] if optional else str), "value"
    return (Optional[base] if optional else base), "value"


def config_parameters(config_cls: type, renames: dict[str, str] | None = None) -> tuple[list[inspect.Parameter], dict[str, str]]:
    """Typer parameters for every field of ``config_cls``, and how each converts back."""
    from salam.train.base import literal_values

    renames = renames or {}
    docs, hints = field_docs(config_cls), typing.get_type_hints(config_cls)
    params, kinds = [], {}
    for f in _method_fields_first(config_cls):
        annotation, kind = _cli_type(hints[f.name])
        default = field_default(f)
        help_text = docs.get(f.name, "")
        allowed = config_cls.CHOICES.get(f.name) or literal_values(hints[f.name])  # type: ignore[attr-defined]
        if allowed:
            help_text += f" One of: {', '.join(allowed)}."
        name = option_name(f.name, renames)
        if kind == "csv":
            if default:
                help_text += f" Comma-separated (default: {','.join(default)})."
            default = None
        elif kind == "paths":
            help_text += " Repeatable."
            default = list(default) if default is not ... else []
        decls = [f"{name}/--no-{name[2:]}"] if annotation is bool and default is True else [name]
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                                        default=typer.Option(default, *decls, help=help_text, show_default=kind == "value")))
        kinds[f.name] = kind
    return params, kinds


def _method_fields_first(config_cls: type) -> list[Any]:
    """The fields in the order a reader wants them: the method's own first, then those of the bases it builds on."""

    def declared_at(name: str) -> int:  # the MRO position of the base-most class declaring the field
        return max(i for i, k in enumerate(config_cls.__mro__) if name in vars(k).get("__annotations__", {}))

    return sorted(fields(config_cls), key=lambda f: (field_default(f) is not ..., declared_at(f.name)))


def config_from(config_cls: type, values: dict[str, Any], kinds: dict[str, str]) -> Any:
    """The config from parsed option values: comma-separated lists split, an omitted list left to its default."""
    kwargs = {}
    for name, kind in kinds.items():
        value = values[name]
        if kind == "csv":
            if value is None:
                continue
            value = value if isinstance(value, list) else [item for item in value.split(",") if item]
        kwargs[name] = value
    return config_cls(**kwargs)


def add_config_command(app: typer.Typer, name: str, config_cls: type, run: Callable[..., None], *,
                       help: str, renames: dict[str, str] | None = None, extra: list[inspect.Parameter] | None = None) -> None:
    """Register ``name`` on ``app``: one option per config field, then ``extra`` options (run options such
    as ``--resume``); the command calls ``run(config, **extra values)``."""
    params, kinds = config_parameters(config_cls, renames)
    extra = extra or []

    def command(**values: Any) -> None:
        config = config_from(config_cls, values, kinds)
        run(config, **{p.name: values[p.name] for p in extra})

    command.__signature__ = inspect.Signature([*params, *extra])  # type: ignore[attr-defined]
    command.__name__ = name.replace("-", "_")
    command.__doc__ = help
    app.command(name, help=help)(command)


def run_option(name: str, default: Any, *decls: str, help: str, annotation: Any = None, **kwargs: Any) -> inspect.Parameter:
    """A keyword parameter for options that steer a run rather than configure the method (``--resume``)."""
    annotation = annotation if annotation is not None else type(default)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                             default=typer.Option(default, *decls, help=help, **kwargs))
