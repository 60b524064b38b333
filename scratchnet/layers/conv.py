"""Two-dimensional convolution (cross-correlation), as in section 2.1 of Yu et al.

The paper's figure slides a 3x3 kernel over a 5x5 input: at each position the kernel
multiplies the input under it element by element and sums. With F filters, a bias per
filter, stride s and the input x zero-padded to xp:

    out[n, f, i, j] = b[f] + sum_{c, di, dj} W[f, c, di, dj] * xp[n, c, i*s + di, j*s + dj]

(the kernel is not flipped: this is cross-correlation, which every deep-learning library
calls convolution).

How it is computed: ``im2col`` copies every window of the padded input into one row of a
matrix ``cols`` (rows: output pixels (n, i, j); columns: (di, dj, c)), so the whole layer
is one matrix product that BLAS runs near the machine's peak:

    forward    out  = cols @ Wmat + b              Wmat = W as a (kh*kw*C, F) matrix
    backward   dW   = cols.T @ dout                db = sum of dout over (n, i, j)
               dcols = dout @ Wmat.T               dx = col2im(dcols), then unpadded

Inside, the padded input is channels-last (NHWC) so each window row is one contiguous
copy; the public arrays are channels-first (NCHW), like every image in scratchnet.

The batch goes through in blocks of a few images (``BLOCK_BYTES`` of ``cols`` each), and
backward builds each block's ``cols`` again rather than keeping the forward's. That is
more copying but less waiting: a block's ``cols`` is still in the cache when the products
read it, where the whole batch's (118 MB for the paper's conv2 at batch 128) would come
back from main memory every time; blocks of 1-2 MB made the layer faster than one block
of everything (``python -m scratchnet.bench`` times the layer). dW sums over the blocks;
dx of each block is its own.

``scratchnet.layers.conv_loops.LoopConv2D`` is the same layer written as loops over output
pixels, to read before this one; the tests hold the two together.

Shapes: x (N, C, H, W) -> out (N, F, oh, ow); params W (F, C, kh, kw), b (F,).
Output size and ``"same"`` padding follow scratchnet.layers.padding (TensorFlow's rule).

Reference: CS231n, "Convolutional Neural Networks" notes (im2col); Yu et al., section 2.1.
"""

import numpy as np

from scratchnet.kernels.im2col import col2im, im2col
from scratchnet.layers.base import Layer, check_dtype, check_finite, check_input, zeros_like_params
from scratchnet.layers.init import he_normal
from scratchnet.layers.padding import resolve_padding

# Images per block of ``cols``: about this many bytes of it at a time, so that a block is
# still in the cache when the matrix products (and col2im) read it back.
BLOCK_BYTES = 2 << 20


def as_pair(value, name, where):
    """An int ``k`` as ``(k, k)``, a pair as itself; both must be positive ints."""
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or any(int(v) != v or v < 1 for v in pair):
        raise ValueError(f"{where}: {name} must be a positive int or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


class Conv2D(Layer):
    """Convolution of (N, C, H, W) images with F filters of size kh x kw (see module doc).

    ``W`` starts He-normal (fan_in = C * kh * kw, the inputs of one output value) and
    ``b`` at zero. ``padding`` is an int (zeros on every side) or ``"same"``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 rng=None, dtype=np.float32):
        super().__init__()
        self.where = f"{type(self).__name__}({in_channels}->{out_channels}, kernel_size={kernel_size})"
        self.kh, self.kw = as_pair(kernel_size, "kernel_size", self.where)
        self.sh, self.sw = as_pair(stride, "stride", self.where)
        self.padding = padding
        self.dtype = check_dtype(dtype, self.where)
        C, F = in_channels, out_channels
        self.params = {
            "W": he_normal((F, C, self.kh, self.kw), fan_in=C * self.kh * self.kw, rng=rng, dtype=dtype),
            "b": np.zeros(F, dtype=dtype),
        }
        self.grads = zeros_like_params(self.params)

    def forward(self, x):
        F, C, kh, kw = self.params["W"].shape
        xp, corner, (oh, ow) = self._padded_input(x)
        N = len(x)
        Wmat = self._weight_matrix()
        out = np.empty((N, oh * ow, F), dtype=x.dtype)
        blocks = self._blocks(N, oh * ow * kh * kw * C * x.itemsize)
        for block in blocks:
            cols = im2col(xp[block], kh, kw, self.sh, self.sw)         # (n*oh*ow, kh*kw*C)
            np.matmul(cols, Wmat, out=out[block].reshape(-1, F))       # (n*oh*ow, F)
        out += self.params["b"]
        self.cache = (x.shape, xp, corner, (oh, ow), blocks)
        self.out_shape = (N, F, oh, ow)
        return np.ascontiguousarray(out.reshape(N, oh, ow, F).transpose(0, 3, 1, 2))

    def backward(self, dout, input_grad=True):
        """Fills ``grads`` and returns dx (N, C, H, W), or None with ``input_grad=False``."""
        self.check_dout(dout)
        (N, C, H, W), xp, (top, left), (oh, ow), blocks = self.cache
        F, _, kh, kw = self.params["W"].shape
        dout = dout.transpose(0, 2, 3, 1).reshape(N, oh * ow, F)
        Wmat = self._weight_matrix()
        dWmat = np.zeros_like(Wmat)
        dxp = np.empty_like(xp) if input_grad else None
        for block in blocks:
            cols = im2col(xp[block], kh, kw, self.sh, self.sw)         # again: cheaper than keeping it
            dout_block = dout[block].reshape(-1, F)                    # (n*oh*ow, F)
            dWmat += cols.T @ dout_block
            if input_grad:  # the first layer of a network skips it: nobody needs the images' gradient
                dcols = dout_block @ Wmat.T                            # (n*oh*ow, kh*kw*C)
                dxp[block] = col2im(dcols, xp[block].shape, kh, kw, self.sh, self.sw)
        self.grads["W"][...] = dWmat.reshape(kh, kw, C, F).transpose(3, 2, 0, 1)
        self.grads["b"][...] = dout.sum(axis=(0, 1))
        if not input_grad:
            return None
        return np.ascontiguousarray(dxp[:, top:top + H, left:left + W, :].transpose(0, 3, 1, 2))

    def flops(self, x_shape):
        """W (F, C, kh, kw) applied at every output pixel; dW and dx each cost as much again.

        Subclasses that compute the same convolution another way (``WinogradConv2D``) count it
        as this direct convolution: their FLOP/s are then effective, comparable figures.
        """
        N, _, H, W = x_shape
        oh, _, _ = resolve_padding(H, self.kh, self.sh, self.padding, self.where)
        ow, _, _ = resolve_padding(W, self.kw, self.sw, self.padding, self.where)
        forward = 2 * N * oh * ow * self.params["W"].size
        return forward, 2 * forward, forward

    def _geometry(self, x):
        """Check x; return the output's ``(oh, ow)`` and the padding ``(top, bottom, left, right)``."""
        _, C, kh, kw = self.params["W"].shape
        wanted = f"(N, {C}, H, W)"
        check_input(x, self.where, wanted, ndim=4, dtype=self.dtype)
        if x.shape[1] != C:
            raise ValueError(f"{self.where}: got an array of shape {x.shape}, wanted {wanted} "
                             f"({C} input channels)")
        check_finite(x, self.where)
        where = f"{self.where} on input of shape {x.shape}"
        oh, top, bottom = resolve_padding(x.shape[2], kh, self.sh, self.padding, where)
        ow, left, right = resolve_padding(x.shape[3], kw, self.sw, self.padding, where)
        return (oh, ow), (top, bottom, left, right)

    def _padded_input(self, x, multiple=1):
        """Check x; return it zero-padded and channels-last, ``(top, left)`` and ``(oh, ow)``.

        Each window row of the padded input is one contiguous run. ``multiple``: extra zero rows
        and columns at the bottom and right, so that the output would round up to a multiple of it.
        """
        (oh, ow), (top, bottom, left, right) = self._geometry(x)
        N, C, H, W = x.shape
        bottom, right = bottom + (-oh) % multiple, right + (-ow) % multiple
        xp = np.zeros((N, top + H + bottom, left + W + right, C), dtype=x.dtype)
        xp[:, top:top + H, left:left + W, :] = x.transpose(0, 2, 3, 1)
        return xp, (top, left), (oh, ow)

    @staticmethod
    def _blocks(N, cols_bytes_per_image):
        """Slices of the batch whose ``cols`` take about ``BLOCK_BYTES`` each (at least one image)."""
        per_block = max(1, BLOCK_BYTES // cols_bytes_per_image)
        return [slice(start, min(start + per_block, N)) for start in range(0, N, per_block)]

    def _weight_matrix(self):
        """W (F, C, kh, kw) as the (kh*kw*C, F) matrix whose rows match the columns of cols."""
        W = self.params["W"]
        return W.transpose(2, 3, 1, 0).reshape(-1, W.shape[0])
