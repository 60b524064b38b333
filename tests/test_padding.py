"""scratchnet.layers.padding: output sizes and padding, TensorFlow's "same" and explicit padding."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.layers.padding import resolve_padding


@given(size=st.integers(1, 40), k=st.integers(1, 9), stride=st.integers(1, 4))
def test_same_gives_ceil_of_size_over_stride_and_centres_the_window(size, k, stride):
    out, before, after = resolve_padding(size, k, stride, "same", "test")
    assert out == -(-size // stride)
    # the last window ends exactly at the padded edge, or inside it when no padding is needed
    assert (out - 1) * stride + k <= size + before + after
    assert after - before in (0, 1)  # the odd pixel goes after (bottom, right), as TensorFlow


@given(size=st.integers(1, 40), k=st.integers(1, 9), stride=st.integers(1, 4), pad=st.integers(0, 4))
def test_explicit_padding_counts_whole_windows(size, k, stride, pad):
    if k > size + 2 * pad:
        with pytest.raises(ValueError, match="larger than the padded input"):
            resolve_padding(size, k, stride, pad, "Conv2D")
        return
    out, before, after = resolve_padding(size, k, stride, pad, "Conv2D")
    assert (before, after) == (pad, pad)
    assert out == len(range(0, size + 2 * pad - k + 1, stride))


def test_the_papers_layers():
    assert resolve_padding(24, 5, 1, "same", "conv1") == (24, 2, 2)
    assert resolve_padding(24, 3, 2, "same", "pool1") == (12, 0, 1)
    assert resolve_padding(12, 3, 2, "same", "pool2") == (6, 0, 1)


@pytest.mark.parametrize("padding", [-1, 1.5, "valid", "SAME"])
def test_bad_padding_is_refused_with_the_layers_name(padding):
    with pytest.raises(ValueError, match="MaxPool2D: padding must be a non-negative int or 'same'"):
        resolve_padding(10, 3, 1, padding, "MaxPool2D")
