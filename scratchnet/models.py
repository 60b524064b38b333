"""The paper's CNN-LSTM and the baselines of its Table 1, built from ``scratchnet.layers``.

Every model maps standardised 24 x 24 RGB crops ``(N, 3, 24, 24)`` to 10 class scores
(logits). The rows of Table 1:

==============  ===================================================================
``cnn_lstm``    the paper's network (sections 3 and 4): conv 5x5x64 "same", ReLU,
                max-pool 3x3/2 "same" (24 -> 12), LRN; conv 5x5x64 "same", ReLU,
                max-pool 3x3/2 "same" (12 -> 6); the (N, 64, 6, 6) maps read map after
                map as 48 time steps of 48 values by an LSTM with hidden size 128; a
                linear layer to 10 classes (softmax lives in the loss).
``cnn``         the classic two-convolution CIFAR-10 network of the TensorFlow tutorial
                that the paper's set-up follows: conv 5x5x64, ReLU, max-pool 3x3/2, LRN,
                conv 5x5x64, ReLU, LRN, max-pool 3x3/2, dense 384, dense 192, dense 10.
``cnn_nolrn``   the same without the two LRN layers ("without local normalization").
``lstm``        an LSTM (hidden 128) reading the crop row by row: 24 steps of one image
                row, each pixel's 3 channels side by side (24 x 3 = 72 values, RGBRGB...).
``gru``         the same with a GRU.
==============  ===================================================================

Choices the paper leaves unstated, and why we made them:
- LRN constants are the TensorFlow tutorial's (size 9, k 1, alpha 0.001/9, beta 0.75),
  since the paper's set-up (24 x 24 crops, 64 filters of 5 x 5) is that tutorial's.
- The CNN-LSTM classifies from the LSTM's last hidden state (the paper: "the output of the
  long-short term memory network is divided into 10 categories by the SoftMax function").
- The last linear layer of every model is drawn from Normal(0, std = 1 / fan_in), as the
  tutorial's softmax layer: it feeds a softmax, not a ReLU, and small logits make the
  first loss close to ln 10 (He's rule there gives the CNN a first loss near 6.5).

One liberty with the method, not with the function: conv2 of every CNN is a
``WinogradConv2D``, the same convolution computed with 2.8x fewer multiplications (its
module says how, and what it costs in float32 rounding); conv1, with 3 input channels, stays
a ``Conv2D``, for which Winograd's products would be too thin to pay.

One liberty with the order, not with the result: where the paper has ReLU then max-pool,
the layers below pool first. ReLU never changes which value of a window is largest, so
max(ReLU(window)) = ReLU(max(window)), and the gradient reaches the same input either way
(a window whose largest value is not positive passes no gradient in both orders). The
outputs and gradients are the same bit for bit (``tests/test_models.py`` checks it), and
the ReLU touches a quarter of the values.
"""

import copy

import numpy as np

from scratchnet.layers import (
    GRU, LSTM, Conv2D, Flatten, Linear, LocalResponseNorm, MaxPool2D, ReLU, Reshape, WinogradConv2D,
)
from scratchnet.layers import softmax, softmax_cross_entropy
from scratchnet.layers.base import Layer, check_input

NUM_CLASSES = 10
IMAGE_SHAPE = (3, 24, 24)
HIDDEN_SIZE = 128


class Model:
    """A stack of named layers with flat ``params``/``grads`` dicts keyed ``"layer.name"``.

    ``params`` holds the layers' own arrays (not copies), so an optimiser that updates
    ``model.params[key]`` in place trains the model.
    """

    def __init__(self, name, layers, dtype):
        self.name = name
        self.layers = layers  # list of (name, layer), applied in order
        self.dtype = np.dtype(dtype)

    @property
    def params(self):
        return {f"{lname}.{p}": a for lname, layer in self.layers for p, a in layer.params.items()}

    @property
    def grads(self):
        return {f"{lname}.{g}": a for lname, layer in self.layers for g, a in layer.grads.items()}

    def forward(self, images):
        """(N, 3, 24, 24) standardised images -> (N, 10) logits."""
        check_input(images, f"model {self.name!r}", "(N, 3, 24, 24)", ndim=4, dtype=self.dtype)
        if images.shape[1:] != IMAGE_SHAPE:
            raise ValueError(
                f"model {self.name!r}: got images of shape {images.shape}, wanted (N, 3, 24, 24); "
                "crop CIFAR-10's 32 x 32 images with scratchnet.datasets.center_crop(images, 24)"
            )
        out = images
        for _, layer in self.layers:
            out = layer.forward(out)
        return out

    def backward(self, dlogits, input_grad=True):
        """Backpropagate (N, 10) dlogits through every layer; fills ``grads``.

        Returns the gradient with respect to the images, or None with ``input_grad=False``:
        training needs none, and a first convolution then skips a third of its backward.
        """
        dout = dlogits
        for _, layer in reversed(self.layers[1:]):
            dout = layer.backward(dout)
        first = self.layers[0][1]
        if input_grad or not isinstance(first, Conv2D):  # the only first layer whose dx costs real work
            return first.backward(dout)
        first.backward(dout, input_grad=False)
        return None

    def loss(self, images, labels):
        """Forward and the mean softmax cross-entropy: ``(loss, logits, dlogits)``."""
        logits = self.forward(images)
        loss, dlogits = softmax_cross_entropy(logits, labels)
        return loss, logits, dlogits

    def loss_and_backward(self, images, labels, input_grad=False):
        """One training step's work before the update: forward, loss, backward. ``(loss, logits)``."""
        loss, logits, dlogits = self.loss(images, labels)
        self.backward(dlogits, input_grad=input_grad)
        return loss, logits

    def replica(self):
        """A model that shares this one's parameter arrays but has its own grads and caches.

        Each thread of ``scratchnet.parallel.DataParallel`` runs its shard of a batch on one.
        """
        layers = []
        for name, layer in self.layers:
            twin = copy.copy(layer)  # the same params dict: an optimiser step moves both
            twin.grads = {key: np.zeros_like(grad) for key, grad in layer.grads.items()}
            layers.append((name, twin))
        return Model(self.name, layers, self.dtype)

    def predict(self, images, batch_size=500):
        """Class probabilities (N, 10) for standardised (N, 3, 24, 24) images."""
        chunks = [softmax(self.forward(images[i:i + batch_size]))
                  for i in range(0, len(images), batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0, NUM_CLASSES), self.dtype)


class RowsAsSequence(Layer):
    """(N, C, H, W) -> (N, H, W * C): one time step per image row, pixels' channels side by side."""

    def forward(self, x):
        self.shape = x.shape
        n, c, h, w = x.shape
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(n, h, w * c)

    def backward(self, dout):
        n, c, h, w = self.shape
        return np.ascontiguousarray(dout.reshape(n, h, w, c).transpose(0, 3, 1, 2))


# LRN's constants, the TensorFlow tutorial's (see the module docstring)
TUTORIAL_LRN = {"size": 9, "k": 1.0, "alpha": 0.001 / 9, "beta": 0.75}


def _tutorial_lrn():
    return LocalResponseNorm(**TUTORIAL_LRN)


def _conv(in_channels, rng, dtype, layer=Conv2D):
    return layer(in_channels, 64, 5, padding="same", rng=rng, dtype=dtype)


def _pool():
    return MaxPool2D(3, stride=2, padding="same")


def _cnn_lstm(rng, dtype):
    return [
        ("conv1", _conv(3, rng, dtype)), ("pool1", _pool()), ("relu1", ReLU()), ("norm1", _tutorial_lrn()),
        ("conv2", _conv(64, rng, dtype, WinogradConv2D)), ("pool2", _pool()), ("relu2", ReLU()),
        # (N, 64, 6, 6) -> (N, 48, 48): 2304 values per image, map after map, cut into 48 rows
        ("rows", Reshape((48, 48))),
        ("lstm", LSTM(48, HIDDEN_SIZE, rng=rng, dtype=dtype)),
        ("fc", Linear(HIDDEN_SIZE, NUM_CLASSES, rng=rng, dtype=dtype)),
    ]


def _cnn(rng, dtype, lrn=True):
    layers = [
        ("conv1", _conv(3, rng, dtype)), ("pool1", _pool()), ("relu1", ReLU()), ("norm1", _tutorial_lrn()),
        # LRN is not monotone: relu2 stays before it, and pool2 after
        ("conv2", _conv(64, rng, dtype, WinogradConv2D)), ("relu2", ReLU()), ("norm2", _tutorial_lrn()),
        ("pool2", _pool()),
        ("flatten", Flatten()),
        ("fc1", Linear(64 * 6 * 6, 384, rng=rng, dtype=dtype)), ("relu3", ReLU()),
        ("fc2", Linear(384, 192, rng=rng, dtype=dtype)), ("relu4", ReLU()),
        ("fc3", Linear(192, NUM_CLASSES, rng=rng, dtype=dtype)),
    ]
    return layers if lrn else [(name, layer) for name, layer in layers if not name.startswith("norm")]


def _recurrent(cell):
    def build(rng, dtype):
        return [
            ("rows", RowsAsSequence()),
            ("rnn", cell(3 * 24, HIDDEN_SIZE, rng=rng, dtype=dtype)),
            ("fc", Linear(HIDDEN_SIZE, NUM_CLASSES, rng=rng, dtype=dtype)),
        ]
    return build


BUILDERS = {
    "cnn_lstm": _cnn_lstm,
    "cnn": _cnn,
    "cnn_nolrn": lambda rng, dtype: _cnn(rng, dtype, lrn=False),
    "lstm": _recurrent(LSTM),
    "gru": _recurrent(GRU),
}
MODEL_NAMES = tuple(BUILDERS)


def build_model(name, rng=None, dtype=np.float32):
    """Build one of ``MODEL_NAMES`` with weights drawn from ``rng``."""
    if name not in BUILDERS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    rng = np.random.default_rng() if rng is None else rng
    layers = BUILDERS[name](rng, dtype)
    _, head = layers[-1]
    fan_in = head.params["W"].shape[0]
    head.params["W"][...] = rng.standard_normal(head.params["W"].shape) / fan_in
    model = Model(name, layers, dtype)
    model.options = {}
    return model
