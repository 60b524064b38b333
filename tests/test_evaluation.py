"""scratchnet.evaluation: a checkpoint gives the same network, and the same answers, every time."""

import numpy as np
import pytest

from scratchnet import checkpoint
from scratchnet.cifar10 import load_cifar10
from scratchnet.evaluation import load_model, probabilities
from scratchnet.models import build_model


def test_checkpoint_gives_identical_predictions(tiny_run, cifar_root):
    images = load_cifar10(cifar_root)[2][:20]
    model, _ = load_model(tiny_run / "checkpoint.npz")
    again, _ = load_model(tiny_run / "checkpoint.npz")
    assert np.array_equal(probabilities(model, images), probabilities(again, images))
    other, _ = load_model(tiny_run / "checkpoint.npz")
    other.params["fc.b"][0] += 1.0
    assert not np.array_equal(probabilities(model, images), probabilities(other, images))


@pytest.fixture
def saved(tmp_path):
    """A checkpoint of an untrained lstm, and a way to write it again with changes."""
    model = build_model("lstm", rng=np.random.default_rng(0))
    path = tmp_path / "checkpoint.npz"

    def write(params=None, **metadata):
        fields = {"model": "lstm", "dtype": "float32", "model_options": model.options, **metadata}
        checkpoint.save(path, params or model.params, {}, {k: v for k, v in fields.items() if v is not None})
        return path
    return model, write


def test_a_checkpoint_rebuilds_its_network(saved):
    model, write = saved
    rebuilt, ckpt = load_model(write())
    for name, value in model.params.items():
        np.testing.assert_array_equal(rebuilt.params[name], value)
    assert ckpt.metadata["model"] == "lstm"


@pytest.mark.parametrize("metadata, message", [
    ({"model": None}, "names no model"),
    ({"model": 7}, "names no model"),
    ({"model": "resnet"}, "cannot rebuild its network"),
    ({"model_options": [1, 2]}, "model options are list, not a dict"),
    ({"model_options": {"hidden": "many"}}, "cannot rebuild its network"),
    ({"dtype": "float7"}, "cannot rebuild its network"),
    ({"dtype": ["f4", "f8"]}, "cannot rebuild its network"),
])
def test_crafted_metadata_is_refused_in_one_sentence(saved, metadata, message):
    _, write = saved
    with pytest.raises(ValueError, match=message):
        load_model(write(**metadata))


def test_non_finite_weights_are_refused(saved):
    model, write = saved
    params = {name: value.copy() for name, value in model.params.items()}
    next(iter(params.values())).flat[3] = np.inf
    with pytest.raises(ValueError, match="hold NaN or infinity"):
        load_model(write(params=params))
