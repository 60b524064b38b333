"""Optimisation: SGD with momentum and weight decay, gradient clipping, the learning-rate schedule.

Everything here works on flat dicts ``name -> np.ndarray`` (``{"conv1.W": ..., "lstm.b": ...}``)
and knows nothing of layers or models: a model hands over its ``params`` and ``grads``.

The recipe (momentum 0.9, weight decay 5e-4, clipping at norm 5, linear warm-up then cosine
decay) is the standard one for small CIFAR-10 networks; see ``SGD``, ``clip_grad_norm`` and
``WarmupCosine`` for the formulas.
"""

import math

import numpy as np


class SGD:
    """Stochastic gradient descent with momentum and weight decay, updating ``params`` in place.

    For every parameter w with data-loss gradient dL/dw, one step is

        g = dL/dw + weight_decay * w        # gradient of the L2 penalty (weight_decay/2) * sum w^2
        v = momentum * v + g                # velocity: a running sum of past gradients
        w = w - lr * v

    This is the classic (PyTorch) form: the velocity holds gradients, not steps, so a change of
    learning rate takes effect at once rather than fading in through v. Sutskever et al. (2013)
    write v = momentum * v - lr * g, w = w + v instead; the two agree when lr is constant.

    Weight decay adds exactly the gradient of the penalty (weight_decay / 2) * sum(w^2), on
    every parameter, biases included, as the reference recipe does; the loss must therefore
    not add an L2 term of its own, or the penalty is counted twice.

    params:  dict name -> float array, updated in place (keep the same dict in the model).
    Velocities: one zero array per parameter, in the parameter's dtype and shape.
    """

    def __init__(self, params, momentum=0.9, weight_decay=5e-4):
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"SGD: weight_decay must be >= 0, got {weight_decay}")
        for name, w in params.items():
            if not isinstance(w, np.ndarray) or w.dtype.kind != "f":
                raise ValueError(
                    f"SGD: parameter {name!r} must be a float NumPy array, "
                    f"got {getattr(w, 'dtype', type(w).__name__)}"
                )
        self.params = params
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.velocity = {name: np.zeros_like(w) for name, w in params.items()}

    def step(self, grads, lr):
        """Update every parameter once from ``grads`` (same keys and shapes as ``params``).

        ``lr`` is this step's learning rate: the schedule owns it (``WarmupCosine``), not the optimiser.
        """
        _check_lr(lr, "SGD.step")
        check_same_arrays(grads, self.params, "SGD.step", "grads", "params")
        for name, w in self.params.items():
            v = self.velocity[name]
            v *= self.momentum
            v += grads[name]
            v += self.weight_decay * w
            w -= lr * v

    def state_dict(self):
        """Copies of the velocities, keyed ``"velocity/<name>"``: plain arrays for an ``.npz``."""
        return {f"velocity/{name}": v.copy() for name, v in self.velocity.items()}

    def load_state_dict(self, state):
        """Copy velocities saved by ``state_dict`` into this optimiser; nothing changes on error."""
        wanted = {f"velocity/{name}": v for name, v in self.velocity.items()}
        check_same_arrays(state, wanted, "SGD.load_state_dict", "state", "this optimiser's velocities")
        for key, v in wanted.items():
            v[...] = state[key]


def _check_lr(lr, where):
    if not lr >= 0.0:  # also refuses NaN
        raise ValueError(f"{where}: learning rate must be >= 0, got {lr}")


def check_same_arrays(got, wanted, where, got_name, wanted_name, dtypes=False):
    """Refuse ``got`` unless it has exactly the keys of ``wanted`` with the same shapes (and dtypes)."""
    missing = sorted(wanted.keys() - got.keys())
    unexpected = sorted(got.keys() - wanted.keys())
    if missing or unexpected:
        raise ValueError(
            f"{where}: {got_name} keys do not match {wanted_name}: "
            f"missing {missing}, unexpected {unexpected}"
        )
    def described(array):
        return f"{np.shape(array)}{' ' + str(getattr(array, 'dtype', '')) if dtypes else ''}"

    wrong = [f"{key}: got {described(got[key])}, wanted {described(wanted[key])}"
             for key in wanted if np.shape(got[key]) != wanted[key].shape
             or (dtypes and getattr(got[key], "dtype", None) != wanted[key].dtype)]
    if wrong:
        raise ValueError(f"{where}: {got_name} shapes{' or dtypes' if dtypes else ''} do not match "
                         f"{wanted_name}: " + "; ".join(wrong))


def clip_grad_norm(grads, max_norm):
    """Rescale all gradients together so that their global L2 norm is at most ``max_norm``.

        norm = sqrt(sum over every array g of sum(g^2))
        if norm > max_norm:  g = g * (max_norm / norm)   for every g, in place

    One shared factor keeps the direction of the whole update and only shortens it: this is
    what stops a rare exploding gradient (the LSTM's, over 48 time steps) from throwing the
    weights far away in one step (Pascanu et al., 2013). The sum is taken in float64 so that
    squaring large float32 gradients neither overflows nor loses the small ones.

    Returns the norm *before* clipping. A non-finite norm (NaN or infinity somewhere) is
    returned without touching the gradients: scaling would only spread the NaN, and the
    trainer reports it and stops.
    """
    if not max_norm > 0.0:
        raise ValueError(f"clip_grad_norm: max_norm must be > 0, got {max_norm}")
    norm = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads.values()))
    if math.isfinite(norm) and norm > max_norm:
        scale = max_norm / norm
        for g in grads.values():
            g *= scale
    return norm


class WarmupCosine:
    """Learning rate for step s = 0, 1, 2, ...: linear warm-up, then cosine decay to zero.

    With peak lr P, W warm-up steps and T steps in the whole run (steps 0 .. T-1):

        lr(s) = P * (s + 1) / W                              for 0 <= s < W
        lr(s) = P * (1 + cos(pi * (s - W) / (T - W))) / 2     for W <= s <= T
        lr(s) = 0                                             for s > T

    So lr(0) = P / W, the ramp reaches P at its last step s = W - 1 and the decay starts from
    P at s = W; the cosine's midpoint s = (W + T) / 2 gets P / 2, and lr(T) = 0 exactly. Step
    T is one past the last step of the run, so the last update (s = T - 1) still gets a small
    positive rate, P * (1 - cos(pi / (T - W))) / 2, rather than a wasted zero. Warming up
    stops the first updates, taken with large random-init gradients and a fresh momentum,
    from throwing the weights off (Goyal et al., 2017); the cosine (Loshchilov & Hutter, 2017)
    lowers the rate smoothly to let the weights settle.

    If ``warmup_steps >= total_steps`` the warm-up would never finish inside the run, so it is
    shortened to ``total_steps // 2``: half the run warms up, the other half decays.
    ``warmup_steps = 0`` starts the cosine at once. Pure: the value depends on ``step`` only.
    """

    def __init__(self, peak_lr, warmup_steps, total_steps):
        if not peak_lr >= 0.0:
            raise ValueError(f"WarmupCosine: peak_lr must be >= 0, got {peak_lr}")
        if warmup_steps < 0 or total_steps < 1:
            raise ValueError(
                f"WarmupCosine: need warmup_steps >= 0 and total_steps >= 1, "
                f"got warmup_steps={warmup_steps}, total_steps={total_steps}"
            )
        self.peak_lr = float(peak_lr)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps) if warmup_steps < total_steps else self.total_steps // 2

    def __call__(self, step):
        if step < 0:
            raise ValueError(f"WarmupCosine: step counts from 0, got {step}")
        P, W, T = self.peak_lr, self.warmup_steps, self.total_steps
        if step < W:
            return P * (step + 1) / W
        if step > T:
            return 0.0
        return P * (1.0 + math.cos(math.pi * (step - W) / (T - W))) / 2.0
