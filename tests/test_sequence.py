"""The layers between maps and sequences: what each step holds, their gradients, bad input."""

import numpy as np
import pytest

from scratchnet.gradcheck import layer_gradient_errors
from scratchnet.sequence import MeanOverTime, PositionsAsSequence, RowsAsSequence


def numbered_maps(n=2, c=4, h=3, w=5):
    """Every value tells where it sits: 1000 n + 100 c + 10 i + j."""
    n_, c_, i_, j_ = np.meshgrid(*(np.arange(d) for d in (n, c, h, w)), indexing="ij")
    return (1000 * n_ + 100 * c_ + 10 * i_ + j_).astype(np.float64)


def test_rows_as_sequence_gives_one_row_per_step_pixels_in_order_channels_side_by_side():
    x = numbered_maps()
    seq = RowsAsSequence().forward(x)
    assert seq.shape == (2, 3, 5 * 4)
    for n, i, j, c in [(0, 0, 0, 0), (1, 2, 4, 3), (0, 1, 3, 2)]:
        assert seq[n, i, j * 4 + c] == x[n, c, i, j]


def test_positions_as_sequence_gives_one_pixel_per_step_its_channels_as_values():
    x = numbered_maps()
    seq = PositionsAsSequence().forward(x)
    assert seq.shape == (2, 3 * 5, 4)
    for n, i, j in [(0, 0, 0), (1, 2, 4), (0, 1, 3)]:
        np.testing.assert_array_equal(seq[n, i * 5 + j], x[n, :, i, j])


def test_mean_over_time_is_the_mean_of_the_steps():
    x = np.random.default_rng(0).standard_normal((3, 7, 4)).astype(np.float32)
    out = MeanOverTime().forward(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, sum(x[:, t] for t in range(7)) / 7, rtol=1e-6)


@pytest.mark.parametrize("layer, shape", [
    (RowsAsSequence(), (2, 4, 3, 5)), (PositionsAsSequence(), (2, 4, 3, 5)), (MeanOverTime(), (2, 6, 3)),
])
def test_gradients_match_finite_differences(layer, shape):
    x = np.random.default_rng(1).standard_normal(shape)
    errors = layer_gradient_errors(layer, x, rng=np.random.default_rng(2))
    assert errors["x"] < 1e-6, errors


@pytest.mark.parametrize("layer, wanted", [
    (RowsAsSequence(), r"RowsAsSequence: got an array of shape \(2, 3\), wanted \(N, C, H, W\)"),
    (PositionsAsSequence(), r"PositionsAsSequence: got an array of shape \(2, 3\), wanted \(N, C, H, W\)"),
    (MeanOverTime(), r"MeanOverTime: got an array of shape \(2, 3\), wanted \(N, T, H\)"),
])
def test_wrong_shapes_are_refused_with_a_sentence(layer, wanted):
    with pytest.raises(ValueError, match=wanted):
        layer.forward(np.zeros((2, 3)))
