"""Tests of scratchnet/layers/losses.py: softmax and softmax cross-entropy."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import logits_and_labels

from scratchnet.gradcheck import numerical_gradient, relative_error
from scratchnet.layers.losses import softmax, softmax_cross_entropy


@given(logits_and_labels())
def test_dlogits_match_finite_differences_of_mean_loss(case):
    logits, labels = case
    _, dlogits = softmax_cross_entropy(logits, labels)
    numeric = numerical_gradient(lambda: softmax_cross_entropy(logits, labels)[0], logits)
    assert relative_error(dlogits, numeric) < 1e-6


def test_hand_worked_example():
    # logits [1, 2, 3], label 2: loss = log(e^1 + e^2 + e^3) - 3 = log(1 + e^-1 + e^-2) = 0.40760596...
    loss, dlogits = softmax_cross_entropy(np.array([[1.0, 2.0, 3.0]]), np.array([2]))
    assert loss == pytest.approx(0.4076059644443806, rel=1e-14)
    p = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    np.testing.assert_allclose(dlogits, [[p[0], p[1], p[2] - 1]], rtol=1e-14)


@pytest.mark.parametrize("C", [2, 10, 100])
def test_uniform_logits_give_ln_C(C):
    loss, dlogits = softmax_cross_entropy(np.zeros((4, C)), np.arange(4) % C)
    assert loss == pytest.approx(np.log(C), rel=1e-14)
    np.testing.assert_allclose(dlogits.sum(axis=1), 0, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_logits_stay_finite(dtype):
    logits = np.array([[1e4, 0.0, -1e4], [2e4, 2e4 + 1, 2e4 - 1]], dtype=dtype)
    labels = np.array([1, 0])
    loss, dlogits = softmax_cross_entropy(logits, labels)
    assert np.isfinite(loss) and np.isfinite(dlogits).all() and dlogits.dtype == dtype
    # row 0: label 1 is 1e4 below the max, loss 1e4; row 1: the same as logits [0, 1, -1]
    expected = (1e4 + softmax_cross_entropy(np.array([[0.0, 1.0, -1.0]]), np.array([0]))[0]) / 2
    assert loss == pytest.approx(expected, rel=1e-6)


@given(logits_and_labels(bound=30), st.floats(-1e3, 1e3))
def test_shifting_a_row_changes_nothing(case, shift):
    logits, labels = case
    loss, dlogits = softmax_cross_entropy(logits, labels)
    shifted_loss, shifted_dlogits = softmax_cross_entropy(logits + shift, labels)
    assert shifted_loss == pytest.approx(loss, rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(shifted_dlogits, dlogits, atol=1e-9)


@given(logits_and_labels(bound=100))
def test_softmax_rows_are_probabilities(case):
    p = softmax(case[0])
    assert (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-12)
    np.testing.assert_allclose(p, softmax(case[0] - 7.0), rtol=1e-9, atol=1e-300)


def test_float32_close_to_float64():
    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((8, 10)) * 3, rng.integers(0, 10, 8)
    loss32, d32 = softmax_cross_entropy(logits.astype(np.float32), labels)
    loss64, d64 = softmax_cross_entropy(logits, labels)
    assert d32.dtype == np.float32
    assert loss32 == pytest.approx(loss64, rel=1e-6)
    np.testing.assert_allclose(d32, d64, atol=1e-7)


def test_bad_input_names_function_and_shapes():
    logits = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy.*labels in \[0, 4\].*\[0, 4\).*\(3, 4\)"):
        softmax_cross_entropy(logits, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy.*labels in \[-1, 1\].*\[0, 4\)"):
        softmax_cross_entropy(logits, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy.*labels of shape \(2,\).*wanted \(3,\)"):
        softmax_cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy.*labels of shape \(3, 1\).*wanted \(3,\)"):
        softmax_cross_entropy(logits, np.zeros((3, 1), dtype=int))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy.*float64.*wanted \(3,\) integers"):
        softmax_cross_entropy(logits, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy.*\(12,\).*\(N, C\)"):
        softmax_cross_entropy(logits.ravel(), np.array([0]))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy.*\(0, 4\).*N >= 1"):
        softmax_cross_entropy(np.zeros((0, 4)), np.zeros(0, dtype=int))
    for bad in (np.nan, np.inf, -np.inf):
        logits[1, 2] = bad
        with pytest.raises(ValueError, match=r"softmax_cross_entropy.*\(3, 4\).*NaN or infinity"):
            softmax_cross_entropy(logits, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"softmax.*\(4,\).*\(N, C\)"):
        softmax(np.zeros(4))
