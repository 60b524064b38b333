"""scratchnet.activations: the feature maps and recurrent states a report draws are the network's own."""

import numpy as np

from scratchnet import activations
from scratchnet.layers import GRU, LSTM
from scratchnet.models import build_model


def test_the_lstm_gates_are_the_layers_own():
    # the gates drawn are those that produced the layer's states: c_t = f c_{t-1} + i g, h_t = o tanh(c_t)
    model = build_model("cnn_lstm", rng=np.random.default_rng(3))
    x = np.random.default_rng(0).standard_normal((3, 3, 24, 24)).astype(np.float32)
    name, states = activations.recurrent_states(model, x)
    assert name == "lstm" and states["h"].shape == (3, 48, 128)
    c_prev = np.concatenate([np.zeros((3, 1, 128), np.float32), states["c"][:, :-1]], axis=1)
    np.testing.assert_allclose(states["c"], states["f"] * c_prev + states["i"] * states["g"], atol=1e-5)
    np.testing.assert_allclose(states["h"], states["o"] * np.tanh(states["c"]), atol=1e-5)
    np.testing.assert_allclose(states["h"][:, -1], _last_hidden(model, x), atol=1e-5)


def _last_hidden(model, x):
    """h_T as the model's own LSTM layer computes it in its forward."""
    for _, layer in model.layers:
        x = layer.forward(x)
        if isinstance(layer, (LSTM, GRU)):
            return x
    raise AssertionError("no recurrent layer")


def test_the_gru_gates_are_the_layers_own():
    model = build_model("gru", rng=np.random.default_rng(1))
    x = np.random.default_rng(2).standard_normal((2, 3, 24, 24)).astype(np.float32)
    name, states = activations.recurrent_states(model, x)
    assert name == "rnn" and set(states) == {"h", "z", "r", "n"} and states["h"].shape == (2, 24, 128)
    h_prev = np.concatenate([np.zeros((2, 1, 128), np.float32), states["h"][:, :-1]], axis=1)
    np.testing.assert_allclose(states["h"], (1 - states["z"]) * h_prev + states["z"] * states["n"], atol=1e-5)
    np.testing.assert_allclose(states["h"][:, -1], _last_hidden(model, x), atol=1e-5)


def test_feature_maps_after_each_convolution_and_lrn():
    x = np.random.default_rng(0).standard_normal((2, 3, 24, 24)).astype(np.float32)
    for name, stages in (("cnn", ["conv1", "norm1", "conv2", "norm2"]), ("cnn_nolrn", ["conv1", "conv2"])):
        found = activations.feature_maps(build_model(name, rng=np.random.default_rng(0)), x)
        assert [stage for stage, _, _ in found] == stages
        assert [signed for _, _, signed in found] == [stage.startswith("conv") for stage in stages]
        assert found[0][1].shape == (2, 64, 24, 24) and found[-1][1].shape[:2] == (2, 64)
    assert activations.recurrent_states(build_model("cnn", rng=np.random.default_rng(0)), x) is None


def test_fixed_examples_are_the_first_of_each_class():
    labels = np.array([3, 0, 3, 8, 1, 0, 8])
    assert activations.fixed_examples(labels).tolist() == [1, 4, 0, 3]
    assert activations.fixed_examples(np.array([5, 3])).tolist() == [1]  # classes absent are left out
