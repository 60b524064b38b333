"""The paper's CNN-LSTM and the baselines of its Table 1, built from ``scratchnet.layers``.

Every model maps standardised 24 x 24 RGB crops ``(N, 3, 24, 24)`` to 10 class scores
(logits). The rows of Table 1, with their default options:

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

Options: ``build_model(name, **options)`` builds a variant, and ``model.options`` holds every
option that applies to the model built (plain JSON values), so that
``build_model(model.name, **model.options)`` builds the same network again.

- ``conv1``, ``conv2``: the algorithm of each convolution (``CONV_ALGORITHMS``), the same
  function computed another way: ``"direct"`` (``Conv2D``, im2col), ``"nchw"`` (channels
  first, no transposes: conv1's default, its 3 channels make im2col thin), ``"winograd"``
  (6.25x fewer multiplications: conv2's default) or ``"loops"`` (``LoopConv2D``; slow).
- ``cnn_lstm`` only, the choices its paper leaves unstated (defaults: the network above):

  ``reading``   how the (N, 64, 6, 6) maps become a sequence (``scratchnet.sequence``):
                ``"maps"`` (the paper's: map after map, cut into 48 steps of 48 values),
                ``"positions"`` (36 steps, one per pixel, of its 64 channels) or ``"rows"``
                (6 steps, one per row, of its 6 pixels' 64 channels);
  ``head``      ``"lstm"``, or ``"dense"``: the CNN's 2304 -> 384 -> 192 -> 10 with ReLUs,
                on the CNN-LSTM's own layers below it (then the next two options and
                ``reading`` do not apply);
  ``readout``   what the last linear layer reads: ``"last"`` (h_T) or ``"mean"`` (the mean of h_1 .. h_T);
  ``hidden``    the LSTM's hidden size, 128.

Choices the paper leaves unstated, and why we made them:
- LRN constants are the TensorFlow tutorial's (``TUTORIAL_LRN``: size 9, k 1, alpha 0.001/9,
  beta 0.75), since the paper's set-up (24 x 24 crops, 64 filters of 5 x 5) is that tutorial's.
- The CNN-LSTM classifies from the LSTM's last hidden state (the paper: "the output of the
  long-short term memory network is divided into 10 categories by the SoftMax function").
- The last linear layer of every model is drawn from Normal(0, std = 1 / fan_in), as the
  tutorial's softmax layer: it feeds a softmax, not a ReLU, and small logits make the
  first loss close to ln 10 (He's rule there gives the CNN a first loss near 6.5).

One liberty with the order, not with the result: where the paper has ReLU then max-pool,
the layers below pool first. ReLU never changes which value of a window is largest, so
max(ReLU(window)) = ReLU(max(window)) and the gradient reaches the same input: the same
numbers bit for bit (``tests/test_models.py``), with the ReLU on a quarter of the values.
"""

import inspect
import numbers
from types import MappingProxyType

import numpy as np

from scratchnet.layers import (
    GRU,
    LSTM,
    Conv2D,
    Conv2DNCHW,
    Flatten,
    Linear,
    LocalResponseNorm,
    LoopConv2D,
    MaxPool2D,
    ReLU,
    Reshape,
    WinogradConv2D,
    softmax_cross_entropy,
)
from scratchnet.layers.base import check_input
from scratchnet.sequence import MeanOverTime, PositionsAsSequence, RowsAsSequence
from scratchnet.transforms import CROP

NUM_CLASSES = 10
IMAGE_SHAPE = (3, CROP, CROP)
HIDDEN_SIZE = 128
TUTORIAL_LRN = MappingProxyType({"size": 9, "k": 1.0, "alpha": 0.001 / 9, "beta": 0.75})

# The algorithms conv1 and conv2 may use: each takes Conv2D's arguments, draws its weights from rng
# as Conv2D does and names them alike, so a checkpoint loads into any of them.
CONV_ALGORITHMS = {"direct": Conv2D, "nchw": Conv2DNCHW, "winograd": WinogradConv2D, "loops": LoopConv2D}

# Every option of every model and its default; the LSTM's options apply only with head "lstm".
_CONV = {"conv1": "nchw", "conv2": "winograd"}
_LSTM_HEAD = {"reading": "maps", "readout": "last", "hidden": HIDDEN_SIZE}
DEFAULT_OPTIONS = {
    "cnn_lstm": {**_CONV, "head": "lstm", **_LSTM_HEAD},
    "cnn": _CONV,
    "cnn_nolrn": _CONV,
    "lstm": {},
    "gru": {},
}
MODEL_NAMES = tuple(DEFAULT_OPTIONS)
CHOICES = {"conv1": CONV_ALGORITHMS, "conv2": CONV_ALGORITHMS, "head": ("lstm", "dense"),
           "reading": ("maps", "positions", "rows"), "readout": ("last", "mean")}


class Model:
    """A stack of named layers with flat ``params``/``grads`` dicts keyed ``"layer.name"``.

    ``params`` holds the layers' own arrays (not copies), so an optimiser that updates
    ``model.params[key]`` in place trains the model. ``options`` are those it was built with.
    """

    def __init__(self, name, layers, dtype, options=None):
        self.name = name
        self.layers = layers  # list of (name, layer), applied in order
        self.dtype = np.dtype(dtype)
        self.options = dict(options or {})
        self.dimages = None   # the images' gradient, kept by loss_and_backward(..., input_grad=True)

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
            raise ValueError(f"model {self.name!r}: got images of shape {images.shape}, "
                             "wanted (N, 3, 24, 24); crop CIFAR-10's 32 x 32 images with "
                             "scratchnet.transforms.preprocess_eval(images)")
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
        if "input_grad" in inspect.signature(first.backward).parameters:  # a layer that can skip dx
            return first.backward(dout, input_grad=input_grad)
        dimages = first.backward(dout)
        return dimages if input_grad else None

    def loss(self, images, labels):
        """Forward and the mean softmax cross-entropy: ``(loss, logits, dlogits)``."""
        logits = self.forward(images)
        loss, dlogits = softmax_cross_entropy(logits, labels)
        return loss, logits, dlogits

    def loss_and_backward(self, images, labels, input_grad=False):
        """The step's forward and backward: ``(mean loss, logits)``; fills ``grads``.

        With ``input_grad=True`` the images' gradient is kept in ``self.dimages`` (else None).
        """
        loss, logits, dlogits = self.loss(images, labels)
        self.dimages = self.backward(dlogits, input_grad=input_grad)
        return loss, logits


def count_params(model):
    """The number of trained values in ``model`` (every weight and bias)."""
    return sum(param.size for param in model.params.values())


def _conv(in_channels, rng, dtype, algorithm):
    return CONV_ALGORITHMS[algorithm](in_channels, 64, 5, padding="same", rng=rng, dtype=dtype)


def _pool():
    return MaxPool2D(3, stride=2, padding="same")


def _first_block(rng, dtype, conv1):
    """conv1, pool1, ReLU, LRN: 3 x 24 x 24 -> 64 x 12 x 12, the same in every convolutional row."""
    return [("conv1", _conv(3, rng, dtype, conv1)), ("pool1", _pool()), ("relu1", ReLU()),
            ("norm1", LocalResponseNorm(**TUTORIAL_LRN))]


def _dense_head(rng, dtype):
    """The CNN's classifier on the 64 maps of 6 x 6: 2304 -> 384 -> 192 -> 10, ReLU between."""
    return [
        ("flatten", Flatten()),
        ("fc1", Linear(64 * 6 * 6, 384, rng=rng, dtype=dtype)), ("relu3", ReLU()),
        ("fc2", Linear(384, 192, rng=rng, dtype=dtype)), ("relu4", ReLU()),
        ("fc3", Linear(192, NUM_CLASSES, rng=rng, dtype=dtype)),
    ]


def _cnn_lstm(rng, dtype, conv1, conv2, head, reading="maps", readout="last", hidden=HIDDEN_SIZE):
    layers = _first_block(rng, dtype, conv1) + [
        ("conv2", _conv(64, rng, dtype, conv2)), ("pool2", _pool()), ("relu2", ReLU()),
    ]
    if head == "dense":
        return layers + _dense_head(rng, dtype)
    # (N, 64, 6, 6) -> (N, T, D); the layer keeps the name "rows" (the rows of the sequence) in every reading
    sequence, step_size = {
        "maps": (Reshape((48, 48)), 48),         # 2304 values per image, map after map, cut into 48 rows
        "positions": (PositionsAsSequence(), 64),
        "rows": (RowsAsSequence(), 6 * 64),
    }[reading]
    mean = readout == "mean"
    return layers + [
        ("rows", sequence),
        ("lstm", LSTM(step_size, hidden, return_sequences=mean, rng=rng, dtype=dtype)),
        *([("mean", MeanOverTime())] if mean else []),
        ("fc", Linear(hidden, NUM_CLASSES, rng=rng, dtype=dtype)),
    ]


def _cnn(rng, dtype, conv1, conv2, lrn=True):
    layers = _first_block(rng, dtype, conv1) + [
        # LRN is not monotone: relu2 stays before it, and pool2 after
        ("conv2", _conv(64, rng, dtype, conv2)), ("relu2", ReLU()),
        ("norm2", LocalResponseNorm(**TUTORIAL_LRN)), ("pool2", _pool()),
    ] + _dense_head(rng, dtype)
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
    "cnn_nolrn": lambda rng, dtype, **options: _cnn(rng, dtype, lrn=False, **options),
    "lstm": _recurrent(LSTM),
    "gru": _recurrent(GRU),
}


def model_options(name, **options):
    """Every option of model ``name``: its defaults, overridden by ``options``, each checked.

    Refuses an unknown model, an option the model does not take and a value not among the choices.
    """
    if name not in DEFAULT_OPTIONS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    defaults = DEFAULT_OPTIONS[name]
    for key in options:
        if key not in defaults:
            raise ValueError(f"option {key!r} does not apply to model {name!r}; "
                             f"its options: {', '.join(defaults) or 'none'}")
    chosen = {**defaults, **options}
    for key, value in chosen.items():
        if key == "hidden":
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"option hidden={value!r}: the hidden size must be a whole number >= 1")
            chosen[key] = int(value)  # a NumPy integer would not go into JSON
        elif not isinstance(value, str) or value not in CHOICES[key]:
            raise ValueError(f"option {key}={value!r}: choose one of {', '.join(CHOICES[key])}")
    if chosen.get("head") == "dense":
        for key in _LSTM_HEAD:
            if key in options:
                raise ValueError(f"option {key!r} applies only with head 'lstm', not with head 'dense'")
            del chosen[key]
    return chosen


def build_model(name, rng=None, dtype=np.float32, **options):
    """Build one of ``MODEL_NAMES`` with weights drawn from ``rng``, and its ``options`` (module doc).

    E.g. ``build_model("cnn", conv2="direct")``, ``build_model("cnn_lstm", reading="rows", hidden=256)``.
    """
    options = model_options(name, **options)
    rng = np.random.default_rng() if rng is None else rng
    layers = BUILDERS[name](rng, dtype, **options)
    _, head = layers[-1]
    fan_in = head.params["W"].shape[0]
    head.params["W"][...] = rng.standard_normal(head.params["W"].shape) / fan_in
    return Model(name, layers, dtype, options)
