"""The contract every layer keeps, tested on every layer class that scratchnet.layers exports.

- ``grads`` holds the keys, shapes and dtype of ``params``, and backward overwrites those
  very arrays in place (the rule in scratchnet.layers.base);
- the dtype goes through: float32 in, float32 out, float32 gradients (float64 likewise),
  and float32 agrees with float64 to rounding;
- bad input is refused with a ValueError that names the layer: a wrong shape, a wrong
  dtype, a backward before any forward, a dout not shaped like the output;
- an empty batch gives an empty result, or a clear error;
- the gradients agree with finite differences in float64;
- ``flops(x_shape)`` counts the layer's matrix products by its formula.

A layer added to scratchnet.layers without a row in ``CASES`` fails
``test_every_exported_layer_has_a_row``: a new layer joins the contract by adding one.
"""

import inspect
import re

import numpy as np
import pytest
from strategies import distinct_values

import scratchnet.layers
from scratchnet.gradcheck import layer_gradient_errors
from scratchnet.layers import (
    GRU,
    LSTM,
    RNN,
    AvgPool2D,
    Conv2D,
    Conv2DNCHW,
    Flatten,
    Linear,
    LocalResponseNorm,
    LoopConv2D,
    MaxPool2D,
    ReLU,
    Reshape,
    WinogradConv2D,
)
from scratchnet.layers.base import Layer


def gaussian(shape, rng):
    return rng.standard_normal(shape)


def away_from_zero(shape, rng):
    """|x| in [0.1, 1]: clear of ReLU's kink, where finite differences straddle two slopes."""
    return rng.uniform(0.1, 1, shape) * rng.choice([-1, 1], shape)


def distinct(shape, rng):
    """All values different: one clear winner in each max-pool window."""
    return distinct_values(shape, seed=int(rng.integers(2**32)))


def conv_flops(layer, x_shape, out_shape):
    """Direct convolution: F * C * kh * kw multiply-adds at every output pixel; dx as many."""
    N, F, oh, ow = out_shape
    _, C, kh, kw = layer.params["W"].shape
    return 2 * N * oh * ow * F * C * kh * kw, 2 * N * oh * ow * F * C * kh * kw


def linear_flops(layer, x_shape, out_shape):
    N, (fan_in, fan_out) = x_shape[0], layer.params["W"].shape
    return 2 * N * fan_in * fan_out, 2 * N * fan_in * fan_out


def recurrent_flops(layer, x_shape, out_shape):
    """One (N, H + D) x (H + D, rows of W) product per step; dx is its x-part."""
    N, T, D = x_shape
    rows, H_plus_D = layer.params["W"].shape
    return 2 * N * T * rows * H_plus_D, 2 * N * T * rows * D


def no_flops(layer, x_shape, out_shape):
    return 0, 0


# id: (build(dtype, rng) -> layer, input shape, how x is drawn, a wrong input shape, FLOPs by formula)
CASES = {
    "Conv2D": (lambda dtype, rng: Conv2D(2, 3, 3, stride=2, padding="same", rng=rng, dtype=dtype),
               (2, 2, 5, 4), gaussian, (2, 3, 5, 4), conv_flops),
    "Conv2DNCHW": (lambda dtype, rng: Conv2DNCHW(2, 3, 3, stride=2, padding="same", rng=rng, dtype=dtype),
                   (2, 2, 5, 4), gaussian, (2, 3, 5, 4), conv_flops),
    "LoopConv2D": (lambda dtype, rng: LoopConv2D(2, 3, 3, stride=2, padding="same", rng=rng, dtype=dtype),
                   (2, 2, 5, 4), gaussian, (2, 3, 5, 4), conv_flops),
    "WinogradConv2D": (lambda dtype, rng: WinogradConv2D(2, 3, (3, 2), padding="same", rng=rng, dtype=dtype),
                       (2, 2, 5, 4), gaussian, (2, 5, 4), conv_flops),
    "MaxPool2D": (lambda dtype, rng: MaxPool2D(3, 2, "same"), (2, 2, 5, 4), distinct, (2, 5, 4), no_flops),
    "AvgPool2D": (lambda dtype, rng: AvgPool2D(3, 2, "same"), (2, 2, 5, 4), gaussian, (2, 2, 5, 4, 1),
                  no_flops),
    "LocalResponseNorm": (lambda dtype, rng: LocalResponseNorm(size=3, k=2.0, alpha=0.05, beta=0.75),
                          (2, 4, 3, 2), gaussian, (2, 4, 3), no_flops),
    "Linear": (lambda dtype, rng: Linear(4, 3, rng=rng, dtype=dtype), (3, 4), gaussian, (3, 5), linear_flops),
    "ReLU": (lambda dtype, rng: ReLU(), (2, 3, 4), away_from_zero, None, no_flops),
    "Flatten": (lambda dtype, rng: Flatten(), (2, 3, 2, 2), gaussian, (6,), no_flops),
    "Reshape": (lambda dtype, rng: Reshape((6, 2)), (2, 3, 2, 2), gaussian, (2, 11), no_flops),
    "LSTM": (lambda dtype, rng: LSTM(3, 4, rng=rng, dtype=dtype), (2, 3, 3), gaussian, (2, 3, 2),
             recurrent_flops),
    "LSTM, return_sequences": (lambda dtype, rng: LSTM(3, 4, return_sequences=True, rng=rng, dtype=dtype),
                               (2, 3, 3), gaussian, (2, 3), recurrent_flops),
    "GRU": (lambda dtype, rng: GRU(3, 4, rng=rng, dtype=dtype), (2, 3, 3), gaussian, (2, 3, 2),
            recurrent_flops),
    "RNN": (lambda dtype, rng: RNN(3, 4, return_sequences=True, rng=rng, dtype=dtype), (2, 3, 3), gaussian,
            (2, 3, 3, 1), recurrent_flops),
}
NAMES = list(CASES)


def build(name, dtype=np.float64, seed=0):
    """The layer of row ``name``, an input for it and a dout for its output, all in ``dtype``."""
    make, x_shape, draw, _, _ = CASES[name]
    rng = np.random.default_rng(seed)
    layer = make(dtype, rng)
    for p in layer.params.values():  # nonzero biases too, so that every gradient is really tested
        p[...] = rng.uniform(-1, 1, p.shape)
    x = draw(x_shape, rng).astype(dtype)
    return layer, x


def dout_for(layer, x, seed=1):
    shape = layer.forward(x).shape
    return np.random.default_rng(seed).standard_normal(shape).astype(x.dtype)


def names_the_layer(layer):
    return re.escape(layer.where)


def test_every_exported_layer_has_a_row():
    exported = {name for name in scratchnet.layers.__all__
                if inspect.isclass(getattr(scratchnet.layers, name))
                and issubclass(getattr(scratchnet.layers, name), Layer)}
    covered = {type(build(name)[0]).__name__ for name in NAMES}
    assert exported == covered, f"layers without a row in CASES: {exported - covered}"


@pytest.mark.parametrize("name", NAMES)
def test_grads_are_the_params_keys_shapes_and_dtype_overwritten_in_place(name):
    layer, x = build(name)
    grads, arrays = layer.grads, dict(layer.grads)
    assert grads.keys() == layer.params.keys()
    for key, p in layer.params.items():
        assert grads[key].shape == p.shape and grads[key].dtype == p.dtype
    dout, other_dout = dout_for(layer, x), dout_for(layer, x, seed=2)
    dx = layer.backward(dout)
    assert dx.shape == x.shape and dx.flags.c_contiguous
    layer.backward(other_dout)
    assert layer.grads is grads and all(layer.grads[key] is arrays[key] for key in arrays)  # the same arrays
    fresh, _ = build(name)
    fresh.forward(x)
    fresh.backward(other_dout)
    for key in arrays:  # overwritten by the second backward, not added to
        np.testing.assert_array_equal(grads[key], fresh.grads[key])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_dtype_is_kept(name, dtype):
    layer, x = build(name, dtype)
    out = layer.forward(x)
    dx = layer.backward(dout_for(layer, x))
    assert out.dtype == dx.dtype == dtype
    assert all(a.dtype == dtype for a in [*layer.params.values(), *layer.grads.values()])


@pytest.mark.parametrize("name", NAMES)
def test_float32_close_to_float64(name):
    layer32, x32 = build(name, np.float32)
    layer64, _ = build(name, np.float64)
    for key, p in layer32.params.items():
        layer64.params[key][...] = p  # the same numbers in both
    x64 = x32.astype(np.float64)
    dout64 = dout_for(layer64, x64)
    results = []
    for layer, x in ((layer32, x32), (layer64, x64)):
        out = layer.forward(x)
        results.append([out, layer.backward(dout64.astype(x.dtype)), *layer.grads.values()])
    for single, double in zip(*results):
        np.testing.assert_allclose(single, double, rtol=1e-4, atol=1e-5 * max(np.abs(double).max(), 1))


@pytest.mark.parametrize("name", NAMES)
def test_a_wrong_shape_is_refused_with_the_layers_name(name):
    layer, x = build(name)
    bad_shape = CASES[name][3]
    bad = x.tolist() if bad_shape is None else np.zeros(bad_shape)  # ReLU takes any shape, but only arrays
    with pytest.raises(ValueError, match=names_the_layer(layer)):
        layer.forward(bad)


@pytest.mark.parametrize("name", NAMES)
def test_a_wrong_dtype_is_refused_with_the_layers_name(name):
    layer, x = build(name, np.float32)
    with pytest.raises(ValueError, match=names_the_layer(layer) + ".*int64"):
        layer.forward(x.astype(np.int64))
    if layer.params:  # a layer with float32 weights takes float32 only
        with pytest.raises(ValueError, match=names_the_layer(layer) + ".*float64"):
            layer.forward(x.astype(np.float64))


@pytest.mark.parametrize("name", NAMES)
def test_backward_before_forward_is_refused(name):
    layer, x = build(name)
    out_shape = build(name)[0].forward(x).shape
    with pytest.raises(ValueError, match=names_the_layer(layer) + ": backward called before forward"):
        layer.backward(np.zeros(out_shape))


@pytest.mark.parametrize("name", NAMES)
def test_a_dout_unlike_the_output_is_refused(name):
    layer, x = build(name)
    out_shape = layer.forward(x).shape
    for shape in [(out_shape[0] + 3, *out_shape[1:]), out_shape[:-1], (*out_shape[:-1], out_shape[-1] + 1)]:
        with pytest.raises(ValueError, match=names_the_layer(layer) + r": backward got dout of shape"):
            layer.backward(np.zeros(shape))


@pytest.mark.parametrize("name", NAMES)
def test_an_empty_batch_gives_an_empty_result_or_a_clear_error(name):
    layer, x = build(name)
    empty = x[:0]
    try:
        out = layer.forward(empty)
    except ValueError as error:
        assert layer.where in str(error) and "\n" not in str(error)
        return
    assert out.shape == (0, *build(name)[0].forward(x).shape[1:])
    assert layer.backward(np.zeros(out.shape)).shape == empty.shape


@pytest.mark.parametrize("name", NAMES)
def test_gradients_match_finite_differences(name):
    layer, x = build(name)
    errors = layer_gradient_errors(layer, x, rng=np.random.default_rng(3))
    assert errors.keys() == {"x", *layer.params}
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("name", NAMES)
def test_flops_are_the_formula(name):
    layer, x = build(name)
    forward, input_grad = CASES[name][4](layer, x.shape, layer.forward(x).shape)
    assert layer.flops(x.shape) == (forward, 2 * forward, input_grad)


def test_flops_of_the_papers_layers_by_hand():
    # conv1 on 2 images: 24 x 24 outputs ("same"), 64 filters, each 3 x 5 x 5 inputs
    conv1 = Conv2D(3, 64, 5, padding="same")
    assert conv1.flops((2, 3, 24, 24)) == (11_059_200, 2 * 11_059_200, 11_059_200)
    # conv2 computed by Winograd is counted as the direct convolution it computes
    conv2 = 2 * 12 * 12 * 64 * 64 * 25
    assert WinogradConv2D(64, 64, 5, padding="same").flops((1, 64, 12, 12)) == (conv2, 2 * conv2, conv2)
    # the LSTM: 48 steps of a (N, 176) x (176, 512) product; dx is the 48 input columns of it
    lstm = 2 * 48 * 176 * 512
    assert LSTM(48, 128).flops((1, 48, 48)) == (lstm, 2 * lstm, 2 * 48 * 512 * 48)
    assert Linear(128, 10).flops((1, 128)) == (2 * 1280, 4 * 1280, 2 * 1280)
    assert MaxPool2D(3, 2, "same").flops((1, 64, 24, 24)) == (0, 0, 0)
