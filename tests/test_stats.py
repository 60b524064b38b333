"""McNemar's exact test: hand-computed cases, the definition by brute force, large n, bad input."""

import math
from fractions import Fraction

import numpy as np
import pytest

from scratchnet.stats import exact_p_value, mcnemar


@pytest.mark.parametrize("b, c, p", [
    (0, 0, 1.0),             # no disagreement: no evidence either way
    (5, 5, 1.0), (3, 4, 1.0), (1, 0, 1.0),
    (0, 5, 2 / 32),          # 2 * C(5, 0) / 2^5
    (6, 1, 2 * 8 / 128),     # 2 * (C(7, 0) + C(7, 1)) / 2^7
    (2, 8, 2 * 56 / 1024),   # 2 * (1 + 10 + 45) / 2^10 = 0.109375
    (0, 10, 2 / 1024),
])
def test_hand_computed_p_values(b, c, p):
    assert exact_p_value(b, c) == p
    assert exact_p_value(c, b) == p   # two-sided: which classifier is "first" does not matter


def test_p_value_is_the_probability_of_a_split_at_least_as_unlikely():
    # The definition, by brute force in exact fractions: every split i of n whose probability
    # under Binomial(n, 1/2) is at most that of the split seen.
    for n in range(21):
        for b in range(n + 1):
            seen = math.comb(n, b)
            p = sum(Fraction(math.comb(n, i), 2**n) for i in range(n + 1) if math.comb(n, i) <= seen)
            assert exact_p_value(b, n - b) == float(p), (b, n - b)


def log_space_p_value(b, c):
    """The same p-value by another road: log C(n, i) from lgamma, summed with log-sum-exp."""
    n = b + c
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2)
            for i in range(min(b, c) + 1)]
    top = max(logs)
    return min(1.0, 2 * math.exp(top + math.log(sum(math.exp(v - top) for v in logs))))


@pytest.mark.parametrize("b, c", [(4900, 5100), (5400, 4600), (4000, 6000), (120, 180)])
def test_large_counts_neither_overflow_nor_lose_precision(b, c):
    p = exact_p_value(b, c)
    assert 0 < p < 1
    assert p == pytest.approx(log_space_p_value(b, c), rel=1e-9)


def test_a_p_value_below_the_smallest_float_is_zero_not_an_error():
    assert exact_p_value(0, 10_000) == 0.0   # 2 / 2^10000


def test_counts_the_images_where_the_classifiers_part():
    first = np.array([True, True, True, False, False, True, False])
    second = np.array([True, False, False, True, False, True, False])
    result = mcnemar(first, second)
    assert (result.b, result.c) == (2, 1)
    assert result.p_value == exact_p_value(2, 1) == 1.0
    assert mcnemar(second, first)[:2] == (1, 2)


def test_predictions_and_labels_give_the_same_result_as_booleans():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 500)
    first = np.where(rng.random(500) < 0.8, labels, (labels + 1) % 10)
    second = np.where(rng.random(500) < 0.7, labels, (labels + 3) % 10).astype(np.uint8)
    by_predictions = mcnemar(first, second, labels=labels)
    assert by_predictions == mcnemar(first == labels, second == labels)
    assert by_predictions.b + by_predictions.c > 0 and by_predictions.p_value < 0.05


def test_identical_classifiers_give_p_one():
    correct = np.random.default_rng(1).random(100) < 0.5
    assert mcnemar(correct, correct) == (0, 0, 1.0)


@pytest.mark.parametrize("first, second, labels, message", [
    (np.array([1, 0]), np.array([True, False]), None, "first has dtype int64; pass booleans"),
    (np.array([True]), np.array([True, False]), None, r"got shapes \(1,\) and \(2,\)"),
    (np.zeros(0, bool), np.zeros(0, bool), None, "n >= 1"),
    (np.array([1.0, 2.0]), np.array([1, 2]), np.array([1, 2]), "first has .* float64; wanted predicted"),
    (np.array([1, 2]), np.array([1, 2, 3]), np.array([1, 2]), r"second has shape \(3,\)"),
])
def test_bad_input_is_refused_with_a_sentence(first, second, labels, message):
    with pytest.raises(ValueError, match=message):
        mcnemar(first, second, labels=labels)
