"""Fully connected layer, ReLU, and the reshapes between convolutional maps and vectors.

- ``Linear``: y = x @ W + b.
- ``ReLU``: y = max(x, 0).
- ``Flatten``: (N, d1, d2, ...) -> (N, d1 * d2 * ...), row-major.
- ``Reshape(shape)``: (N, ...) -> (N, *shape), row-major; the paper turns its 64 maps of
  6x6 into one 48x48 "image" whose rows the LSTM reads as a sequence.

The reshapes move no numbers: their backward reshapes the gradient back.
"""

import numpy as np

from scratchnet.layers.base import Layer, check_dtype, check_input, zeros_like_params
from scratchnet.layers.init import he_normal


class Linear(Layer):
    """Fully connected layer: y = x @ W + b.

    Shapes: x (N, in_features) -> y (N, out_features).
    Params: W (in_features, out_features), b (out_features,).

    Backward, one line per parameter:
        dx = dout @ W.T,   dW = x.T @ dout,   db = sum over the batch of dout.

    Init: He normal, W ~ Normal(0, 2 / in_features), b = 0 (He et al. 2015), because in our
    models a Linear is followed by ReLU; for the final layer, before the softmax, the same
    scale is harmless.
    """

    def __init__(self, in_features, out_features, rng=None, dtype=np.float32):
        super().__init__()
        self.dtype = check_dtype(dtype, "Linear")
        self.where = f"Linear({in_features}->{out_features})"
        self.params["W"] = he_normal((in_features, out_features), in_features, rng, self.dtype)
        self.params["b"] = np.zeros(out_features, dtype=self.dtype)
        self.grads = zeros_like_params(self.params)
        self.x = None

    def forward(self, x):
        W, b = self.params["W"], self.params["b"]
        wanted = f"(N, {W.shape[0]})"
        check_input(x, self.where, wanted, 2, self.dtype)
        if x.shape[1] != W.shape[0]:
            raise ValueError(f"{self.where}: got an array of shape {x.shape}, wanted {wanted}")
        self.x = x
        out = x @ W + b
        self.out_shape = out.shape
        return out

    def backward(self, dout):
        self.check_dout(dout)
        self.grads["W"][...] = self.x.T @ dout
        self.grads["b"][...] = dout.sum(axis=0)
        return dout @ self.params["W"].T

    def flops(self, x_shape):
        """W (in, out) applied once per sample; dx = dout @ W.T and dW = x.T @ dout cost as much."""
        forward = 2 * x_shape[0] * self.params["W"].size
        return forward, 2 * forward, forward


class ReLU(Layer):
    """y = max(x, 0), any shape; backward passes dout where x > 0 (the gradient at 0 is taken as 0)."""

    def forward(self, x):
        check_input(x, self.where, "any shape", np.ndim(x))
        self.mask = x > 0
        self.out_shape = x.shape
        return np.maximum(x, 0)

    def backward(self, dout):
        self.check_dout(dout)
        return dout * self.mask


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...), row-major (the last axis changes fastest)."""

    def forward(self, x):
        check_input(x, self.where, "(N, d1, d2, ...)", max(np.ndim(x), 2))
        self.shape = x.shape
        self.out_shape = (x.shape[0], int(np.prod(x.shape[1:])))  # not -1: N may be 0
        return x.reshape(self.out_shape)

    def backward(self, dout):
        self.check_dout(dout)
        return dout.reshape(self.shape)


class Reshape(Layer):
    """(N, ...) -> (N, *shape), row-major: each sample's values keep their order.

    Reshape((48, 48)) on (N, 64, 6, 6) lays the maps out map after map, each row by row:
    map 0's 36 values open row 0, map 1's first 12 end it and its other 24 open row 1, and so
    on; 4 maps fill 3 rows.
    The sizes must match: prod(x.shape[1:]) == prod(shape).
    """

    def __init__(self, shape):
        super().__init__()
        self.target = tuple(int(d) for d in shape)
        self.where = f"Reshape({self.target})"

    def forward(self, x):
        wanted = f"(N, ...) with {int(np.prod(self.target))} values per sample"
        check_input(x, self.where, wanted, max(np.ndim(x), 1))
        if np.prod(x.shape[1:]) != np.prod(self.target):
            raise ValueError(
                f"{self.where}: got an array of shape {x.shape} "
                f"({int(np.prod(x.shape[1:]))} values per sample), "
                f"wanted {wanted}"
            )
        self.shape = x.shape
        self.out_shape = (x.shape[0],) + self.target
        return x.reshape(self.out_shape)

    def backward(self, dout):
        self.check_dout(dout)
        return dout.reshape(self.shape)
