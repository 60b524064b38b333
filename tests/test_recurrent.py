"""Tests of scratchnet/layers/recurrent.py: LSTM, GRU, RNN and their single steps.

What every layer must do (grads in place, dtypes, float32 near float64, refusals) is tested
for these with all the others in test_layer_contract.py.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import recurrent_layer, seeds, sequences

from scratchnet.gradcheck import layer_gradient_errors, numerical_gradient, relative_error
from scratchnet.layers.dense import Linear
from scratchnet.layers.losses import softmax_cross_entropy
from scratchnet.layers.recurrent import (
    GRU,
    LSTM,
    RNN,
    gru_step_backward,
    gru_step_forward,
    lstm_step_backward,
    lstm_step_forward,
    rnn_step_backward,
    rnn_step_forward,
    sigmoid,
)

LAYERS = [LSTM, GRU, RNN]
BLOCKS = {LSTM: 4, GRU: 3, RNN: 1}


# ---- gradients -----------------------------------------------------------------------------

@pytest.mark.parametrize("cls", LAYERS)
@given(case=sequences(), return_sequences=st.booleans())
def test_layer_gradients_match_finite_differences(cls, case, return_sequences):
    x, H, seed = case
    errors = layer_gradient_errors(recurrent_layer(cls, x.shape[2], H, seed, return_sequences), x)
    assert max(errors.values()) < 1e-6, errors


def step_case(draw, blocks):
    N, D, H = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(seeds))
    x, h_prev, c_prev, dh, dc = (rng.standard_normal(shape) for shape in [(N, D)] + [(N, H)] * 4)
    W = rng.uniform(-1, 1, (blocks * H, H + D))
    b = rng.uniform(-1, 1, blocks * H)
    return x, h_prev, c_prev, W, b, dh, dc


def assert_gradients(objective, analytic, arrays):
    for name, array in arrays.items():
        error = relative_error(analytic[name], numerical_gradient(objective, array))
        assert error < 1e-6, (name, error)


@given(st.data())
def test_lstm_step_gradients(data):
    x, h_prev, c_prev, W, b, dh, dc = step_case(data.draw, 4)
    h, c, cache = lstm_step_forward(x, h_prev, c_prev, W, b)
    dx, dh_prev, dc_prev, dW, db = lstm_step_backward(dh, dc, cache)

    def objective():  # its gradient with respect to (h, c) is exactly (dh, dc)
        h, c, _ = lstm_step_forward(x, h_prev, c_prev, W, b)
        return np.sum(h * dh) + np.sum(c * dc)

    assert_gradients(objective, dict(x=dx, h_prev=dh_prev, c_prev=dc_prev, W=dW, b=db),
                     dict(x=x, h_prev=h_prev, c_prev=c_prev, W=W, b=b))


@pytest.mark.parametrize("blocks, step_forward, step_backward",
                         [(3, gru_step_forward, gru_step_backward), (1, rnn_step_forward, rnn_step_backward)])
@given(data=st.data())
def test_gru_and_rnn_step_gradients(blocks, step_forward, step_backward, data):
    x, h_prev, _, W, b, dh, _ = step_case(data.draw, blocks)
    h, cache = step_forward(x, h_prev, W, b)
    dx, dh_prev, dW, db = step_backward(dh, cache)

    def objective():
        return np.sum(step_forward(x, h_prev, W, b)[0] * dh)

    assert_gradients(objective, dict(x=dx, h_prev=dh_prev, W=dW, b=db), dict(x=x, h_prev=h_prev, W=W, b=b))


# ---- the equations, written out gate by gate -------------------------------------------------

def logistic(a):
    return 1 / (1 + np.exp(-a))


def lstm_by_the_paper(x, W, b):
    """Equations (1)-(6) one sample at a time, with W cut into W_f, W_i, W_c, W_o."""
    H = W.shape[0] // 4
    W_f, W_i, W_c, W_o = np.split(W, 4)
    b_f, b_i, b_c, b_o = np.split(b, 4)
    out = []
    for sequence in x:
        h, C = np.zeros(H), np.zeros(H)
        for x_t in sequence:
            hx = np.concatenate([h, x_t])
            f = logistic(W_f @ hx + b_f)                 # (1)
            i = logistic(W_i @ hx + b_i)                 # (2)
            C_tilde = np.tanh(W_c @ hx + b_c)            # (3)
            C = f * C + i * C_tilde                      # (4)
            o = logistic(W_o @ hx + b_o)                 # (5)
            h = o * np.tanh(C)                           # (6)
            out.append(h)
    return np.array(out).reshape(x.shape[0], x.shape[1], H)


def gru_by_chung(x, W, b):
    H = W.shape[0] // 3
    W_z, W_r, W_n = np.split(W, 3)
    b_z, b_r, b_n = np.split(b, 3)
    out = []
    for sequence in x:
        h = np.zeros(H)
        for x_t in sequence:
            z = logistic(W_z @ np.concatenate([h, x_t]) + b_z)
            r = logistic(W_r @ np.concatenate([h, x_t]) + b_r)
            n = np.tanh(W_n @ np.concatenate([r * h, x_t]) + b_n)
            h = (1 - z) * h + z * n
            out.append(h)
    return np.array(out).reshape(x.shape[0], x.shape[1], H)


def rnn_by_elman(x, W, b):
    out = []
    for sequence in x:
        h = np.zeros(W.shape[0])
        for x_t in sequence:
            h = np.tanh(W @ np.concatenate([h, x_t]) + b)
            out.append(h)
    return np.array(out).reshape(x.shape[0], x.shape[1], W.shape[0])


@pytest.mark.parametrize("cls, reference", [(LSTM, lstm_by_the_paper), (GRU, gru_by_chung),
                                            (RNN, rnn_by_elman)])
@given(case=sequences())
def test_forward_is_the_equations_gate_by_gate(cls, reference, case):
    x, H, seed = case
    layer = recurrent_layer(cls, x.shape[2], H, seed, return_sequences=True)
    hs = layer.forward(x)
    np.testing.assert_allclose(hs, reference(x, layer.params["W"], layer.params["b"]), rtol=1e-12, atol=1e-14)
    layer.return_sequences = False
    np.testing.assert_array_equal(layer.forward(x), hs[:, -1])


# ---- float32 grads from a float64 dout, the sigmoid, initialisation ------------------------

def test_float64_dout_still_gives_float32_grads():
    layer = GRU(3, 2, rng=np.random.default_rng(0))
    layer.forward(np.ones((2, 4, 3), np.float32))
    dx = layer.backward(np.ones((2, 2)))  # float64, as a hand-written loss might give
    assert dx.dtype == layer.grads["W"].dtype == layer.grads["b"].dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_and_exact(dtype):
    a = np.array([-1e30, -1e4, -100, -5, 0, 5, 100, 1e4, 1e30], dtype=dtype)
    with np.errstate(all="raise"):  # an overflow in exp would raise here
        s = sigmoid(a)
    assert s.dtype == dtype and np.all((s >= 0) & (s <= 1)) and s[4] == 0.5
    np.testing.assert_allclose(s[3:6], logistic(a[3:6].astype(np.float64)), rtol=1e-6)
    np.testing.assert_array_equal(s[[0, 1, 7, 8]], [0, 0, 1, 1])


@pytest.mark.parametrize("cls", LAYERS)
def test_initialisation(cls):
    D, H = 5, 7
    layer = cls(D, H, rng=np.random.default_rng(3))
    W, b = layer.params["W"], layer.params["b"]
    assert W.shape == (BLOCKS[cls] * H, H + D) and b.shape == (BLOCKS[cls] * H,)
    assert W.dtype == b.dtype == np.float32
    assert np.abs(W).max() <= np.sqrt(6 / (H + D + H)) and W.std() > 0.5 * np.sqrt(2 / (H + D + H))
    expected_b = np.zeros(BLOCKS[cls] * H)
    if cls is LSTM:
        expected_b[:H] = 1.0  # the forget block
    np.testing.assert_array_equal(b, expected_b)
    np.testing.assert_array_equal(cls(D, H, rng=np.random.default_rng(3)).params["W"], W)
    assert cls(D, H).params["W"].shape == W.shape  # rng=None draws a fresh generator
    assert {k: g.shape for k, g in layer.grads.items()} == {k: p.shape for k, p in layer.params.items()}


def test_forget_bias_is_settable():
    np.testing.assert_array_equal(LSTM(2, 3, forget_bias=0.25).params["b"], [0.25] * 3 + [0.0] * 9)


# ---- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("x, got", [
    (np.zeros((2, 5), np.float32), r"\(2, 5\)"),             # one sequence step, no time axis
    (np.zeros((2, 3, 5, 1), np.float32), r"\(2, 3, 5, 1\)"),
    (np.zeros((2, 3, 4), np.float32), r"\(2, 3, 4\)"),        # 4 features, the layer takes 5
    (np.zeros((2, 0, 5), np.float32), r"\(2, 0, 5\)"),        # no time steps
    (np.zeros((2, 3, 5), np.float64), "float64"),             # the layer is float32
])
def test_bad_input_is_refused_with_a_clear_message(cls, x, got):
    layer = cls(5, 4)
    with pytest.raises(ValueError, match=rf"{cls.__name__}\(5->4\).*{got}.*wanted.*\(N, T, 5\)|"
                                         rf"{cls.__name__}\(5->4\).*{got}.*wanted float32"):
        layer.forward(x)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_infinity_are_refused(bad):
    x = np.zeros((2, 3, 5), np.float32)
    x[1, 2, 0] = bad
    with pytest.raises(ValueError, match=r"LSTM\(5->4\).*\(2, 3, 5\).*NaN or infinity"):
        LSTM(5, 4).forward(x)


def test_backward_refuses_a_dout_of_the_wrong_shape():
    layer = LSTM(2, 3, return_sequences=True)
    layer.forward(np.zeros((4, 5, 2), np.float32))
    with pytest.raises(ValueError, match=r"LSTM\(2->3\).*\(4, 3\), wanted \(4, 5, 3\)"):
        layer.backward(np.zeros((4, 3), np.float32))


# ---- memory --------------------------------------------------------------------------------

def first_step_task(rng, n, T=10):
    """The label is the sign of the first step (+1 or -1); the other T - 1 steps are noise."""
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, T, 1))
    x[:, 0, 0] = 2 * y - 1
    return x.astype(np.float32), y


def train_and_score(layers, inputs, steps=400, lr=0.3, clip=1.0):
    """SGD with momentum 0.9 on batches of 32, gradients clipped to norm 1; accuracy on 1000 new sequences."""
    rng = np.random.default_rng(0)
    velocity = [{k: np.zeros_like(p) for k, p in layer.params.items()} for layer in layers]
    for _ in range(steps):
        x, y = first_step_task(rng, 32)
        out = inputs(x)
        for layer in layers:
            out = layer.forward(out)
        _, dout = softmax_cross_entropy(out, y)
        for layer in reversed(layers):
            dout = layer.backward(dout)
        norm = np.sqrt(sum(np.sum(g**2) for layer in layers for g in layer.grads.values()))
        for layer, v in zip(layers, velocity):
            for k in layer.params:
                v[k] = 0.9 * v[k] + min(1, clip / norm) * layer.grads[k]
                layer.params[k] -= lr * v[k]
    x, y = first_step_task(rng, 1000)
    out = inputs(x)
    for layer in layers:
        out = layer.forward(out)
    return np.mean(out.argmax(axis=1) == y)


def test_lstm_remembers_the_first_step_where_the_last_step_alone_is_at_chance():
    rng = np.random.default_rng(1)
    lstm_accuracy = train_and_score([LSTM(1, 16, rng=rng), Linear(16, 2, rng=rng)], lambda x: x)
    last_step_accuracy = train_and_score([Linear(1, 2, rng=rng)], lambda x: x[:, -1])
    assert lstm_accuracy > 0.95, lstm_accuracy
    assert 0.4 < last_step_accuracy < 0.6, last_step_accuracy


# ---- the LSTM's whole-sequence implementation against its step functions -------------------

