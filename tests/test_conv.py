"""Conv2D: a hand-worked example, the formula, finite differences, blocks of the batch, bad input.

What every layer must do (grads in place, dtypes, float32 near float64, refusals) is tested
for Conv2D with all the others in test_layer_contract.py.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import CONV_DEGENERATE, conv_cases, with_examples

from scratchnet.gradcheck import layer_gradient_errors
from scratchnet.kernels.im2col import im2col
from scratchnet.layers import conv as conv_module
from scratchnet.layers.conv import Conv2D


def naive_conv(x, W, b, stride, top, bottom, left, right):
    """The formula, one output value at a time: b[f] + sum(W[f] * window)."""
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    F, _, kh, kw = W.shape
    oh, ow = (xp.shape[2] - kh) // stride + 1, (xp.shape[3] - kw) // stride + 1
    out = np.empty((x.shape[0], F, oh, ow))
    for n in range(x.shape[0]):
        for f in range(F):
            for i in range(oh):
                for j in range(ow):
                    window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = b[f] + np.sum(W[f] * window)
    return out


def build(case, dtype=np.float64):
    N, C, F, H, W, kernel, stride, padding, seed = case
    rng = np.random.default_rng(seed)
    layer = Conv2D(C, F, kernel, stride=stride, padding=padding, rng=rng, dtype=dtype)
    layer.params["b"][...] = rng.standard_normal(F)  # nonzero, so the bias is really tested
    return layer, rng.standard_normal((N, C, H, W)).astype(dtype)


def test_hand_worked_5x5_input_3x3_kernel():
    # The paper's figure (section 2.1): a 3x3 kernel slides over a 5x5 input, no padding.
    x = np.array([[1, 1, 1, 0, 0],
                  [0, 1, 1, 1, 0],
                  [0, 0, 1, 1, 1],
                  [0, 0, 1, 1, 0],
                  [0, 1, 1, 0, 0]], dtype=np.float64)
    kernel = np.array([[1, 0, 1],
                       [0, 1, 0],
                       [1, 0, 1]], dtype=np.float64)
    # top-left: 1*1 + 1*0 + 1*1 + 0*0 + 1*1 + 1*0 + 0*1 + 0*0 + 1*1 = 4, and so on
    expected = np.array([[4, 3, 4],
                         [2, 4, 3],
                         [2, 3, 4]], dtype=np.float64)
    layer = Conv2D(1, 1, 3, dtype=np.float64)
    layer.params["W"][0, 0] = kernel
    layer.params["b"][0] = 0.5
    out = layer.forward(x[None, None])
    np.testing.assert_array_equal(out[0, 0], expected + 0.5)
    # stride 2 keeps the corners and the centre of that 3x3 map
    layer = Conv2D(1, 1, 3, stride=2, dtype=np.float64)
    layer.params["W"][0, 0] = kernel
    np.testing.assert_array_equal(layer.forward(x[None, None])[0, 0], [[4, 4], [2, 4]])


@given(case=conv_cases())
@with_examples(CONV_DEGENERATE)
def test_forward_equals_the_formula(case):
    layer, x = build(case)
    N, C, F, H, W, (kh, kw), stride, padding, _ = case
    out = layer.forward(x)
    if padding == "same":
        assert out.shape == (N, F, -(-H // stride), -(-W // stride))
        pad_h = max((out.shape[2] - 1) * stride + kh - H, 0)
        pad_w = max((out.shape[3] - 1) * stride + kw - W, 0)
        pads = (pad_h // 2, pad_h - pad_h // 2, pad_w // 2, pad_w - pad_w // 2)
    else:
        pads = (padding,) * 4
    assert out.flags.c_contiguous
    np.testing.assert_allclose(out, naive_conv(x, layer.params["W"], layer.params["b"], stride, *pads),
                               rtol=1e-12, atol=1e-12)


@given(case=conv_cases())
@with_examples(CONV_DEGENERATE)
def test_gradients_match_finite_differences(case):
    layer, x = build(case)
    errors = layer_gradient_errors(layer, x, rng=np.random.default_rng(case[-1]))
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("case", CONV_DEGENERATE + [(5, 3, 4, 6, 6, 5, 1, "same", 5),
                                                    (3, 2, 2, 7, 5, 3, 2, 1, 6)])
def test_blocks_of_the_batch_give_the_whole_batch_result(case, monkeypatch):
    # the layer runs im2col and its products a few images at a time; one image per block here
    layer, x = build(case)
    dout = np.random.default_rng(case[-1] + 1).standard_normal(layer.forward(x).shape)
    whole = (layer.forward(x), layer.backward(dout), *(grad.copy() for grad in layer.grads.values()))
    monkeypatch.setattr(conv_module, "BLOCK_BYTES", 1)
    assert len(layer._blocks(x.shape[0], 1000)) == x.shape[0]
    blocked = (layer.forward(x), layer.backward(dout), *layer.grads.values())
    for a, b in zip(blocked, whole):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    errors = layer_gradient_errors(layer, x, rng=np.random.default_rng(case[-1]))
    assert max(errors.values()) < 1e-6, errors


def test_he_initialisation_and_seeded_rng():
    layer = Conv2D(64, 64, 5, rng=np.random.default_rng(0))
    W, b = layer.params["W"], layer.params["b"]
    assert W.shape == (64, 64, 5, 5) and b.shape == (64,) and W.dtype == np.float32
    assert abs(W.std() / np.sqrt(2 / (64 * 5 * 5)) - 1) < 0.02 and abs(W.mean()) < 1e-3
    np.testing.assert_array_equal(b, 0)
    np.testing.assert_array_equal(Conv2D(64, 64, 5, rng=np.random.default_rng(0)).params["W"], W)
    assert Conv2D(3, 2, (3, 1)).params["W"].shape == (2, 3, 3, 1)  # (kh, kw) pair


@pytest.mark.parametrize("x, wanted", [
    (np.zeros((3, 8, 8), np.float32), r"got an array of shape \(3, 8, 8\), wanted \(N, 3, H, W\)"),
    (np.zeros((2, 4, 8, 8), np.float32), r"got an array of shape \(2, 4, 8, 8\), wanted \(N, 3, H, W\)"),
    (np.zeros((2, 3, 8, 8), np.float64), r"got dtype float64, wanted float32"),
    (np.full((2, 3, 8, 8), np.nan, np.float32), r"input of shape \(2, 3, 8, 8\) contains NaN"),
    (np.zeros((2, 3, 4, 8), np.float32),
     r"input of shape \(2, 3, 4, 8\): kernel 5 is larger than the padded input"),
])
def test_bad_input_is_refused_with_a_sentence(x, wanted):
    layer = Conv2D(3, 2, 5)
    with pytest.raises(ValueError, match=r"Conv2D\(3->2, kernel_size=5\)") as info:
        layer.forward(x)
    assert info.match(wanted)


def test_bad_construction_is_refused():
    with pytest.raises(ValueError, match="kernel_size must be a positive int"):
        Conv2D(3, 2, 0)
    with pytest.raises(ValueError, match="stride must be a positive int"):
        Conv2D(3, 2, 3, stride=(1, 2, 3))
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        Conv2D(3, 2, 3, dtype=np.int32)


@settings(max_examples=15)
@given(C=st.integers(1, 4), F=st.integers(1, 4), k=st.integers(1, 4), stride=st.integers(1, 3),
       size=st.integers(4, 9), same=st.booleans())
def test_flops_are_those_of_the_im2col_product(C, F, k, stride, size, same):
    # Counted another way: forward is the product cols (M, K) @ Wmat (K, F), 2 M K F FLOPs.
    layer = Conv2D(C, F, k, stride=stride, padding="same" if same else 0, rng=np.random.default_rng(0))
    x = np.zeros((2, C, size, size), np.float32)
    layer.forward(x)
    M, K = im2col(layer.cache[1], k, k, stride, stride).shape  # the padded input the layer kept
    forward, backward, input_grad = layer.flops(x.shape)
    assert forward == 2 * M * K * F and backward == 2 * forward and input_grad == forward

