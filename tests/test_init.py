"""scratchnet.layers.init: He and Glorot draws have the variances their papers derive, and are seeded."""

import numpy as np
import pytest

from scratchnet.layers.init import glorot_uniform, he_normal


def test_he_normal_has_variance_two_over_fan_in():
    w = he_normal((400, 500), fan_in=50, rng=np.random.default_rng(0), dtype=np.float64)
    assert w.mean() == pytest.approx(0, abs=0.01)
    assert w.var() == pytest.approx(2 / 50, rel=0.02)


def test_glorot_uniform_is_bounded_with_variance_two_over_fans():
    w = glorot_uniform((400, 500), fan_in=30, fan_out=20, rng=np.random.default_rng(0), dtype=np.float64)
    limit = np.sqrt(6 / 50)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    assert w.var() == pytest.approx(limit**2 / 3, rel=0.02)  # Uniform(-a, a) has variance a^2 / 3


@pytest.mark.parametrize("draw", [lambda rng: he_normal((3, 4), 4, rng),
                                  lambda rng: glorot_uniform((3, 4), 4, 3, rng)])
def test_same_generator_same_weights_in_the_dtype_asked(draw):
    a, b = draw(np.random.default_rng(7)), draw(np.random.default_rng(7))
    assert np.array_equal(a, b) and a.dtype == np.float32
    assert not np.array_equal(a, draw(np.random.default_rng(8)))
