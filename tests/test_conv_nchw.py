"""Conv2DNCHW: channels-first im2col against its references, and the same layer as Conv2D."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.gradcheck import layer_gradient_errors
from scratchnet.kernels.im2col_nchw import (
    col2im_nchw,
    col2im_nchw_reference,
    im2col_nchw,
    im2col_nchw_reference,
)
from scratchnet.layers.conv import Conv2D
from scratchnet.layers.conv_nchw import Conv2DNCHW
from scratchnet.models import build_model


@st.composite
def window_cases(draw):
    """(xp shape, kh, kw, sh, sw, seed) with the window fitting the padded input."""
    shape = tuple(draw(st.integers(1, high)) for high in (3, 4, 9, 9))
    kh, kw = draw(st.integers(1, shape[2])), draw(st.integers(1, shape[3]))
    return shape, kh, kw, draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(0, 2**32 - 1))


@given(window_cases(), st.sampled_from([np.float32, np.float64]))
def test_im2col_and_col2im_equal_their_references(case, dtype):
    shape, kh, kw, sh, sw, seed = case
    rng = np.random.default_rng(seed)
    xp = rng.standard_normal(shape).astype(dtype)
    cols = im2col_nchw(xp, kh, kw, sh, sw)
    np.testing.assert_array_equal(cols, im2col_nchw_reference(xp, kh, kw, sh, sw))  # copies: exact
    assert cols.dtype == dtype and cols.shape[1] == shape[1] * kh * kw
    dcols = rng.standard_normal(cols.shape).astype(dtype)
    dxp = col2im_nchw(dcols, shape, kh, kw, sh, sw)
    assert dxp.dtype == dtype
    np.testing.assert_allclose(dxp, col2im_nchw_reference(dcols, shape, kh, kw, sh, sw), rtol=1e-6, atol=1e-6)
    # col2im is the adjoint of im2col: <im2col(xp), dcols> = <xp, col2im(dcols)>
    lhs, rhs = np.vdot(cols.astype(np.float64), dcols), np.vdot(xp.astype(np.float64), dxp)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-5, atol=1e-5)
    # with a row of ones for the bias: the same windows, then the ones
    with_ones = im2col_nchw(xp, kh, kw, sh, sw, ones=True)
    np.testing.assert_array_equal(with_ones, im2col_nchw_reference(xp, kh, kw, sh, sw, ones=True))
    np.testing.assert_array_equal(with_ones[:, :-1], cols)
    assert (with_ones[:, -1] == 1).all()


@st.composite
def conv_cases(draw):
    """(N, C, F, H, W, (kh, kw), stride, padding, seed) with the kernel fitting the padded input."""
    N, C, F = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    padding = draw(st.sampled_from([0, 1, 2, "same"]))
    pad = 2 if padding == "same" else padding
    kh, kw = draw(st.integers(1, H + 2 * pad)), draw(st.integers(1, W + 2 * pad))
    return N, C, F, H, W, (kh, kw), draw(st.integers(1, 3)), padding, draw(st.integers(0, 2**32 - 1))


def build_pair(case, dtype=np.float64):
    """A Conv2DNCHW and a Conv2D with the same parameters (the same draw), and an input."""
    N, C, F, H, W, kernel, stride, padding, seed = case
    layers = [cls(C, F, kernel, stride=stride, padding=padding, rng=np.random.default_rng(seed), dtype=dtype)
              for cls in (Conv2DNCHW, Conv2D)]
    rng = np.random.default_rng(seed + 1)
    layers[0].params["b"][...] = layers[1].params["b"][...] = rng.standard_normal(F)
    np.testing.assert_array_equal(layers[0].params["W"], layers[1].params["W"])  # same initialisation
    return *layers, rng.standard_normal((N, C, H, W)).astype(dtype)


@given(conv_cases())
def test_same_function_and_gradients_as_conv2d(case):
    nchw, direct, x = build_pair(case)
    out = nchw.forward(x)
    np.testing.assert_allclose(out, direct.forward(x), rtol=1e-12, atol=1e-12)
    assert out.flags.c_contiguous
    dout = np.random.default_rng(case[-1] + 2).standard_normal(out.shape)
    dx = nchw.backward(dout)
    assert dx.shape == x.shape and dx.flags.c_contiguous
    np.testing.assert_allclose(dx, direct.backward(dout), rtol=1e-12, atol=1e-12)
    for name in ("W", "b"):
        np.testing.assert_allclose(nchw.grads[name], direct.grads[name], rtol=1e-12, atol=1e-12)
    grads = {name: grad for name, grad in nchw.grads.items()}
    assert nchw.backward(dout, input_grad=False) is None
    for name, grad in nchw.grads.items():
        assert grad is grads[name]  # overwritten in place: an optimiser holding them sees the new values
        np.testing.assert_allclose(grad, direct.grads[name], rtol=1e-12, atol=1e-12)


@given(conv_cases())
def test_gradients_match_finite_differences(case):
    nchw, _, x = build_pair(case)
    errors = layer_gradient_errors(nchw, x, rng=np.random.default_rng(case[-1]))
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) < 1e-6, errors


def test_float32_at_the_papers_conv1_as_close_to_exact_as_conv2d():
    # the same products summed in another order: the rounding of both stays at float32's level
    rng = np.random.default_rng(0)
    exact = Conv2D(3, 64, 5, padding="same", rng=rng, dtype=np.float64)
    layers = [Conv2DNCHW(3, 64, 5, padding="same"), Conv2D(3, 64, 5, padding="same")]
    for layer in layers:
        layer.params["W"][...] = exact.params["W"]
    exact.params["W"][...] = layers[0].params["W"]  # all three hold the same float32 numbers
    x = rng.standard_normal((8, 3, 24, 24)).astype(np.float32)
    dout = rng.standard_normal((8, 64, 24, 24)).astype(np.float32)
    out = exact.forward(x.astype(np.float64))
    exact.backward(dout.astype(np.float64), input_grad=False)
    for layer in layers:
        assert layer.forward(x).dtype == np.float32
        np.testing.assert_allclose(layer.forward(x), out, rtol=0, atol=1e-5 * np.abs(out).max())
        layer.backward(dout, input_grad=False)
        assert layer.grads["W"].dtype == np.float32
        dW = exact.grads["W"]
        np.testing.assert_allclose(layer.grads["W"], dW, rtol=0, atol=1e-5 * np.abs(dW).max())


def test_as_the_first_layer_of_the_cnn_lstm_the_model_computes_the_same():
    rng = np.random.default_rng(0)
    model = build_model("cnn_lstm", rng=rng, dtype=np.float64)
    x, y = rng.standard_normal((3, 3, 24, 24)), np.array([1, 4, 7])
    _, logits, dlogits = model.loss(x, y)
    model.backward(dlogits, input_grad=False)
    expected = {key: grad.copy() for key, grad in model.grads.items()}
    conv1 = model.layers[0][1]
    model.layers[0] = ("conv1", Conv2DNCHW(3, 64, 5, padding="same", dtype=np.float64))
    model.layers[0][1].params = conv1.params  # the same arrays: an optimiser step moves the new layer too
    _, logits2, dlogits2 = model.loss(x, y)
    assert model.backward(dlogits2, input_grad=False) is None
    np.testing.assert_allclose(logits2, logits, rtol=1e-12, atol=1e-12)
    for key, grad in model.grads.items():
        np.testing.assert_allclose(grad, expected[key], rtol=1e-10, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("x, got", [
    (np.zeros((2, 4, 6, 6)), r"wanted \(N, 3, H, W\)"),
    (np.zeros((2, 3, 6)), "shape"),
    (np.zeros((2, 3, 6, 6), dtype=np.float32), "float32"),
])
def test_bad_input_is_refused_with_a_sentence(x, got):
    layer = Conv2DNCHW(3, 2, 3, dtype=np.float64)
    with pytest.raises(ValueError, match=got):
        layer.forward(x)
    with pytest.raises(ValueError, match="Conv2DNCHW"):
        layer.forward(np.full((1, 3, 4, 4), np.nan))
