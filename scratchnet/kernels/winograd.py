"""Winograd's minimal filtering: a convolution with fewer multiplications (Lavin & Gray, 2016).

One dimension first. Two outputs of a 3-tap correlation, y_i = sum_k g_k d_{i+k}, cost six
multiplications done directly; Winograd's F(2, 3) gets them from four:

    y = A^T [(G g) * (B^T d)]          d: 4 inputs, g: 3 taps, y: 2 outputs, * elementwise

In general F(m, r) gives m outputs of an r-tap filter from a tile of a = m + r - 1 inputs
with a multiplications instead of m * r. The matrices come from polynomial multiplication:
the product c(z) = u(z) g(z) of a degree m-1 and a degree r-1 polynomial has a
coefficients, so it is fixed by its values at a points; evaluate both factors there,
multiply the values (the a multiplications), and interpolate back. Correlation is the
transpose of that bilinear map, which gives, with V_k the a x k matrix that evaluates a
polynomial of k coefficients at the points (rows [1, p, p^2, ...], and one row for the
point at infinity that picks the leading coefficient):

    A^T = V_m^T            G = V_r            B^T = (V_a^{-1})^T

``winograd_fractions`` computes them exactly (Python's fractions) from the points 0, 1, -1,
2, -2, 1/2, -1/2 and infinity, and ``winograd_matrices`` as float64; small points keep
float32 rounding small.

Two dimensions nest the one-dimensional form. An a x a input tile d and an r x r filter g
give an m x m output tile; summed over the input channels c:

    Y = A^T [ sum_c (G g_c G^T) * (B^T d_c B) ] A

With U = G g G^T (each filter, once per step) and V = B^T d B (each tile of the input),
the sum over c at each of the a x a positions (xi, nu) is a matrix product over all tiles:

    M[xi, nu] = V[xi, nu] @ U[xi, nu]       (tiles, C) @ (C, F) -> (tiles, F)

For the paper's conv2 (5 x 5, F(2 x 2, 5 x 5), a = 6) that is 36 multiplications per
channel pair and output tile of 4 pixels, against 100 done directly: 2.8x fewer.

The kernels below move between images and tiles (the matrix products are the layer's,
``scratchnet.layers.winograd``). Tiles step by m over the padded NHWC input, so input
tiles overlap by r - 1 and output tiles do not:

    input_transform            V[(xi, nu), (n, ty, tx), c] = (B^T d B)[xi, nu],
                                   d = xp[n, m ty : m ty + a, m tx : m tx + a, c]
    output_transform           out[n, m ty : m ty + m, m tx : m tx + m, f]
                                   = bias[f] + A^T M[:, :, (n, ty, tx), f] A
    output_transform_adjoint   dM = A dY A^T for every output tile (the backward of output_transform)
    input_transform_adjoint    dxp += B dV B^T on every input tile (the backward of input_transform;
                               overlapping tiles add up, as col2im does)

Each has a plain NumPy twin (``*_reference``) with the same signature, for reading and for
the tests that compare the two. The Numba kernels keep the channel (or filter) axis
innermost, where it is contiguous and vectorises. They take the vertical side of a transform
(Lh below) for a whole row of tiles at once: neighbouring input tiles share r - 1 columns,
whose work is then done once, and the loops run along the row rather than one tile. Every
number a transform writes is a sum over the points of a tile side (a of them, or m in the output
adjoint; at most 8). The kernels take each such sum over MAX_TILE terms, the small matrices
padded with zero columns (``_padded``): a loop of a constant length, which the compiler unrolls,
so that it keeps the partial sum in a register for a whole vector of channels and stores it
once. Adding one term at a time into the output instead, skipping the matrices' zeros, does
fewer multiplications but reads and writes the output once per term, and was slower
(``benchmarks/README.md`` has both gains). A padded term multiplies a real value by 0, so the
inputs must be finite (0 x inf is NaN): the layers refuse any that are not.

Reference: A. Lavin and S. Gray, "Fast Algorithms for Convolutional Neural Networks",
CVPR 2016; S. Winograd, "Arithmetic Complexity of Computations", SIAM 1980.
"""

from fractions import Fraction

import numpy as np
from numba import njit

POINTS = (0, 1, -1, 2, -2, Fraction(1, 2), Fraction(-1, 2))
MAX_TILE = len(POINTS) + 1  # a = m + r - 1 points, the last one at infinity


def _evaluation(points, k):
    """The len(points) + 1 by k matrix that evaluates a polynomial of k coefficients at each point
    and at infinity."""
    at_infinity = [Fraction(int(j == k - 1)) for j in range(k)]  # picks the leading coefficient
    return [[Fraction(p) ** j for j in range(k)] for p in points] + [at_infinity]


def _inverse(matrix):
    """Exact inverse of a square matrix of Fractions (Gauss-Jordan)."""
    n = len(matrix)
    rows = [list(row) + [Fraction(int(i == j)) for j in range(n)] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = next(r for r in range(col, n) if rows[r][col] != 0)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        rows[col] = [v / rows[col][col] for v in rows[col]]
        for r in range(n):
            if r != col and rows[r][col] != 0:
                rows[r] = [a - rows[r][col] * b for a, b in zip(rows[r], rows[col])]
    return [row[n:] for row in rows]


def winograd_fractions(m, r):
    """``(AT, G, BT)`` of F(m, r), exactly: lists of rows of Fractions, AT m x a, G a x r, BT a x a."""
    a = m + r - 1
    if m < 1 or r < 1 or a > MAX_TILE:
        raise ValueError(f"winograd_matrices: F({m}, {r}) needs a tile of {a} points; "
                         f"m and r must be positive with m + r - 1 <= {MAX_TILE}")
    points = POINTS[:a - 1]
    AT = [list(row) for row in zip(*_evaluation(points, m))]
    G = _evaluation(points, r)
    BT = [list(row) for row in zip(*_inverse(_evaluation(points, a)))]
    return AT, G, BT


def winograd_matrices(m, r):
    """``(AT, G, BT)`` of F(m, r) as float64 arrays: AT (m, a), G (a, r), BT (a, a), a = m + r - 1."""
    return tuple(np.array(M, dtype=np.float64) for M in winograd_fractions(m, r))


# ------------------------------------------------------------------ plain NumPy references

def _tiles(xp, ah, aw, m):
    """View of every a x a input tile: (N, th, tw, C, ah, aw), tiles stepping by m."""
    windows = np.lib.stride_tricks.sliding_window_view(xp, (ah, aw), axis=(1, 2))
    return windows[:, ::m, ::m]


def input_transform_reference(xp, BTh, BTw, m):
    """Plain NumPy: V (ah*aw, N*th*tw, C) of the padded NHWC input ``xp``, as ``input_transform``."""
    ah, aw = BTh.shape[0], BTw.shape[0]
    V = np.einsum("xp,ntscpq,yq->xyntsc", BTh, _tiles(xp, ah, aw, m), BTw)
    return V.reshape(ah * aw, -1, xp.shape[3])


def output_transform_reference(M, ATh, ATw, bias, out):
    """Plain NumPy: fill ``out`` (N, m*th, m*tw, F) from M (ah*aw, N*th*tw, F) and return it."""
    (m, ah), aw = ATh.shape, ATw.shape[1]
    N, OH, OW, F = out.shape
    tiles = M.reshape(ah, aw, N, OH // m, OW // m, F)
    Y = np.einsum("ix,jy,xyntsf->ntisjf", ATh, ATw, tiles)
    out[...] = Y.reshape(N, OH, OW, F) + bias
    return out


def output_transform_adjoint_reference(dout, ATh, ATw):
    """Plain NumPy: dM (ah*aw, N*th*tw, F) from dout (N, m*th, m*tw, F). Same contract as the fast one."""
    (m, ah), aw = ATh.shape, ATw.shape[1]
    N, OH, OW, F = dout.shape
    tiles = dout.reshape(N, OH // m, m, OW // m, m, F)
    return np.einsum("ix,jy,ntisjf->xyntsf", ATh, ATw, tiles).reshape(ah * aw, -1, F)


def input_transform_adjoint_reference(dV, BTh, BTw, m, dxp):
    """Plain NumPy: add B dV B^T of every tile into ``dxp`` (N, Hp, Wp, C) and return it."""
    ah, aw = BTh.shape[0], BTw.shape[0]
    N, Hp, Wp, C = dxp.shape
    th, tw = (Hp - ah) // m + 1, (Wp - aw) // m + 1
    dtiles = np.einsum("xp,yq,xyntsc->ntspqc", BTh, BTw, dV.reshape(ah, aw, N, th, tw, C))
    for p in range(ah):
        for q in range(aw):
            dxp[:, p:p + m * (th - 1) + 1:m, q:q + m * (tw - 1) + 1:m, :] += dtiles[:, :, :, p, q, :]
    return dxp


# ------------------------------------------------------------------ the fast versions
#
# All four are one pair of kernels. A transform multiplies every tile d of an image (tiles
# stepping by m) by small matrices on both sides, T = L_h d L_w^T, and its adjoint adds
# L_h^T T L_w back where the tile lies:
#
#     input_transform             = to_tiles   with L = B^T   (d: a x a input tiles)
#     output_transform_adjoint    = to_tiles   with L = A     (d: m x m output tiles)
#     input_transform_adjoint     = from_tiles with L = B^T   (overlapping tiles add up)
#     output_transform            = from_tiles with L = A     (onto the bias; tiles do not overlap)

def _scratch(image):
    """The kernels' buffer for a row of tiles: zeros (MAX_TILE, W + MAX_TILE, C) for an image
    (N, H, W, C), room for any row of tiles and its padded terms (allocated here, not in the
    kernels: ``scratchnet.kernels`` says why)."""
    return np.zeros((MAX_TILE, image.shape[2] + MAX_TILE, image.shape[3]), dtype=image.dtype)


def _padded(matrix, data):
    """``matrix`` contiguous, in the dtype of ``data`` (float64 constants in a float32 loop would
    turn every multiplication into float64 and stop vectorisation), with zero columns up to
    MAX_TILE, so that every sum in the kernels has MAX_TILE terms."""
    out = np.zeros((matrix.shape[0], MAX_TILE), dtype=data.dtype)
    out[:, :matrix.shape[1]] = matrix
    return out


def input_transform(xp, BTh, BTw, m):
    """V (ah*aw, N*th*tw, C): B^T d B of every a x a tile d of the padded NHWC input ``xp``."""
    N, Hp, Wp, C = xp.shape
    ah, aw = BTh.shape[0], BTw.shape[0]
    V = np.empty((ah * aw, N * ((Hp - ah) // m + 1) * ((Wp - aw) // m + 1), C), dtype=xp.dtype)
    _to_tiles(np.ascontiguousarray(xp), _padded(BTh, xp), _padded(BTw, xp), ah, aw, m, V, _scratch(xp))
    return V


def output_transform(M, ATh, ATw, bias, out):
    """Fill ``out`` (N, m*th, m*tw, F) with bias + A^T M A of every tile, and return it."""
    out[...] = bias
    ah, aw = ATh.shape[1], ATw.shape[1]
    _from_tiles(np.ascontiguousarray(M), _padded(ATh, M), _padded(ATw, M), ah, aw, ATh.shape[0], out,
                _scratch(out))
    return out


def output_transform_adjoint(dout, ATh, ATw):
    """dM (ah*aw, N*th*tw, F): A dY A^T of every m x m tile dY of ``dout`` (N, m*th, m*tw, F)."""
    N, OH, OW, F = dout.shape
    m, ah = ATh.shape
    dM = np.empty((ah * ATw.shape[1], N * (OH // m) * (OW // m), F), dtype=dout.dtype)
    # the output tiles are m x m: ph = pw = m
    _to_tiles(np.ascontiguousarray(dout), _padded(ATh.T, dout), _padded(ATw.T, dout), m, m, m, dM,
              _scratch(dout))
    return dM


def input_transform_adjoint(dV, BTh, BTw, m, dxp):
    """Add B dV B^T of every tile into ``dxp`` (N, Hp, Wp, C), where its tile lies; return dxp."""
    ah, aw = BTh.shape[0], BTw.shape[0]
    _from_tiles(np.ascontiguousarray(dV), _padded(BTh.T, dV), _padded(BTw.T, dV), ah, aw, m, dxp,
                _scratch(dxp))
    return dxp


@njit(cache=True, nogil=True)
def _to_tiles(image, Lh, Lw, ph, pw, m, T, rows):
    """T[(xi, nu), (n, ty, tx), c] = (Lh d Lw^T)[xi, nu] for every tile
    d = image[n, m ty : m ty + ph, m tx : m tx + pw, c]; Lh (ah, MAX_TILE) and Lw (aw, MAX_TILE)
    are zero past their first ph and pw columns; ``rows``: ``_scratch(image)``."""
    N, H, W, C = image.shape
    ah, aw = Lh.shape[0], Lw.shape[0]
    th, tw = (H - ph) // m + 1, (W - pw) // m + 1
    width = m * (tw - 1) + pw                                 # the columns the tiles of a row cover
    zero = image.dtype.type(0)
    # rows[xi, :width]: Lh d for a whole row of tiles; the zero columns after it, for the padded terms
    for n in range(N):
        for ty in range(th):
            for xi in range(ah):
                for col in range(width):
                    for c in range(C):
                        total = zero
                        for p in range(MAX_TILE):  # p >= ph: weight 0; min() keeps the row inside
                            total += Lh[xi, p] * image[n, min(m * ty + p, H - 1), col, c]
                        rows[xi, col, c] = total
            for tx in range(tw):
                tile = (n * th + ty) * tw + tx
                for xi in range(ah):
                    for nu in range(aw):
                        t = T[xi * aw + nu, tile]
                        for c in range(C):
                            total = zero
                            for q in range(MAX_TILE):
                                total += Lw[nu, q] * rows[xi, m * tx + q, c]
                            t[c] = total


@njit(cache=True, nogil=True)
def _from_tiles(T, LhT, LwT, ah, aw, m, image, rows):
    """image[n, m ty : m ty + ph, m tx : m tx + pw, c] += Lh^T T[:, :, (n, ty, tx), c] Lw for every
    tile: the adjoint of ``_to_tiles``. LhT (ph, MAX_TILE) and LwT (pw, MAX_TILE) are Lh^T and
    Lw^T, zero past their first ah and aw columns; ``rows``: ``_scratch(image)``."""
    N, H, W, C = image.shape
    ph, pw = LhT.shape[0], LwT.shape[0]
    th, tw = (H - ph) // m + 1, (W - pw) // m + 1
    width = m * (tw - 1) + pw
    zero = image.dtype.type(0)
    last = ah * aw - 1
    # rows[:ah, :width]: T Lw of a whole row of tiles, added up; the rows past ah stay zero for the
    # padded terms
    for n in range(N):
        for ty in range(th):
            for xi in range(ah):
                for col in range(width):
                    for c in range(C):
                        rows[xi, col, c] = zero
            for tx in range(tw):
                tile = (n * th + ty) * tw + tx
                for xi in range(ah):
                    for q in range(pw):
                        acc = rows[xi, m * tx + q]
                        for c in range(C):
                            total = zero
                            for nu in range(MAX_TILE):        # nu >= aw: weight 0; min() keeps the row in T
                                total += LwT[q, nu] * T[min(xi * aw + nu, last), tile, c]
                            acc[c] += total
            for p in range(ph):
                dst = image[n, m * ty + p]
                for col in range(width):
                    for c in range(C):
                        total = zero
                        for xi in range(MAX_TILE):
                            total += LhT[p, xi] * rows[xi, col, c]
                        dst[col, c] += total
