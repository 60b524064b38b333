"""scratchnet.recipe: one home for every run option, its default and what it may be."""

import dataclasses

import pytest

from scratchnet.recipe import LEGACY_OPTIONS, PEAK_LR, SMALL, Config, small_config


def test_defaults_are_the_papers_set_up_with_the_models_peak_rate():
    config = Config()
    assert (config.model, config.epochs, config.batch_size, config.clip) == ("cnn_lstm", 30, 128, 5.0)
    assert config.lr == PEAK_LR["cnn_lstm"] and Config(model="gru").lr == PEAK_LR["gru"]
    assert config.model_options["conv2"] == "winograd" and config.model_options["hidden"] == 128


def test_small_preset_and_overrides():
    config = small_config(model="lstm", epochs=2)
    assert config.small and config.epochs == 2 and config.train_size == SMALL["train_size"]


@pytest.mark.parametrize("options, message", [
    ({"epochs": 0}, "--epochs must be a whole number of at least 1"),
    ({"lr": float("nan")}, "--lr must be a positive number"),
    ({"clip": float("nan")}, "--clip must be a positive number"),
    ({"weight_decay": float("inf")}, "--weight-decay must be a number >= 0"),
    ({"weight_decay": float("nan")}, "--weight-decay must be a number >= 0"),
    ({"seed": -1}, "--seed must be a whole number >= 0"),
    ({"momentum": 1.0}, "--momentum must be in [0, 1)"),
    ({"val_size": 50000}, "--val-size must be a whole number in [0, 50000)"),
    ({"model": "lstm", "model_options": {"conv1": "direct"}},
     "option 'conv1' does not apply to model 'lstm'"),
    ({"model_options": {"reading": "spiral"}}, "choose one of maps, positions, rows"),
])
def test_bad_options_are_named(options, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        Config(**options)


def test_a_stored_config_comes_back_equal_and_legacy_ones_get_their_algorithms():
    config = Config(model="cnn", model_options={"conv2": "direct"}, seed=3)
    assert Config.from_dict(dataclasses.asdict(config), "x") == config
    old = {key: value for key, value in dataclasses.asdict(Config(model="cnn")).items()
           if key != "model_options"}
    assert Config.from_dict(old, "x").model_options == LEGACY_OPTIONS["cnn"]


@pytest.mark.parametrize("saved, message", [
    (None, "holds no training options"),
    ({"model": "cnn", "colour": "red"}, "options this version of scratchnet does not know"),
    ({"model": "cnn", "epochs": "many"}, "damaged training options"),
])
def test_damaged_stored_configs_are_refused(saved, message):
    with pytest.raises(ValueError, match=message):
        Config.from_dict(saved, "run/checkpoint.npz")
