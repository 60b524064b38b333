"""``python -m scratchnet.predict CHECKPOINT IMAGE...``: classify your own pictures.

Each picture (PNG or JPEG, any size) is made to look like a CIFAR-10 test image: the
largest centred square is cut out, resized to 32 x 32, and then, as at test time, the
centre 24 x 24 is cropped and standardised. Prints the three likeliest classes.
"""

import argparse
import sys

import numpy as np
from PIL import Image, UnidentifiedImageError

from scratchnet.datasets import CLASSES
from scratchnet.evaluate import load_model, preprocess_eval


def load_picture(path, size=32):
    """Read any picture as a CIFAR-like uint8 array (3, size, size)."""
    try:
        with Image.open(path) as picture:
            picture = picture.convert("RGB")
            width, height = picture.size
            side = min(width, height)
            left, top = (width - side) // 2, (height - side) // 2
            square = picture.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such image file") from None
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"{path}: not a readable PNG or JPEG image ({error})") from None
    return np.asarray(square, dtype=np.uint8).transpose(2, 0, 1)


def top_classes(probabilities, k=3):
    """The k likeliest (class name, probability) pairs, likeliest first."""
    order = np.argsort(probabilities)[::-1][:k]
    return [(CLASSES[i], float(probabilities[i])) for i in order]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scratchnet.predict",
                                     description="The three likeliest CIFAR-10 classes of your own pictures.")
    parser.add_argument("checkpoint", help="a checkpoint.npz written by scratchnet.train")
    parser.add_argument("images", nargs="+", help="PNG or JPEG files of any size")
    args = parser.parse_args(argv)
    try:
        model, _ = load_model(args.checkpoint)
        pictures = np.stack([load_picture(path) for path in args.images])
    except (OSError, ValueError) as error:
        parser.exit(2, f"error: {error}\n")
    probabilities = model.predict(preprocess_eval(pictures, model.dtype))
    for path, row in zip(args.images, probabilities):
        ranked = ", ".join(f"{name} {p:.1%}" for name, p in top_classes(row))
        print(f"{path}: {ranked}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
