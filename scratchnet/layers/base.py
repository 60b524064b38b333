"""What every layer shares: the ``params``/``grads`` contract and input checks.

A layer's ``forward(x)`` returns its output and keeps what ``backward`` needs;
``backward(dout)`` returns the gradient with respect to ``x`` and *overwrites*
``self.grads`` (same keys and shapes as ``self.params``). The optimiser updates
``self.params`` in place.
"""

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class Layer:
    """Base class: empty ``params`` and ``grads``, and ``layer(x)`` as ``layer.forward(x)``."""

    def __init__(self):
        self.params = {}
        self.grads = {}

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError


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
