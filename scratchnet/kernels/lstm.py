"""The LSTM backward's elementwise work for one step, fused into one pass: a Numba kernel.

Going back through step t, before the product dh_{t-1} = da_t W_h, the gradient reaching
the step's cell and gates is (the paper's equations (1)-(6), differentiated):

    dc   = dc + dh * o * (1 - tanh(c_t)^2)           (6), through tanh(c_t)
    da_f = dc * c_{t-1} * f (1 - f)                  (4), (1)    sigmoid' = s (1 - s)
    da_i = dc * g * i (1 - i)                        (4), (2)
    da_g = dc * i * (1 - g^2)                        (4), (3)    tanh' = 1 - g^2
    da_o = dh * tanh(c_t) * o (1 - o)                (6), (5)
    dc_{t-1} = dc * f                                (4)

In NumPy that is a dozen calls per step, each reading and writing whole (N, H) arrays, and
the calls cost more than the arithmetic; the kernel reads each input once and writes each
output once. Only multiplications and additions: no tanh or exp, whose compiled versions are
scalar calls (which is why the forward, full of tanh, stays in NumPy). No ``fastmath``:
nothing here is a reduction, so the loop vectorises without permission to reorder sums.

``gate_gradients_reference`` is the same in plain NumPy; the tests hold the two together.

Arrays: dh, dc, c_prev, tanh_c (N, H); gates (N, 4H) = f, i, g, o after their nonlinearities;
da (N, 4H) is written; dc is overwritten with dc_{t-1}.
"""

from numba import njit


@njit(cache=True, nogil=True)
def gate_gradients(dh, dc, gates, c_prev, tanh_c, da):
    """Fill da (N, 4H) for one step and turn dc (N, H) into dc_{t-1}, in one pass."""
    N, H = dh.shape
    for n in range(N):
        for j in range(H):
            f, i, g, o = gates[n, j], gates[n, H + j], gates[n, 2 * H + j], gates[n, 3 * H + j]
            tc = tanh_c[n, j]
            dcn = dc[n, j] + dh[n, j] * o * (1 - tc * tc)
            da[n, j] = dcn * c_prev[n, j] * f * (1 - f)
            da[n, H + j] = dcn * g * i * (1 - i)
            da[n, 2 * H + j] = dcn * i * (1 - g * g)
            da[n, 3 * H + j] = dh[n, j] * tc * o * (1 - o)
            dc[n, j] = dcn * f


def gate_gradients_reference(dh, dc, gates, c_prev, tanh_c, da):
    """Plain NumPy, whole arrays at a time. Same contract as ``gate_gradients``."""
    H = dh.shape[1]
    f, i, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    dc += dh * o * (1 - tanh_c**2)
    da[:, :H] = dc * c_prev * f * (1 - f)
    da[:, H:2 * H] = dc * g * i * (1 - i)
    da[:, 2 * H:3 * H] = dc * i * (1 - g**2)
    da[:, 3 * H:] = dh * tanh_c * o * (1 - o)
    dc *= f
