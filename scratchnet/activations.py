"""What a trained network holds inside, for a few images: feature maps and recurrent gates.

Everything here goes through the layers' public face: the model's layers are run one by one
(``layer.forward``), and a recurrent layer's steps are re-run from its parameters with the
public step functions of ``scratchnet.layers``, the gates computed beside them from the same
``W`` and ``b`` (the layouts the recurrent module's docstring gives):

    LSTM: a = [h_{t-1}, x_t] W^T + b;  f, i, o = sigmoid(a_f, a_i, a_o);  g = tanh(a_g)
    GRU:  z, r = sigmoid([h_{t-1}, x_t] W_zr^T + b_zr);  n = tanh([r * h_{t-1}, x_t] W_n^T + b_n)
"""

import numpy as np

from scratchnet.layers import GRU, LSTM, Conv2D, LocalResponseNorm, gru_step_forward, lstm_step_forward
from scratchnet.layers.recurrent import sigmoid

# The images the report looks inside: the first test image of each of these classes
# (airplane, automobile, cat, ship: two man-made shapes, an animal, a large flat background)
FIXED_CLASSES = (0, 1, 3, 8)


def fixed_examples(labels, classes=FIXED_CLASSES):
    """Indices of the first image of each class in ``classes`` that ``labels`` holds, in that order."""
    labels = np.asarray(labels)
    return np.array([int(np.argmax(labels == c)) for c in classes if np.any(labels == c)], dtype=np.int64)


def feature_maps(model, x):
    """The output of every convolution and LRN layer for standardised images ``x`` (N, 3, 24, 24).

    Returns a list of ``(layer name, maps (N, C, h, w), signed)``: signed is True for a
    convolution (its output has both signs before the ReLU), False for an LRN (after a ReLU).
    """
    stages = []
    for name, layer in model.layers:
        x = layer.forward(x)
        if isinstance(layer, (Conv2D, LocalResponseNorm)):
            stages.append((name, x, isinstance(layer, Conv2D)))
        if x.ndim != 4:  # past the convolutional part
            break
    return stages


def recurrent_states(model, x):
    """Hidden states and gates of the model's LSTM or GRU over its time steps, or None if it has none.

    Returns ``(layer name, {quantity: (N, T, H)})``: for an LSTM h, c, f, i, g, o; for a GRU
    h, z, r, n. ``x`` are standardised images (N, 3, 24, 24).
    """
    for name, layer in model.layers:
        if isinstance(layer, (LSTM, GRU)):
            return name, _unroll(layer, x)
        x = layer.forward(x)
    return None


def _unroll(layer, x):
    """Run a recurrent layer over x (N, T, D) step by step, keeping every state and gate."""
    W, b = layer.params["W"], layer.params["b"]
    N, T, _ = x.shape
    H = layer.hidden_size
    h = np.zeros((N, H), x.dtype)
    c = np.zeros((N, H), x.dtype)
    names = ("h", "c", "f", "i", "g", "o") if isinstance(layer, LSTM) else ("h", "z", "r", "n")
    out = {name: np.empty((N, T, H), x.dtype) for name in names}
    for t in range(T):
        hx = np.concatenate([h, x[:, t]], axis=1)
        if isinstance(layer, LSTM):
            a = hx @ W.T + b
            gates = {"f": sigmoid(a[:, :H]), "i": sigmoid(a[:, H:2 * H]), "g": np.tanh(a[:, 2 * H:3 * H]),
                     "o": sigmoid(a[:, 3 * H:])}
            h, c, _ = lstm_step_forward(x[:, t], h, c, W, b)
            gates["c"] = c
        else:
            zr = sigmoid(hx @ W[:2 * H].T + b[:2 * H])
            r = zr[:, H:]
            n = np.tanh(np.concatenate([r * h, x[:, t]], axis=1) @ W[2 * H:].T + b[2 * H:])
            gates = {"z": zr[:, :H], "r": r, "n": n}
            h, _ = gru_step_forward(x[:, t], h, W, b)
        gates["h"] = h
        for name in names:
            out[name][:, t] = gates[name]
    return out
