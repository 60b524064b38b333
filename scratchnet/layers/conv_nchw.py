"""Convolution for images with few channels: im2col channels-first, kept for the backward.

``Conv2DNCHW`` computes exactly the function of ``Conv2D`` (same parameters, same
initialisation, same output up to rounding); it only lays the work out differently, in the
way that suits the first layer of a network, whose input has 3 channels.

``Conv2D`` copies every window into a row (channels last) and runs the whole batch as one
product. With 3 input channels a window holds only kh * kw * 3 numbers (75 for 5 x 5), so the
products are thin and most of the layer's time goes to moving numbers: the input and the
output transposed between NCHW and NHWC, ``dout`` transposed again in the backward, and the
windows copied twice (the backward builds them again). Here, for each image n:

    cols[n] (C*kh*kw + 1, oh*ow) column (i, j) holds the window of output pixel (i, j),
                                 rows in the order (c, di, dj): W's own memory order,
                                 then a 1: the constant input whose weight is the bias

    forward    out[n]  = [Wf, b] @ cols[n]         Wf = W as an (F, C*kh*kw) matrix
    backward   [dW, db] = sum over n of dout[n] @ cols[n]^T     (db: the sum of dout over (i, j))
               dcols[n] = Wf^T @ dout[n]           dx = col2im(dcols), then unpadded

``out[n]`` (F, oh*ow) is already image n's output in NCHW order, and ``dout[n]`` is read as it
arrives: no transposes at all. The row of ones saves two passes over the layer's output (adding
the bias after the product, summing dout for db) for one more row in each product. The windows
are copied once: the forward keeps ``cols`` for the backward, (C*kh*kw + 1) * oh*ow numbers per
image (0.17 MB for the paper's conv1, 22 MB for a batch of 128 in float32). That memory is why
this layout is for few channels: the paper's conv2, with 64, would keep 118 MB, and there
``Conv2D``'s cache-sized blocks or Winograd (``WinogradConv2D``) are the better choice.

Shapes: x (N, C, H, W) -> out (N, F, oh, ow); params W (F, C, kh, kw), b (F,).
Output size and ``"same"`` padding follow scratchnet.layers.padding (TensorFlow's rule).

Reference: Chellapilla, Puri and Simard, "High Performance Convolutional Neural Networks for
Document Processing" (2006), the unrolling that Caffe's im2col follows.
"""

import numpy as np

from scratchnet.kernels.im2col_nchw import col2im_nchw, im2col_nchw
from scratchnet.layers.conv import Conv2D


class Conv2DNCHW(Conv2D):
    """Convolution of (N, C, H, W) images, as ``Conv2D``, computed channels-first (see module doc)."""

    def forward(self, x):
        F = self.params["W"].shape[0]
        xp, corner = self._padded_nchw(x)
        cols = im2col_nchw(xp, self.kh, self.kw, self.sh, self.sw, ones=True)  # (N, C*kh*kw + 1, oh*ow)
        Wb = np.concatenate([self.params["W"].reshape(F, -1), self.params["b"][:, None]], axis=1)
        out = np.matmul(Wb, cols)                                       # (N, F, oh*ow): one product per image
        oh = (xp.shape[2] - self.kh) // self.sh + 1
        ow = (xp.shape[3] - self.kw) // self.sw + 1
        self.cache = (x.shape, xp.shape, corner, cols)
        out = out.reshape(len(x), F, oh, ow)
        self.out_shape = out.shape
        return out

    def backward(self, dout, input_grad=True):
        """Fills ``grads`` and returns dx (N, C, H, W), or None with ``input_grad=False``."""
        self.check_dout(dout)
        (N, C, H, W), xp_shape, (top, left), cols = self.cache
        F = self.params["W"].shape[0]
        dout = dout.reshape(N, F, cols.shape[2])                         # (N, F, oh*ow), no copy
        dWb = np.matmul(dout, cols.transpose(0, 2, 1)).sum(axis=0)   # one (F, C*kh*kw + 1) product per image
        self.grads["W"][...] = dWb[:, :-1].reshape(F, C, self.kh, self.kw)
        self.grads["b"][...] = dWb[:, -1]
        if not input_grad:  # the first layer of a network skips it: nobody needs the images' gradient
            return None
        dcols = np.matmul(self.params["W"].reshape(F, -1).T, dout)     # (N, C*kh*kw, oh*ow)
        dxp = col2im_nchw(dcols, xp_shape, self.kh, self.kw, self.sh, self.sw)
        return dxp[:, :, top:top + H, left:left + W].copy()

    def _padded_nchw(self, x):
        """Check x; return it zero-padded, still channels-first, and ``(top, left)``."""
        _, (top, bottom, left, right) = self._geometry(x)
        N, C, H, W = x.shape
        xp = np.zeros((N, C, top + H + bottom, left + W + right), dtype=x.dtype)
        xp[:, :, top:top + H, left:left + W] = x
        return xp, (top, left)
