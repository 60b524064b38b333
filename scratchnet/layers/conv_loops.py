"""Two-dimensional convolution written as loops: ``Conv2D`` to read, one output pixel at a time.

The same layer as ``scratchnet.layers.conv.Conv2D`` (the same constructor, parameters,
initialisation, checks, padding and results), computed straight from the formula. With
the input x zero-padded to xp:

    out[n, f, i, j] = b[f] + sum_{c, di, dj} W[f, c, di, dj] * xp[n, c, i*sh + di, j*sw + dj]

that is, one output pixel is the dot product of one window of xp (C x kh x kw) with one
filter W[f] (C x kh x kw), plus the filter's bias.

Backward mirrors the forward line by line. Each output pixel was ``sum(window * W[f]) + b[f]``,
so the gradient ``d = dout[n, f, i, j]`` arriving at it goes

    to the filter   dW[f]   += d * window        (the window was what W[f] multiplied)
    to the window   dxp[..] += d * W[f]          (and W[f] what the window multiplied)
    to the bias     db[f]   += d

and windows that overlap (stride < kernel) add up where they share input pixels. Finally
dx is dxp without its padding.

Four nested loops run N * F * oh * ow small dot products in Python: thousands of times
slower than ``Conv2D``, which lays all the windows out as one matrix (im2col) and does the
same sums as a single matrix product. Use this one to read, and to check the fast one.

Shapes: x (N, C, H, W) -> out (N, F, oh, ow); params W (F, C, kh, kw), b (F,).
"""

import numpy as np

from scratchnet.layers.conv import Conv2D


class LoopConv2D(Conv2D):
    """Convolution of (N, C, H, W) images with F filters of kh x kw, by loops (see module doc).

    Takes what ``Conv2D`` takes and holds the same parameters: only forward and backward differ.
    """

    def forward(self, x):
        xp, corner, (oh, ow) = self._padded_input(x)       # checked and zero-padded, (N, Hp, Wp, C)
        xp = np.ascontiguousarray(xp.transpose(0, 3, 1, 2))  # (N, C, Hp, Wp), as the formula reads
        W, b = self.params["W"], self.params["b"]
        N, F = len(x), len(W)
        out = np.empty((N, F, oh, ow), dtype=x.dtype)
        for n in range(N):
            for f in range(F):
                for i in range(oh):
                    for j in range(ow):
                        rows = slice(i * self.sh, i * self.sh + self.kh)
                        cols = slice(j * self.sw, j * self.sw + self.kw)
                        window = xp[n, :, rows, cols]                    # (C, kh, kw)
                        out[n, f, i, j] = np.sum(window * W[f]) + b[f]   # one dot product
        self.cache = (x.shape, xp, corner)
        self.out_shape = out.shape
        return out

    def backward(self, dout, input_grad=True):
        """Fills ``grads`` and returns dx (N, C, H, W), or None with ``input_grad=False``."""
        self.check_dout(dout)
        (N, C, height, width), xp, (top, left) = self.cache
        W = self.params["W"]
        dW, db = self.grads["W"], self.grads["b"]
        dW[...] = 0       # the sums below add into the layer's own grads
        db[...] = 0
        dxp = np.zeros_like(xp)
        _, F, oh, ow = dout.shape
        for n in range(N):
            for f in range(F):
                for i in range(oh):
                    for j in range(ow):
                        rows = slice(i * self.sh, i * self.sh + self.kh)
                        cols = slice(j * self.sw, j * self.sw + self.kw)
                        d = dout[n, f, i, j]                             # out[n, f, i, j] =
                        dW[f] += d * xp[n, :, rows, cols]                #   sum(window * W[f])
                        dxp[n, :, rows, cols] += d * W[f]                #   (the window's share)
                        db[f] += d                                       #   + b[f]
        if not input_grad:
            return None
        return np.ascontiguousarray(dxp[:, :, top:top + height, left:left + width])
