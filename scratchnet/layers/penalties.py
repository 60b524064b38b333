"""L2 and L1 weight penalties: the paper's formulas (9) and (8) as terms added to the loss.

    L2 = strength / 2 * sum_i w_i^2      gradient  strength * w          (half of ||w||_2^2, formula (9))
    L1 = strength * sum_i |w_i|          gradient  strength * sign(w)    (||w||_1, formula (8); 0 at w = 0)

The paper's L2 norm has a square root; the penalty squares it, and the 1/2 makes its
gradient exactly ``strength * w``, the "weight decay" an optimiser applies.

``params`` is a dict name -> array, and every array in it is included: biases too, if the
caller passes them. The optimiser's weight decay applies to all parameters, biases
included, matching the reference recipe, and it is counted there, once, in SGD. These
functions serve reporting (the value of the term) and the lessons; adding their gradients
to those of a model trained with weight decay would count the penalty twice.
"""

import numpy as np


def _check_strength(strength, where):
    if not strength >= 0:
        raise ValueError(f"{where}: strength must be a number >= 0, got {strength!r}")


def l2_penalty(params, strength):
    """Return (strength / 2 * sum of w^2 over every array, {name: strength * w})."""
    _check_strength(strength, "l2_penalty")
    value = strength / 2 * sum(float(np.sum(w * w)) for w in params.values())
    return value, {name: strength * w for name, w in params.items()}


def l1_penalty(params, strength):
    """Return (strength * sum of |w| over every array, {name: strength * sign(w)})."""
    _check_strength(strength, "l1_penalty")
    value = strength * sum(float(np.sum(np.abs(w))) for w in params.values())
    return value, {name: strength * np.sign(w) for name, w in params.items()}
