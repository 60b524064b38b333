"""scratchnet.layers.lstm_sequence and scratchnet.kernels.lstm: the LSTM over whole sequences, held
to the loop over its step functions, and its Numba kernels held to their NumPy references."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import recurrent_layer, sequences

from scratchnet.kernels.lstm import (
    exp_float32,
    exp_float32_reference,
    gate_activations,
    gate_activations_reference,
    gate_gradients,
    gate_gradients_reference,
    hidden_state,
    hidden_state_reference,
)
from scratchnet.layers.lstm_sequence import CHUNK
from scratchnet.layers.recurrent import (
    GRU,
    LSTM,
    RNN,
    _Recurrent,
)

LAYERS = [LSTM, GRU, RNN]
BLOCKS = {LSTM: 4, GRU: 3, RNN: 1}


@given(case=sequences(), return_sequences=st.booleans())
def test_lstm_layer_equals_the_loop_over_its_step_functions(case, return_sequences):
    # LSTM.forward/backward hold every step in one array and take dW, db, dx after the loop;
    # _Recurrent's loop calls lstm_step_forward/backward one step at a time: the reference
    x, H, seed = case
    layer = recurrent_layer(LSTM, x.shape[2], H, seed, return_sequences)
    out_shape = (*x.shape[:2], H) if return_sequences else (x.shape[0], H)
    dout = np.random.default_rng(seed).standard_normal(out_shape)
    out, dx = layer.forward(x), layer.backward(dout)
    grads = {name: grad.copy() for name, grad in layer.grads.items()}
    assert out.flags.c_contiguous and dx.flags.c_contiguous and dx.shape == x.shape
    _Recurrent.forward(layer, x)
    np.testing.assert_allclose(out, _Recurrent.forward(layer, x), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx, _Recurrent.backward(layer, dout), rtol=1e-12, atol=1e-14)
    for name, grad in grads.items():
        np.testing.assert_allclose(grad, layer.grads[name], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("N, T, D, H", [(128, 48, 48, 128), (64, 48, 48, 128),  # the paper's; 2-thread shard
                                        (8, 6, 64, 256), (4, 3, 384, 256)])      # the study's H and D
def test_lstm_float32_at_the_papers_and_the_studys_sizes_close_to_the_step_loop_in_float64(N, T, D, H):
    rng = np.random.default_rng(N + T + D + H)
    x, dout = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    exact, single = LSTM(D, H, rng=np.random.default_rng(0), dtype=np.float64), LSTM(D, H, rng=rng)
    exact.params["W"][...] = single.params["W"]
    expected = (_Recurrent.forward(exact, x), _Recurrent.backward(exact, dout), *exact.grads.values())
    got = (single.forward(x.astype(np.float32)), single.backward(dout.astype(np.float32)),
           *single.grads.values())
    for a, b in zip(got, expected):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * max(np.abs(b).max(), 1))


@pytest.mark.parametrize("T", [CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 3])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_lstm_backward_in_chunks_of_steps_equals_the_step_loop(T, return_sequences):
    # the backward takes dW, db and dx a chunk of steps at a time: sequences shorter than a
    # chunk, exactly one, and several with a remainder must all give the step loop's gradients
    rng = np.random.default_rng(T)
    x = rng.standard_normal((3, T, 2))
    layer = recurrent_layer(LSTM, 2, 4, T, return_sequences)
    dout = rng.standard_normal((3, T, 4) if return_sequences else (3, 4))
    layer.forward(x)
    dx = layer.backward(dout)
    grads = {name: grad.copy() for name, grad in layer.grads.items()}
    _Recurrent.forward(layer, x)
    np.testing.assert_allclose(dx, _Recurrent.backward(layer, dout), rtol=1e-12, atol=1e-14)
    for name, grad in grads.items():
        np.testing.assert_allclose(grad, layer.grads[name], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lstm_saturated_gates_reach_their_limits_without_warnings_or_nan(dtype):
    # pre-activations of +-1000: exp(-a) overflows to inf, which must give sigmoid 0 and tanh -1
    layer = LSTM(2, 3, return_sequences=True, dtype=dtype, rng=np.random.default_rng(0))
    layer.params["b"][:] = np.tile([1000.0, -1000.0, 1000.0], 4)
    x = np.ones((2, 4, 2), dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = layer.forward(x)
    np.testing.assert_allclose(out, _Recurrent.forward(layer, x), rtol=0, atol=1e-6)
    assert np.isfinite(out).all() and np.abs(out).max() > 0.5


def test_lstm_backward_fills_the_same_grads_arrays():
    layer = recurrent_layer(LSTM, 2, 3, seed=6)
    grads = dict(layer.grads)
    layer.forward(np.random.default_rng(7).standard_normal((2, 4, 2)))
    layer.backward(np.ones((2, 3)))
    # the same arrays, overwritten: whoever holds them sees the new step's gradient
    assert all(layer.grads[name] is grad for name, grad in grads.items())


# The kernels and their references do the same operations in the same order, in the arrays'
# dtype: the same bits. (A float32 kernel that slipped into float64, e.g. through a bare
# literal 1, would round differently.)

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(N=st.integers(1, 5), H=st.integers(1, 9), seed=st.integers(0, 2**32 - 1))
def test_gate_activations_kernel_equals_its_reference(dtype, N, H, seed):
    rng = np.random.default_rng(seed)
    with np.errstate(over="ignore"):
        e = np.exp(rng.uniform(-100, 100, (N, 4 * H))).astype(dtype)   # some inf: saturated gates
    c_prev = rng.standard_normal((N, H)).astype(dtype)
    results = []
    for kernel in (gate_activations, gate_activations_reference):
        out = tuple(np.full(shape, np.nan, dtype) for shape in ((N, 4 * H), (N, H), (N, H)))  # gates, c, m
        kernel(e, c_prev, *out)
        results.append(out)
    for got, expected in zip(*results):
        assert got.dtype == dtype and np.isfinite(got).all()
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(N=st.integers(1, 5), H=st.integers(1, 9), extra=st.integers(0, 3), seed=st.integers(0, 2**32 - 1))
def test_hidden_state_kernel_equals_its_reference(dtype, N, H, extra, seed):
    rng = np.random.default_rng(seed)
    with np.errstate(over="ignore"):
        m = np.exp(rng.uniform(-100, 100, (N, H))).astype(dtype)
    gates = rng.uniform(0, 1, (N, 4 * H)).astype(dtype)
    results = []
    for kernel in (hidden_state, hidden_state_reference):
        tanh_c, h = np.full((N, H), np.nan, dtype), np.full((N, H + extra), 7, dtype)  # h wider than H
        kernel(m, gates, tanh_c, h)
        results.append((tanh_c, h))
    (tanh_c, h), (tanh_c_ref, h_ref) = results
    assert tanh_c.dtype == h.dtype == dtype and (h[:, H:] == 7).all()   # only the first H columns
    np.testing.assert_array_equal(tanh_c, tanh_c_ref)
    np.testing.assert_array_equal(h, h_ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(N=st.integers(1, 5), H=st.integers(1, 9), seed=st.integers(0, 2**32 - 1))
def test_gate_gradients_kernel_equals_its_reference(dtype, N, H, seed):
    rng = np.random.default_rng(seed)
    dh, dc, c_prev = (rng.standard_normal((N, H)).astype(dtype) for _ in range(3))
    gates = rng.uniform(0, 1, (N, 4 * H)).astype(dtype)
    gates[:, 2 * H:3 * H] = 2 * gates[:, 2 * H:3 * H] - 1          # g = tanh(...) lies in (-1, 1)
    tanh_c = rng.uniform(-1, 1, (N, H)).astype(dtype)
    results = []
    for kernel in (gate_gradients, gate_gradients_reference):
        da, dc_out = np.full((N, 4 * H), np.nan, dtype), dc.copy()
        kernel(dh, dc_out, gates, c_prev, tanh_c, da)
        results.append((da, dc_out))
    (da, dc_prev), (da_ref, dc_prev_ref) = results
    assert da.dtype == dc_prev.dtype == dtype
    np.testing.assert_array_equal(da, da_ref)
    np.testing.assert_array_equal(dc_prev, dc_prev_ref)


@given(N=st.integers(1, 5), K=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_exp_float32_kernel_equals_its_reference(N, K, seed):
    x = np.random.default_rng(seed).uniform(-100, 100, (N, K)).astype(np.float32)
    x[0, 0] = np.nan
    got, expected = x.copy(), x.copy()
    exp_float32(got)
    with np.errstate(invalid="ignore"):        # the NaN's k, cast to an integer
        exp_float32_reference(expected)
    np.testing.assert_array_equal(got, expected)


def test_exp_float32_is_within_two_units_in_the_last_place_of_numpys_over_its_range():
    x = np.linspace(-87, 88, 2_000_001, dtype=np.float32)
    x = np.concatenate([x, np.float32([0, -0.0, 1e-30, -1e-30, 0.5, -0.34657359])]).reshape(1, -1)
    got = x.copy()
    exp_float32(got)
    expected = np.exp(x.astype(np.float64))
    ulps = np.abs(got - expected) / np.spacing(expected.astype(np.float32))
    assert ulps.max() <= 2, (ulps.max(), x[0, ulps.argmax()])


def test_exp_float32_stands_in_for_the_limits_and_keeps_nan():
    x = np.float32([[-np.inf, -1e4, -88, 89, 1e4, np.inf, np.nan]])
    exp_float32(x)
    assert (x[0, :3] <= np.exp(np.float32(-87))).all() and (x[0, :3] > 0).all()   # 0, as a normal float32
    assert (x[0, 3:6] > 1e38).all() and np.isfinite(x[0, 3:6]).all()  # inf's stand-in, finite
    assert np.isnan(x[0, 6])
