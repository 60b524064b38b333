"""Weight initialisation that keeps activations at a steady scale through deep stacks.

- He et al. (2015), "Delving Deep into Rectifiers": for a layer followed by ReLU,
  W ~ Normal(0, 2 / fan_in) keeps the variance of activations constant, since ReLU zeroes
  half of them.
- Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward
  neural networks": for tanh/sigmoid/linear layers, W ~ Uniform(-a, a) with
  a = sqrt(6 / (fan_in + fan_out)) balances the forward and backward variance.

Every function takes an explicit ``numpy.random.Generator``; ``rng=None`` means a fresh,
unseeded one.
"""

import numpy as np


def _generator(rng):
    return np.random.default_rng() if rng is None else rng


def he_normal(shape, fan_in, rng=None, dtype=np.float32):
    """He initialisation: Normal(0, std = sqrt(2 / fan_in))."""
    std = np.sqrt(2.0 / fan_in)
    return (_generator(rng).standard_normal(shape) * std).astype(dtype)


def glorot_uniform(shape, fan_in, fan_out, rng=None, dtype=np.float32):
    """Glorot (Xavier) initialisation: Uniform(-a, a), a = sqrt(6 / (fan_in + fan_out))."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return _generator(rng).uniform(-limit, limit, size=shape).astype(dtype)
