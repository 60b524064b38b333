"""Tests of scratchnet/layers/dense.py: Linear, ReLU, Flatten, Reshape.

What every layer must do (grads in place, dtypes, float32 near float64, refusals) is tested
for these with all the others in test_layer_contract.py.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import away_from_zero, float64_arrays, values

from scratchnet.gradcheck import layer_gradient_errors
from scratchnet.layers.dense import Flatten, Linear, ReLU, Reshape


@given(n=st.integers(1, 4), fan_in=st.integers(1, 6), fan_out=st.integers(1, 6), data=st.data())
def test_linear_gradients_match_finite_differences(n, fan_in, fan_out, data):
    layer = Linear(fan_in, fan_out, rng=np.random.default_rng(0), dtype=np.float64)
    # dW scales with x and dx with W: were they all tiny, rounding in the finite
    # differences (~1e-10) would swamp gradients of the same size; so keep them clear of 0.
    layer.params["W"][...] = data.draw(hnp.arrays(np.float64, (fan_in, fan_out), elements=away_from_zero))
    layer.params["b"][...] = data.draw(hnp.arrays(np.float64, (fan_out,), elements=values))
    x = data.draw(hnp.arrays(np.float64, (n, fan_in), elements=away_from_zero))
    errors = layer_gradient_errors(layer, x)
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) < 1e-6, errors


@given(float64_arrays(min_dims=1, max_dims=4, max_side=3, elements=away_from_zero))
def test_relu_gradients_match_finite_differences(x):
    assert layer_gradient_errors(ReLU(), x)["x"] < 1e-6


@given(float64_arrays(min_dims=2, max_dims=4, max_side=3))
def test_flatten_gradients_match_finite_differences(x):
    assert layer_gradient_errors(Flatten(), x)["x"] < 1e-6


@given(hnp.arrays(np.float64, st.sampled_from([(1, 4, 3), (2, 2, 6), (3, 12)]), elements=values))
def test_reshape_gradients_match_finite_differences(x):
    assert layer_gradient_errors(Reshape((2, 3, 2)), x)["x"] < 1e-6


def test_linear_hand_worked_example():
    # x = [1, 2], W = [[1, 0, -1], [2, 1, 0]], b = [0.5, 0, 0]:
    # y = [1*1 + 2*2 + 0.5, 1*0 + 2*1, 1*(-1) + 2*0] = [5.5, 2, -1]
    layer = Linear(2, 3, dtype=np.float64)
    layer.params["W"][...] = [[1, 0, -1], [2, 1, 0]]
    layer.params["b"][...] = [0.5, 0, 0]
    np.testing.assert_array_equal(layer.forward(np.array([[1.0, 2.0]])), [[5.5, 2.0, -1.0]])


def test_linear_init_is_he_normal_with_zero_bias():
    layer = Linear(512, 256, rng=np.random.default_rng(0))
    assert layer.params["W"].shape == (512, 256) and layer.params["b"].shape == (256,)
    assert layer.params["W"].dtype == layer.params["b"].dtype == np.float32
    np.testing.assert_allclose(layer.params["W"].std(), np.sqrt(2 / 512), rtol=0.02)
    assert abs(layer.params["W"].mean()) < 0.1 * np.sqrt(2 / 512)
    assert not layer.params["b"].any()


def test_linear_same_seed_same_weights():
    a = Linear(4, 3, rng=np.random.default_rng(7), dtype=np.float64)
    b = Linear(4, 3, rng=np.random.default_rng(7), dtype=np.float64)
    assert a.params["W"].dtype == np.float64
    np.testing.assert_array_equal(a.params["W"], b.params["W"])


def test_relu_values():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
    relu = ReLU()
    np.testing.assert_array_equal(relu.forward(x), [[0, 0, 0, 0.5, 2]])
    np.testing.assert_array_equal(relu.backward(np.full_like(x, 3.0)), [[0, 0, 0, 3, 3]])


def test_flatten_and_reshape_are_row_major_map_after_map():
    x = np.arange(2 * 64 * 6 * 6, dtype=np.float32).reshape(2, 64, 6, 6)
    assert Flatten().forward(x).shape == (2, 2304)
    out = Reshape((48, 48)).forward(x)
    assert out.shape == (2, 48, 48)
    # map 0's 36 values open row 0; map 1 ends row 0 (12 values) and opens row 1 (24 more)
    np.testing.assert_array_equal(out[1, 0, :36], x[1, 0].ravel())
    np.testing.assert_array_equal(out[1, 0, 36:], x[1, 1, :2].ravel())
    np.testing.assert_array_equal(out[1, 1, :24], x[1, 1, 2:].ravel())
    np.testing.assert_array_equal(out.reshape(-1), x.reshape(-1))


def test_bad_input_names_layer_and_shapes():
    layer = Linear(3, 4)
    with pytest.raises(ValueError, match=r"Linear\(3->4\).*\(2, 5\).*\(N, 3\)"):
        layer.forward(np.zeros((2, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"Linear\(3->4\).*\(2, 1, 3\).*\(N, 3\)"):
        layer.forward(np.zeros((2, 1, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"Linear\(3->4\).*float64.*float32"):
        layer.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"Linear.*dtype must be float32 or float64"):
        Linear(3, 4, dtype=np.int32)
    with pytest.raises(ValueError, match=r"Reshape\(\(48, 48\)\).*\(2, 64, 6, 5\).*2304 values"):
        Reshape((48, 48)).forward(np.zeros((2, 64, 6, 5)))
    with pytest.raises(ValueError, match=r"Flatten.*\(5,\).*\(N, d1, d2, \.\.\.\)"):
        Flatten().forward(np.zeros(5))
    with pytest.raises(ValueError, match=r"ReLU.*int64.*float32 or float64"):
        ReLU().forward(np.zeros(3, dtype=np.int64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flatten_and_reshape_of_an_empty_batch_are_empty(dtype):
    for layer, out_shape in [(Flatten(), (0, 36)), (Reshape((6, 6)), (0, 6, 6))]:
        out = layer.forward(np.zeros((0, 4, 3, 3), dtype))
        assert out.shape == out_shape and out.dtype == dtype
        assert layer.backward(np.zeros(out_shape, dtype)).shape == (0, 4, 3, 3)
