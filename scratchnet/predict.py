"""``python -m scratchnet.predict RUN IMAGE...``: classify your own pictures.

Each picture (PNG or JPEG, any size) is made to look like a CIFAR-10 image: the largest
centred square is cut out and resized to 32 x 32; then, as at test time, the centre 24 x 24
is cropped and standardised. Prints the three likeliest classes.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from scratchnet import cli
from scratchnet.cifar10 import CLASSES
from scratchnet.evaluation import load_model, probabilities, top_classes
from scratchnet.pictures import load_picture


@cli.interruptible
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scratchnet.predict",
                                     description="The three likeliest CIFAR-10 classes of your own pictures.")
    parser.add_argument("checkpoint", metavar="RUN", help="a run's folder, or its checkpoint.npz")
    parser.add_argument("images", nargs="+", help="PNG or JPEG files of any size")
    args = parser.parse_args(argv)
    path = Path(args.checkpoint)
    try:
        model, _ = load_model(path / "checkpoint.npz" if path.is_dir() else path)
        pictures = np.stack([load_picture(image) for image in args.images])
    except (OSError, ValueError) as error:
        return cli.fail(error)
    for image, row in zip(args.images, probabilities(model, pictures)):
        ranked = ", ".join(f"{name} {p:.1%}" for name, p in top_classes(row, CLASSES))
        print(f"{image}: {ranked}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
