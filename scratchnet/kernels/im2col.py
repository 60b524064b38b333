"""im2col and col2im: convolution as one large matrix product.

A convolution slides a kh x kw window over the input and, at every output pixel, takes a
dot product of the window with each filter. ``im2col`` copies every window into one row
of a matrix, so that all those dot products become a single matrix product, which BLAS
runs near the machine's peak:

    cols[(n, i, j), (di, dj, c)] = xp[n, i * sh + di, j * sw + dj, c]

    xp    (N, Hp, Wp, C)                  padded input, channels last (NHWC), C-contiguous
    cols  (N * oh * ow, kh * kw * C)      oh = (Hp - kh) // sh + 1, ow = (Wp - kw) // sw + 1

``col2im`` is its adjoint (the backward pass of the copy): every entry of ``cols`` is
added back to the input position it was copied from. Windows overlap when the stride is
smaller than the kernel, so one input position collects several entries.

Why channels last: for a fixed window row ``di`` the entries ``(dj, c)`` of a window are
``kw * C`` consecutive numbers in an NHWC row, so each window row is one contiguous copy
(much faster than gathering strided NCHW values one by one).

Each kernel has a plain NumPy twin (``*_reference``) with the same signature, kept for
reading and for the tests that compare the two.

The kernels run on the calling thread and release the GIL (``nogil=True``): more cores are
used by splitting the batch across processes (``scratchnet.parallel``), not inside a kernel.
"""

import numpy as np
from numba import njit


def im2col_reference(xp, kh, kw, sh, sw):
    """Plain NumPy im2col: one slice per output pixel. Same contract as ``im2col``."""
    N, Hp, Wp, C = xp.shape
    oh, ow = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
    cols = np.empty((N, oh, ow, kh * kw * C), dtype=xp.dtype)
    for i in range(oh):
        for j in range(ow):
            window = xp[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :]
            cols[:, i, j, :] = window.reshape(N, -1)
    return cols.reshape(N * oh * ow, kh * kw * C)


def col2im_reference(cols, xp_shape, kh, kw, sh, sw):
    """Plain NumPy col2im: add each row back onto its window. Same contract as ``col2im``."""
    N, Hp, Wp, C = xp_shape
    oh, ow = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
    cols = cols.reshape(N, oh, ow, kh, kw, C)
    dxp = np.zeros((N, Hp, Wp, C), dtype=cols.dtype)
    for i in range(oh):
        for j in range(ow):
            dxp[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :] += cols[:, i, j]
    return dxp


def im2col(xp, kh, kw, sh, sw):
    """Windows of the padded NHWC input ``xp`` as rows: returns (N*oh*ow, kh*kw*C)."""
    N, Hp, Wp, C = xp.shape
    oh, ow = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
    # NumPy allocates the big matrix, not Numba: NumPy asks the operating system for huge
    # pages, which makes first-touching 100 MB several times faster than Numba's allocation.
    cols = np.empty((N, oh, ow, kh, kw * C), dtype=xp.dtype)
    rows = np.ascontiguousarray(xp).reshape(N, Hp, Wp * C)  # a row of xp is Wp*C numbers
    _im2col_into(rows, sh, sw, C, cols)
    return cols.reshape(N * oh * ow, kh * kw * C)


def col2im(cols, xp_shape, kh, kw, sh, sw):
    """Adjoint of ``im2col``: scatter-add (N*oh*ow, kh*kw*C) rows into (N, Hp, Wp, C)."""
    N, Hp, Wp, C = xp_shape
    oh, ow = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
    dxp = np.zeros((N, Hp, Wp * C), dtype=cols.dtype)
    cols = np.ascontiguousarray(cols).reshape(N, oh, ow, kh, kw * C)
    _col2im_add(cols, sh, sw, C, dxp)
    return dxp.reshape(N, Hp, Wp, C)


@njit(cache=True, nogil=True)
def _im2col_into(rows, sh, sw, C, cols):
    """cols[n, i, j, di, :] = rows[n, i*sh + di, j*sw*C : j*sw*C + kw*C] (one contiguous copy)."""
    N, oh, ow, kh, kwC = cols.shape
    for n in range(N):
        for i in range(oh):
            for j in range(ow):
                for di in range(kh):
                    start = j * sw * C
                    cols[n, i, j, di, :] = rows[n, i * sh + di, start:start + kwC]


@njit(cache=True, nogil=True)
def _col2im_add(cols, sh, sw, C, dxp):
    """dxp[n, i*sh + di, j*sw*C : j*sw*C + kw*C] += cols[n, i, j, di, :]; images are disjoint."""
    N, oh, ow, kh, kwC = cols.shape
    for n in range(N):
        for i in range(oh):
            for j in range(ow):
                for di in range(kh):
                    start = j * sw * C
                    dxp[n, i * sh + di, start:start + kwC] += cols[n, i, j, di, :]
