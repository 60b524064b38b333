"""What is done to the images before the network sees them: split, crop, flip, standardise.

The augmentation follows the TensorFlow CIFAR-10 tutorial that the paper's set-up
follows: training images are randomly cropped to 24 x 24 and flipped left-right half the
time (``random_crop_flip``), test images are cropped at the centre (``center_crop``),
and every image is standardised on its own (``standardize``). Arrays in, arrays out.
"""

import numpy as np

CROP = 24  # the side of the crops the models see (the paper's 24 x 24)


def train_val_split(x, y, val_size, rng):
    """Hold out ``val_size`` random examples for validation.

    Returns ``(x_train, y_train, x_val, y_val)``; the training part keeps the original
    order, so ``val_size=0`` gives back all of ``x`` (and empty validation arrays).
    ``rng`` is a ``np.random.Generator``: the same seed gives the same split.
    """
    n = len(x)
    if len(y) != n:
        raise ValueError(f"train_val_split: {n} images but {len(y)} labels")
    if not 0 <= val_size < n:
        raise ValueError(f"train_val_split: val_size={val_size}, wanted 0 <= val_size < {n} "
                         f"(the number of examples), so some are left to train on")
    order = rng.permutation(n)
    val, train = order[:val_size], np.sort(order[val_size:])
    return x[train], y[train], x[val], y[val]


def _check_images(images, size, where):
    if not isinstance(images, np.ndarray) or images.ndim != 4:
        raise ValueError(f"{where}: got {getattr(images, 'shape', type(images).__name__)}, "
                         f"wanted an array of images (N, C, H, W)")
    if not 1 <= size <= min(images.shape[2:]):
        raise ValueError(f"{where}: cannot crop {size} x {size} from images of shape "
                         f"{images.shape}; wanted 1 <= size <= min(H, W)")


def random_crop_flip(images, size, rng):
    """Training augmentation: a random ``size x size`` crop of each image, flipped
    left-right with probability 1/2.

    Each image gets its own offset, uniform over every position where the crop fits, and
    its own coin for the flip; ``rng`` (a ``np.random.Generator``) draws them all, so the
    same seed gives the same batch.

    images (N, C, H, W) of any dtype (uint8 from ``load_cifar10``) -> (N, C, size, size),
    same dtype, a new array.
    """
    _check_images(images, size, "random_crop_flip")
    N, C, H, W = images.shape
    top = rng.integers(0, H - size + 1, N)
    left = rng.integers(0, W - size + 1, N)
    flip = rng.random(N) < 0.5
    # windows[n, c, i, j] is the size x size view whose top-left corner is (i, j)
    windows = np.lib.stride_tricks.sliding_window_view(images, (size, size), axis=(2, 3))
    out = windows[np.arange(N), :, top, left]
    out[flip] = out[flip, :, :, ::-1]
    return out


def center_crop(images, size):
    """Test-time crop: the central ``size x size`` of each image, the extra row or column
    of an odd margin going to the bottom and right (as TensorFlow's
    ``resize_image_with_crop_or_pad``).

    images (N, C, H, W) -> (N, C, size, size), a view of ``images``.
    """
    _check_images(images, size, "center_crop")
    top, left = (images.shape[2] - size) // 2, (images.shape[3] - size) // 2
    return images[:, :, top:top + size, left:left + size]


def standardize(images):
    """Per-image standardisation, as TensorFlow's ``per_image_standardization``:

        x' = (x - mean(x)) / max(std(x), 1 / sqrt(C * H * W))

    with the mean and standard deviation over all pixels and channels of one image. The
    floor on the divisor keeps a constant image finite (it becomes all zeros).

    images (N, C, H, W), any real dtype -> float32 (N, C, H, W).
    """
    if not isinstance(images, np.ndarray) or images.ndim != 4:
        raise ValueError(f"standardize: got {getattr(images, 'shape', type(images).__name__)}, "
                         f"wanted an array of images (N, C, H, W)")
    x = images.astype(np.float32)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    std = x.std(axis=(1, 2, 3), keepdims=True)
    return (x - mean) / np.maximum(std, np.float32(1 / np.sqrt(np.prod(x.shape[1:]))))


def preprocess_eval(images, dtype=np.float32):
    """Test-time input: uint8 (N, 3, 32, 32) -> standardised centre crops (N, 3, 24, 24) in ``dtype``."""
    return standardize(center_crop(images, CROP)).astype(dtype, copy=False)
