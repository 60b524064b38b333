"""Tests of scratchnet/layers/penalties.py: L2 and L1 weight penalties."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import away_from_zero, param_dicts

from scratchnet.gradcheck import numerical_gradient, relative_error
from scratchnet.layers.penalties import l1_penalty, l2_penalty


@pytest.mark.parametrize("penalty", [l2_penalty, l1_penalty])
@given(params=param_dicts(away_from_zero), strength=st.floats(1e-3, 10))
def test_gradients_match_finite_differences(penalty, params, strength):
    _, grads = penalty(params, strength)
    assert set(grads) == set(params)
    for name, w in params.items():
        numeric = numerical_gradient(lambda: penalty(params, strength)[0], w)
        assert relative_error(grads[name], numeric) < 1e-6


def test_hand_worked_values():
    params = {"W": np.array([3.0, -4.0]), "b": np.array([[0.0, 1.0]])}
    value, grads = l2_penalty(params, 0.1)
    assert value == pytest.approx(0.1 / 2 * (9 + 16 + 0 + 1))  # 1.3: biases are included
    np.testing.assert_allclose(grads["W"], [0.3, -0.4])
    np.testing.assert_allclose(grads["b"], [[0.0, 0.1]])
    value, grads = l1_penalty(params, 0.1)
    assert value == pytest.approx(0.1 * (3 + 4 + 0 + 1))  # 0.8
    np.testing.assert_allclose(grads["W"], [0.1, -0.1])
    np.testing.assert_array_equal(grads["b"], [[0.0, 0.1]])  # sign(0) = 0


@pytest.mark.parametrize("penalty", [l2_penalty, l1_penalty])
def test_gradients_keep_dtype_and_shape_and_empty_is_zero(penalty):
    params = {"W": np.ones((2, 3), dtype=np.float32)}
    _, grads = penalty(params, 0.5)
    assert grads["W"].dtype == np.float32 and grads["W"].shape == (2, 3)
    assert penalty({}, 0.5) == (0.0, {})


@pytest.mark.parametrize("penalty", [l2_penalty, l1_penalty])
@pytest.mark.parametrize("strength", [-0.1, np.nan])
def test_bad_strength(penalty, strength):
    with pytest.raises(ValueError, match=rf"{penalty.__name__}: strength must be a number >= 0"):
        penalty({"W": np.ones(2)}, strength)
