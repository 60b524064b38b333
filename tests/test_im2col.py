"""im2col/col2im: the Numba kernels equal the NumPy references, and col2im is im2col's adjoint."""

import numpy as np
from hypothesis import given
from strategies import im2col_cases

from scratchnet.kernels.im2col import col2im, col2im_reference, im2col, im2col_reference


@given(case=im2col_cases())
def test_im2col_equals_reference(case):
    shape, kh, kw, sh, sw, dtype, seed = case
    xp = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    cols = im2col(xp, kh, kw, sh, sw)
    expected = im2col_reference(xp, kh, kw, sh, sw)
    assert cols.dtype == dtype and cols.shape == expected.shape
    np.testing.assert_array_equal(cols, expected)  # a copy: bit for bit


@given(case=im2col_cases())
def test_col2im_equals_reference(case):
    shape, kh, kw, sh, sw, dtype, seed = case
    N, Hp, Wp, C = shape
    rows = N * ((Hp - kh) // sh + 1) * ((Wp - kw) // sw + 1)
    cols = np.random.default_rng(seed).standard_normal((rows, kh * kw * C)).astype(dtype)
    dxp = col2im(cols, shape, kh, kw, sh, sw)
    assert dxp.dtype == dtype and dxp.shape == shape
    np.testing.assert_allclose(dxp, col2im_reference(cols, shape, kh, kw, sh, sw), rtol=1e-6, atol=1e-6)


@given(case=im2col_cases())
def test_col2im_is_the_adjoint_of_im2col(case):
    # <im2col(x), y> == <x, col2im(y)> for all x, y: col2im is exactly im2col's backward pass
    shape, kh, kw, sh, sw, _, seed = case
    rng = np.random.default_rng(seed)
    xp = rng.standard_normal(shape)
    cols = im2col(xp, kh, kw, sh, sw)
    y = rng.standard_normal(cols.shape)
    adjoint = col2im(y, shape, kh, kw, sh, sw)
    np.testing.assert_allclose(np.sum(cols * y), np.sum(xp * adjoint), rtol=1e-10, atol=1e-10)


def test_im2col_layout_rows_are_pixels_columns_are_kernel_row_col_channel():
    xp = np.arange(2 * 3 * 3 * 2, dtype=np.float64).reshape(2, 3, 3, 2)  # (N, Hp, Wp, C)
    cols = im2col(xp, 2, 2, 1, 1)
    assert cols.shape == (2 * 2 * 2, 2 * 2 * 2)
    # row 3 is image 0, output pixel (1, 1); its window starts at xp[0, 1, 1]
    np.testing.assert_array_equal(cols[3], xp[0, 1:3, 1:3, :].ravel())
    np.testing.assert_array_equal(cols[4], xp[1, 0:2, 0:2, :].ravel())
