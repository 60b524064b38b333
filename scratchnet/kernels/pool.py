"""Max and average pooling over (N, C, H, W) images, forward and backward.

Window (i, j) of a padded input covers rows ``i*sh - top ... i*sh - top + kh - 1`` and
columns ``j*sw - left ... j*sw - left + kw - 1``; the kernels clip it to the real input,
rows ``r0:r1`` and columns ``c0:c1``, so padding is simply never looked at:

    max:  out[n, c, i, j] = max  x[n, c, r0:r1, c0:c1]      (padding never wins)
    avg:  out[n, c, i, j] = mean x[n, c, r0:r1, c0:c1]      (divides by the real values)

Backward: max pooling sends each ``dout`` to the one input that won its window, recorded
in ``argmax`` as a flat index ``r * W + q`` into the H x W plane; among equal values the
first in row-major window order wins (a strict ``>`` while scanning in that order).
Average pooling spreads ``dout / count`` evenly over the window. Windows overlap when the
stride is smaller than the kernel, so the backward passes add (scatter-add).

Every clipped window must hold at least one real value; the layers ensure that.

Each public function has a plain NumPy twin (``*_reference``) with the same signature.
The public functions allocate the outputs with NumPy and hand them to the Numba kernels, as
everywhere in ``scratchnet.kernels`` (its docstring says why).
"""

import numpy as np
from numba import njit


def _clip(i, stride, pad, k, size):
    """The part ``start:stop`` of window ``i`` that lies inside an axis of length ``size``."""
    start = i * stride - pad
    return max(start, 0), min(start + k, size)


# ------------------------------------------------------------------ plain NumPy references

def max_pool_forward_reference(x, kh, kw, sh, sw, top, left, oh, ow):
    """Plain NumPy max pooling: returns ``(out, argmax)``, both (N, C, oh, ow)."""
    N, C, H, W = x.shape
    out = np.empty((N, C, oh, ow), dtype=x.dtype)
    argmax = np.empty((N, C, oh, ow), dtype=np.int64)
    for i in range(oh):
        r0, r1 = _clip(i, sh, top, kh, H)
        for j in range(ow):
            c0, c1 = _clip(j, sw, left, kw, W)
            window = x[:, :, r0:r1, c0:c1].reshape(N, C, -1)
            k = np.argmax(window, axis=2)  # np.argmax returns the first of equal maxima
            out[:, :, i, j] = np.max(window, axis=2)
            argmax[:, :, i, j] = (r0 + k // (c1 - c0)) * W + c0 + k % (c1 - c0)
    return out, argmax


def max_pool_backward_reference(dout, argmax, H, W):
    """Plain NumPy max-pool backward: each dout goes to its window's winner. (N, C, H, W)."""
    N, C, oh, ow = dout.shape
    dx = np.zeros((N, C, H * W), dtype=dout.dtype)
    n, c, _, _ = np.indices(dout.shape)
    np.add.at(dx, (n, c, argmax), dout)  # add.at, not +=: a winner of several windows adds up
    return dx.reshape(N, C, H, W)


def avg_pool_forward_reference(x, kh, kw, sh, sw, top, left, oh, ow):
    """Plain NumPy average pooling over the real values of each window: (N, C, oh, ow)."""
    N, C, H, W = x.shape
    out = np.empty((N, C, oh, ow), dtype=x.dtype)
    for i in range(oh):
        r0, r1 = _clip(i, sh, top, kh, H)
        for j in range(ow):
            c0, c1 = _clip(j, sw, left, kw, W)
            out[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    return out


def avg_pool_backward_reference(dout, H, W, kh, kw, sh, sw, top, left):
    """Plain NumPy average-pool backward: dout / count to every real value of the window."""
    N, C, oh, ow = dout.shape
    dx = np.zeros((N, C, H, W), dtype=dout.dtype)
    for i in range(oh):
        r0, r1 = _clip(i, sh, top, kh, H)
        for j in range(ow):
            c0, c1 = _clip(j, sw, left, kw, W)
            count = (r1 - r0) * (c1 - c0)
            dx[:, :, r0:r1, c0:c1] += dout[:, :, i, j, None, None] / count
    return dx


# ------------------------------------------------------------------ the fast versions

def max_pool_forward(x, kh, kw, sh, sw, top, left, oh, ow):
    """Max pooling: returns ``(out, argmax)``, both (N, C, oh, ow); see the module doc."""
    N, C, _, _ = x.shape
    out = np.empty((N, C, oh, ow), dtype=x.dtype)
    argmax = np.empty((N, C, oh, ow), dtype=np.int64)
    _max_pool_forward(np.ascontiguousarray(x), kh, kw, sh, sw, top, left, out, argmax)
    return out, argmax


def max_pool_backward(dout, argmax, H, W):
    """Max-pool backward: each dout added to its window's winner. Returns (N, C, H, W)."""
    N, C, _, _ = dout.shape
    dx = np.empty((N, C, H * W), dtype=dout.dtype)   # the kernel zeroes each plane as it fills it
    _max_pool_backward(np.ascontiguousarray(dout), argmax, dx)
    return dx.reshape(N, C, H, W)


def avg_pool_forward(x, kh, kw, sh, sw, top, left, oh, ow):
    """Average pooling over the real values of each window. Returns (N, C, oh, ow)."""
    N, C, _, _ = x.shape
    out = np.empty((N, C, oh, ow), dtype=x.dtype)
    _avg_pool_forward(np.ascontiguousarray(x), kh, kw, sh, sw, top, left, out)
    return out


def avg_pool_backward(dout, H, W, kh, kw, sh, sw, top, left):
    """Average-pool backward: dout / count spread over each window. Returns (N, C, H, W)."""
    N, C, _, _ = dout.shape
    dx = np.zeros((N, C, H, W), dtype=dout.dtype)
    _avg_pool_backward(np.ascontiguousarray(dout), kh, kw, sh, sw, top, left, dx)
    return dx


_clip_jit = njit(cache=True, nogil=True)(_clip)

# The window loops below count offsets from 0 (``for dr in range(r1 - r0)``) rather than
# ``for r in range(r0, r1)``: Numba compiles a range with a variable start to slower code in
# these short loops.


@njit(cache=True, nogil=True)
def _max_pool_forward(x, kh, kw, sh, sw, top, left, out, argmax):
    N, C, H, W = x.shape
    _, _, oh, ow = out.shape
    for n in range(N):
        for c in range(C):
            plane = x[n, c]
            for i in range(oh):
                r0, r1 = _clip_jit(i, sh, top, kh, H)
                for j in range(ow):
                    c0, c1 = _clip_jit(j, sw, left, kw, W)
                    best, where = plane[r0, c0], r0 * W + c0
                    # a strict > in row-major order: the first of equal values wins
                    if r1 - r0 == 3 and c1 - c0 == 3:
                        # a 3 x 3 window (the paper's pools): the same scan with constant bounds,
                        # which the compiler unrolls (``python -m scratchnet.bench`` times the pools)
                        for dr in range(3):
                            for dq in range(3):
                                r, q = r0 + dr, c0 + dq
                                if plane[r, q] > best:
                                    best, where = plane[r, q], r * W + q
                    else:
                        for dr in range(r1 - r0):
                            for dq in range(c1 - c0):
                                r, q = r0 + dr, c0 + dq
                                if plane[r, q] > best:
                                    best, where = plane[r, q], r * W + q
                    out[n, c, i, j] = best
                    argmax[n, c, i, j] = where


@njit(cache=True, nogil=True)
def _max_pool_backward(dout, argmax, dx):
    N, C, oh, ow = dout.shape
    zero = dx.dtype.type(0)
    for n in range(N):
        for c in range(C):
            plane = dx[n, c]  # zeroed here rather than by np.zeros: one pass over dx, not two
            for k in range(plane.size):
                plane[k] = zero
            for i in range(oh):
                for j in range(ow):
                    plane[argmax[n, c, i, j]] += dout[n, c, i, j]


@njit(cache=True, nogil=True)
def _avg_pool_forward(x, kh, kw, sh, sw, top, left, out):
    N, C, H, W = x.shape
    _, _, oh, ow = out.shape
    zero = x.dtype.type(0)  # a bare 0.0 would turn float32 sums into float64
    for n in range(N):
        for c in range(C):
            for i in range(oh):
                r0, r1 = _clip_jit(i, sh, top, kh, H)
                for j in range(ow):
                    c0, c1 = _clip_jit(j, sw, left, kw, W)
                    total = zero
                    for dr in range(r1 - r0):
                        for dq in range(c1 - c0):
                            total += x[n, c, r0 + dr, c0 + dq]
                    out[n, c, i, j] = total / x.dtype.type((r1 - r0) * (c1 - c0))


@njit(cache=True, nogil=True)
def _avg_pool_backward(dout, kh, kw, sh, sw, top, left, dx):
    N, C, H, W = dx.shape
    _, _, oh, ow = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(oh):
                r0, r1 = _clip_jit(i, sh, top, kh, H)
                for j in range(ow):
                    c0, c1 = _clip_jit(j, sw, left, kw, W)
                    share = dout[n, c, i, j] / dx.dtype.type((r1 - r0) * (c1 - c0))
                    for dr in range(r1 - r0):
                        for dq in range(c1 - c0):
                            dx[n, c, r0 + dr, c0 + dq] += share
