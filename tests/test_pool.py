"""MaxPool2D and AvgPool2D: known windows, the tie rule, padding, kernels, gradients, bad input."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from scratchnet.gradcheck import layer_gradient_errors
from scratchnet.kernels import pool as kernels
from scratchnet.layers.pool import AvgPool2D, MaxPool2D


@st.composite
def pool_cases(draw):
    """(N, C, H, W, (kh, kw), stride, padding, seed): legal for both pools, stride > kernel too."""
    N, C = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    padding = draw(st.sampled_from([0, 1, "same"]))
    pad = 2 if padding == "same" else padding
    smallest = 1 if padding == "same" else padding + 1  # a window must hold a real value
    kh, kw = draw(st.integers(smallest, H + 2 * pad)), draw(st.integers(smallest, W + 2 * pad))
    stride = draw(st.one_of(st.none(), st.integers(1, 4)))
    return N, C, H, W, (kh, kw), stride, padding, draw(st.integers(0, 2**32 - 1))


DEGENERATE = [
    (1, 2, 4, 4, (1, 1), None, 0, 0),       # 1x1 window: the identity
    (2, 1, 3, 5, (3, 5), None, 0, 1),       # window == input: one global pool
    (1, 2, 7, 7, (2, 2), 3, 0, 2),          # stride > kernel: rows and columns skipped
    (1, 1, 2, 3, (5, 4), 2, "same", 3),     # "same" with a window larger than the input
    (2, 3, 6, 5, (3, 3), 2, "same", 4),     # the paper's 3x3/2 "same", odd and even sizes
]


def with_degenerate_examples(**others):
    """Always run the degenerate cases too (with ``others`` for the test's other arguments)."""
    def decorate(test):
        for case in DEGENERATE:
            test = example(case=case, **others)(test)
        return test
    return decorate


def distinct_values(shape, seed, dtype=np.float64):
    """Every value different (a shuffled ramp), so each window has one clear maximum that a
    finite-difference step of 1e-6 cannot overtake."""
    size = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(size) / max(size, 1) - 0.5).reshape(shape).astype(dtype)


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

@given(case=pool_cases(), dtype=st.sampled_from([np.float32, np.float64]), ties=st.booleans())
@with_degenerate_examples(dtype=np.float64, ties=False)
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
    np.testing.assert_allclose(kernels.max_pool_backward(dout, argmax, H, W),
                               kernels.max_pool_backward_reference(dout, argmax, H, W), rtol=1e-6, atol=1e-6)

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


# ------------------------------------------------------------------ gradients

@given(case=pool_cases(), Pool=st.sampled_from([MaxPool2D, AvgPool2D]))
@with_degenerate_examples(Pool=MaxPool2D)
@with_degenerate_examples(Pool=AvgPool2D)
def test_gradients_match_finite_differences(case, Pool):
    N, C, H, W, kernel, stride, padding, seed = case
    layer = Pool(kernel, stride, padding)
    x = distinct_values((N, C, H, W), seed)
    errors = layer_gradient_errors(layer, x, rng=np.random.default_rng(seed))
    assert errors["x"] < 1e-6, errors


def test_float32_close_to_float64():
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 9))
    for Pool in (MaxPool2D, AvgPool2D):
        out64 = Pool(3, 2, "same").forward(x)
        out32 = Pool(3, 2, "same").forward(x.astype(np.float32))
        assert out32.dtype == np.float32
        np.testing.assert_allclose(out32, out64, rtol=1e-6, atol=1e-6)


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


def test_kernels_run_side_by_side_on_two_threads():
    # the kernels release the GIL (nogil=True) so that scratchnet.parallel can run shards at once
    case = (5, 3, 9, 8, (3, 3), 2, "same", 0)
    kh, kw, sh, sw, top, left, oh, ow = geometry(case)
    window = (kh, kw, sh, sw, top, left)
    inputs = [np.round(np.random.default_rng(seed).standard_normal((5, 3, 9, 8)) * 2) for seed in (0, 1)]  # ties

    def all_four(x):
        out, argmax = kernels.max_pool_forward(x, *window, oh, ow)
        return (out, argmax, kernels.max_pool_backward(out, argmax, 9, 8),
                kernels.avg_pool_forward(x, *window, oh, ow), kernels.avg_pool_backward(out, 9, 8, *window))

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(all_four, inputs * 4))
    for x, (out, argmax, dx_max, avg, dx_avg) in zip(inputs * 4, results):
        out_ref, argmax_ref = kernels.max_pool_forward_reference(x, *window, oh, ow)
        np.testing.assert_array_equal(out, out_ref)
        np.testing.assert_array_equal(argmax, argmax_ref)
        np.testing.assert_array_equal(dx_max, kernels.max_pool_backward_reference(out, argmax, 9, 8))
        np.testing.assert_allclose(avg, kernels.avg_pool_forward_reference(x, *window, oh, ow), rtol=1e-12)
        np.testing.assert_allclose(dx_avg, kernels.avg_pool_backward_reference(out, 9, 8, *window), rtol=1e-12)