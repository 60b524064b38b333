"""im2col and col2im for channels-first (NCHW) images: one column per output pixel.

``scratchnet.kernels.im2col`` lays each window out as a row, channels last, for ``Conv2D``.
This module lays it out as a column of one image's matrix, channels first, the layout of
Caffe's im2col, for ``scratchnet.layers.conv_nchw``:

    cols[n, (c, di, dj), (i, j)] = xp[n, c, i * sh + di, j * sw + dj]

    xp    (N, C, Hp, Wp)                     padded input, channels first (NCHW)
    cols  (N, C * kh * kw, oh * ow)          oh = (Hp - kh) // sh + 1, ow = (Wp - kw) // sw + 1

With ``ones=True`` the columns get one more row, all ones, after the C * kh * kw rows of the
windows: the constant input whose weight is the bias, so that the layer's product adds the bias
and the backward's product returns its gradient (as the LSTM's [h, x, 1] does).

``col2im_nchw`` is its adjoint: every entry of ``cols`` is added back to the input position it
was copied from (windows overlap when the stride is smaller than the kernel).

How: for one kernel offset (di, dj), the entries of every output pixel form a strided slice
of the whole padded plane, ``xp[:, :, di::sh, dj::sw]`` cut to oh x ow. So the loop runs over
the kh * kw offsets and each step copies whole planes of the whole batch, a copy NumPy
vectorises; with few channels this is as fast as a compiled loop over pixels, so there is no
Numba kernel here. For one offset no two output pixels read the same input position, so the
adjoint's slice ``+=`` never adds two entries into one place at once.

The ``*_reference`` twins loop over output pixels instead, one window at a time: the
definition read directly, kept for reading and for the tests that compare the two.
"""

import numpy as np


def output_size(xp_shape, kh, kw, sh, sw):
    """(oh, ow) of a kh x kw window sliding with strides (sh, sw) over (N, C, Hp, Wp)."""
    return (xp_shape[2] - kh) // sh + 1, (xp_shape[3] - kw) // sw + 1


def im2col_nchw(xp, kh, kw, sh, sw, ones=False):
    """Windows of the padded NCHW input ``xp`` as columns: returns (N, C*kh*kw, oh*ow), with
    ``ones`` (N, C*kh*kw + 1, oh*ow), the last row all ones."""
    N, C, _, _ = xp.shape
    oh, ow = output_size(xp.shape, kh, kw, sh, sw)
    rows = C * kh * kw
    cols = np.empty((N, rows + 1 if ones else rows, oh * ow), dtype=xp.dtype)
    cols[:, rows:] = 1                                            # the row of ones, if any
    windows = cols[:, :rows].reshape(N, C, kh, kw, oh, ow)       # a view: rows in (c, di, dj) order
    for di in range(kh):
        for dj in range(kw):  # offset (di, dj) of every window at once: a strided slice of each plane
            windows[:, :, di, dj] = xp[:, :, di:di + sh * (oh - 1) + 1:sh, dj:dj + sw * (ow - 1) + 1:sw]
    return cols


def col2im_nchw(cols, xp_shape, kh, kw, sh, sw):
    """Adjoint of ``im2col_nchw``: add (N, C*kh*kw, oh*ow) columns back into (N, C, Hp, Wp)."""
    N, C, _, _ = xp_shape
    oh, ow = output_size(xp_shape, kh, kw, sh, sw)
    cols = cols.reshape(N, C, kh, kw, oh, ow)
    dxp = np.zeros(xp_shape, dtype=cols.dtype)
    for di in range(kh):
        for dj in range(kw):
            dxp[:, :, di:di + sh * (oh - 1) + 1:sh, dj:dj + sw * (ow - 1) + 1:sw] += cols[:, :, di, dj]
    return dxp


def im2col_nchw_reference(xp, kh, kw, sh, sw, ones=False):
    """One window per output pixel, copied as a column. Same contract as ``im2col_nchw``."""
    N, C, _, _ = xp.shape
    oh, ow = output_size(xp.shape, kh, kw, sh, sw)
    rows = C * kh * kw
    cols = np.ones((N, rows + 1 if ones else rows, oh, ow), dtype=xp.dtype)
    for i in range(oh):
        for j in range(ow):
            cols[:, :rows, i, j] = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].reshape(N, -1)
    return cols.reshape(N, -1, oh * ow)


def col2im_nchw_reference(cols, xp_shape, kh, kw, sh, sw):
    """Each column added back onto its window. Same contract as ``col2im_nchw``."""
    N, C, _, _ = xp_shape
    oh, ow = output_size(xp_shape, kh, kw, sh, sw)
    cols = cols.reshape(N, C, kh, kw, oh, ow)
    dxp = np.zeros(xp_shape, dtype=cols.dtype)
    for i in range(oh):
        for j in range(ow):
            dxp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += cols[..., i, j]
    return dxp
