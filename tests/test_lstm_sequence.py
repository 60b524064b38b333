"""scratchnet.layers.lstm_sequence and scratchnet.kernels.lstm: the LSTM over whole sequences, held
to the loop over its step functions, and its Numba pass held to its NumPy reference."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import recurrent_layer, sequences

from scratchnet.kernels.lstm import gate_gradients, gate_gradients_reference
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


def test_lstm_backward_fills_the_same_grads_arrays():
    layer = recurrent_layer(LSTM, 2, 3, seed=6)
    grads = dict(layer.grads)
    layer.forward(np.random.default_rng(7).standard_normal((2, 4, 2)))
    layer.backward(np.ones((2, 3)))
    # the same arrays, overwritten: whoever holds them sees the new step's gradient
    assert all(layer.grads[name] is grad for name, grad in grads.items())


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
    tolerance = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(da, da_ref, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(dc_prev, dc_prev_ref, rtol=tolerance, atol=tolerance)
