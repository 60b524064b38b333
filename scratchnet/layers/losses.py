"""Softmax and the softmax cross-entropy loss, computed so that large logits cannot overflow.

For logits z (N, C) and integer labels y (N,):

    softmax(z)_c = exp(z_c - m) / sum_c' exp(z_c' - m),        m = max_c z_c
    loss = 1/N sum_n [ log sum_c exp(z_nc) - z_n,y_n ]          (log-sum-exp, shifted by m)
    dloss/dz = (softmax(z) - onehot(y)) / N

Subtracting the row maximum changes nothing mathematically (it cancels between numerator
and denominator) but keeps every exponent <= 0, so exp never overflows and the largest
term is exactly 1, so the log never sees 0.
"""

import numpy as np

from scratchnet.layers.base import check_finite, check_input


def softmax(logits):
    """Row-wise softmax of (N, C) logits; returns probabilities (N, C) that sum to 1 per row."""
    check_input(logits, "softmax", "(N, C)", 2)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient.

    logits: (N, C) float32 or float64, finite. labels: (N,) integers in [0, C).
    Returns (loss, dlogits): loss a Python float, dlogits (N, C) in the dtype of logits.
    """
    where = "softmax_cross_entropy"
    check_input(logits, where, "logits (N, C)", 2)
    check_finite(logits, where)
    N, C = logits.shape
    labels = np.asarray(labels)
    if labels.shape != (N,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{where}: got labels of shape {labels.shape} and dtype {labels.dtype}, wanted ({N},) integers"
        )
    if N == 0:
        raise ValueError(f"{where}: got logits of shape {logits.shape}, wanted (N, C) with N >= 1")
    if labels.min() < 0 or labels.max() >= C:
        raise ValueError(
            f"{where}: got labels in [{labels.min()}, {labels.max()}], wanted class indices in [0, {C}) "
            f"for logits of shape {logits.shape}"
        )
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_sum_exp = np.log(np.exp(shifted).sum(axis=1))
    rows = np.arange(N)
    loss = np.mean(log_sum_exp - shifted[rows, labels])
    dlogits = np.exp(shifted - log_sum_exp[:, None])  # the softmax
    dlogits[rows, labels] -= 1
    return float(loss), dlogits / N
