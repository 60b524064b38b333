"""scratchnet.pictures: a learner's picture read as a CIFAR-10-like image."""

import numpy as np

from scratchnet.pictures import load_picture


def test_load_picture_crops_the_centre_square(tmp_path):
    from PIL import Image

    picture = np.zeros((40, 120, 3), np.uint8)
    picture[:, 40:80] = 255  # a white centre square between black sides
    Image.fromarray(picture).save(tmp_path / "wide.png")
    array = load_picture(tmp_path / "wide.png")
    assert array.shape == (3, 32, 32) and array.dtype == np.uint8
    assert array.min() == 255
