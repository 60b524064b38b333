"""Local response normalisation (LRN) across channels: the paper's formula (7).

Each activation is divided by a power of the energy of its neighbours in the channel
direction, at the same pixel, so that a strong response suppresses the weaker ones beside
it ("lateral inhibition", Krizhevsky et al. 2012, section 3.3). For an input a of shape
(N, C, H, W), at every sample and pixel:

    s_i = k + alpha * sum_{j = max(0, i - size//2)}^{min(C - 1, i + size//2)} a_j^2
    b_i = a_i / s_i^beta                                                        (7)

Notes on the formula:
- The paper writes N for both the number of channels (the upper limit C - 1 here) and the
  window (N/2 each side, here ``size // 2``); we call them C and ``size``.
- alpha is NOT divided by ``size``: formula (7) and TensorFlow's
  ``tf.nn.local_response_normalization`` (whose ``depth_radius`` is our ``size // 2``) use
  alpha as is, whereas PyTorch's ``LocalResponseNorm`` and ConvNetJS use alpha / size.
  To match those, pass alpha / size here.
- ``size`` must be odd so that the window is centred on channel i.

Backward (derived in ``scratchnet.kernels.lrn``):

    da_i = dout_i s_i^(-beta) - 2 alpha beta a_i * sum_{j : i in window(j)} dout_j a_j s_j^(-beta-1)

The layer runs a Numba kernel for each direction (``scratchnet.kernels.lrn`` says why each
runs as it does); ``lrn_dx_reference`` below is the backward in plain NumPy, channel by
channel, as the formula reads, and the tests hold the kernel to it.

Shapes: x (N, C, H, W) -> out (N, C, H, W). No parameters; float32 or float64 in, the same out.
Defaults are AlexNet's constants (size 5, k 2, alpha 1e-4, beta 0.75).
"""

import numpy as np

from scratchnet.kernels.lrn import lrn_dx, lrn_forward
from scratchnet.layers.base import Layer, check_input


def lrn_dx_reference(x, dout, s, scale, size, alpha, beta):
    """The backward in plain NumPy: da (N, C, P) from x, dout, s and scale = s^(-beta), all (N, C, P).

    Takes what ``scratchnet.kernels.lrn.lrn_dx`` takes and returns the same.
    """
    half = size // 2
    t = dout * x * scale / s          # t_j = dout_j a_j s_j^(-beta-1)
    dx = dout * scale                 # through the numerator a_i
    for i in range(x.shape[1]):       # through every s_j whose window holds channel i
        dx[:, i] -= 2 * alpha * beta * x[:, i] * np.sum(t[:, max(0, i - half):i + half + 1], axis=1)
    return dx


class LocalResponseNorm(Layer):
    """b_i = a_i / (k + alpha * sum of a_j^2 over the ``size`` channels around i)^beta."""

    def __init__(self, size=5, k=2.0, alpha=1e-4, beta=0.75):
        super().__init__()
        self.where = f"LocalResponseNorm(size={size})"
        if int(size) != size or size < 1 or size % 2 == 0:
            raise ValueError(
                f"{self.where}: size must be a positive odd integer (a window centred on each channel), "
                f"got {size!r}"
            )
        if k <= 0 or alpha < 0:
            raise ValueError(
                f"{self.where}: need k > 0 and alpha >= 0 so the denominator stays positive, "
                f"got k={k}, alpha={alpha}"
            )
        self.size, self.k, self.alpha, self.beta = int(size), float(k), float(alpha), float(beta)
        self.cache = None

    def forward(self, x):
        check_input(x, self.where, "(N, C, H, W)", 4)
        N, C, H, W = shape = x.shape
        x = np.ascontiguousarray(x).reshape(N, C, H * W)  # a view, pixels innermost (not -1: N may be 0)
        s, scale, out = lrn_forward(x, self.size, self.k, self.alpha, self.beta)
        self.cache = (shape, x, s, scale)
        self.out_shape = shape
        return out.reshape(shape)

    def backward(self, dout):
        self.check_dout(dout)
        shape, x, s, scale = self.cache
        dout = np.ascontiguousarray(dout, dtype=x.dtype).reshape(x.shape)
        return lrn_dx(x, dout, s, scale, self.size, self.alpha, self.beta).reshape(shape)
