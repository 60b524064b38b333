"""MaxPool2D and AvgPool2D: known windows, the tie rule, padding, kernels, gradients, bad input."""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import POOL_DEGENERATE, distinct_values, float_dtypes, pool_cases, with_examples

from scratchnet.gradcheck import layer_gradient_errors
from scratchnet.kernels import pool as kernels
from scratchnet.layers.pool import AvgPool2D, MaxPool2D


def geometry(case):
    """Arguments the kernels take, from a case: (kh, kw, sh, sw, top, left, oh, ow)."""
    N, C, H, W, (kh, kw), stride, padding, _ = case
    layer = MaxPool2D((kh, kw), stride, padding)
    oh, ow, top, left = layer._windows(np.zeros((N, C, H, W)))
    return kh, kw, layer.sh, layer.sw, top, left, oh, ow


# ------------------------------------------------------------------ hand-worked windows

def test_max_pool_window_with_known_maximum_and_where_its_gradient_goes():
    x = np.array([[1, 3, 2, 0],
                  [4, 9, 5, 1],
                  [0, 2, 8, 6],
                  [7, 1, 3, 2]], dtype=np.float64)[None, None]
    layer = MaxPool2D(2)  # stride defaults to 2
    out = layer.forward(x)
    np.testing.assert_array_equal(out[0, 0], [[9, 5], [7, 8]])
    dx = layer.backward(np.array([[[[10, 20], [30, 40]]]], dtype=np.float64))
    expected = np.zeros((4, 4))
    expected[1, 1], expected[1, 2], expected[3, 0], expected[2, 2] = 10, 20, 30, 40
    np.testing.assert_array_equal(dx[0, 0], expected)


def test_ties_send_the_gradient_to_the_first_in_row_major_order():
    x = np.array([[0, 5, 1, 1],
                  [5, 5, 1, 1]], dtype=np.float64)[None, None]
    # left window: 5 at (0,1), (1,0), (1,1): (0,1) comes first; right window: all equal -> (0,2)
    for forward, backward in [(kernels.max_pool_forward, kernels.max_pool_backward),
                              (kernels.max_pool_forward_reference, kernels.max_pool_backward_reference)]:
        out, argmax = forward(x, 2, 2, 2, 2, 0, 0, 1, 2)
        np.testing.assert_array_equal(argmax[0, 0], [[0 * 4 + 1, 0 * 4 + 2]])
        dx = backward(np.ones_like(out), argmax, 2, 4)
        np.testing.assert_array_equal(dx[0, 0], [[0, 1, 1, 0], [0, 0, 0, 0]])
    layer = MaxPool2D(2)
    layer.forward(x)
    np.testing.assert_array_equal(layer.backward(np.ones((1, 1, 1, 2)))[0, 0], [[0, 1, 1, 0], [0, 0, 0, 0]])


def test_max_pool_padding_never_wins():
    x = -1 - np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)  # all negative: zeros would win
    # padding 1 on every side: windows at rows/columns -1..1 and 1..3
    np.testing.assert_array_equal(MaxPool2D(3, 2, padding=1).forward(x)[0, 0], [[-1, -2], [-5, -6]])
    # "same" pads 4 -> 5 after only: windows at rows/columns 0..2 and 2..4
    np.testing.assert_array_equal(MaxPool2D(3, 2, "same").forward(x)[0, 0], [[-1, -3], [-9, -11]])


def test_avg_pool_same_divides_by_the_real_values_at_the_border():
    x = np.arange(9, dtype=np.float64).reshape(1, 1, 3, 3)
    layer = AvgPool2D(3, stride=1, padding="same")  # 3x3 out, one ring of padding
    out = layer.forward(x)[0, 0]
    assert out[0, 0] == (0 + 1 + 3 + 4) / 4   # corner: 4 real values
    assert out[0, 1] == (0 + 1 + 2 + 3 + 4 + 5) / 6   # edge: 6
    assert out[1, 1] == 36 / 9   # centre: all 9
    np.testing.assert_array_equal(AvgPool2D(3, 1, "same").forward(np.ones((1, 1, 3, 3))), 1)
    dout = np.zeros((1, 1, 3, 3))
    dout[0, 0, 0, 0] = 1  # the corner window shares it among its 4 real values
    dx = layer.backward(dout)
    np.testing.assert_array_equal(dx[0, 0], [[0.25, 0.25, 0], [0.25, 0.25, 0], [0, 0, 0]])


def test_paper_shapes_and_dtypes():
    x = np.random.default_rng(0).standard_normal((2, 4, 24, 24)).astype(np.float32)
    for layer in (MaxPool2D(3, 2, "same"), AvgPool2D(3, 2, "same")):
        out = layer.forward(x)
        assert out.shape == (2, 4, 12, 12) and out.dtype == np.float32
        assert layer.forward(out).shape == (2, 4, 6, 6)
        assert layer.backward(np.ones((2, 4, 6, 6), np.float32)).dtype == np.float32
    assert MaxPool2D(2).forward(np.zeros((1, 1, 5, 5))).shape == (1, 1, 2, 2)  # stride = kernel


# ------------------------------------------------------------------ Numba kernels == NumPy references

@given(case=pool_cases(), dtype=float_dtypes, ties=st.booleans())
@with_examples(POOL_DEGENERATE, dtype=np.float64, ties=False)
def test_kernels_equal_references(case, dtype, ties):
    N, C, H, W, _, _, _, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    if ties:  # few distinct values: both must pick the same first-in-row-major winner
        x = np.round(x)
    kh, kw, sh, sw, top, left, oh, ow = geometry(case)
    out, argmax = kernels.max_pool_forward(x, kh, kw, sh, sw, top, left, oh, ow)
    out_ref, argmax_ref = kernels.max_pool_forward_reference(x, kh, kw, sh, sw, top, left, oh, ow)
    np.testing.assert_array_equal(out, out_ref)
    np.testing.assert_array_equal(argmax, argmax_ref)
    dout = rng.standard_normal(out.shape).astype(dtype)
    # the same additions in the same order: the same bits (the kernel zeroes each plane itself)
    np.testing.assert_array_equal(kernels.max_pool_backward(dout, argmax, H, W),
                                  kernels.max_pool_backward_reference(dout, argmax, H, W))

    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(kernels.avg_pool_forward(x, kh, kw, sh, sw, top, left, oh, ow),
                               kernels.avg_pool_forward_reference(x, kh, kw, sh, sw, top, left, oh, ow),
                               rtol=tol, atol=tol)
    np.testing.assert_allclose(kernels.avg_pool_backward(dout, H, W, kh, kw, sh, sw, top, left),
                               kernels.avg_pool_backward_reference(dout, H, W, kh, kw, sh, sw, top, left),
                               rtol=tol, atol=tol)


@pytest.mark.parametrize("H, W, stride, padding", [(24, 24, 2, "same"), (12, 12, 2, "same"), (7, 5, 1, 1),
                                                   (6, 9, 3, 0), (3, 3, 1, 0)])
def test_3x3_windows_take_the_same_winners_as_the_reference(H, W, stride, padding):
    # the kernel scans whole 3 x 3 windows with constant bounds (the paper's pools), others in general:
    # whole numbers full of ties check that both keep the first in row-major order
    x = np.random.default_rng(H * W + stride).integers(-2, 3, size=(2, 3, H, W)).astype(np.float32)
    kh, kw, sh, sw, top, left, oh, ow = geometry((2, 3, H, W, (3, 3), stride, padding, 0))
    out, argmax = kernels.max_pool_forward(x, kh, kw, sh, sw, top, left, oh, ow)
    out_ref, argmax_ref = kernels.max_pool_forward_reference(x, kh, kw, sh, sw, top, left, oh, ow)
    np.testing.assert_array_equal(out, out_ref)
    np.testing.assert_array_equal(argmax, argmax_ref)


def test_max_pool_backward_kernel_zeroes_dx_itself():
    # max_pool_backward hands its kernel an uninitialised dx: pixels that win no window (stride 3,
    # kernel 2 leaves gaps) must come out 0 whatever memory held before, here NaN
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 7))
    out, argmax = kernels.max_pool_forward(x, 2, 2, 3, 3, 0, 0, 2, 2)
    dout = np.ones_like(out)
    dx = np.full((2, 3, 49), np.nan)
    kernels._max_pool_backward(dout, argmax, dx)
    expected = kernels.max_pool_backward_reference(dout, argmax, 7, 7)
    np.testing.assert_array_equal(dx.reshape(x.shape), expected)


# ------------------------------------------------------------------ gradients

@given(case=pool_cases(), Pool=st.sampled_from([MaxPool2D, AvgPool2D]))
@with_examples(POOL_DEGENERATE, Pool=MaxPool2D)
@with_examples(POOL_DEGENERATE, Pool=AvgPool2D)
def test_gradients_match_finite_differences(case, Pool):
    N, C, H, W, kernel, stride, padding, seed = case
    layer = Pool(kernel, stride, padding)
    x = distinct_values((N, C, H, W), seed)
    errors = layer_gradient_errors(layer, x, rng=np.random.default_rng(seed))
    assert errors["x"] < 1e-6, errors


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("Pool", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize("x, wanted", [
    (np.zeros((3, 8, 8)), r"got an array of shape \(3, 8, 8\), wanted \(N, C, H, W\)"),
    (np.full((2, 3, 8, 8), np.inf), r"input of shape \(2, 3, 8, 8\) contains NaN or infinity"),
    (np.zeros((2, 3, 8, 8), np.int64), r"got dtype int64, wanted float32 or float64"),
    (np.zeros((2, 3, 3, 8)), r"input of shape \(2, 3, 3, 8\): kernel 4 is larger than the padded input"),
])
def test_bad_input_is_refused_with_a_sentence(Pool, x, wanted):
    layer = Pool(4, 2, padding=0)
    with pytest.raises(ValueError, match=rf"{Pool.__name__}\(kernel_size=4, stride=2, padding=0\)") as info:
        layer.forward(x)
    assert info.match(wanted)


@pytest.mark.parametrize("Pool", [MaxPool2D, AvgPool2D])
def test_padding_that_could_fill_a_window_is_refused(Pool):
    with pytest.raises(ValueError, match=r"padding must be 'same' or an int from 0 to one less than"):
        Pool(2, padding=2)
    with pytest.raises(ValueError, match="padding must be"):
        Pool(2, padding="valid")
    with pytest.raises(ValueError, match="kernel_size must be a positive int"):
        Pool(0)


@pytest.mark.parametrize("Pool", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize("dout_shape", [(5, 3, 4, 4), (2, 3, 5, 5), (2, 3, 4)])
def test_backward_refuses_a_dout_unlike_the_output(Pool, dout_shape):
    # the max-pool kernel indexes dx by argmax, so a larger dout would write out of bounds;
    # the average pool would return a gradient for another batch
    layer = Pool(3, 2, "same")
    layer.forward(np.zeros((2, 3, 8, 8)))
    with pytest.raises(ValueError, match=rf"{Pool.__name__}\(kernel_size=3.*dout of shape "
                                         rf"{re.escape(str(dout_shape))}, wanted \(2, 3, 4, 4\)"):
        layer.backward(np.ones(dout_shape))
