"""McNemar's test: are two classifiers, scored on the same test images, equally accurate?

Two trained networks, first and second, classify the same n test images. The images both get
right, or both get wrong, say nothing about which is better; the others do:

    b = the images first gets right and second gets wrong
    c = the images first gets wrong and second gets right

If both were equally accurate on the population the images come from, each of the b + c
images where they part would go either way with probability 1/2: b ~ Binomial(b + c, 1/2).
The exact two-sided p-value is the probability, under that hypothesis, of a split at least
as uneven as the one seen:

    p = min(1, 2 * sum_{i=0}^{min(b, c)} C(b + c, i) / 2^(b + c))

so b = c gives p = 1, and the accuracies of the two (which also count the images where they
agree) enter only through b - c.

What it compares: two trained networks, these weights against those, on these images. It
knows nothing of the randomness of training, since another seed of the same architecture
makes other mistakes; whether one architecture beats another is answered by the spread of
accuracies over training seeds (several runs of each), which a test between two runs cannot
replace (Dietterich 1998 makes the same point).

The sum is taken in exact integers and divided by 2^(b + c) once: Python divides two
integers of any size with correct rounding, so b + c of 10,000 and more neither overflows
nor loses digits (a p-value below the smallest float, about 5e-324, comes out as 0.0).

References: Q. McNemar, "Note on the sampling error of the difference between correlated
proportions or percentages", Psychometrika 12, 1947. T. G. Dietterich, "Approximate
statistical tests for comparing supervised classification learning algorithms", Neural
Computation 10, 1998.
"""

from collections import namedtuple

import numpy as np

McNemar = namedtuple("McNemar", ["b", "c", "p_value"])


def exact_p_value(b, c):
    """Two-sided p-value of b successes against c under Binomial(b + c, 1/2) (module docstring)."""
    n = b + c
    tail, term = 0, 1                       # term = C(n, i), kept exact
    for i in range(min(b, c) + 1):
        tail += term
        term = term * (n - i) // (i + 1)    # C(n, i + 1) from C(n, i)
    return min(1.0, 2 * tail / 2**n)


def _correct(answers, labels, name):
    """Boolean array: True where a classifier is right."""
    answers = np.asarray(answers)
    if labels is None:
        if answers.dtype != bool:
            raise ValueError(f"mcnemar: {name} has dtype {answers.dtype}; pass booleans (True where the "
                             "classifier is right), or predicted classes together with labels=")
        return answers
    if answers.shape != labels.shape or not np.issubdtype(answers.dtype, np.integer):
        raise ValueError(f"mcnemar: {name} has shape {answers.shape} and dtype {answers.dtype}; "
                         f"wanted predicted classes, integers of the labels' shape {labels.shape}")
    return answers == labels


def mcnemar(first, second, labels=None):
    """McNemar's exact test for two classifiers scored on the same images: ``McNemar(b, c, p_value)``.

    first, second: boolean arrays (n,), True where each classifier is right; or, with ``labels``
    (n,) integers, the classes each predicted. b counts the images only first gets right, c
    those only second gets right; p_value is the exact two-sided p-value (module docstring).
    """
    labels = None if labels is None else np.asarray(labels)
    first, second = _correct(first, labels, "first"), _correct(second, labels, "second")
    if first.ndim != 1 or first.shape != second.shape or first.size == 0:
        raise ValueError(f"mcnemar: got shapes {first.shape} and {second.shape}; wanted two arrays of "
                         "the same shape (n,), n >= 1, one value per test image")
    b = int(np.count_nonzero(first & ~second))
    c = int(np.count_nonzero(~first & second))
    return McNemar(b, c, exact_p_value(b, c))
