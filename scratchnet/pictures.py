"""Reading a learner's own pictures as CIFAR-10-like images."""

import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

# A picture larger than this many pixels is refused before it is decoded: a small file can
# claim a huge image (a "decompression bomb") and exhaust the memory.
MAX_PIXELS = 50_000_000


def _as_8_bit_rgb(picture, path):
    """Any Pillow image as 8-bit RGB; 16-bit greys scaled down, float images refused."""
    if picture.mode in ("F",) or picture.mode.startswith("I;16F"):
        raise ValueError(f"{path}: a floating-point image; save it as an 8- or 16-bit PNG or a JPEG")
    if picture.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        values = np.asarray(picture, dtype=np.float64)
        scale = 255.0 / 65535.0 if values.max(initial=0) > 255 or picture.mode.startswith("I;16") else 1.0
        picture = Image.fromarray(np.clip(np.round(values * scale), 0, 255).astype(np.uint8))
    return picture.convert("RGB")


def load_picture(path, size=32):
    """Read any picture as a CIFAR-like uint8 array (3, size, size): the centred square, resized."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below, with a reason
            opened = Image.open(path)
        with opened as picture:
            width, height = picture.size
            if width * height > MAX_PIXELS:
                raise ValueError(f"{path}: {width} x {height} pixels is too large (at most {MAX_PIXELS:,}); "
                                 "resize it first")
            picture = _as_8_bit_rgb(picture, path)
            side = min(width, height)
            left, top = (width - side) // 2, (height - side) // 2
            square = picture.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such image file") from None
    except Image.DecompressionBombError as error:
        raise ValueError(f"{path}: refused as too large to decode safely ({error}); "
                         "resize it first") from None
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"{path}: not a readable PNG or JPEG image ({error})") from None
    return np.asarray(square, dtype=np.uint8).transpose(2, 0, 1)
