"""Tests of scratchnet/gradcheck.py itself: the checker must be right before it judges layers."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import float64_arrays

from scratchnet.gradcheck import layer_gradient_errors, numerical_gradient, relative_error


@given(float64_arrays(elements=st.floats(-3, 3)))
def test_numerical_gradient_of_known_functions(x):
    # d/dx sum(x^2) = 2x;  d/dx sum(sin x) = cos x;  d/dx sum(x^3) = 3x^2. The estimate is off
    # by h^2 f'''/6 (truncation) plus about eps |f| / h (rounding): under 1e-6 here.
    np.testing.assert_allclose(numerical_gradient(lambda: np.sum(x ** 2), x), 2 * x, atol=1e-6)
    np.testing.assert_allclose(numerical_gradient(lambda: np.sum(np.sin(x)), x), np.cos(x), atol=1e-6)
    np.testing.assert_allclose(numerical_gradient(lambda: np.sum(x ** 3), x), 3 * x ** 2, atol=1e-6)


def test_central_difference_error_is_h_squared():
    # For x^3 at 0: ((h)^3 - (-h)^3) / (2h) = h^2 exactly, where the derivative is 0.
    x = np.zeros(1)
    assert numerical_gradient(lambda: float(x[0] ** 3), x, h=1e-3)[0] == pytest.approx(1e-6, rel=1e-9)


def test_numerical_gradient_restores_x_and_refuses_float32():
    x = np.array([0.1, 0.2, 0.3])
    before = x.copy()
    numerical_gradient(lambda: np.prod(x), x)
    np.testing.assert_array_equal(x, before)
    with pytest.raises(ValueError, match="numerical_gradient: got dtype float32, wanted float64"):
        numerical_gradient(lambda: 0.0, x.astype(np.float32))


def test_relative_error_definition():
    # max|a - n| / max(max|a| + max|n|, 1e-12)
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_error([1.0, 2.0], [1.0, 2.2]) == pytest.approx(0.2 / (2.0 + 2.2))
    assert relative_error([1.0], [-1.0]) == 1.0  # opposite signs: the worst there is
    assert relative_error([1e-8, 0.0], [0.0, 0.0]) == 1.0  # scale-free: tiny but all wrong
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0  # no division by zero
    assert relative_error([1e-13], [0.0]) == pytest.approx(0.1)  # the 1e-12 floor
    assert relative_error(np.zeros((0, 2)), np.zeros((0, 2))) == 0.0
    with pytest.raises(ValueError, match=r"relative_error: shapes differ, \(2,\) vs \(3,\)"):
        relative_error(np.zeros(2), np.zeros(3))


class Scale:
    """y = x * w with one parameter w; ``wrong`` selects a deliberately broken backward."""

    def __init__(self, w, wrong=None):
        self.params = {"w": w}
        self.grads = {"w": np.zeros_like(w)}
        self.wrong = wrong

    def forward(self, x):
        self.x = x.copy()
        return x * self.params["w"]

    def backward(self, dout):
        self.grads["w"][...] = dout * self.x * (2 if self.wrong == "w" else 1)
        return dout * self.params["w"] * (-1 if self.wrong == "x" else 1)


@pytest.mark.parametrize("wrong", [None, "x", "w"])
def test_layer_gradient_errors_catches_a_wrong_backward(wrong):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    errors = layer_gradient_errors(Scale(w, wrong), x)
    assert set(errors) == {"x", "w"}
    for name, error in errors.items():
        if name == wrong:
            assert error > 0.1
        else:
            assert error < 1e-9
