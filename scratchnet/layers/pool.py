"""Max and average pooling, the two down-sampling methods that Yu et al. weigh (section 2.1).

Each output value summarises one kh x kw window of its channel:

    max pooling      out[n, c, i, j] = max  of x[n, c] over window (i, j)
    average pooling  out[n, c, i, j] = mean of x[n, c] over window (i, j)

Window (i, j) starts at row ``i * sh - top`` and column ``j * sw - left`` of the input.
Padding is never a value: max pooling pads with values that never win, and average
pooling divides by the number of real (unpadded) values in the window, so a border
window of a ``"same"`` 3x3 pool averages 4 or 6 values, not 9.

Gradients: max pooling passes ``dout`` to the input that won its window (among equal
values the first in row-major window order); average pooling spreads ``dout / count``
over the window. Overlapping windows (stride < kernel) add their contributions.

Shapes: x (N, C, H, W) -> out (N, C, oh, ow); ``stride`` defaults to the kernel size;
``padding`` is an int or ``"same"`` (TensorFlow's rule, scratchnet.layers.padding).
No parameters; float32 and float64 in, the same dtype out.

Kernels: scratchnet.kernels.pool (Numba, with plain NumPy references beside them).
Reference: CS231n, "Convolutional Neural Networks" notes (pooling layer).
"""

from scratchnet.kernels.pool import avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward
from scratchnet.layers.base import Layer, check_finite, check_input
from scratchnet.layers.conv import as_pair
from scratchnet.layers.padding import resolve_padding


class _Pool2D(Layer):
    """What both pools share: kernel, stride and padding, and the window geometry of x."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.where = f"{type(self).__name__}(kernel_size={kernel_size}, stride={stride}, padding={padding!r})"
        self.kh, self.kw = as_pair(kernel_size, "kernel_size", self.where)
        self.sh, self.sw = as_pair(kernel_size if stride is None else stride, "stride", self.where)
        self.padding = padding
        if padding != "same" and not (isinstance(padding, int) and 0 <= padding < min(self.kh, self.kw)):
            # a window wholly inside the padding would have no real value to pool
            raise ValueError(f"{self.where}: padding must be 'same' or an int from 0 to one less "
                             f"than the kernel ({self.kh}x{self.kw}), got {padding!r}")

    def _windows(self, x):
        """Check x and return ``(oh, ow, top, left)``: output size and padding before."""
        check_input(x, self.where, "(N, C, H, W)", ndim=4)
        check_finite(x, self.where)
        H, W = x.shape[2:]
        where = f"{self.where} on input of shape {x.shape}"
        oh, top, _ = resolve_padding(H, self.kh, self.sh, self.padding, where)
        ow, left, _ = resolve_padding(W, self.kw, self.sw, self.padding, where)
        return oh, ow, top, left


class MaxPool2D(_Pool2D):
    """Max over each window; the gradient goes to the winner (the first of equal values)."""

    def forward(self, x):
        oh, ow, top, left = self._windows(x)
        out, argmax = max_pool_forward(x, self.kh, self.kw, self.sh, self.sw, top, left, oh, ow)
        self.cache = (x.shape, argmax)
        self.out_shape = out.shape
        return out

    def backward(self, dout):
        self.check_dout(dout)  # the kernel indexes dx by argmax: dout must match it exactly
        (N, C, H, W), argmax = self.cache
        return max_pool_backward(dout, argmax, H, W)


class AvgPool2D(_Pool2D):
    """Mean over the real values of each window; the gradient is shared among them equally."""

    def forward(self, x):
        oh, ow, top, left = self._windows(x)
        self.cache = (x.shape, top, left)
        self.out_shape = (x.shape[0], x.shape[1], oh, ow)
        return avg_pool_forward(x, self.kh, self.kw, self.sh, self.sw, top, left, oh, ow)

    def backward(self, dout):
        self.check_dout(dout)
        (N, C, H, W), top, left = self.cache
        return avg_pool_backward(dout, H, W, self.kh, self.kw, self.sh, self.sw, top, left)
