"""The LSTM's elementwise work for one step, a row (sequence) at a time: Numba kernels.

Forward. The step's product gives every gate's pre-activation a, already scaled (see
``scratchnet.layers.lstm_sequence``) so that one exp over all 4H columns yields
e = exp(-a) for f, i, o and exp(-2a) for g. Then, with

    sigmoid(a) = 1 / (1 + exp(-a))        tanh(a) = 2 / (1 + exp(-2a)) - 1 = 2 sigmoid(2a) - 1

``gate_activations`` turns e into the gates and updates the cell, (1)-(5):

    f, i, o = 1 / (1 + e)        g = 2 / (1 + e) - 1        c_t = f c_{t-1} + i g

and writes m = -2 c_t; once exp has made m = exp(-2 c_t), ``hidden_state`` does (6):

    tanh(c_t) = 2 / (1 + m) - 1              h_t = o tanh(c_t)

An overflowing exp is harmless: 1 / (1 + inf) = 0 is the sigmoid's and 2 / (1 + inf) - 1 = -1
the tanh's limit. Near 0 such a tanh is exact to the dtype's spacing at 1 (6e-8 in float32),
not relative to its small value: about what c_t = f c_{t-1} + i g, a sum of terms up to 1,
carries anyway.
In float32 (training) the exps are ``exp_float32``, below; in float64 (gradient checks) they
are NumPy's, whose full precision a finite-difference check needs; the rest is additions,
multiplications and divisions, which vectorise.

exp. Numba's own exp is a call to the C library per element, which no loop vectorises; NumPy's
runs SIMD code but, on machines without AVX-512, no faster than the arithmetic it takes to write
one out. ``exp_float32`` writes it out as the C libraries do (Cephes' expf), in three steps:

    k = round(x / ln 2)                    so that x = k ln 2 + r, |r| <= ln(2) / 2
    exp(r) ~ 1 + r + r^2 p(r)              p a degree-5 polynomial fitted on that interval
    exp(x) = exp(r) * 2^k                  2^k built from its bits: exponent field k + 127

ln 2 is split in a part exact in float32 and a small rest, so that k ln 2 is subtracted without
rounding away r. x is clamped to [-87, 88] so that k + 127 stays a normal exponent: exp(-87) =
2e-38 stands for 0 and exp(88) = 2e38 for inf, both as good for 1 / (1 + e) as the limits. A NaN
passes the comparisons untouched and stays NaN. The result is within 2 units in the last place
of the exact exp (a test checks this over the whole range).

Backward. Going back through step t, before the product dh_{t-1} = da_t W_h, the gradient
reaching the step's cell and gates is (equations (1)-(6), differentiated):

    dc   = dc + dh * o * (1 - tanh(c_t)^2)           (6), through tanh(c_t)
    da_f = dc * c_{t-1} * f (1 - f)                  (4), (1)    sigmoid' = s (1 - s)
    da_i = dc * g * i (1 - i)                        (4), (2)
    da_g = dc * i * (1 - g^2)                        (4), (3)    tanh' = 1 - g^2
    da_o = dh * tanh(c_t) * o (1 - o)                (6), (5)
    dc_{t-1} = dc * f                                (4)

``gate_gradients`` does that for one step, a row (sequence) at a time.

Why kernels: in NumPy each line above is a call that reads and writes whole (N, H) arrays, and
the calls cost more than the arithmetic; a kernel goes through them one row at a time, while
the row is in the L1 cache. Three details keep them fast. Each loop writes one array, or one
gate's block of columns: a loop that wrote two (da_f and da_o, say) ran several times slower,
since the compiler (LLVM, under Numba) cannot prove, within its budget of run-time checks, that
they do not overlap, and leaves such a loop unvectorised; so every line of the equations is its
own loop over the row, and the next line reads back what it wrote, from the cache
(benchmarks/README.md has the figures). ``one`` has the arrays' dtype: a bare literal 1 is an
integer, and in Numba an integer with a float32 makes a float64, so the loop would convert
every value there and back. ``error_model="numpy"``: a division by zero gives inf (as in NumPy)
instead of raising, so the loop needs no check per division and vectorises (1 + e > 0 here
anyway). No ``fastmath``: no sum is reordered.

Each kernel has a plain NumPy twin, ``*_reference``; the tests hold them together, bit for bit.
Arrays: a row per sequence n, H columns per gate; gates (N, 4H) = f, i, g, o.
"""

import numpy as np
from numba import njit

LN2_HI, LN2_LO = 0.693359375, -2.12194440e-4   # ln 2 = LN2_HI + LN2_LO; LN2_HI has 9 significant bits
EXP_POLY = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
            5.0000001201e-1)                    # p(r), highest power first (Cephes' expf)


@njit(cache=True, nogil=True, error_model="numpy")
def exp_float32(x):
    """x (N, K) float32, C-contiguous -> exp(x), in place.

    2^k is written as bits into x's own element (through an int32 view of it), then multiplied
    by exp(r): no scratch array, and a NaN's garbage k still gives NaN. The view is taken here,
    in the kernel, although it adds about a third of a second to its first compilation: handed in
    from outside, it is a second array to the compiler, which cannot tell that it is x's own
    memory and leaves the loop unvectorised (8x slower).
    """
    bits = x.view(np.int32)
    lo, hi = np.float32(-87), np.float32(88)
    p0, p1, p2 = np.float32(EXP_POLY[0]), np.float32(EXP_POLY[1]), np.float32(EXP_POLY[2])
    p3, p4, p5 = np.float32(EXP_POLY[3]), np.float32(EXP_POLY[4]), np.float32(EXP_POLY[5])
    ln2_hi, ln2_lo, log2e = np.float32(LN2_HI), np.float32(LN2_LO), np.float32(1.4426950408889634)
    half, one = np.float32(0.5), np.float32(1)
    N, K = x.shape
    for n in range(N):
        for j in range(K):
            v = x[n, j]
            v = hi if v > hi else v                     # comparisons with NaN are false: it stays
            v = lo if v < lo else v
            k = np.floor(v * log2e + half)
            r = (v - k * ln2_hi) - k * ln2_lo
            p = ((((p0 * r + p1) * r + p2) * r + p3) * r + p4) * r + p5
            bits[n, j] = (np.int32(k) + np.int32(127)) << 23   # x[n, j] = 2^k
            x[n, j] = x[n, j] * (p * r * r + r + one)


@njit(cache=True, nogil=True, error_model="numpy")
def gate_activations(e, c_prev, gates, c, m):
    """e (N, 4H), c_prev (N, H) -> gates (N, 4H), c (N, H) = c_t and m (N, H) = -2 c_t, written."""
    N, H = c.shape
    one = c.dtype.type(1)
    for n in range(N):
        for k in range(4 * H):
            gates[n, k] = one / (one + e[n, k])          # sigmoid; for g, sigmoid(2a)
        for j in range(H):  # not range(2 * H, 3 * H): Numba compiles a variable start to slower code
            g = gates[n, 2 * H + j]
            gates[n, 2 * H + j] = g + g - one            # (3) tanh = 2 sigmoid(2a) - 1
        for j in range(H):
            c[n, j] = gates[n, j] * c_prev[n, j] + gates[n, H + j] * gates[n, 2 * H + j]   # (4)
        for j in range(H):
            m[n, j] = -(c[n, j] + c[n, j])


@njit(cache=True, nogil=True, error_model="numpy")
def hidden_state(m, gates, tanh_c, h):
    """m (N, H) = exp(-2 c_t), gates (N, 4H) -> tanh_c (N, H) and h_t into h's first H columns.

    h may be wider than H (the next step's [h_t, x_{t+1}, 1]): a whole C-contiguous array
    rather than a view of its first columns, which Numba would compile for any stride, unvectorised.
    """
    N, H = m.shape
    one = m.dtype.type(1)
    for n in range(N):
        for j in range(H):
            tanh_c[n, j] = (one + one) / (one + m[n, j]) - one
        for j in range(H):
            h[n, j] = gates[n, 3 * H + j] * tanh_c[n, j]  # (6)


@njit(cache=True, nogil=True)
def gate_gradients(dh, dc, gates, c_prev, tanh_c, da):
    """Fill da (N, 4H) for one step and turn dc (N, H) into dc_{t-1}."""
    N, H = dh.shape
    one = dh.dtype.type(1)
    for n in range(N):
        for j in range(H):
            tc, o = tanh_c[n, j], gates[n, 3 * H + j]
            dc[n, j] = dc[n, j] + dh[n, j] * o * (one - tc * tc)
        for j in range(H):
            f = gates[n, j]
            da[n, j] = dc[n, j] * c_prev[n, j] * f * (one - f)
        for j in range(H):
            i, g = gates[n, H + j], gates[n, 2 * H + j]
            da[n, H + j] = dc[n, j] * g * i * (one - i)
        for j in range(H):
            i, g = gates[n, H + j], gates[n, 2 * H + j]
            da[n, 2 * H + j] = dc[n, j] * i * (one - g * g)
        for j in range(H):
            o, tc = gates[n, 3 * H + j], tanh_c[n, j]
            da[n, 3 * H + j] = dh[n, j] * tc * o * (one - o)
        for j in range(H):
            dc[n, j] = dc[n, j] * gates[n, j]


def gate_activations_reference(e, c_prev, gates, c, m):
    """Plain NumPy, whole arrays at a time. Same contract as ``gate_activations``."""
    H = c.shape[1]
    gates[...] = 1 / (1 + e)
    gates[:, 2 * H:3 * H] = 2 * gates[:, 2 * H:3 * H] - 1
    c[...] = gates[:, :H] * c_prev + gates[:, H:2 * H] * gates[:, 2 * H:3 * H]
    m[...] = -2 * c


def hidden_state_reference(m, gates, tanh_c, h):
    """Plain NumPy, whole arrays at a time. Same contract as ``hidden_state``."""
    H = m.shape[1]
    tanh_c[...] = 2 / (1 + m) - 1
    h[:, :H] = gates[:, 3 * H:] * tanh_c


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


def exp_float32_reference(x):
    """Plain NumPy, whole arrays at a time. Same contract as ``exp_float32``."""
    p = [np.float32(c) for c in EXP_POLY]
    v = np.clip(x, np.float32(-87), np.float32(88))   # np.clip keeps NaN, as the kernel does
    k = np.floor(v * np.float32(1.4426950408889634) + np.float32(0.5))
    r = (v - k * np.float32(LN2_HI)) - k * np.float32(LN2_LO)
    poly = ((((p[0] * r + p[1]) * r + p[2]) * r + p[3]) * r + p[4]) * r + p[5]
    scale = ((k.astype(np.int32) + np.int32(127)) << 23).view(np.float32)
    x[...] = scale * (poly * r * r + r + np.float32(1))
