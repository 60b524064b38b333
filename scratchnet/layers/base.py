"""What every layer shares: the ``params``/``grads`` contract and the checks of its input.

A layer's ``forward(x)`` returns its output and keeps what ``backward`` needs;
``backward(dout)`` returns the gradient with respect to ``x`` and fills ``self.grads``.

The rule for ``grads``, which every layer follows:

- ``grads`` is allocated once, in the constructor: ``zeros_like`` each array of ``params``,
  under the same key (``zeros_like_params``). A layer without parameters has ``{}`` for both.
- ``backward`` overwrites those arrays in place (``self.grads[k][...] = ...``, or ``out=``).
  It never rebinds a key or replaces the dict, and it never adds to what was there.

So whoever holds ``layer.grads`` (a model's flat dict, an optimiser, a data-parallel worker
whose grads live in shared memory) holds the same arrays for the whole run, and after a backward they
hold that backward's gradient. The optimiser updates ``self.params`` in place, likewise.

``backward`` refuses what cannot be right, through ``Layer.check_dout``: a call before any
forward, or a ``dout`` not shaped like the last forward's output (which a kernel would read
out of bounds, or turn into a gradient for the wrong batch).
"""

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class Layer:
    """Base class: empty ``params`` and ``grads``, and ``layer(x)`` as ``layer.forward(x)``.

    ``where`` names the layer in error messages (subclasses add their sizes). ``forward``
    sets ``out_shape``, the shape ``backward`` takes its ``dout`` in.
    """

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.where = type(self).__name__
        self.out_shape = None  # no forward yet

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def check_dout(self, dout):
        """Refuse a backward before any forward, and a ``dout`` not shaped like the last output."""
        if self.out_shape is None:
            raise ValueError(f"{self.where}: backward called before forward; call forward(x) first")
        shape = getattr(dout, "shape", None)
        if not isinstance(dout, np.ndarray) or shape != self.out_shape:
            raise ValueError(f"{self.where}: backward got dout of shape {shape}, wanted {self.out_shape} "
                             f"(the shape of the last forward's output)")

    def flops(self, x_shape):
        """FLOPs of the layer's matrix products on an input of shape ``x_shape``, 2 per multiply-add:
        ``(forward, backward, the part of backward that computes the input gradient)``.

        Layers without a weight matrix count 0; the others say what their products cost.
        """
        return 0, 0, 0


def zeros_like_params(params):
    """The ``grads`` of a layer with these ``params``: a zero array like each, under the same key."""
    return {name: np.zeros_like(p) for name, p in params.items()}


def check_dtype(dtype, where):
    """Return ``np.dtype(dtype)`` if it is float32 or float64, else raise."""
    dtype = np.dtype(dtype)
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"{where}: dtype must be float32 or float64, got {dtype}")
    return dtype


def check_input(x, where, wanted, ndim, dtype=None):
    """Refuse what a layer cannot take, with a sentence that says what it wanted.

    ``where`` names the layer (``"Conv2D(3->64, k=5)"``), ``wanted`` describes the shape it
    takes (``"(N, 3, H, W)"``). ``dtype`` is the layer's parameter dtype, or None for a
    layer without parameters (then float32 and float64 are both fine).
    """
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{where}: expected a NumPy array of shape {wanted}, got {type(x).__name__}")
    if x.ndim != ndim:
        raise ValueError(f"{where}: got an array of shape {x.shape}, wanted {wanted} ({ndim} dimensions)")
    if dtype is not None and x.dtype != dtype:
        raise ValueError(
            f"{where}: got dtype {x.dtype}, wanted {dtype} (the dtype of the layer's parameters); "
            f"convert with x.astype(np.{dtype}) or build the layer with dtype=np.{x.dtype}"
        )
    if x.dtype not in FLOAT_DTYPES:
        raise ValueError(f"{where}: got dtype {x.dtype}, wanted float32 or float64")


class NonFiniteError(ValueError):
    """An input held NaN or infinity (a trainer reads this as a diverged run)."""


def check_finite(x, where):
    """Refuse NaN and infinity: they would silently poison every gradient downstream."""
    if not np.isfinite(x).all():
        raise NonFiniteError(f"{where}: input of shape {x.shape} contains NaN or infinity")
