"""Whole-model checks: gradients through every layer and reshape, the first loss, memorising."""

import math

import numpy as np
import pytest

from scratchnet.gradcheck import numerical_gradient, relative_error
from scratchnet.models import MODEL_NAMES, build_model
from scratchnet.optim import SGD


def checked_indices(gradient, rng, count=12):
    """The largest gradients (they set the scale) and a random few (anywhere may be wrong)."""
    flat = np.abs(gradient).reshape(-1)
    largest = np.argsort(flat)[-count:]
    return np.unique(np.concatenate([largest, rng.choice(flat.size, min(count, flat.size), replace=False)]))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_whole_model_gradient_matches_finite_differences(name):
    # A wrong reshape or layer order passes every layer's own check and fails this one.
    rng = np.random.default_rng(1)
    model = build_model(name, rng=np.random.default_rng(2), dtype=np.float64)
    images = rng.standard_normal((2, 3, 24, 24))
    labels = np.array([3, 7])

    def loss():
        return model.loss(images, labels)[0]

    _, _, dlogits = model.loss(images, labels)
    dimages = model.backward(dlogits)
    analytic = {"images": dimages, **{key: grad.copy() for key, grad in model.grads.items()}}
    arrays = {"images": images, **model.params}
    assert set(analytic) == set(arrays)
    for key, array in arrays.items():
        indices = checked_indices(analytic[key], rng)
        numeric = numerical_gradient(loss, array, indices=indices)
        error = relative_error(analytic[key].reshape(-1)[indices], numeric)
        assert error < 1e-6, f"{name}: gradient of {key} is off, relative error {error:.2e}"


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
        loss, _, dlogits = model.loss(images, labels)
        if loss < 0.05:
            break
        model.backward(dlogits)
        optimizer.step(model.grads, lr=0.02 if name.startswith("cnn") else 0.05)
    assert loss < 0.05, f"{name}: training loss still {loss:.3f} on 50 images"


def test_predict_returns_probabilities():
    model = build_model("cnn_lstm", rng=np.random.default_rng(6))
    images = np.random.default_rng(7).standard_normal((5, 3, 24, 24)).astype(np.float32)
    probabilities = model.predict(images, batch_size=2)
    assert probabilities.shape == (5, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(probabilities >= 0)


def test_params_are_the_layers_own_arrays():
    # The optimiser updates model.params in place; that must change the layers.
    model = build_model("cnn", rng=np.random.default_rng(8))
    model.params["conv1.W"][...] = 0.0
    assert not np.any(dict(model.layers)["conv1"].params["W"])


def test_unknown_model_and_wrong_images_are_refused():
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        build_model("resnet")
    model = build_model("lstm", rng=np.random.default_rng(9))
    with pytest.raises(ValueError, match=r"\(2, 3, 32, 32\).*\(N, 3, 24, 24\)"):
        model.forward(np.zeros((2, 3, 32, 32), np.float32))
    with pytest.raises(ValueError, match="float64"):
        model.forward(np.zeros((2, 3, 24, 24), np.float64))


@pytest.mark.parametrize("name", ["cnn_lstm", "cnn"])
def test_pooling_before_relu_gives_the_paper_order_bit_for_bit(name):
    # The models pool before the ReLU where the paper has ReLU then pool (see scratchnet.models).
    # Whole numbers make exact ties in the windows, positive and not, where the orders could differ.
    rng = np.random.default_rng(10)
    model = build_model(name, rng=rng, dtype=np.float64)
    for conv in ("conv1", "conv2"):
        weights = model.params[f"{conv}.W"]
        weights[...] = rng.integers(-1, 2, size=weights.shape)
    paper = model.replica()  # the same weights, its own caches and grads
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
        loss, logits, dlogits = net.loss(images, labels)
        dimages = net.backward(dlogits)
        results.append((logits, dimages, {key: grad.copy() for key, grad in net.grads.items()}))
    (logits, dimages, grads), (paper_logits, paper_dimages, paper_grads) = results
    np.testing.assert_array_equal(logits, paper_logits)
    np.testing.assert_array_equal(dimages, paper_dimages)
    for key in grads:
        np.testing.assert_array_equal(grads[key], paper_grads[key], err_msg=key)
    assert np.any(grads["conv1.W"])
