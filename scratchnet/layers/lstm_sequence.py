"""The LSTM over a whole sequence at once: the layer's forward and backward, step loops inside.

``lstm_step_forward`` and ``lstm_step_backward`` (in ``scratchnet.layers.recurrent``) are the
paper's equations (1)-(6) for one step, and the reference. These two functions compute the
same thing for all T steps, the way the ``LSTM`` layer runs them: into arrays that hold every
step, so that no step allocates or concatenates, and with what does not carry from one step
to the next taken out of the loop.

Forward. ``hx[t]`` holds [h_{t-1}, x_t, 1] for every step: x is copied in once, and step t
writes its h_t straight into ``hx[t + 1]``, where step t + 1 reads it. The trailing 1 makes
the bias one more column of weights, [W, b], so the product adds it. Every nonlinearity is an
exp, since

    sigmoid(a) = 1 / (1 + exp(-a))            tanh(a) = 2 / (1 + exp(-2a)) - 1

so the rows of [W, b] are scaled by -1 for f, i, o and by -2 for g (exactly: powers of two)
and one exp over the product's 4H columns serves all four gates; a second one, over -2 c_t,
serves tanh(c_t) (``exp_float32`` in float32, NumPy's in float64: the kernels say why).
Between and after them, two Numba kernels (``scratchnet.kernels.lstm``, where the equations
are) do the rest of the step's elementwise work.

Backward. Only dh and dc carry from step t to step t - 1, so only they stay in the loop:
``gate_gradients`` turns dh and dc into da_t, the gradient of the step's four
pre-activations, and dc into dc_{t-1}, in one call; then

    dh_{t-1} = da_t W_h                                  the h half of d[h_{t-1}, x_t]

W and b are shared by every step, so their gradients are sums over t (b's comes with W's, as
the weight of the constant input), and dx_t = da_t W_x needs nothing from other steps. So
rather than T thin products, one per step, the loop keeps the da_t of ``CHUNK`` steps and
takes their share of each in one product, over the chunk's S * N rows:

    [dW, db] += da^T hx      (4H, S*N) @ (S*N, H + D + 1)
    dx = da W_x              (S*N, 4H) @ (4H, D)

while those da_t are still in the cache: one product over all T steps would read them back
from memory, and was slower.

Shapes: x (N, T, D), W (4H, H + D), b (4H,); time runs along the first axis inside, so that
each step's rows are contiguous: ``hs`` (T, N, H), ``gates`` (T, N, 4H), ``da`` (S, N, 4H).
"""

import numpy as np

from scratchnet.kernels.lstm import exp_float32, gate_activations, gate_gradients, hidden_state

CHUNK = 8  # steps per product in the backward: at N = H = 128 their da is 8 * 128 * 512 floats, 2 MB


def lstm_sequence_forward(x, W, b):
    """x (N, T, D), W (4H, H + D), b (4H,) -> hs (T, N, H), the h_t of every step, and the cache."""
    N, T, D = x.shape
    H = W.shape[0] // 4
    scale = np.full((4 * H, 1), -1, W.dtype)        # exp(-a) for the sigmoids f, i, o
    scale[2 * H:3 * H] = -2                         # exp(-2a) for g's tanh
    # contiguous: the products read a transposed view more slowly (benchmarks/README.md)
    Wb_t = np.ascontiguousarray((np.concatenate([W, b[:, None]], axis=1) * scale).T)
    hx = np.empty((T + 1, N, H + D + 1), W.dtype)   # hx[t] = [h_{t-1}, x_t, 1]; h_T in hx[T, :, :H]
    hx[0, :, :H] = 0                                # h_0 = 0; the loop writes the other h_t
    hx[:T, :, H:-1] = x.transpose(1, 0, 2)
    hx[..., -1] = 1
    gates = np.empty((T, N, 4 * H), W.dtype)        # f, i, g, o of every step
    c = np.zeros((T + 1, N, H), W.dtype)            # c[t + 1] = c_t; c[0] = c_0 = 0
    tanh_c = np.empty((T, N, H), W.dtype)
    e, m = np.empty((N, 4 * H), W.dtype), np.empty((N, H), W.dtype)
    exp = exp_float32 if W.dtype == np.float32 else lambda a: np.exp(a, out=a)
    with np.errstate(over="ignore", under="ignore"):   # exp -> inf or 0: the limits, see the kernels
        for t in range(T):
            exp(np.matmul(hx[t], Wb_t, out=e))                   # all four gates in one product
            gate_activations(e, c[t], gates[t], c[t + 1], m)     # (1)-(5); m = -2 c_t
            exp(m)
            hidden_state(m, gates[t], tanh_c[t], hx[t + 1])  # (6), h_t into hx[t + 1]
    return hx[1:, :, :H], (hx, gates, c, tanh_c)


def lstm_sequence_backward(dout, return_sequences, W, cache):
    """dout (N, T, H) with ``return_sequences``, else (N, H) for h_T -> dx (N, T, D), dW, db."""
    hx, gates, c, tanh_c = cache
    T, N, _ = gates.shape
    H, D = W.shape[0] // 4, W.shape[1] - W.shape[0] // 4
    W_h = np.ascontiguousarray(W[:, :H])
    da = np.empty((min(CHUNK, T), N, 4 * H), W.dtype)   # gradient of the chunk's pre-activations
    dWb = np.zeros((4 * H, H + D + 1), W.dtype)        # [dW, db]
    dx = np.empty((N, T, D), W.dtype)
    dh = np.zeros((N, H), W.dtype)
    dc = np.zeros((N, H), W.dtype)
    if not return_sequences:                        # only h_T was output
        dh[...] = dout
    for start in reversed(range(0, T, CHUNK)):
        steps = range(start, min(start + CHUNK, T))
        for t in reversed(steps):
            if return_sequences:
                dh += dout[:, t]                     # h_t went to the output and to step t + 1
            gate_gradients(dh, dc, gates[t], c[t], tanh_c[t], da[t - start])   # dc becomes dc_{t-1}
            if t:                                    # the initial state is 0, not learned: no gradient
                np.matmul(da[t - start], W_h, out=dh)   # dh_{t-1}
        chunk = da[:len(steps)].reshape(-1, 4 * H)
        dWb += chunk.T @ hx[steps.start:steps.stop].reshape(-1, H + D + 1)
        dx[:, steps.start:steps.stop] = (chunk @ W[:, H:]).reshape(len(steps), N, D).transpose(1, 0, 2)
    return dx, dWb[:, :-1], dWb[:, -1]
