"""LoopConv2D, the convolution written as loops: the same layer as Conv2D, output and gradients."""

import numpy as np
from hypothesis import given, settings
from strategies import CONV_DEGENERATE, conv_cases, with_examples

from scratchnet.gradcheck import layer_gradient_errors
from scratchnet.layers import Conv2D, LoopConv2D


def build_pair(case):
    """A LoopConv2D and a Conv2D built alike (float64, nonzero bias), and an input."""
    N, C, F, H, W, kernel, stride, padding, seed = case
    loops, fast = (Layer(C, F, kernel, stride=stride, padding=padding, rng=np.random.default_rng(seed),
                         dtype=np.float64) for Layer in (LoopConv2D, Conv2D))
    rng = np.random.default_rng(seed + 1)
    loops.params["b"][...] = fast.params["b"][...] = rng.standard_normal(F)
    np.testing.assert_array_equal(loops.params["W"], fast.params["W"])  # the same initialisation
    return loops, fast, rng.standard_normal((N, C, H, W))


@given(case=conv_cases())
@with_examples(CONV_DEGENERATE)
def test_same_output_and_gradients_as_conv2d(case):
    loops, fast, x = build_pair(case)
    out = loops.forward(x)
    np.testing.assert_allclose(out, fast.forward(x), rtol=1e-12, atol=1e-12)
    dout = np.random.default_rng(case[-1] + 2).standard_normal(out.shape)
    np.testing.assert_allclose(loops.backward(dout), fast.backward(dout), rtol=1e-12, atol=1e-12)
    for name in ("W", "b"):
        np.testing.assert_allclose(loops.grads[name], fast.grads[name], rtol=1e-12, atol=1e-12)
    assert loops.backward(dout, input_grad=False) is None  # as Conv2D: dW and db only
    np.testing.assert_allclose(loops.grads["W"], fast.grads["W"], rtol=1e-12, atol=1e-12)


@settings(max_examples=10)
@given(case=conv_cases(max_side=4))
@with_examples(CONV_DEGENERATE)
def test_gradients_match_finite_differences(case):
    loops, _, x = build_pair(case)
    errors = layer_gradient_errors(loops, x, rng=np.random.default_rng(case[-1]))
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) < 1e-6, errors
