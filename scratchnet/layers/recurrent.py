"""Recurrent layers: the LSTM of the paper, and the GRU and plain RNN it is compared with.

Each layer reads a sequence ``x`` of shape (N, T, D) one step at a time, carrying a hidden
state h (and, for the LSTM, a cell state c) of H values from step to step. All three read
the concatenation [h_{t-1}, x_t] (hidden state first, then input) through one weight
matrix, so that a whole batch takes one matrix product per step for all gates.

LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000), in the
paper's equations (1)-(6). ``W`` (4H, H + D) stacks W_f, W_i, W_c, W_o in that order and
``b`` (4H,) stacks b_f, b_i, b_c, b_o; with a = [h_{t-1}, x_t] W^T + b split in four:

    f_t = sigmoid(a_f)                  (1)  forget gate
    i_t = sigmoid(a_i)                  (2)  input gate
    g_t = tanh(a_g)                     (3)  candidate, the paper's C~_t
    c_t = f_t * c_{t-1} + i_t * g_t     (4)  cell state
    o_t = sigmoid(a_o)                  (5)  output gate
    h_t = o_t * tanh(c_t)               (6)  hidden state

Two slips in the paper: equation (1) drops the sigmoid (f_t must lie in (0, 1), as its text
says), and equation (6) writes t_t for h_t. The forget block of ``b`` starts at
``forget_bias`` = 1, so f_t starts near sigmoid(1) = 0.73 and the cell remembers by default
(Gers et al. 2000; Jozefowicz et al. 2015).

GRU in the form of Chung et al. (2014). ``W`` (3H, H + D) stacks W_z, W_r, W_n; ``b`` (3H,):

    z_t = sigmoid(W_z [h_{t-1}, x_t] + b_z)          update gate
    r_t = sigmoid(W_r [h_{t-1}, x_t] + b_r)          reset gate
    n_t = tanh(W_n [r_t * h_{t-1}, x_t] + b_n)       candidate
    h_t = (1 - z_t) * h_{t-1} + z_t * n_t

Cho et al. (2014), who introduced the GRU, swap the roles of z and 1 - z; PyTorch and cuDNN
apply the reset gate after the product, r * (W_nh h + b_nh), instead of before it.

RNN (Elman 1990): h_t = tanh(W [h_{t-1}, x_t] + b), ``W`` (H, H + D), ``b`` (H,). Going
back one step multiplies its gradient by diag(1 - h_t^2) W_h, so over long sequences it
vanishes (or explodes); the LSTM's cell state passes it back multiplied by f_t alone.

Backpropagation through time runs the steps in reverse: step t receives dh_t from the
layer's output at t (with ``return_sequences``) plus from step t + 1, and passes dh_{t-1}
(and dc_{t-1}) back. W and b are shared by all steps, so their gradient is the sum over t.

Speed. GRU and RNN are a Python loop over time calling their step functions below, one
product per step for all gates. The LSTM, the paper's layer, runs the same equations in
``LSTM.forward`` and ``LSTM.backward`` through ``scratchnet.layers.lstm_sequence``, over
arrays that hold every step. In the forward a step is its product, one exp over all 4H
gate columns (sigmoid(a) = 1 / (1 + exp(-a)), tanh(a) = 2 sigmoid(2a) - 1), one over c_t, and
two Numba kernels (``scratchnet.kernels.lstm``) for the rest. The backward keeps in its loop
only what carries from step to step, dh_{t-1} = da_t W_h after one Numba kernel for the step's
elementwise gradients; dW, db and dx are one product per chunk of steps. Taking the input half
x_t W_x^T of the forward out of the loop saves nothing (the per-step products already run near
the GEMM peak, and it adds a pass). ``lstm_step_forward`` and
``lstm_step_backward`` stay as the reference that the tests hold the LSTM to (through
``_Recurrent``'s loop); benchmarks/README.md has the figures.

Initialisation: W is Glorot uniform with fan_in = H + D and fan_out = H (per gate), b = 0
apart from the LSTM's forget block.
"""

import numpy as np

from scratchnet.layers.base import Layer, check_dtype, check_finite, check_input, zeros_like_params
from scratchnet.layers.init import glorot_uniform
from scratchnet.layers.lstm_sequence import lstm_sequence_backward, lstm_sequence_forward


def sigmoid(a):
    """1 / (1 + exp(-a)), computed as (1 + tanh(a / 2)) / 2: the same function, and nothing overflows."""
    return 0.5 * (1 + np.tanh(0.5 * a))


def lstm_step_forward(x, h_prev, c_prev, W, b):
    """One LSTM step, equations (1)-(6) for a batch.

    x (N, D), h_prev (N, H), c_prev (N, H), W (4H, H + D), b (4H,) -> h (N, H), c (N, H), cache.
    """
    H = h_prev.shape[1]
    hx = np.concatenate([h_prev, x], axis=1)
    a = hx @ W.T + b                                  # all four gates in one product
    f = sigmoid(a[:, :H])                             # (1)
    i = sigmoid(a[:, H:2 * H])                        # (2)
    g = np.tanh(a[:, 2 * H:3 * H])                    # (3)
    o = sigmoid(a[:, 3 * H:])                         # (5)
    c = f * c_prev + i * g                            # (4)
    tanh_c = np.tanh(c)
    h = o * tanh_c                                    # (6)
    return h, c, (hx, W, c_prev, f, i, g, o, tanh_c)


def lstm_step_backward(dh, dc, cache):
    """Backward of one LSTM step: dh, dc (N, H) -> dx (N, D), dh_prev, dc_prev (N, H), dW, db.

    dc is the gradient reaching c_t from step t + 1; h_t adds its own through tanh(c_t).
    sigmoid' = s (1 - s) and tanh' = 1 - tanh^2, both from the saved activations.
    """
    hx, W, c_prev, f, i, g, o, tanh_c = cache
    H = dh.shape[1]
    do = dh * tanh_c                                  # (6)
    dc = dc + dh * o * (1 - tanh_c**2)                # (6), through tanh(c_t)
    df, di, dg, dc_prev = dc * c_prev, dc * g, dc * i, dc * f   # (4)
    da = np.concatenate([df * f * (1 - f),            # (1)
                         di * i * (1 - i),            # (2)
                         dg * (1 - g**2),             # (3)
                         do * o * (1 - o)], axis=1)   # (5)
    dhx = da @ W
    return dhx[:, H:], dhx[:, :H], dc_prev, da.T @ hx, da.sum(axis=0)


def gru_step_forward(x, h_prev, W, b):
    """One GRU step (Chung et al. 2014 form).

    x (N, D), h_prev (N, H), W (3H, H + D), b (3H,) -> h (N, H), cache.
    """
    H = h_prev.shape[1]
    hx = np.concatenate([h_prev, x], axis=1)
    zr = sigmoid(hx @ W[:2 * H].T + b[:2 * H])        # update and reset gates in one product
    z, r = zr[:, :H], zr[:, H:]
    rhx = np.concatenate([r * h_prev, x], axis=1)     # r decides how much of h the candidate sees
    n = np.tanh(rhx @ W[2 * H:].T + b[2 * H:])
    h = (1 - z) * h_prev + z * n
    return h, (hx, rhx, W, z, r, n)


def gru_step_backward(dh, cache):
    """Backward of one GRU step: dh (N, H) -> dx (N, D), dh_prev (N, H), dW (3H, H + D), db (3H,)."""
    hx, rhx, W, z, r, n = cache
    H = dh.shape[1]
    h_prev = hx[:, :H]
    dz, dn, dh_prev = dh * (n - h_prev), dh * z, dh * (1 - z)            # h = (1 - z) h_prev + z n
    da_n = dn * (1 - n**2)                                              # n = tanh(a_n)
    drhx = da_n @ W[2 * H:]                                             # a_n = [r h_prev, x] W_n^T + b_n
    dr, dh_prev = drhx[:, :H] * h_prev, dh_prev + drhx[:, :H] * r       # r h_prev
    da_zr = np.concatenate([dz * z * (1 - z), dr * r * (1 - r)], axis=1)  # z, r = sigmoid(a_zr)
    dhx = da_zr @ W[:2 * H]                                             # a_zr = [h_prev, x] W_zr^T + b_zr
    dW = np.concatenate([da_zr.T @ hx, da_n.T @ rhx], axis=0)
    db = np.concatenate([da_zr.sum(axis=0), da_n.sum(axis=0)])
    return dhx[:, H:] + drhx[:, H:], dh_prev + dhx[:, :H], dW, db       # x and h_prev feed both products


def rnn_step_forward(x, h_prev, W, b):
    """One tanh RNN step: x (N, D), h_prev (N, H), W (H, H + D), b (H,) -> h (N, H), cache."""
    hx = np.concatenate([h_prev, x], axis=1)
    h = np.tanh(hx @ W.T + b)
    return h, (hx, W, h)


def rnn_step_backward(dh, cache):
    """Backward of one RNN step: dh (N, H) -> dx (N, D), dh_prev (N, H), dW (H, H + D), db (H,)."""
    hx, W, h = cache
    H = dh.shape[1]
    da = dh * (1 - h**2)
    dhx = da @ W
    return dhx[:, H:], dhx[:, :H], da.T @ hx, da.sum(axis=0)


class _Recurrent(Layer):
    """What LSTM, GRU and RNN share: parameters, input checks, and the loop over time.

    A subclass names its step functions, how many H-row blocks ``W`` stacks, and how many
    states it carries (h, or h and c). The loops pass the states on as a list, h first.
    """

    blocks = 1
    states = 1

    def __init__(self, input_size, hidden_size, return_sequences=False, rng=None, dtype=np.float32):
        super().__init__()
        self.where = f"{type(self).__name__}({input_size}->{hidden_size})"
        self.input_size, self.hidden_size = input_size, hidden_size
        self.return_sequences = return_sequences
        self.dtype = check_dtype(dtype, self.where)
        rng = np.random.default_rng() if rng is None else rng
        D, H = self.input_size, self.hidden_size
        self.params["W"] = glorot_uniform((self.blocks * H, H + D), H + D, H, rng, self.dtype)
        self.params["b"] = np.zeros(self.blocks * H, dtype=self.dtype)
        self.grads = zeros_like_params(self.params)
        self.caches = None

    def forward(self, x):
        """x (N, T, D) -> the last hidden state (N, H), or all of them (N, T, H) with return_sequences."""
        self._check_sequence(x)
        W, b = self.params["W"], self.params["b"]
        N, T, _ = x.shape
        state = [np.zeros((N, self.hidden_size), self.dtype) for _ in range(self.states)]  # h_0 = c_0 = 0
        hs = np.empty((N, T, self.hidden_size), self.dtype)
        self.caches = []
        for t in range(T):
            *state, cache = self.step_forward(x[:, t], *state, W, b)
            hs[:, t] = state[0]
            self.caches.append(cache)
        self.x_shape = x.shape
        out = hs if self.return_sequences else state[0]
        self.out_shape = out.shape
        return out

    def backward(self, dout):
        """dout (N, H), or (N, T, H) with return_sequences -> dx (N, T, D); fills grads W, b."""
        self.check_dout(dout)
        N, T, D = self.x_shape
        if not self.return_sequences:        # only h_T was output; the earlier h_t get no direct gradient
            dout = np.concatenate([np.zeros((N, T - 1, self.hidden_size), self.dtype), dout[:, None]], axis=1)
        dx = np.empty((N, T, D), self.dtype)
        dW, db = np.zeros_like(self.params["W"]), np.zeros_like(self.params["b"])
        dstate = [np.zeros((N, self.hidden_size), self.dtype) for _ in range(self.states)]
        for t in reversed(range(T)):
            dstate[0] = dstate[0] + dout[:, t]   # h_t went both to the output and to step t + 1
            dx[:, t], *dstate, dW_t, db_t = self.step_backward(*dstate, self.caches[t])
            dW += dW_t                           # W and b are shared by every step
            db += db_t
        self.grads["W"][...] = dW
        self.grads["b"][...] = db
        return dx

    def _check_sequence(self, x):
        """Refuse what the layer cannot read."""
        wanted = f"(N, T, {self.input_size})"
        check_input(x, self.where, wanted, 3, self.dtype)
        if x.shape[2] != self.input_size or x.shape[1] == 0:
            raise ValueError(f"{self.where}: got an array of shape {x.shape}, wanted {wanted} with T >= 1")
        check_finite(x, self.where)

    def flops(self, x_shape):
        """W (blocks*H, H + D) applied at every step; dW and d[h, x] each cost as much again,
        of which the input gradient dx is the x-part, 2 N T (blocks*H) D."""
        N, T, D = x_shape
        W = self.params["W"]
        forward = 2 * N * T * W.size
        return forward, 2 * forward, 2 * N * T * W.shape[0] * D


class LSTM(_Recurrent):
    """Long short-term memory layer, the paper's equations (1)-(6) (see the module docstring).

    Shapes: x (N, T, D) -> h_T (N, H), or (N, T, H) with ``return_sequences=True``;
    h_0 = c_0 = 0.
    Params: W (4H, H + D) applied to [h_{t-1}, x_t], gates stacked forget, input,
    candidate, output; b (4H,), its forget block initialised to ``forget_bias``.
    """

    blocks, states = 4, 2
    step_forward = staticmethod(lstm_step_forward)
    step_backward = staticmethod(lstm_step_backward)

    def __init__(self, input_size, hidden_size, return_sequences=False, rng=None, dtype=np.float32,
                 forget_bias=1.0):
        super().__init__(input_size, hidden_size, return_sequences, rng, dtype)
        self.params["b"][:self.hidden_size] = forget_bias

    def forward(self, x):
        """x (N, T, D) -> h_T (N, H), or (N, T, H) with return_sequences: ``lstm_sequence_forward``."""
        self._check_sequence(x)
        hs, self.cache = lstm_sequence_forward(x, self.params["W"], self.params["b"])
        self.x_shape = x.shape
        out = np.ascontiguousarray(hs.transpose(1, 0, 2)) if self.return_sequences else hs[-1].copy()
        self.out_shape = out.shape
        return out

    def backward(self, dout):
        """dout (N, H), or (N, T, H) with return_sequences -> dx (N, T, D); fills grads W, b."""
        self.check_dout(dout)
        dx, dW, db = lstm_sequence_backward(dout, self.return_sequences, self.params["W"], self.cache)
        self.grads["W"][...] = dW  # in place: whoever holds the grads dict sees this step's
        self.grads["b"][...] = db
        return dx


class GRU(_Recurrent):
    """Gated recurrent unit layer, Chung et al. (2014) form (see the module docstring).

    Shapes: x (N, T, D) -> h_T (N, H), or (N, T, H) with ``return_sequences=True``; h_0 = 0.
    Params: W (3H, H + D) stacked update z, reset r, candidate n; b (3H,).
    """

    blocks = 3
    step_forward = staticmethod(gru_step_forward)
    step_backward = staticmethod(gru_step_backward)


class RNN(_Recurrent):
    """Plain tanh recurrent layer: h_t = tanh(W [h_{t-1}, x_t] + b).

    Shapes: x (N, T, D) -> h_T (N, H), or (N, T, H) with ``return_sequences=True``; h_0 = 0.
    Params: W (H, H + D); b (H,).
    """

    step_forward = staticmethod(rnn_step_forward)
    step_backward = staticmethod(rnn_step_backward)
