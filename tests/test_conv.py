"""Conv2D: a hand-worked example, a naive loop, finite differences, dtypes and bad input."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from scratchnet.gradcheck import layer_gradient_errors
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


@st.composite
def conv_cases(draw):
    """(N, C, F, H, W, (kh, kw), stride, padding, seed) with the kernel fitting the padded input."""
    N, C, F = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    padding = draw(st.sampled_from([0, 1, 2, "same"]))
    pad = 2 if padding == "same" else padding  # "same" takes any kernel; let it outgrow the input
    kh, kw = draw(st.integers(1, H + 2 * pad)), draw(st.integers(1, W + 2 * pad))
    stride = draw(st.integers(1, 3))
    return N, C, F, H, W, (kh, kw), stride, padding, draw(st.integers(0, 2**32 - 1))


DEGENERATE = [
    (1, 2, 2, 4, 4, (1, 1), 1, 0, 0),       # 1x1 kernel: a per-pixel linear map
    (2, 1, 2, 3, 5, (3, 5), 1, 0, 1),       # kernel == input: a single output pixel
    (1, 2, 1, 7, 7, (1, 1), 3, 0, 2),       # stride > kernel: pixels skipped
    (1, 1, 1, 2, 3, (5, 4), 2, "same", 3),  # "same" with a kernel larger than the input
    (2, 3, 2, 5, 4, (3, 2), 2, "same", 4),  # odd/even kernel, uneven "same" padding
]


def with_degenerate_examples(test):
    """Always run the degenerate cases too, whatever hypothesis draws."""
    for case in DEGENERATE:
        test = example(case)(test)
    return test


def build(case, dtype=np.float64):
    N, C, F, H, W, kernel, stride, padding, seed = case
    rng = np.random.default_rng(seed)
    layer = Conv2D(C, F, kernel, stride=stride, padding=padding, rng=rng, dtype=dtype)
    layer.params["b"][...] = rng.standard_normal(F)  # nonzero, so the bias is really tested
    return layer, rng.standard_normal((N, C, H, W)).astype(dtype)


def test_hand_worked_5x5_input_3x3_kernel(capsys):
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
    with capsys.disabled():
        print(f"\ninput\n{x}\nkernel\n{kernel}\noutput (bias 0.5)\n{out[0, 0]}")
    np.testing.assert_array_equal(out[0, 0], expected + 0.5)
    # stride 2 keeps the corners and the centre of that 3x3 map
    layer = Conv2D(1, 1, 3, stride=2, dtype=np.float64)
    layer.params["W"][0, 0] = kernel
    np.testing.assert_array_equal(layer.forward(x[None, None])[0, 0], [[4, 4], [2, 4]])


@given(conv_cases())
@with_degenerate_examples
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


@given(conv_cases())
@with_degenerate_examples
def test_gradients_match_finite_differences(case):
    layer, x = build(case)
    errors = layer_gradient_errors(layer, x, rng=np.random.default_rng(case[-1]))
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("case", DEGENERATE + [(5, 3, 4, 6, 6, 5, 1, "same", 5), (3, 2, 2, 7, 5, 3, 2, 1, 6)])
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


def test_backward_overwrites_grads_and_returns_input_shape():
    layer, x = build((2, 3, 4, 5, 5, 3, 1, "same", 0))
    dout = np.random.default_rng(1).standard_normal(layer.forward(x).shape)
    dx = layer.backward(dout)
    first = {name: grad.copy() for name, grad in layer.grads.items()}
    layer.backward(dout)
    assert dx.shape == x.shape and dx.flags.c_contiguous
    for name, grad in layer.grads.items():
        assert grad.shape == layer.params[name].shape
        np.testing.assert_array_equal(grad, first[name])  # overwritten, not accumulated


def test_float32_output_and_gradients_close_to_float64():
    layer64, x = build((4, 3, 8, 9, 9, 5, 1, "same", 0))
    layer32 = Conv2D(3, 8, 5, padding="same", dtype=np.float32)
    for name, param in layer64.params.items():
        layer32.params[name][...] = param
    out64, out32 = layer64.forward(x), layer32.forward(x.astype(np.float32))
    assert out32.dtype == np.float32 and layer32.params["W"].dtype == np.float32
    np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-4 * np.abs(out64).max())
    dout = np.random.default_rng(2).standard_normal(out64.shape)
    dx64, dx32 = layer64.backward(dout), layer32.backward(dout.astype(np.float32))
    assert dx32.dtype == np.float32 and layer32.grads["W"].dtype == np.float32
    np.testing.assert_allclose(dx32, dx64, rtol=1e-4, atol=1e-4 * np.abs(dx64).max())
    np.testing.assert_allclose(layer32.grads["W"], layer64.grads["W"], rtol=1e-4,
                               atol=1e-4 * np.abs(layer64.grads["W"]).max())


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
