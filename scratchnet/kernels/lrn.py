"""Kernels for local response normalisation (LRN) across channels, each beside its NumPy reference.

For one sample and one pixel, with C channels a_0 .. a_{C-1} and the window

    W(i) = { j : |i - j| <= size // 2, 0 <= j < C }     (clipped at the first and last channel)

LRN computes (the paper's formula (7))

    s_i = k + alpha * sum_{j in W(i)} a_j^2
    b_i = a_i * s_i^(-beta)

Backward. b_j depends on a_i through its own numerator (when j = i) and through s_j
(when i is in W(j)), with ds_j/da_i = 2 alpha a_i. By the chain rule

    da_i = dout_i s_i^(-beta) - 2 alpha beta a_i * sum_{j : i in W(j)} dout_j a_j s_j^(-beta-1)

and because the window is symmetric, "i in W(j)" is the same as "j in W(i)": the backward
is the same window sum as the forward, taken over t_j = dout_j a_j s_j^(-beta-1)
= dout_j a_j s_j^(-beta) / s_j.

What runs where, and why:
- the window sums are loops NumPy cannot express without a copy per window, so they are
  Numba kernels (``lrn_forward``, ``lrn_dx``); the forward's kernel also takes the power and
  the product, one sample and channel (a row of P pixels) at a time, while the row is in the
  cache: as separate NumPy passes over whole arrays, they took longer than the window sums;
- a power is a call to ``pow`` per element, in NumPy and in Numba alike, but for AlexNet's
  beta = 3/4 it is s^(-3/4) = 1 / sqrt(s sqrt(s)), two square roots and a division, which run
  as vector instructions, several times faster than the power, and as exact (each step rounds
  once); ``inverse_power`` is that rule in NumPy, for the references;
- in each kernel the loop over pixels is innermost, so it runs over contiguous memory and
  vectorises; with the short window loop innermost the kernels were slower. Each of those
  loops writes one array: a loop that writes two is left unvectorised
  (``scratchnet.kernels.lstm`` says more).

Arrays are ``(N, C, P)``, P = H * W pixels (the layer reshapes ``(N, C, H, W)``, a view).
Each kernel has a plain NumPy reference that takes the same arguments and returns the same
thing: ``lrn_forward_reference`` below, and the backward's, ``lrn_dx_reference``, beside the
layer in ``scratchnet.layers.lrn``.
"""

import numpy as np
from numba import njit


def lrn_forward(x, size, k, alpha, beta):
    """x (N, C, P) -> s = k + alpha * (window sum over channels of x^2), scale = s^(-beta) and
    the layer's output x * scale, each (N, C, P)."""
    s, scale, out = (np.empty(x.shape, dtype=x.dtype) for _ in range(3))
    _lrn_forward(np.ascontiguousarray(x), size, k, alpha, beta, s, scale, out)
    return s, scale, out


def lrn_dx(x, dout, s, scale, size, alpha, beta):
    """Gradient of LRN with respect to its input; ``scale`` is s^(-beta). All arrays (N, C, P)."""
    dx = np.empty(x.shape, dtype=x.dtype)
    t = np.empty(x.shape[1:], dtype=x.dtype)  # t_j = dout_j a_j s_j^(-beta-1), one sample at a time
    _lrn_dx(*(np.ascontiguousarray(a) for a in (x, dout, s, scale)), size, alpha, beta, dx, t)
    return dx


def lrn_forward_reference(x, size, k, alpha, beta):
    """Plain NumPy version of ``lrn_forward``: formula (7), channel by channel."""
    half = size // 2
    s = np.empty_like(x)
    for i in range(x.shape[1]):
        s[:, i] = k + alpha * np.sum(x[:, max(0, i - half):i + half + 1] ** 2, axis=1)
    scale = inverse_power(s, beta)
    return s, scale, x * scale


def inverse_power(s, beta):
    """s^(-beta), elementwise, in the dtype of s; for beta = 3/4 by square roots (see the module doc)."""
    if beta != 0.75:
        return s ** s.dtype.type(-beta)
    scale = np.sqrt(s)
    scale *= s
    np.sqrt(scale, out=scale)
    return np.reciprocal(scale, out=scale)


# The kernels take their outputs from ``lrn_forward`` and ``lrn_dx`` (``scratchnet.kernels`` says why).

@njit(cache=True, nogil=True, error_model="numpy")
def _lrn_forward(x, size, k, alpha, beta, s, scale, out):
    """error_model="numpy": the division vectorises."""
    N, C, P = x.shape
    half = size // 2
    three_quarters = beta == 0.75                # as inverse_power decides, before beta is rounded
    k, alpha, beta = x.dtype.type(k), x.dtype.type(alpha), x.dtype.type(beta)  # float32 stays float32
    one = x.dtype.type(1)
    for n in range(N):
        for i in range(C):
            first, stop = max(0, i - half), min(C, i + half + 1)
            for p in range(P):
                s[n, i, p] = x[n, first, p] * x[n, first, p]
            for j in range(first + 1, stop):
                for p in range(P):
                    s[n, i, p] += x[n, j, p] * x[n, j, p]
            for p in range(P):
                s[n, i, p] = k + alpha * s[n, i, p]
            if three_quarters:
                for p in range(P):
                    scale[n, i, p] = one / np.sqrt(s[n, i, p] * np.sqrt(s[n, i, p]))
            else:
                for p in range(P):
                    scale[n, i, p] = s[n, i, p] ** -beta
            for p in range(P):
                out[n, i, p] = x[n, i, p] * scale[n, i, p]


@njit(cache=True, nogil=True)
def _lrn_dx(x, dout, s, scale, size, alpha, beta, dx, t):
    """``lrn_dx`` into dx, with t (C, P) as scratch for one sample at a time."""
    N, C, P = x.shape
    half = size // 2
    coef = x.dtype.type(2.0 * alpha * beta)
    for n in range(N):
        for j in range(C):
            for p in range(P):
                t[j, p] = dout[n, j, p] * x[n, j, p] * scale[n, j, p] / s[n, j, p]
        for i in range(C):
            for p in range(P):
                dx[n, i, p] = dout[n, i, p] * scale[n, i, p]
            for j in range(max(0, i - half), min(C, i + half + 1)):
                for p in range(P):
                    dx[n, i, p] -= coef * x[n, i, p] * t[j, p]
