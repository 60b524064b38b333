"""scratchnet.cli: options made from the recipe, and the one way a command says an error."""

import argparse

import pytest

from scratchnet import cli
from scratchnet.recipe import SMALL


def parser():
    made = argparse.ArgumentParser()
    made.add_argument("--small", action="store_true")
    cli.add_config_options(made, ("model", "epochs", "lr", "seed"))
    cli.add_model_options(made)
    return made


def test_options_come_from_the_config_with_their_defaults_in_the_help():
    text = parser().format_help()
    assert "(default 30, or 6 with --small)" in text and "(default winograd)" in text


def test_only_typed_options_are_given_and_the_small_preset_sits_under_them():
    args = parser().parse_args(["--small", "--epochs", "2", "--conv2", "direct"])
    assert cli.given(args, ("model", "epochs", "lr", "seed")) == {"epochs": 2}
    config = cli.config_from_args(args, ("model", "epochs", "lr", "seed"), small=True)
    assert config.epochs == 2 and config.train_size == SMALL["train_size"]
    assert config.model_options["conv2"] == "direct"


def test_fail_prints_one_line_and_returns_2(capsys):
    assert cli.fail("no such folder; name another") == 2
    assert capsys.readouterr().err == "error: no such folder; name another\n"


@pytest.mark.parametrize("text", ["0", "-3", "two"])
def test_positive_int_refuses(text):
    with pytest.raises(argparse.ArgumentTypeError):
        cli.positive_int(text)
