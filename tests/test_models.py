"""Whole-model checks: gradients through every layer and reshape, the first loss, memorising, options."""

import copy
import hashlib
import json
import math

import numpy as np
import pytest

from scratchnet.gradcheck import numerical_gradient, relative_error
from scratchnet.layers import LSTM, Conv2D, Conv2DNCHW, LocalResponseNorm, WinogradConv2D
from scratchnet.models import (
    CONV_ALGORITHMS,
    MODEL_NAMES,
    TUTORIAL_LRN,
    Model,
    build_model,
    count_params,
)
from scratchnet.optim import SGD

# The variants of the CNN-LSTM that the study of its gap to the CNN trains, and the conv algorithms.
VARIANTS = [
    ("cnn_lstm", {"reading": "positions"}),
    ("cnn_lstm", {"reading": "rows"}),
    ("cnn_lstm", {"head": "dense"}),
    ("cnn_lstm", {"readout": "mean"}),
    ("cnn_lstm", {"hidden": 256}),
    ("cnn_lstm", {"reading": "rows", "readout": "mean", "hidden": 16}),
    ("cnn", {"conv1": "winograd", "conv2": "direct"}),
]


def option_ids(value):
    """Test ids that say which options a case sets, e.g. ``cnn_lstm-reading=rows``."""
    if not isinstance(value, dict):
        return None   # the model's name: pytest's own id
    return ",".join(f"{key}={choice}" for key, choice in value.items()) or "defaults"


def checked_indices(gradient, rng, count=12):
    """The largest gradients (they set the scale) and a random few (anywhere may be wrong)."""
    flat = np.abs(gradient).reshape(-1)
    largest = np.argsort(flat)[-count:]
    return np.unique(np.concatenate([largest, rng.choice(flat.size, min(count, flat.size), replace=False)]))


def check_whole_model_gradient(name, options, count):
    # A wrong reshape or layer order passes every layer's own check and fails this one.
    rng = np.random.default_rng(1)
    model = build_model(name, rng=np.random.default_rng(2), dtype=np.float64, **options)
    images = rng.standard_normal((2, 3, 24, 24))
    labels = np.array([3, 7])

    def loss():
        return model.loss(images, labels)[0]

    model.loss_and_backward(images, labels, input_grad=True)
    analytic = {"images": model.dimages, **{key: grad.copy() for key, grad in model.grads.items()}}
    arrays = {"images": images, **model.params}
    assert set(analytic) == set(arrays)
    for key, array in arrays.items():
        indices = checked_indices(analytic[key], rng, count)
        numeric = numerical_gradient(loss, array, indices=indices)
        error = relative_error(analytic[key].reshape(-1)[indices], numeric)
        assert error < 1e-6, f"{name} {options}: gradient of {key} is off, relative error {error:.2e}"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_whole_model_gradient_matches_finite_differences(name):
    check_whole_model_gradient(name, {}, count=12)


@pytest.mark.parametrize("name, options", VARIANTS, ids=option_ids)
def test_every_variant_passes_the_whole_model_gradient_check(name, options):
    check_whole_model_gradient(name, options, count=6)  # fewer elements: the layers are those checked above


# sha256 of every parameter's name and float32 bytes, in order, for build_model(name, rng=default_rng(0)),
# computed by the builders as they were before the models took options. The defaults must still build
# exactly that network with exactly those draws, so that old seeds and runs mean what they meant.
# (A checksum, not a result: it was produced by code, from the old code.)
DEFAULT_DRAWS = {
    "cnn_lstm": "07ae951984031662525eb295b70b99f8cac9412907d6f2b9ea9e542830e9c9bf",
    "cnn": "f31b6d6b5c4ecc9329635436b8c0bce79c0a2a3710133ae1f2d933ad9e953178",
    "cnn_nolrn": "f31b6d6b5c4ecc9329635436b8c0bce79c0a2a3710133ae1f2d933ad9e953178",
    "lstm": "8a19ec19e195f331d323746298a60ff499a1278c73179479eeee1e95bc6255ec",
    "gru": "cd3541ea21ea528759d0f7acabff53f3f44294ecd86a8ae2679d1223d5fcdfc9",
}


def params_digest(model):
    digest = hashlib.sha256()
    for key, param in model.params.items():
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(param, dtype="<f4").tobytes())
    return digest.hexdigest()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_defaults_draw_the_same_weights_as_before_the_options(name):
    assert params_digest(build_model(name, rng=np.random.default_rng(0))) == DEFAULT_DRAWS[name]


def test_default_cnn_lstm_is_the_papers_layer_stack():
    model = build_model("cnn_lstm", rng=np.random.default_rng(0))
    assert [name for name, _ in model.layers] == [
        "conv1", "pool1", "relu1", "norm1", "conv2", "pool2", "relu2", "rows", "lstm", "fc"]
    layers = dict(model.layers)
    assert type(layers["conv1"]) is Conv2DNCHW and type(layers["conv2"]) is WinogradConv2D
    assert not layers["lstm"].return_sequences and layers["lstm"].hidden_size == 128
    assert model.options == {"conv1": "nchw", "conv2": "winograd", "head": "lstm",
                             "reading": "maps", "readout": "last", "hidden": 128}


@pytest.mark.parametrize("reading, steps, size", [("maps", 48, 48), ("positions", 36, 64), ("rows", 6, 384)])
def test_readings_feed_the_lstm_their_sequence(reading, steps, size):
    model = build_model("cnn_lstm", rng=np.random.default_rng(0), reading=reading)
    out = np.random.default_rng(1).standard_normal((2, 3, 24, 24)).astype(np.float32)
    for name, layer in model.layers:
        out = layer.forward(out)
        if name == "rows":
            break
    assert out.shape == (2, steps, size)
    assert dict(model.layers)["lstm"].input_size == size


def test_mean_readout_averages_every_hidden_state():
    model = build_model("cnn_lstm", rng=np.random.default_rng(0), dtype=np.float64, readout="mean")
    layers = dict(model.layers)
    assert [name for name, _ in model.layers][-3:] == ["lstm", "mean", "fc"]
    images = np.random.default_rng(1).standard_normal((3, 3, 24, 24))
    logits = model.forward(images)
    hidden = layers["lstm"].forward(layers["rows"].forward(
        Model("trunk", model.layers[:7], np.float64).forward(images)))  # (N, T, H): every h_t
    assert hidden.shape == (3, 48, 128)
    np.testing.assert_allclose(logits, layers["fc"].forward(hidden.mean(axis=1)), rtol=1e-12)


def test_dense_head_is_the_cnns_head_on_the_cnn_lstms_trunk():
    model = build_model("cnn_lstm", rng=np.random.default_rng(0), head="dense")
    cnn = build_model("cnn", rng=np.random.default_rng(0))
    names = [name for name, _ in model.layers]
    assert names[:7] == ["conv1", "pool1", "relu1", "norm1", "conv2", "pool2", "relu2"]
    assert names[7:] == [name for name, _ in cnn.layers][-6:]  # flatten, fc1, relu3, fc2, relu4, fc3
    assert {key: p.shape for key, p in model.params.items()} == {k: p.shape for k, p in cnn.params.items()}
    assert model.options == {"conv1": "nchw", "conv2": "winograd", "head": "dense"}


def lstm_count(steps_size, hidden):
    return 4 * hidden * (hidden + steps_size) + 4 * hidden + hidden * 10 + 10   # LSTM W and b, then fc


CONVS = (3 * 25 * 64 + 64) + (64 * 25 * 64 + 64)
DENSE = (2304 * 384 + 384) + (384 * 192 + 192) + (192 * 10 + 10)


@pytest.mark.parametrize("name, options, count", [
    ("cnn_lstm", {}, CONVS + lstm_count(48, 128)),
    ("cnn_lstm", {"reading": "positions"}, CONVS + lstm_count(64, 128)),
    ("cnn_lstm", {"reading": "rows"}, CONVS + lstm_count(384, 128)),
    ("cnn_lstm", {"readout": "mean"}, CONVS + lstm_count(48, 128)),
    ("cnn_lstm", {"hidden": 256}, CONVS + lstm_count(48, 256)),
    ("cnn_lstm", {"head": "dense"}, CONVS + DENSE),
    ("cnn", {}, CONVS + DENSE),
    ("lstm", {}, lstm_count(72, 128)),
    ("gru", {}, 3 * 128 * (128 + 72) + 3 * 128 + 1290),
])
def test_count_params_counts_every_weight_and_bias(name, options, count):
    assert count_params(build_model(name, rng=np.random.default_rng(0), **options)) == count


@pytest.mark.parametrize("name, options", [("cnn_lstm", {})] + VARIANTS, ids=option_ids)
def test_options_go_through_json_and_rebuild_the_same_network(name, options):
    model = build_model(name, rng=np.random.default_rng(0), **options)
    again = build_model(name, rng=np.random.default_rng(0), **json.loads(json.dumps(model.options)))
    assert again.options == model.options and [n for n, _ in again.layers] == [n for n, _ in model.layers]
    for key, param in model.params.items():
        np.testing.assert_array_equal(again.params[key], param, err_msg=key)


def test_conv_algorithms_are_chosen_by_name_and_draw_the_same_weights(monkeypatch):
    default = build_model("cnn", rng=np.random.default_rng(0))
    swapped = build_model("cnn", rng=np.random.default_rng(0), conv1="winograd", conv2="direct")
    layers = dict(swapped.layers)
    assert type(layers["conv1"]) is WinogradConv2D and type(layers["conv2"]) is Conv2D
    for key, param in default.params.items():
        np.testing.assert_array_equal(swapped.params[key], param, err_msg=key)

    class Loops(Conv2D):
        """Stands for an algorithm registered later: one line in CONV_ALGORITHMS makes it a choice."""

    monkeypatch.setitem(CONV_ALGORITHMS, "loops", Loops)
    assert type(dict(build_model("cnn_lstm", conv2="loops").layers)["conv2"]) is Loops


def test_loss_and_backward_is_the_loss_then_backward():
    rng = np.random.default_rng(11)
    images, labels = rng.standard_normal((3, 3, 24, 24)), rng.integers(0, 10, 3)
    model = build_model("cnn_lstm", rng=np.random.default_rng(12), dtype=np.float64)
    twin = build_model("cnn_lstm", rng=np.random.default_rng(12), dtype=np.float64)
    loss, logits, dlogits = twin.loss(images, labels)
    dimages = twin.backward(dlogits)
    got_loss, got_logits = model.loss_and_backward(images, labels)
    assert got_loss == loss
    np.testing.assert_array_equal(got_logits, logits)
    assert model.dimages is None   # training asks for no image gradient
    for key, grad in twin.grads.items():
        np.testing.assert_array_equal(model.grads[key], grad, err_msg=key)
    model.loss_and_backward(images, labels, input_grad=True)
    np.testing.assert_array_equal(model.dimages, dimages)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_initial_loss_is_close_to_ln_10(name):
    # An untrained classifier should be unsure: loss ln(10) = 2.303 for uniform guesses.
    rng = np.random.default_rng(3)
    model = build_model(name, rng=np.random.default_rng(4))
    images = rng.standard_normal((64, 3, 24, 24)).astype(np.float32)
    labels = rng.integers(0, 10, 64)
    loss, logits, _ = model.loss(images, labels)
    assert logits.shape == (64, 10) and logits.dtype == np.float32
    assert abs(loss - math.log(10)) < 0.25, f"{name}: initial loss {loss:.3f}"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_memorises_fifty_images(name, cifar_data_small):
    # Capacity and a working backward pass: 50 real images can be learnt by heart.
    images, labels = cifar_data_small
    model = build_model(name, rng=np.random.default_rng(5))
    optimizer = SGD(model.params, momentum=0.9, weight_decay=0.0)
    for _ in range(150):
        loss, _ = model.loss_and_backward(images, labels)
        if loss < 0.05:
            break
        optimizer.step(model.grads, lr=0.02 if name.startswith("cnn") else 0.05)
    assert loss < 0.05, f"{name}: training loss still {loss:.3f} on 50 images"


def test_params_are_the_layers_own_arrays():
    # The optimiser updates model.params in place; that must change the layers.
    model = build_model("cnn", rng=np.random.default_rng(8))
    model.params["conv1.W"][...] = 0.0
    assert not np.any(dict(model.layers)["conv1"].params["W"])


def test_lrn_constants_have_one_home():
    norms = [layer for _, layer in build_model("cnn", rng=np.random.default_rng(0)).layers
             if isinstance(layer, LocalResponseNorm)]
    expected = LocalResponseNorm(size=9, k=1.0, alpha=0.001 / 9, beta=0.75)   # the TensorFlow tutorial's
    assert len(norms) == 2 and all(vars(norm) == vars(expected) for norm in norms)
    assert dict(TUTORIAL_LRN) == {"size": 9, "k": 1.0, "alpha": 0.001 / 9, "beta": 0.75}
    with pytest.raises(TypeError):
        TUTORIAL_LRN["size"] = 5   # read-only: a module that imports it cannot change it for the others


def test_unknown_model_and_wrong_images_are_refused():
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        build_model("resnet")
    model = build_model("lstm", rng=np.random.default_rng(9))
    with pytest.raises(ValueError, match=r"\(2, 3, 32, 32\).*\(N, 3, 24, 24\)"):
        model.forward(np.zeros((2, 3, 32, 32), np.float32))
    with pytest.raises(ValueError, match="float64"):
        model.forward(np.zeros((2, 3, 24, 24), np.float64))


@pytest.mark.parametrize("name, options, message", [
    ("lstm", {"conv1": "direct"}, "option 'conv1' does not apply to model 'lstm'; its options: none"),
    ("gru", {"hidden": 256}, "option 'hidden' does not apply to model 'gru'"),
    ("cnn", {"reading": "rows"}, "option 'reading' does not apply to model 'cnn'; its options: conv1, conv2"),
    ("cnn", {"conv2": "fft"}, "option conv2='fft': choose one of direct, nchw, winograd, loops"),
    ("cnn_lstm", {"conv1": None}, "option conv1=None: choose one of direct, nchw, winograd, loops"),
    ("cnn_lstm", {"reading": "columns"}, "option reading='columns': choose one of maps, positions, rows"),
    ("cnn_lstm", {"head": "gru"}, "option head='gru': choose one of lstm, dense"),
    ("cnn_lstm", {"readout": "max"}, "option readout='max': choose one of last, mean"),
    ("cnn_lstm", {"hidden": 0}, "option hidden=0: the hidden size must be a whole number >= 1"),
    ("cnn_lstm", {"hidden": 1.5}, "option hidden=1.5"),
    ("cnn_lstm", {"hidden": "256"}, "option hidden='256'"),
    ("cnn_lstm", {"hidden": True}, "option hidden=True"),
    ("cnn_lstm", {"head": "dense", "hidden": 256}, "option 'hidden' applies only with head 'lstm'"),
    ("cnn_lstm", {"head": "dense", "readout": "last"}, "option 'readout' applies only with head 'lstm'"),
])
def test_options_that_do_not_apply_or_do_not_exist_are_refused(name, options, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")) as error:
        build_model(name, rng=np.random.default_rng(0), **options)
    assert "\n" not in str(error.value)


def test_hidden_takes_numpy_integers_and_records_a_plain_int():
    model = build_model("cnn_lstm", rng=np.random.default_rng(0), hidden=np.int64(32))
    assert model.options["hidden"] == 32 and type(model.options["hidden"]) is int
    assert isinstance(dict(model.layers)["lstm"], LSTM) and dict(model.layers)["lstm"].hidden_size == 32


@pytest.mark.parametrize("name", ["cnn_lstm", "cnn"])
def test_pooling_before_relu_gives_the_paper_order_bit_for_bit(name):
    # The models pool before the ReLU where the paper has ReLU then pool (see scratchnet.models).
    # Whole numbers make exact ties in the windows, positive and not, where the orders could differ.
    rng = np.random.default_rng(10)
    model = build_model(name, rng=rng, dtype=np.float64)
    for conv in ("conv1", "conv2"):
        weights = model.params[f"{conv}.W"]
        weights[...] = rng.integers(-1, 2, size=weights.shape)
    paper = copy.deepcopy(model)  # the same weights, its own caches and grads
    names = [lname for lname, _ in paper.layers]
    for pool, relu in (("pool1", "relu1"), ("pool2", "relu2")):
        i, j = names.index(pool), names.index(relu)
        if j == i + 1:
            paper.layers[i], paper.layers[j] = paper.layers[j], paper.layers[i]
    assert [lname for lname, _ in paper.layers][:3] == ["conv1", "relu1", "pool1"]

    images = rng.integers(-2, 3, size=(4, 3, 24, 24)).astype(np.float64)
    labels = rng.integers(0, 10, size=4)
    results = []
    for net in (model, paper):
        _, logits = net.loss_and_backward(images, labels, input_grad=True)
        results.append((logits, net.dimages, {key: grad.copy() for key, grad in net.grads.items()}))
    (logits, dimages, grads), (paper_logits, paper_dimages, paper_grads) = results
    np.testing.assert_array_equal(logits, paper_logits)
    np.testing.assert_array_equal(dimages, paper_dimages)
    for key in grads:
        np.testing.assert_array_equal(grads[key], paper_grads[key], err_msg=key)
    assert np.any(grads["conv1.W"])
