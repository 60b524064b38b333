"""scratchnet.transforms: the train/validation split, the crops, the flip, the standardisation."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.transforms import center_crop, random_crop_flip, standardize, train_val_split


@given(n=st.integers(1, 40), data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_split_partitions_and_is_seeded(n, data, seed):
    val_size = data.draw(st.integers(0, n - 1), label="val_size")
    x = np.arange(n)[:, None, None, None] * np.ones((1, 3, 2, 2), np.uint8)
    y = np.arange(n) % 10
    x_train, y_train, x_val, y_val = train_val_split(x, y, val_size, np.random.default_rng(seed))
    assert len(x_val) == len(y_val) == val_size and len(x_train) == len(y_train) == n - val_size
    ids_train, ids_val = x_train[:, 0, 0, 0], x_val[:, 0, 0, 0]
    assert sorted(np.concatenate([ids_train, ids_val]).tolist()) == list(range(n))
    np.testing.assert_array_equal(y_train, ids_train % 10)  # labels travel with their images
    np.testing.assert_array_equal(y_val, ids_val % 10)
    assert (np.diff(ids_train) > 0).all()  # training part keeps the original order
    again = train_val_split(x, y, val_size, np.random.default_rng(seed))
    np.testing.assert_array_equal(again[2], x_val)


def test_split_zero_and_too_large():
    x, y = np.zeros((5, 3, 2, 2), np.uint8), np.arange(5)
    x_train, y_train, x_val, y_val = train_val_split(x, y, 0, np.random.default_rng(0))
    np.testing.assert_array_equal(y_train, y)
    assert x_val.shape == (0, 3, 2, 2) and y_val.shape == (0,)
    for bad in (5, 6, -1):
        with pytest.raises(ValueError, match=f"val_size={bad}"):
            train_val_split(x, y, bad, np.random.default_rng(0))
    with pytest.raises(ValueError, match="5 images but 4 labels"):
        train_val_split(x, y[:4], 1, np.random.default_rng(0))


def test_split_differs_between_seeds():
    x, y = np.zeros((100, 1, 1, 1), np.uint8), np.arange(100)
    val_a = train_val_split(x, y, 10, np.random.default_rng(0))[3]
    val_b = train_val_split(x, y, 10, np.random.default_rng(1))[3]
    assert set(val_a) != set(val_b)


# ----------------------------------------------------------------------------- augmentation

def coordinate_images(n, h, w, rng):
    """uint8 (n, 3, h, w): channel 0 holds each pixel's row, channel 1 its column, channel 2
    random values, so a crop tells where it came from and whether it was flipped."""
    rows, cols = np.indices((h, w))
    images = np.empty((n, 3, h, w), np.uint8)
    images[:, 0], images[:, 1] = rows, cols
    images[:, 2] = rng.integers(0, 256, (n, h, w))
    return images


def crop_origin(out):
    """(top, left, flipped) of every crop of coordinate images."""
    top, left = out[:, 0, 0, 0], out[:, 1, 0, :].min(axis=1)
    return top, left, out[:, 1, 0, 0] > out[:, 1, 0, -1]


@given(n=st.integers(1, 6), h=st.integers(1, 12), w=st.integers(1, 12), data=st.data(),
       seed=st.integers(0, 2**32 - 1))
def test_random_crop_flip_is_a_crop_in_bounds_maybe_flipped(n, h, w, data, seed):
    size = data.draw(st.integers(1, min(h, w)), label="size")
    images = coordinate_images(n, h, w, np.random.default_rng(seed))
    out = random_crop_flip(images, size, np.random.default_rng(seed))
    assert out.shape == (n, 3, size, size) and out.dtype == np.uint8
    for i, (top, left, flipped) in enumerate(zip(*crop_origin(out))):
        assert 0 <= top <= h - size and 0 <= left <= w - size
        crop = images[i, :, top:top + size, left:left + size]
        np.testing.assert_array_equal(out[i], crop[:, :, ::-1] if flipped else crop)
    np.testing.assert_array_equal(random_crop_flip(images, size, np.random.default_rng(seed)), out)


def test_random_crop_flip_statistics():
    images = coordinate_images(4000, 32, 32, np.random.default_rng(0))
    out = random_crop_flip(images, 24, np.random.default_rng(1))
    top, left, flipped = crop_origin(out)
    assert 0.45 < flipped.mean() < 0.55
    assert set(top.tolist()) == set(left.tolist()) == set(range(9))  # every offset is used
    other = random_crop_flip(images, 24, np.random.default_rng(2))
    assert not np.array_equal(out, other)


def test_flip_really_flips():
    image = np.arange(12, dtype=np.uint8).reshape(1, 1, 3, 4)
    out = random_crop_flip(np.repeat(image, 64, axis=0), 3, np.random.default_rng(0))
    cropped = [image[0, :, :, j:j + 3] for j in (0, 1)]
    flipped = [crop[:, :, ::-1] for crop in cropped]
    kinds = [[np.array_equal(o, c) for c in cropped + flipped].index(True) for o in out]
    assert set(kinds) == {0, 1, 2, 3}
    assert flipped[0].tolist() == [[[2, 1, 0], [6, 5, 4], [10, 9, 8]]]


def test_center_crop_exact():
    images = coordinate_images(2, 32, 32, np.random.default_rng(0))
    out = center_crop(images, 24)
    np.testing.assert_array_equal(out, images[:, :, 4:28, 4:28])
    assert out.shape == (2, 3, 24, 24) and out[0, 0, 0, 0] == 4 and out[0, 1, 0, 0] == 4


@given(h=st.integers(1, 12), w=st.integers(1, 12), data=st.data())
def test_center_crop_margins_balance(h, w, data):
    size = data.draw(st.integers(1, min(h, w)), label="size")
    images = coordinate_images(1, h, w, np.random.default_rng(0))
    top, left, flipped = crop_origin(center_crop(images, size))
    bottom, right = h - size - top[0], w - size - left[0]
    assert 0 <= bottom - top[0] <= 1 and 0 <= right - left[0] <= 1 and not flipped[0]


@given(n=st.integers(1, 4), c=st.integers(1, 3), h=st.integers(1, 8), w=st.integers(1, 8),
       seed=st.integers(0, 2**32 - 1), high=st.sampled_from([1, 2, 256]))
def test_standardize_matches_the_formula(n, c, h, w, seed, high):
    images = np.random.default_rng(seed).integers(0, high, (n, c, h, w)).astype(np.uint8)
    out = standardize(images)
    assert out.dtype == np.float32 and out.shape == images.shape
    x = images.astype(np.float64)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    std = x.std(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(out, (x - mean) / np.maximum(std, 1 / np.sqrt(c * h * w)),
                               rtol=1e-5, atol=1e-5)


def test_standardize_mean_zero_std_one_and_constant_safe():
    images = np.random.default_rng(0).integers(0, 256, (8, 3, 24, 24)).astype(np.uint8)
    images[3] = 7  # a constant image
    out = standardize(images)
    assert np.isfinite(out).all() and (out[3] == 0).all()
    others = np.delete(out, 3, axis=0)
    np.testing.assert_allclose(others.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(others.std(axis=(1, 2, 3)), 1, rtol=1e-5)
    assert standardize(np.array([[[[0, 2]]]], np.uint8)).tolist() == [[[[-1.0, 1.0]]]]


def test_augmentation_refuses_bad_input():
    images = np.zeros((2, 3, 32, 32), np.uint8)
    with pytest.raises(ValueError, match=r"random_crop_flip: got \(3, 32, 32\), wanted .*\(N, C"):
        random_crop_flip(images[0], 24, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"center_crop: cannot crop 33 x 33 .*\(2, 3, 32, 32\)"):
        center_crop(images, 33)
    with pytest.raises(ValueError, match="random_crop_flip: cannot crop 0 x 0"):
        random_crop_flip(images, 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"standardize: got \(32, 32\)"):
        standardize(images[0, 0])
