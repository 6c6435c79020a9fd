"""Every `salam train` recipe's options come from its config: names, defaults and help texts agree."""

from __future__ import annotations

from dataclasses import fields

import pytest
import typer
from helpers import run_cli

from salam.cli.config_options import field_default, field_docs, option_name
from salam.cli.train import RENAMES, app
from salam.train.il.train import ILConfig
from salam.train.score.train import ScoreConfig
from salam.train.sft import SFTTrainConfig
from salam.train.stasc import StascConfig
from salam.train.tripost.train import TriPostConfig
from salam.train.verify import VerifyConfig

RECIPES = {"il": ILConfig, "sft": SFTTrainConfig, "stasc": StascConfig, "tripost": TriPostConfig, "score": ScoreConfig,
           "verify": VerifyConfig}


def _options(name: str) -> dict[str, object]:
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    return {opt: param for param in command.params for opt in param.opts}


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_each_option_default_is_the_configs_default(name):
    from salam.cli.config_options import config_parameters

    config_cls, options = RECIPES[name], _options(name)
    docs, kinds = field_docs(config_cls), config_parameters(config_cls, RENAMES)[1]
    for f in fields(config_cls):
        param = options[option_name(f.name, RENAMES)]
        default = field_default(f)
        if kinds[f.name] == "csv":  # comma-separated text; not given, the config's own default list applies
            assert param.default is None, f"{name} {f.name}"  # type: ignore[attr-defined]
        elif default is ...:
            assert param.required, f"{name} {f.name}"  # type: ignore[attr-defined]
        else:
            assert param.default == default, f"{name} --{f.name}: {param.default!r} != {default!r}"  # type: ignore[attr-defined]
        assert docs.get(f.name) or f.name in ("batch_size", "grad_accum"), f"{name}.{f.name} has no docstring"
    for shared in ("--resume", "--overwrite", "--display", "--save-steps", "--lora-r", "--seed"):
        assert shared in options, f"{name} lacks {shared}"


def test_the_cli_and_the_api_refuse_the_same_values_with_one_line(tmp_path):
    code, _, err = run_cli("train", "stasc", "--out", str(tmp_path / "o"), "--limit", "0")
    assert code == 1 and err.strip() == "error: --limit must be at least 1, not 0"
    code, _, err = run_cli("train", "stasc", "--out", str(tmp_path / "o"), "--filter", "sometimes")
    assert code == 1 and err.strip() == "error: --filter must be one of improving, non-decreasing, not 'sometimes'"
    code, _, err = run_cli("train", "sft", "--out", str(tmp_path / "o"), "--learning-rate", "nan")
    assert code == 1 and "finite" in err and len(err.strip().splitlines()) == 1
    from salam.errors import SalamError

    with pytest.raises(SalamError, match="--limit must be at least 1"):
        StascConfig(out=tmp_path, limit=0)
    assert not (tmp_path / "o").exists()


def test_comma_separated_and_repeatable_options_become_lists(tmp_path):
    from salam.cli.config_options import config_from, config_parameters

    _, kinds = config_parameters(TriPostConfig, RENAMES)
    values = {f.name: field_default(f) for f in fields(TriPostConfig)}
    values.update(out=tmp_path, tasks="word_sorting,dyck_languages")
    assert config_from(TriPostConfig, values, kinds).tasks == ["word_sorting", "dyck_languages"]
    values["tasks"] = None
    assert config_from(TriPostConfig, values, kinds).tasks == TriPostConfig(out=tmp_path).tasks
    assert kinds["tasks"] == "csv"
    assert config_parameters(ILConfig)[1]["teacher"] == "paths"
