"""Finite-difference gradient checks.

A backward pass is correct when it agrees with the central difference

    df/dx_i  ~  (f(x + h e_i) - f(x - h e_i)) / (2 h)

for every element i. The error of that estimate is O(h^2) from the Taylor series plus
O(eps * |f| / h) from rounding, so the check runs in float64 with h = 1e-6, where both
are far below the tolerance of 1e-6 we use.

This module imports nothing else from scratchnet: it works on any function of arrays and
on anything with ``forward``, ``backward``, ``params`` and ``grads``.
"""

import numpy as np


def numerical_gradient(f, x, h=1e-6, indices=None):
    """Central-difference gradient of the scalar ``f()`` with respect to the array ``x``.

    ``f`` takes no arguments and reads ``x``, which is perturbed in place one element at a
    time and restored afterwards. Returns an array shaped like ``x``; or, given flat
    ``indices``, only the derivatives at those elements (for arrays too large to check whole).
    """
    if x.dtype != np.float64:
        raise ValueError(
            f"numerical_gradient: got dtype {x.dtype}, wanted float64; finite differences "
            "in float32 are swamped by rounding error. Build the layer with dtype=np.float64."
        )
    flat = x.reshape(-1)  # a view: writing to it perturbs x
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient: x must be a contiguous array, "
                         "so that it can be perturbed in place")
    chosen = range(flat.size) if indices is None else indices
    grad = np.zeros(len(chosen))
    for k, index in enumerate(chosen):
        original = flat[index]
        flat[index] = original + h
        f_plus = f()
        flat[index] = original - h
        f_minus = f()
        flat[index] = original
        grad[k] = (f_plus - f_minus) / (2 * h)
    return grad.reshape(x.shape) if indices is None else grad


def relative_error(analytic, numeric):
    """max|a - n| / max(max|a| + max|n|, 1e-12): one number per array, scale-free."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise ValueError(f"relative_error: shapes differ, {analytic.shape} vs {numeric.shape}")
    if analytic.size == 0:
        return 0.0
    scale = max(np.max(np.abs(analytic)) + np.max(np.abs(numeric)), 1e-12)
    return float(np.max(np.abs(analytic - numeric)) / scale)


def layer_gradient_errors(layer, x, dout=None, rng=None, h=1e-6):
    """Relative error of every gradient a layer computes: ``{"x": ..., "W": ..., ...}``.

    The scalar checked is ``sum(layer.forward(x) * dout)`` for a fixed random ``dout``,
    whose gradient with respect to the output is exactly ``dout``; so ``layer.backward(dout)``
    must return its gradient with respect to ``x`` and fill ``layer.grads`` with the rest.
    """
    x = np.array(x, dtype=np.float64)
    out = layer.forward(x)
    if dout is None:
        rng = np.random.default_rng(0) if rng is None else rng
        dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    analytic = {"x": dx}
    analytic.update({name: grad.copy() for name, grad in layer.grads.items()})

    def objective():
        return float(np.sum(layer.forward(x) * dout))

    errors = {"x": relative_error(analytic["x"], numerical_gradient(objective, x, h))}
    for name, param in layer.params.items():
        errors[name] = relative_error(analytic[name], numerical_gradient(objective, param, h))
    return errors
