"""Tests of scratchnet/layers/lrn.py and its kernels in scratchnet/kernels/lrn.py.

What every layer must do (dtypes, float32 near float64, refusals) is tested for LRN with all
the others in test_layer_contract.py.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import lrn_cases

from scratchnet.gradcheck import layer_gradient_errors
from scratchnet.kernels.lrn import inverse_power, lrn_dx, lrn_forward, lrn_forward_reference
from scratchnet.layers.lrn import LocalResponseNorm, lrn_dx_reference


def formula_7(a, size, k, alpha, beta):
    """Formula (7) written out index by index, for comparison."""
    N, C, H, W = a.shape
    b = np.empty_like(a)
    for n, i, y, x in np.ndindex(a.shape):
        total = sum(a[n, j, y, x] ** 2 for j in range(max(0, i - size // 2), min(C - 1, i + size // 2) + 1))
        b[n, i, y, x] = a[n, i, y, x] / (k + alpha * total) ** beta
    return b


@settings(max_examples=30)
@given(case=lrn_cases())
def test_gradients_match_finite_differences(case):
    x, constants = case
    errors = layer_gradient_errors(LocalResponseNorm(**constants), x)
    assert errors["x"] < 1e-6, errors


@given(case=lrn_cases())
def test_forward_is_formula_7(case):
    x, constants = case
    out = LocalResponseNorm(**constants).forward(x)
    np.testing.assert_allclose(out, formula_7(x, **constants), rtol=1e-12)


def test_hand_worked_example():
    # One pixel, 4 channels a = [1, 2, 2, 1], size 3 (one neighbour each side), k = 1, alpha = 1, beta = 1:
    #   channel 0: window {0, 1}    s = 1 + (1 + 4)     = 6   b = 1 / 6
    #   channel 1: window {0, 1, 2} s = 1 + (1 + 4 + 4) = 10  b = 2 / 10
    #   channel 2: window {1, 2, 3} s = 1 + (4 + 4 + 1) = 10  b = 2 / 10
    #   channel 3: window {2, 3}    s = 1 + (4 + 1)     = 6   b = 1 / 6
    a = np.array([1.0, 2.0, 2.0, 1.0]).reshape(1, 4, 1, 1)
    b = LocalResponseNorm(size=3, k=1.0, alpha=1.0, beta=1.0).forward(a)
    np.testing.assert_allclose(b.ravel(), [1 / 6, 2 / 10, 2 / 10, 1 / 6], rtol=1e-15)


def test_hand_worked_example_with_default_constants():
    # a = [10, 0, 0] at one pixel, size 5, k = 2, alpha = 1e-4, beta = 0.75: every window
    # holds channel 0, so s = 2 + 1e-4 * 100 = 2.01 everywhere, b_0 = 10 / 2.01^0.75.
    a = np.array([10.0, 0.0, 0.0]).reshape(1, 3, 1, 1)
    b = LocalResponseNorm().forward(a)
    np.testing.assert_allclose(b.ravel(), [10 / 2.01 ** 0.75, 0, 0], rtol=1e-15)


@given(case=lrn_cases())
def test_alpha_zero_is_a_constant_scale(case):
    x, constants = case
    constants["alpha"] = 0.0
    out = LocalResponseNorm(**constants).forward(x)
    np.testing.assert_allclose(out, x * constants["k"] ** -constants["beta"], rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=10)
@given(data=st.data())
def test_kernels_match_references(dtype, data):
    # the forward against its reference beside it; the backward against the layer's plain
    # NumPy backward, scratchnet.layers.lrn.lrn_dx_reference
    x, c = data.draw(lrn_cases(dtype))
    x = x.reshape(x.shape[0], x.shape[1], -1)
    # no subnormal dout: one float32 step there is up to 2% of the value, no relative tolerance holds
    dout = data.draw(hnp.arrays(dtype, x.shape, elements=st.floats(-3, 3, width=32, allow_subnormal=False)))
    constants = (c["size"], c["k"], c["alpha"], c["beta"])
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    forward = lrn_forward(x, *constants)
    for got, expected in zip(forward, lrn_forward_reference(x, *constants)):
        assert got.dtype == expected.dtype == dtype
        np.testing.assert_allclose(got, expected, rtol=rtol)
    s, scale, _ = forward
    dx = lrn_dx(x, dout, s, scale, c["size"], c["alpha"], c["beta"])
    dx_ref = lrn_dx_reference(x, dout, s, scale, c["size"], c["alpha"], c["beta"])
    assert dx.dtype == dx_ref.dtype == dtype
    np.testing.assert_allclose(dx, dx_ref, rtol=rtol, atol=rtol * np.abs(dx_ref).max())
    # the drawn betas are almost never the paper's 0.75, the kernel's other branch: from its own
    # s, its scale and output must be inverse_power's and x * scale, bit for bit
    s, scale, out = lrn_forward(x, c["size"], c["k"], c["alpha"], 0.75)
    np.testing.assert_array_equal(scale, inverse_power(s, 0.75))
    np.testing.assert_array_equal(out, x * scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(data=st.data())
def test_three_quarters_power_by_square_roots_is_the_power(dtype, data):
    # s >= k > 0 in the layer; each of the two square roots and the division rounds once
    s = data.draw(hnp.arrays(dtype, st.integers(1, 50), elements=st.floats(0.5, 1e6, width=32)))
    for beta in (0.75, 0.6):
        scale = inverse_power(s, beta)
        assert scale.dtype == dtype
        exact = s.astype(np.float64) ** -beta if dtype == np.float32 else s ** -beta
        np.testing.assert_allclose(scale, exact, rtol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("size", [0, 2, 4, -1, 2.5])
def test_size_must_be_odd(size):
    with pytest.raises(ValueError, match=r"LocalResponseNorm.*size must be a positive odd integer"):
        LocalResponseNorm(size=size)


def test_bad_input_names_layer_and_shapes():
    layer = LocalResponseNorm(size=5)
    with pytest.raises(ValueError, match=r"LocalResponseNorm\(size=5\).*\(3, 4\).*\(N, C, H, W\)"):
        layer.forward(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"LocalResponseNorm\(size=5\).*int64.*float32 or float64"):
        layer.forward(np.zeros((1, 2, 3, 3), dtype=np.int64))
    layer.forward(np.ones((1, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"LocalResponseNorm\(size=5\).*\(1, 2, 3, 4\).*\(1, 2, 3, 3\)"):
        layer.backward(np.ones((1, 2, 3, 4)))


def test_an_empty_batch_gives_an_empty_result():
    layer = LocalResponseNorm()
    out = layer.forward(np.zeros((0, 4, 3, 3), np.float32))
    assert out.shape == (0, 4, 3, 3) and out.dtype == np.float32
    assert layer.backward(np.zeros((0, 4, 3, 3), np.float32)).shape == (0, 4, 3, 3)
