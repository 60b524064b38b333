"""The LSTM over a whole sequence at once: the layer's forward and backward, step loops inside.

``lstm_step_forward`` and ``lstm_step_backward`` (in ``scratchnet.layers.recurrent``) are the
paper's equations (1)-(6) for one step, and the reference. These two functions compute the
same thing for all T steps, the way the ``LSTM`` layer runs them: into arrays that hold every
step, so that no step allocates or concatenates, and with what does not carry from one step
to the next taken out of the loop.

Forward. ``hx[t]`` holds [h_{t-1}, x_t] for every step: x is copied in once, and step t writes
its h_t straight into ``hx[t + 1]``, where step t + 1 reads it. Every gate is one tanh over all
4H columns, because

    sigmoid(a) = (1 + tanh(a / 2)) / 2

so the rows of W and b for f, i and o are halved (exactly: a power of two), and after the tanh
those columns are halved and shifted by 1/2 while g's stay as they are.

Backward. Only dh and dc carry from step t to step t - 1, so only they stay in the loop:
``gate_gradients`` (``scratchnet.kernels.lstm``, where the equations are) turns dh and dc into
da_t, the gradient of the step's four pre-activations, and dc into dc_{t-1}, in one pass; then

    dh_{t-1} = da_t W_h                                  the h half of d[h_{t-1}, x_t]

W and b are shared by every step, so their gradients are sums over t; with every da_t kept,
each sum is one product over all T * N rows instead of T thin ones:

    dW = da^T hx        (4H, T*N) @ (T*N, H + D)          db = sum of da over (t, n)
    dx = da W_x         (T*N, 4H) @ (4H, D)

Shapes: x (N, T, D), W (4H, H + D), b (4H,); time runs along the first axis inside, so that
each step's rows are contiguous: ``hs`` (T, N, H), ``da`` (T, N, 4H).
"""

import numpy as np

from scratchnet.kernels.lstm import gate_gradients


def lstm_sequence_forward(x, W, b):
    """x (N, T, D), W (4H, H + D), b (4H,) -> hs (T, N, H), the h_t of every step, and the cache."""
    N, T, D = x.shape
    H = W.shape[0] // 4
    half = np.ones(4 * H, W.dtype)                  # 1/2 for the sigmoid gates f, i, o; 1 for g
    half[:2 * H], half[3 * H:] = 0.5, 0.5
    Wt, b = (W * half[:, None]).T, b * half
    hx = np.zeros((T + 1, N, H + D), W.dtype)       # hx[t] = [h_{t-1}, x_t]; h_T in hx[T, :, :H]
    hx[:T, :, H:] = x.transpose(1, 0, 2)
    gates = np.empty((T, N, 4 * H), W.dtype)        # f, i, g, o of every step
    c = np.zeros((T + 1, N, H), W.dtype)            # c[t + 1] = c_t; c[0] = c_0 = 0
    tanh_c = np.empty((T, N, H), W.dtype)
    for t in range(T):
        a = gates[t]
        np.matmul(hx[t], Wt, out=a)                 # all four gates in one product
        a += b
        np.tanh(a, out=a)
        a *= half
        a += 1 - half                               # (1), (2), (5) sigmoids; (3) tanh
        f, i, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        np.multiply(f, c[t], out=c[t + 1])
        c[t + 1] += i * g                           # (4)
        np.tanh(c[t + 1], out=tanh_c[t])
        np.multiply(o, tanh_c[t], out=hx[t + 1, :, :H])   # (6)
    return hx[1:, :, :H], (hx, gates, c, tanh_c)


def lstm_sequence_backward(dout, return_sequences, W, cache):
    """dout (N, T, H) with ``return_sequences``, else (N, H) for h_T -> dx (N, T, D), dW, db."""
    hx, gates, c, tanh_c = cache
    T, N, _ = gates.shape
    H = W.shape[0] // 4
    W_h = np.ascontiguousarray(W[:, :H])
    da = np.empty_like(gates)                       # gradient of every pre-activation
    dh = np.zeros((N, H), W.dtype)
    dc = np.zeros((N, H), W.dtype)
    if not return_sequences:                        # only h_T was output
        dh[...] = dout
    for t in reversed(range(T)):
        if return_sequences:
            dh += dout[:, t]                         # h_t went to the output and to step t + 1
        gate_gradients(dh, dc, gates[t], c[t], tanh_c[t], da[t])   # da_t; dc becomes dc_{t-1}
        dh = da[t] @ W_h                             # dh_{t-1}
    da = da.reshape(T * N, 4 * H)
    dW = (hx[:T].reshape(T * N, hx.shape[-1]).T @ da).T        # one product for all steps
    dx = (da @ W[:, H:]).reshape(T, N, W.shape[1] - H)
    return np.ascontiguousarray(dx.transpose(1, 0, 2)), dW, da.sum(axis=0)
