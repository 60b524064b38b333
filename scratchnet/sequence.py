"""Layers that turn maps into sequences for a recurrent layer, and back from its hidden states.

A recurrent layer reads x (N, T, D): T steps of D values. Between convolutional maps
(N, C, H, W) and that, a model has to choose what one step is. The CNN-LSTM's readings:

- ``Reshape((48, 48))`` (``scratchnet.layers``, the paper's): the 64 maps of 6 x 6 laid out
  map after map and cut into 48 steps of 48 values, so that a step holds parts of two maps.
- ``RowsAsSequence``: one step per row of the maps, H steps of W * C values.
- ``PositionsAsSequence``: one step per spatial position, H * W steps of C values.

and of the LSTM's output, ``MeanOverTime``: the mean of the hidden states h_1 .. h_T, for a
classifier that reads every step rather than only the last.

Each of these moves or averages numbers and has no parameters; its backward moves the
gradient back to where each value came from.
"""

import numpy as np

from scratchnet.layers.base import Layer, check_input


class RowsAsSequence(Layer):
    """(N, C, H, W) -> (N, H, W * C): one step per row, the row's pixels one after another.

    Within step i, value j * C + c is channel c of pixel (i, j): each pixel's C channels side by
    side, pixels left to right. On an RGB image a step reads R G B R G B ...; on the CNN-LSTM's
    64 maps of 6 x 6 a step holds 6 pixels of 64 channels, and every step means the same thing:
    one row of the picture.
    """

    def forward(self, x):
        check_input(x, "RowsAsSequence", "(N, C, H, W)", 4)
        self.shape = x.shape
        n, c, h, w = x.shape
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(n, h, w * c)

    def backward(self, dout):
        n, c, h, w = self.shape
        return np.ascontiguousarray(dout.reshape(n, h, w, c).transpose(0, 3, 1, 2))


class PositionsAsSequence(Layer):
    """(N, C, H, W) -> (N, H * W, C): one step per pixel, its C channel values.

    Step t = i * W + j is pixel (i, j), positions in reading order (row after row, left to
    right); value c of the step is channel c. Every step is one feature vector of one place.
    """

    def forward(self, x):
        check_input(x, "PositionsAsSequence", "(N, C, H, W)", 4)
        self.shape = x.shape
        n, c, h, w = x.shape
        return np.ascontiguousarray(x.reshape(n, c, h * w).transpose(0, 2, 1))

    def backward(self, dout):
        n, c, h, w = self.shape
        return np.ascontiguousarray(dout.transpose(0, 2, 1)).reshape(n, c, h, w)


class MeanOverTime(Layer):
    """(N, T, H) -> (N, H): the mean over the steps, m = (1/T) sum_t h_t.

    Backward: each h_t gets dm / T, the same for every step.
    """

    def forward(self, x):
        check_input(x, "MeanOverTime", "(N, T, H)", 3)
        self.steps = x.shape[1]
        return x.mean(axis=1)

    def backward(self, dout):
        return np.repeat(dout[:, None] / self.steps, self.steps, axis=1)
