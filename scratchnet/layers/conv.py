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

Shapes: x (N, C, H, W) -> out (N, F, oh, ow); params W (F, C, kh, kw), b (F,).
Output size and ``"same"`` padding follow scratchnet.layers.padding (TensorFlow's rule).

Reference: CS231n, "Convolutional Neural Networks" notes (im2col); Yu et al., section 2.1.
"""

import numpy as np

from scratchnet.kernels.im2col import col2im, im2col
from scratchnet.layers.base import Layer, check_dtype, check_finite, check_input
from scratchnet.layers.init import he_normal
from scratchnet.layers.padding import resolve_padding


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
        self.where = f"Conv2D({in_channels}->{out_channels}, kernel_size={kernel_size})"
        self.kh, self.kw = as_pair(kernel_size, "kernel_size", self.where)
        self.sh, self.sw = as_pair(stride, "stride", self.where)
        self.padding = padding
        self.dtype = check_dtype(dtype, self.where)
        C, F = in_channels, out_channels
        self.params = {
            "W": he_normal((F, C, self.kh, self.kw), fan_in=C * self.kh * self.kw, rng=rng, dtype=dtype),
            "b": np.zeros(F, dtype=dtype),
        }
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}

    def forward(self, x):
        F, C, kh, kw = self.params["W"].shape
        wanted = f"(N, {C}, H, W)"
        check_input(x, self.where, wanted, ndim=4, dtype=self.dtype)
        if x.shape[1] != C:
            raise ValueError(f"{self.where}: got an array of shape {x.shape}, wanted {wanted} "
                             f"({C} input channels)")
        check_finite(x, self.where)
        N, _, H, W = x.shape
        where = f"{self.where} on input of shape {x.shape}"
        oh, top, bottom = resolve_padding(H, kh, self.sh, self.padding, where)
        ow, left, right = resolve_padding(W, kw, self.sw, self.padding, where)

        # zero-padded and channels-last, so that each window row is one contiguous run
        xp = np.zeros((N, top + H + bottom, left + W + right, C), dtype=x.dtype)
        xp[:, top:top + H, left:left + W, :] = x.transpose(0, 2, 3, 1)
        cols = im2col(xp, kh, kw, self.sh, self.sw)                 # (N*oh*ow, kh*kw*C)
        out = cols @ self._weight_matrix()                            # (N*oh*ow, F)
        out += self.params["b"]
        self.cache = (x.shape, xp.shape, (top, left), cols)
        return np.ascontiguousarray(out.reshape(N, oh, ow, F).transpose(0, 3, 1, 2))

    def backward(self, dout):
        (N, C, H, W), xp_shape, (top, left), cols = self.cache
        F, _, kh, kw = self.params["W"].shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, F)              # (N*oh*ow, F)
        self.grads["W"][...] = (cols.T @ dout).reshape(kh, kw, C, F).transpose(3, 2, 0, 1)
        self.grads["b"][...] = dout.sum(axis=0)
        dcols = dout @ self._weight_matrix().T                        # (N*oh*ow, kh*kw*C)
        dxp = col2im(dcols, xp_shape, kh, kw, self.sh, self.sw)
        return np.ascontiguousarray(dxp[:, top:top + H, left:left + W, :].transpose(0, 3, 1, 2))

    def _weight_matrix(self):
        """W (F, C, kh, kw) as the (kh*kw*C, F) matrix whose rows match the columns of cols."""
        W = self.params["W"]
        return W.transpose(2, 3, 1, 0).reshape(-1, W.shape[0])
