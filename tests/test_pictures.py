"""scratchnet.pictures: a learner's picture read as a CIFAR-10-like image."""

import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from scratchnet.pictures import load_picture


def test_load_picture_crops_the_centre_square(tmp_path):
    from PIL import Image

    picture = np.zeros((40, 120, 3), np.uint8)
    picture[:, 40:80] = 255  # a white centre square between black sides
    Image.fromarray(picture).save(tmp_path / "wide.png")
    array = load_picture(tmp_path / "wide.png")
    assert array.shape == (3, 32, 32) and array.dtype == np.uint8
    assert array.min() == 255


def test_16_bit_pictures_are_scaled_to_8_bits(tmp_path):
    grey = np.full((40, 40), 65535, dtype=np.uint16)
    grey[:, :20] = 257 * 100  # 100 in 8 bits
    Image.fromarray(grey).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    array = load_picture(tmp_path / "deep.png")
    assert array.dtype == np.uint8 and array.shape == (3, 32, 32)
    assert array[:, :, 0].tolist() == [[100] * 32] * 3 and array[:, :, -1].tolist() == [[255] * 32] * 3


def test_float_pictures_are_refused(tmp_path):
    Image.fromarray(np.zeros((8, 8), np.float32), mode="F").save(tmp_path / "float.tif")
    with pytest.raises(ValueError, match="floating-point image; save it as an 8- or 16-bit PNG or a JPEG"):
        load_picture(tmp_path / "float.tif")


def png_claiming(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) \
        + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [10_000, 100_000])  # above our limit; above Pillow's own as well
def test_a_decompression_bomb_is_refused_before_decoding_without_a_warning(tmp_path, side):
    (tmp_path / "bomb.png").write_bytes(png_claiming(side, side))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="too large"):
            load_picture(tmp_path / "bomb.png")
