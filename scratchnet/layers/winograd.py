"""Convolution by Winograd's minimal filtering: the same layer as Conv2D, 6.25x fewer multiplications.

``WinogradConv2D`` computes exactly the function of ``Conv2D`` with stride 1 (same
parameters, same initialisation, same output up to rounding), by the algorithm of Lavin &
Gray (2016) that ``scratchnet.kernels.winograd`` explains. Each output tile of m x m pixels
comes from an input tile of a x a (a = m + k - 1 for a k x k kernel), through

    forward    U = G W G^T                  every filter, (a*a, C, F)
               V = B^T d B                  every input tile, (a*a, tiles, C)
               M[xi, nu] = V[xi, nu] @ U[xi, nu]        a*a matrix products
               out = A^T M A + b            every output tile

and backward is the same chain transposed, step by step:

    backward   dM = A dout A^T              every output tile
               dU[xi, nu] = V[xi, nu]^T @ dM[xi, nu]    dV[xi, nu] = dM[xi, nu] @ U[xi, nu]^T
               dW = G^T dU G                db = sum of dout over (n, i, j)
               dx = B dV B^T, added up where input tiles overlap, then unpadded

The tile. A larger m shares each input tile among more outputs: F(m x m, 5 x 5) takes a^2
multiplications per channel pair for m^2 outputs, 36 for 4 with m = 2, 64 for 16 with m = 4,
where im2col takes 25 per output. So the layer takes m = 4 (``TILE``), or the largest that
keeps a <= 8 for kernels wider than 5: beyond 8 points the transforms need points whose
rounding grows fast. For the paper's conv2 (64 -> 64 channels, 5 x 5, 12 x 12 maps: 3 x 3
tiles of 16 pixels) the products do 6.25x fewer multiplications than im2col's, and the layer
is faster than ``Conv2D`` (``python -m scratchnet.bench`` times both). It pays where there are
many channels: for the first layer (3 input channels) the products are too thin, and
``Conv2D`` stays faster.

The price is rounding. With m = 4, ``B^T`` holds fractions down to 1/360, ``G`` and ``A^T``
integers up to 16 and 8, and each output sums up to 64 transformed terms. At the paper's conv2 in float32,
against the exact (float64) convolution, the output, dx and dW carry an order of magnitude
more relative error than im2col's, still near 1e-5: far below the noise of a minibatch
gradient. ``tests/test_winograd.py`` bounds both the errors and the ratio. In float64 the
two layers agree to rounding, and the gradient checks hold as for every layer.

As in ``Conv2D``, the batch goes through in blocks of a few images (``BLOCK_BYTES`` of V
each) so that V is still in the cache when the products read it. Unlike ``Conv2D``'s columns,
each block's V is kept for the backward: k*k * m*m / (a*a) times fewer numbers than im2col's
columns (6.25x for the paper's conv2: 19 MB at batch 128 in float32), and reading them back
from memory was faster than transforming the input again (``benchmarks/README.md``).

Shapes: x (N, C, H, W) -> out (N, F, oh, ow); params W (F, C, kh, kw), b (F,); kernels of
1 to 7 along each side (a <= 8).

Reference: A. Lavin and S. Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016.
"""

import numpy as np

from scratchnet.kernels.winograd import (
    MAX_TILE,
    input_transform,
    input_transform_adjoint,
    output_transform,
    output_transform_adjoint,
    winograd_matrices,
)
from scratchnet.layers.conv import Conv2D

TILE = 4  # output pixels per tile side, where the kernel leaves room: F(4 x 4, k x k) up to k = 5


class WinogradConv2D(Conv2D):
    """Stride-1 convolution of (N, C, H, W) images by Winograd's F(m x m, kh x kw), m = ``tile``
    (default: 4 where the kernel leaves room, else the largest that fits; see module doc)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, rng=None,
                 dtype=np.float32, tile=None):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding, rng=rng,
                         dtype=dtype)
        if (self.sh, self.sw) != (1, 1):
            raise ValueError(f"{self.where}: stride must be 1, got {stride!r}; "
                             "use Conv2D for a strided convolution")
        room = MAX_TILE + 1 - max(self.kh, self.kw)   # tiles of a = tile + k - 1 <= 8 inputs
        if room < 2:  # a tile of one output is the direct convolution, with extra steps
            raise ValueError(f"{self.where}: kernels up to {MAX_TILE - 1} x {MAX_TILE - 1} only (larger ones "
                             f"lose float32 precision); use Conv2D for a {self.kh} x {self.kw} kernel")
        self.tile = min(TILE, room) if tile is None else tile
        if self.tile not in range(1, room + 1):
            raise ValueError(f"{self.where}: tile must be a whole number from 1 to {room} (so that a tile "
                             f"+ kernel - 1 <= {MAX_TILE} keeps float32 precision), got {tile!r}")
        # cast once to the weights' dtype: float64 matrices would turn float32 work into float64
        (self.ATh, self.Gh, self.BTh), (self.ATw, self.Gw, self.BTw) = (
            [M.astype(self.dtype) for M in winograd_matrices(self.tile, k)] for k in (self.kh, self.kw))

    def forward(self, x):
        F, C, _, _ = self.params["W"].shape
        m = self.tile
        xp, corner, (oh, ow) = self._padded_input(x, multiple=m)       # whole output tiles
        N = len(x)
        U = self._filter_transform()                                   # (a*a, C, F)
        th, tw = -(-oh // m), -(-ow // m)
        out = np.empty((N, m * th, m * tw, F), dtype=x.dtype)
        blocks = self._blocks(N, U.shape[0] * th * tw * C * x.itemsize)
        Vs = []                                                        # each block's V, for the backward
        for block in blocks:
            V = input_transform(xp[block], self.BTh, self.BTw, m)      # (a*a, n*th*tw, C)
            M = np.matmul(V, U)                                        # (a*a, n*th*tw, F)
            output_transform(M, self.ATh, self.ATw, self.params["b"], out[block])
            Vs.append(V)
        self.cache = (x.shape, xp.shape, corner, (oh, ow), blocks, U, Vs)
        self.out_shape = (N, F, oh, ow)
        return np.ascontiguousarray(out[:, :oh, :ow].transpose(0, 3, 1, 2))

    def backward(self, dout, input_grad=True):
        """Fills ``grads`` and returns dx (N, C, H, W), or None with ``input_grad=False``."""
        self.check_dout(dout)
        (N, C, H, W), xp_shape, (top, left), (oh, ow), blocks, U, Vs = self.cache
        m = self.tile
        th, tw = -(-oh // m), -(-ow // m)
        dout_tiles = np.zeros((N, m * th, m * tw, U.shape[2]), dtype=dout.dtype)  # zeros past the edge
        dout_tiles[:, :oh, :ow] = dout.transpose(0, 2, 3, 1)
        dU = np.zeros_like(U)
        dxp = np.zeros(xp_shape, dout.dtype) if input_grad else None
        U_t = np.ascontiguousarray(U.transpose(0, 2, 1))  # products of a transposed view ran slower
        for block, V in zip(blocks, Vs):
            dM = output_transform_adjoint(dout_tiles[block], self.ATh, self.ATw)
            dU += np.matmul(V.transpose(0, 2, 1), dM)
            if input_grad:  # the first layer of a network skips it: nobody needs the images' gradient
                dV = np.matmul(dM, U_t)
                input_transform_adjoint(dV, self.BTh, self.BTw, m, dxp[block])
        self.grads["W"][...] = self._filter_transform_adjoint(dU)
        self.grads["b"][...] = dout.sum(axis=(0, 2, 3))
        if not input_grad:
            return None
        return np.ascontiguousarray(dxp[:, top:top + H, left:left + W, :].transpose(0, 3, 1, 2))

    def _filter_transform(self):
        """U[(xi, nu), c, f] = (G W[f, c] G^T)[xi, nu]: (a*a, C, F)."""
        W = self.params["W"]
        U = self.Gh @ W @ self.Gw.T                      # (F, C, ah, aw), one product per filter
        return np.ascontiguousarray(U.transpose(2, 3, 1, 0)).reshape(-1, W.shape[1], W.shape[0])

    def _filter_transform_adjoint(self, dU):
        """dW[f, c] = G^T dU[:, :, c, f] G: the backward of ``_filter_transform``."""
        F, C, _, _ = self.params["W"].shape
        dU = dU.reshape(self.Gh.shape[0], self.Gw.shape[0], C, F).transpose(3, 2, 0, 1)  # (F, C, ah, aw)
        return self.Gh.T @ dU @ self.Gw
