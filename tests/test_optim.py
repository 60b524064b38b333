"""Tests for scratchnet.optim: SGD, clip_grad_norm, WarmupCosine."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from scratchnet.gradcheck import numerical_gradient, relative_error
from scratchnet.optim import SGD, WarmupCosine, clip_grad_norm

# ---------------------------------------------------------------- SGD


def test_sgd_two_steps_match_hand_computed_numbers():
    w = np.array([1.0, -2.0])
    sgd = SGD({"w": w}, momentum=0.9, weight_decay=0.01)
    # step 1: g = [0.5 + 0.01*1, 0.1 + 0.01*(-2)] = [0.51, 0.08];  v = g;  w -= 0.1 * v
    sgd.step({"w": np.array([0.5, 0.1])}, lr=0.1)
    np.testing.assert_allclose(w, [0.949, -2.008], rtol=0, atol=1e-15)
    # step 2: g = [-0.2 + 0.00949, 0.3 - 0.02008] = [-0.19051, 0.27992]
    #         v = 0.9 * [0.51, 0.08] + g = [0.26849, 0.35192];  w -= 0.1 * v
    sgd.step({"w": np.array([-0.2, 0.3])}, lr=0.1)
    np.testing.assert_allclose(sgd.velocity["w"], [0.26849, 0.35192], rtol=0, atol=1e-15)
    np.testing.assert_allclose(w, [0.922151, -2.043192], rtol=0, atol=1e-15)


def test_a_new_lr_scales_the_whole_velocity():
    # The velocity stores gradients, so a new lr applies to all of it at once:
    # step 1 (lr 0.5): v = 1,                w = 1 - 0.5 * 1     = 0.5
    # step 2 (lr 0.1): v = 0.9 * 1 + 1 = 1.9, w = 0.5 - 0.1 * 1.9 = 0.31
    w = np.array([1.0])
    sgd = SGD({"w": w}, momentum=0.9, weight_decay=0.0)
    sgd.step({"w": np.array([1.0])}, lr=0.5)
    sgd.step({"w": np.array([1.0])}, lr=0.1)
    assert w[0] == pytest.approx(0.31, abs=1e-15)


@given(
    w=arrays(np.float64, st.integers(1, 6), elements=st.floats(-3, 3)),
    strength=st.floats(1e-4, 1.0),
)
def test_weight_decay_is_exactly_the_gradient_of_the_l2_penalty(w, strength):
    # With zero data gradient, no momentum and lr 1, one step subtracts exactly the
    # gradient SGD uses for the penalty: g = w_before - w_after.
    before = w.copy()
    SGD({"w": w}, momentum=0.0, weight_decay=strength).step({"w": np.zeros_like(w)}, lr=1.0)
    penalty_gradient = before - w

    x = before.copy()
    numeric = numerical_gradient(lambda: strength / 2 * np.sum(x**2), x)
    assert relative_error(penalty_gradient, numeric) < 1e-6


def test_sgd_minimises_a_quadratic_and_counts_the_decay_once():
    # L(w) = sum a/2 (w - c)^2 has its minimum at c; with the penalty d/2 w^2 added
    # (counted once) the minimum moves to a c / (a + d).
    a = np.array([1.0, 2.0, 0.5])
    c = np.array([3.0, -1.0, 2.0])
    for decay, target in [(0.0, c), (0.1, a * c / (a + 0.1))]:
        w = np.zeros(3)
        sgd = SGD({"w": w}, momentum=0.9, weight_decay=decay)
        for _ in range(500):
            sgd.step({"w": a * (w - c)}, lr=0.1)
        np.testing.assert_allclose(w, target, atol=1e-8)


def test_velocity_is_zero_at_start_and_in_the_params_dtype():
    params = {"W": np.ones((2, 3), np.float32), "b": np.ones(3, np.float32)}
    sgd = SGD(params)
    for name, w in params.items():
        assert sgd.velocity[name].dtype == np.float32
        assert sgd.velocity[name].shape == w.shape
        assert not sgd.velocity[name].any()
    sgd.step({"W": np.ones((2, 3), np.float32), "b": np.ones(3, np.float32)}, lr=0.1)
    assert params["W"].dtype == np.float32 and sgd.velocity["W"].dtype == np.float32


def test_params_are_updated_in_place():
    W = np.ones((2, 2))
    params = {"W": W}
    SGD(params).step({"W": np.ones((2, 2))}, lr=0.1)
    assert params["W"] is W and (W < 1).all()


def test_state_round_trip_continues_identically():
    rng = np.random.default_rng(0)
    start = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    grads = [{k: rng.standard_normal(v.shape) for k, v in start.items()} for _ in range(6)]

    run = {k: v.copy() for k, v in start.items()}
    sgd = SGD(run)
    for g in grads:
        sgd.step(g, lr=0.05)

    half = {k: v.copy() for k, v in start.items()}
    first = SGD(half)
    for g in grads[:3]:
        first.step(g, lr=0.05)
    state = first.state_dict()
    assert set(state) == {"velocity/W", "velocity/b"}
    second = SGD(half)
    second.load_state_dict(state)
    for g in grads[3:]:
        second.step(g, lr=0.05)
    for k in start:
        np.testing.assert_array_equal(half[k], run[k])


def test_state_dict_is_a_copy():
    sgd = SGD({"w": np.ones(2)})
    state = sgd.state_dict()
    sgd.step({"w": np.ones(2)}, lr=0.1)
    assert not state["velocity/w"].any()


@pytest.mark.parametrize(
    "state, message",
    [
        ({}, r"missing \['velocity/b', 'velocity/w'\]"),
        ({"velocity/w": np.zeros(2), "velocity/b": np.zeros(1), "velocity/x": np.zeros(1)},
         r"unexpected \['velocity/x'\]"),
        ({"velocity/w": np.zeros(3), "velocity/b": np.zeros(1)}, r"velocity/w: got \(3,\), wanted \(2,\)"),
    ],
)
def test_load_state_dict_refuses_mismatches_and_changes_nothing(state, message):
    sgd = SGD({"w": np.ones(2), "b": np.ones(1)})
    sgd.step({"w": np.ones(2), "b": np.ones(1)}, lr=0.1)
    before = sgd.state_dict()
    with pytest.raises(ValueError, match=message):
        sgd.load_state_dict(state)
    for key, v in sgd.state_dict().items():
        np.testing.assert_array_equal(v, before[key])


@pytest.mark.parametrize(
    "grads, message",
    [
        ({"w": np.ones(2)}, r"missing \['b'\]"),
        ({"w": np.ones(2), "b": np.ones(1), "c": np.ones(1)}, r"unexpected \['c'\]"),
        ({"w": np.ones((2, 1)), "b": np.ones(1)}, r"w: got \(2, 1\), wanted \(2,\)"),
    ],
)
def test_step_refuses_grads_that_do_not_match_params(grads, message):
    params = {"w": np.ones(2), "b": np.ones(1)}
    with pytest.raises(ValueError, match=message):
        SGD(params).step(grads, lr=0.1)
    assert (params["w"] == 1).all() and (params["b"] == 1).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"momentum": 1.0}, "momentum"),
        ({"momentum": -0.1}, "momentum"),
        ({"weight_decay": -1e-4}, "weight_decay"),
    ],
)
def test_bad_hyper_parameters_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SGD({"w": np.ones(2)}, **kwargs)


def test_negative_step_lr_and_integer_params_are_refused():
    for lr in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="learning rate"):
            SGD({"w": np.ones(2)}).step({"w": np.ones(2)}, lr=lr)
    with pytest.raises(ValueError, match="'w' must be a float NumPy array"):
        SGD({"w": np.ones(2, dtype=np.int64)})


# ---------------------------------------------------------------- clip_grad_norm


def global_norm(grads):
    return math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads.values()))


def test_clip_below_threshold_leaves_gradients_unchanged():
    grads = {"a": np.array([3.0]), "b": np.array([[4.0]])}  # norm 5
    assert clip_grad_norm(grads, 5.0) == 5.0
    assert grads["a"][0] == 3.0 and grads["b"][0, 0] == 4.0


@given(
    a=arrays(np.float32, st.integers(1, 8), elements=st.floats(-1e3, 1e3, width=32)),
    b=arrays(np.float32, (2, 3), elements=st.floats(-1e3, 1e3, width=32)),
    max_norm=st.floats(0.1, 10.0),
)
def test_clip_above_threshold_scales_to_max_norm_and_returns_the_old_norm(a, b, max_norm):
    grads = {"a": a.copy(), "b": b.copy()}
    before = global_norm(grads)
    returned = clip_grad_norm(grads, max_norm)
    assert returned == pytest.approx(before, rel=1e-12)
    if before > max_norm:
        assert global_norm(grads) == pytest.approx(max_norm, rel=1e-5)  # float32 rounding
        # one shared factor: the direction is kept
        np.testing.assert_allclose(grads["a"], a * np.float32(max_norm / before), rtol=1e-6)
    else:
        np.testing.assert_array_equal(grads["a"], a)
    assert grads["a"].dtype == np.float32


def test_clip_norm_is_computed_in_float64():
    # each square (1e20^2 = 1e40) overflows float32; the norm 2e20 does not
    grads = {"a": np.full(4, 1e20, dtype=np.float32)}
    assert clip_grad_norm(grads, 1.0) == pytest.approx(2e20, rel=1e-6)
    assert global_norm(grads) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_clip_non_finite_norm_is_returned_without_scaling(bad):
    grads = {"a": np.array([1.0, bad]), "b": np.array([100.0])}
    norm = clip_grad_norm(grads, 1.0)
    assert not math.isfinite(norm)
    assert grads["b"][0] == 100.0 and grads["a"][0] == 1.0


def test_clip_refuses_non_positive_max_norm():
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm({"a": np.ones(2)}, 0.0)


# ---------------------------------------------------------------- WarmupCosine


def test_schedule_key_points():
    peak, W, T = 0.02, 200, 1000
    lr = WarmupCosine(peak, W, T)
    assert lr(0) == pytest.approx(peak / W, rel=1e-12)
    assert lr(W - 1) == pytest.approx(peak, rel=1e-12)
    assert lr(W) == pytest.approx(peak, rel=1e-12)
    assert lr((W + T) // 2) == pytest.approx(peak / 2, rel=1e-12)
    last = lr(T - 1)
    assert 0 < last < 1e-5 * peak  # pi^2 / (4 (T - W)^2) of the peak
    assert last == pytest.approx(peak * (1 - math.cos(math.pi / (T - W))) / 2, rel=1e-12)
    assert lr(T) == 0.0
    assert lr(T + 5) == 0.0


@given(W=st.integers(0, 60), T=st.integers(1, 120), peak=st.floats(1e-4, 1.0))
def test_schedule_rises_then_falls_and_stays_in_range(W, T, peak):
    schedule = WarmupCosine(peak, W, T)
    values = np.array([schedule(s) for s in range(T + 1)])
    top = int(np.argmax(values))
    assert values[top] == pytest.approx(peak, rel=1e-12)
    assert (np.diff(values[: top + 1]) > 0).all()  # the warm-up strictly rises
    assert (np.diff(values[top:]) <= 0).all()  # then the rate never rises again
    assert (values[:T] > 0).all() and values[T] == 0.0
    assert schedule.warmup_steps < T


def test_schedule_shortens_a_warmup_longer_than_the_run():
    lr = WarmupCosine(1.0, warmup_steps=200, total_steps=100)
    assert lr.warmup_steps == 50
    assert lr(49) == pytest.approx(1.0) and lr(50) == pytest.approx(1.0) and lr(100) == 0.0


def test_schedule_is_pure():
    lr = WarmupCosine(0.05, 10, 50)
    forward = [lr(s) for s in range(51)]
    assert [lr(s) for s in reversed(range(51))] == forward[::-1]


@pytest.mark.parametrize(
    "args", [(-0.1, 10, 100), (0.1, -1, 100), (0.1, 10, 0)],
)
def test_schedule_refuses_bad_arguments(args):
    with pytest.raises(ValueError, match="WarmupCosine"):
        WarmupCosine(*args)


def test_schedule_refuses_a_negative_step():
    with pytest.raises(ValueError, match="counts from 0"):
        WarmupCosine(0.1, 10, 100)(-1)
