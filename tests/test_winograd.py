"""Winograd convolution: the matrices, the kernels against their references and adjoints,
and WinogradConv2D against Conv2D, finite differences and float32 rounding."""

import numpy as np
import pytest
from hypothesis import given
from strategies import CONV_DEGENERATE_STRIDE_1, conv_cases, tile_cases, with_examples

from scratchnet.gradcheck import layer_gradient_errors
from scratchnet.kernels import winograd as kernels
from scratchnet.layers import conv as conv_module
from scratchnet.layers.conv import Conv2D
from scratchnet.layers.winograd import WinogradConv2D
from scratchnet.models import Model, build_model

SIZES = [(m, r) for m in range(1, 5) for r in range(1, 8) if m + r - 1 <= kernels.MAX_TILE]


@pytest.mark.parametrize("m, r", SIZES)
def test_matrices_give_the_correlation(m, r):
    # y_i = sum_k g_k d_{i+k}, i < m, from a = m + r - 1 multiplications
    AT, G, BT = kernels.winograd_matrices(m, r)
    a = m + r - 1
    assert AT.shape == (m, a) and G.shape == (a, r) and BT.shape == (a, a)
    rng = np.random.default_rng(m * 10 + r)
    for _ in range(5):
        d, g = rng.standard_normal(a), rng.standard_normal(r)
        direct = [np.dot(g, d[i:i + r]) for i in range(m)]
        np.testing.assert_allclose(AT @ ((G @ g) * (BT @ d)), direct, rtol=1e-12, atol=1e-12)


def test_matrices_are_exact_in_fractions():
    # with whole-number inputs, F(2, 5) in exact arithmetic gives exactly the sums of the definition
    AT, G, BT = (np.array(M, dtype=object) for M in kernels.winograd_fractions(2, 5))
    assert any(v.denominator > 1 for v in BT.ravel())  # real fractions, not rounded floats
    d, g = np.array([3, -1, 4, 1, -5, 9], dtype=object), np.array([2, 6, -5, 3, 5], dtype=object)
    assert list(AT.dot(G.dot(g) * BT.dot(d))) == [np.dot(g, d[i:i + 5]) for i in range(2)]
    np.testing.assert_array_equal(kernels.winograd_matrices(2, 5)[2], BT.astype(np.float64))


def test_impossible_sizes_and_options_are_refused():
    with pytest.raises(ValueError, match=r"F\(2, 8\) needs a tile of 9 points"):
        kernels.winograd_matrices(2, 8)
    with pytest.raises(ValueError, match=r"WinogradConv2D\(3->2, kernel_size=9\): kernels up to 7 x 7 only "
                                         r".* use Conv2D for a 9 x 9 kernel"):
        WinogradConv2D(3, 2, 9)
    with pytest.raises(ValueError, match=r"WinogradConv2D\(3->2, kernel_size=5\): tile must be a whole "
                                         r"number from 1 to 4 .*, got 5"):
        WinogradConv2D(3, 2, 5, tile=5)
    with pytest.raises(ValueError, match=r"WinogradConv2D\(3->2, kernel_size=0\): "
                                         "kernel_size must be a positive"):
        WinogradConv2D(3, 2, 0)
    with pytest.raises(ValueError, match=r"WinogradConv2D\(3->2, kernel_size=5\): stride must be 1, got 2; "
                                         "use Conv2D for a strided convolution"):
        WinogradConv2D(3, 2, 5, stride=2)
    with pytest.raises(ValueError, match=r"WinogradConv2D\(3->2, kernel_size=5\): "
                                         "dtype must be float32 or float64"):
        WinogradConv2D(3, 2, 5, dtype=np.int32)


def _matrices(m, rh, rw):
    (ATh, _, BTh), (ATw, _, BTw) = kernels.winograd_matrices(m, rh), kernels.winograd_matrices(m, rw)
    return ATh, BTh, ATw, BTw


def _tol(dtype):
    return {"rtol": 1e-5, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}


@given(case=tile_cases(kernels.MAX_TILE))
def test_input_transform_and_its_adjoint_equal_the_references(case):
    m, rh, rw, shape, dtype, seed = case
    ATh, BTh, ATw, BTw = _matrices(m, rh, rw)
    rng = np.random.default_rng(seed)
    xp = rng.standard_normal(shape).astype(dtype)
    V = kernels.input_transform(xp, BTh, BTw, m)
    assert V.dtype == dtype
    np.testing.assert_allclose(V, kernels.input_transform_reference(xp, BTh, BTw, m), **_tol(dtype))
    dV = rng.standard_normal(V.shape).astype(dtype)
    start = rng.standard_normal(shape).astype(dtype)  # the adjoint adds onto what is there
    fast = kernels.input_transform_adjoint(dV, BTh, BTw, m, start.copy())
    np.testing.assert_allclose(fast, kernels.input_transform_adjoint_reference(dV, BTh, BTw, m, start.copy()),
                               **_tol(dtype))


@given(case=tile_cases(kernels.MAX_TILE))
def test_output_transform_and_its_adjoint_equal_the_references(case):
    m, rh, rw, shape, dtype, seed = case
    ATh, BTh, ATw, BTw = _matrices(m, rh, rw)
    N, Hp, Wp, F = shape
    th, tw = (Hp - BTh.shape[0]) // m + 1, (Wp - BTw.shape[0]) // m + 1
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((BTh.shape[0] * BTw.shape[0], N * th * tw, F)).astype(dtype)
    bias = rng.standard_normal(F).astype(dtype)
    out_shape = (N, m * th, m * tw, F)
    out = kernels.output_transform(M, ATh, ATw, bias, np.empty(out_shape, dtype))
    assert out.dtype == dtype
    expected = kernels.output_transform_reference(M, ATh, ATw, bias, np.empty(out_shape))
    np.testing.assert_allclose(out, expected, **_tol(dtype))
    dout = rng.standard_normal(out_shape).astype(dtype)
    np.testing.assert_allclose(kernels.output_transform_adjoint(dout, ATh, ATw),
                               kernels.output_transform_adjoint_reference(dout, ATh, ATw), **_tol(dtype))


@given(case=tile_cases(kernels.MAX_TILE))
def test_adjoints_are_the_transposes(case):
    # <T x, y> == <x, T^T y>: each *_adjoint is exactly the backward pass of its transform
    m, rh, rw, shape, _, seed = case
    ATh, BTh, ATw, BTw = _matrices(m, rh, rw)
    rng = np.random.default_rng(seed)
    xp = rng.standard_normal(shape)
    V = kernels.input_transform(xp, BTh, BTw, m)
    dV = rng.standard_normal(V.shape)
    back = kernels.input_transform_adjoint(dV, BTh, BTw, m, np.zeros(shape))
    np.testing.assert_allclose(np.sum(V * dV), np.sum(xp * back), rtol=1e-10, atol=1e-10)
    out = kernels.output_transform(V, ATh, ATw, np.zeros(shape[3]), np.empty((shape[0], *(
        m * ((s - a) // m + 1) for s, a in zip(shape[1:3], (BTh.shape[0], BTw.shape[0]))), shape[3])))
    dout = rng.standard_normal(out.shape)
    dM = kernels.output_transform_adjoint(dout, ATh, ATw)
    np.testing.assert_allclose(np.sum(out * dout), np.sum(V * dM), rtol=1e-10, atol=1e-10)


def build_pair(case, dtype=np.float64):
    """A WinogradConv2D and a Conv2D with the same parameters, and an input."""
    N, C, F, H, W, kernel, _, padding, seed = case  # stride 1, the only one Winograd's tiles take
    winograd = WinogradConv2D(C, F, kernel, padding=padding, rng=np.random.default_rng(seed), dtype=dtype)
    direct = Conv2D(C, F, kernel, padding=padding, rng=np.random.default_rng(seed), dtype=dtype)
    rng = np.random.default_rng(seed + 1)
    winograd.params["b"][...] = direct.params["b"][...] = rng.standard_normal(F)
    np.testing.assert_array_equal(winograd.params["W"], direct.params["W"])  # same initialisation
    return winograd, direct, rng.standard_normal((N, C, H, W)).astype(dtype)


WINOGRAD_CASES = conv_cases(max_side=7, max_kernel=kernels.MAX_TILE - 1, max_stride=1)  # tiles 4, 3, 2


@given(case=WINOGRAD_CASES)
@with_examples(CONV_DEGENERATE_STRIDE_1)
def test_same_function_and_gradients_as_conv2d(case):
    winograd, direct, x = build_pair(case)
    out = winograd.forward(x)
    np.testing.assert_allclose(out, direct.forward(x), rtol=1e-12, atol=1e-12)
    assert out.flags.c_contiguous
    dout = np.random.default_rng(case[-1] + 2).standard_normal(out.shape)
    dx = winograd.backward(dout)
    np.testing.assert_allclose(dx, direct.backward(dout), rtol=1e-12, atol=1e-12)
    for name in ("W", "b"):
        np.testing.assert_allclose(winograd.grads[name], direct.grads[name], rtol=1e-12, atol=1e-12)
    assert winograd.backward(dout, input_grad=False) is None
    np.testing.assert_allclose(winograd.grads["W"], direct.grads["W"], rtol=1e-12, atol=1e-12)


@given(case=WINOGRAD_CASES)
@with_examples(CONV_DEGENERATE_STRIDE_1)
def test_gradients_match_finite_differences(case):
    winograd, _, x = build_pair(case)
    errors = layer_gradient_errors(winograd, x, rng=np.random.default_rng(case[-1]))
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) < 1e-6, errors


def test_the_tile_is_four_where_the_kernel_leaves_room_and_any_tile_computes_the_same():
    assert [WinogradConv2D(2, 3, k).tile for k in range(1, 8)] == [4, 4, 4, 4, 4, 3, 2]
    assert WinogradConv2D(2, 3, (3, 6)).tile == 3  # the wider side decides
    _, direct, x = build_pair((2, 3, 2, 9, 9, (5, 5), 1, "same", 3))
    out, dout = direct.forward(x), np.random.default_rng(4).standard_normal((2, 2, 9, 9))
    dx = direct.backward(dout)
    for tile in (1, 2, 3, 4):
        layer = WinogradConv2D(3, 2, 5, padding="same", dtype=np.float64, tile=tile)
        layer.params = direct.params
        np.testing.assert_allclose(layer.forward(x), out, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.backward(dout), dx, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.grads["W"], direct.grads["W"], rtol=1e-12, atol=1e-12)


def test_blocks_of_the_batch_give_the_whole_batch_result(monkeypatch):
    winograd, _, x = build_pair((5, 3, 4, 6, 5, (5, 3), 1, "same", 7))
    dout = np.random.default_rng(8).standard_normal(winograd.forward(x).shape)
    whole = (winograd.forward(x), winograd.backward(dout), *(grad.copy() for grad in winograd.grads.values()))
    monkeypatch.setattr(conv_module, "BLOCK_BYTES", 1)
    assert len(winograd._blocks(len(x), 1000)) == len(x)  # one image per block
    blocked = (winograd.forward(x), winograd.backward(dout), *winograd.grads.values())
    for a, b in zip(blocked, whole):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_float32_rounding_at_the_papers_conv2():
    # Winograd's transforms cost precision: at the paper's conv2, against exact float64, an order
    # of magnitude more relative error than im2col's, dW the most; bounded here in absolute and ratio
    rng = np.random.default_rng(0)
    exact = Conv2D(64, 64, 5, padding="same", rng=rng, dtype=np.float64)
    layers = {"im2col": Conv2D(64, 64, 5, padding="same"),
              "winograd": WinogradConv2D(64, 64, 5, padding="same")}
    for layer in layers.values():
        layer.params["W"][...] = exact.params["W"]
    exact.params["W"][...] = layers["winograd"].params["W"]  # all three hold the same float32 numbers
    x = rng.standard_normal((4, 64, 12, 12)).astype(np.float32)
    dout = rng.standard_normal((4, 64, 12, 12)).astype(np.float32)
    truth = (exact.forward(x.astype(np.float64)), exact.backward(dout.astype(np.float64)), exact.grads["W"])

    def errors(layer):
        got = (layer.forward(x), layer.backward(dout), layer.grads["W"])
        assert all(array.dtype == np.float32 for array in got)
        return np.array([np.abs(a - b).max() / np.abs(b).max() for a, b in zip(got, truth)])

    im2col, winograd = errors(layers["im2col"]), errors(layers["winograd"])
    assert winograd[0] < 2e-5 and winograd[1] < 2e-5 and winograd[2] < 5e-5, winograd   # out, dx, dW
    assert np.all(winograd < 50 * im2col), winograd / im2col


def test_bad_input_is_refused_with_a_sentence():
    layer = WinogradConv2D(3, 2, 5)
    with pytest.raises(ValueError, match=r"WinogradConv2D\(3->2, kernel_size=5\): got an array of shape "
                                         r"\(2, 4, 8, 8\), wanted \(N, 3, H, W\)"):
        layer.forward(np.zeros((2, 4, 8, 8), np.float32))
    with pytest.raises(ValueError, match="got dtype float64, wanted float32"):
        layer.forward(np.zeros((2, 3, 8, 8)))


@pytest.mark.parametrize("name", ["cnn_lstm", "cnn", "cnn_nolrn"])
def test_models_use_winograd_for_conv2_only_and_compute_what_conv2d_did(name, cifar_data_small):
    model = build_model(name, rng=np.random.default_rng(0))
    layers = dict(model.layers)
    assert not isinstance(layers["conv1"], WinogradConv2D) and type(layers["conv2"]) is WinogradConv2D
    # the same parameters under the same names (checkpoints of either kind load into both),
    # and the same predictions as the model had with a Conv2D conv2
    direct = Conv2D(64, 64, 5, padding="same")
    direct.params = layers["conv2"].params
    before = Model(name, [(lname, direct if lname == "conv2" else layer) for lname, layer in model.layers],
                   model.dtype)
    assert {k: v.shape for k, v in before.params.items()} == {k: v.shape for k, v in model.params.items()}
    images, _ = cifar_data_small
    np.testing.assert_allclose(model.forward(images), before.forward(images), rtol=0, atol=1e-5)
