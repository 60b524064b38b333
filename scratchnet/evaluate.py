"""``python -m scratchnet.evaluate RUN``: test accuracy, per class, and a confusion matrix.

A thin command: ``scratchnet.evaluation`` rebuilds and scores the network.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from scratchnet import cli, files
from scratchnet.cifar10 import CLASSES, data_root, load_cifar10
from scratchnet.evaluation import evaluate, load_model
from scratchnet.plots import confusion_matrix, plot_confusion


@cli.interruptible
def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m scratchnet.evaluate",
        description="Test accuracy on all 10,000 test images, per-class accuracy and a confusion-matrix plot "
                    "of a trained run.")
    parser.add_argument("checkpoint", metavar="RUN", help="a run's folder, or its checkpoint.npz")
    parser.add_argument("--data-dir", help="folder holding cifar-10-batches-py/ (default: $SCRATCHNET_DATA, "
                                           "else ./datasets)")
    parser.add_argument("--out",
                        help="folder for confusion.png and evaluation.json (default: the run's folder)")
    args = parser.parse_args(argv)
    path = Path(args.checkpoint)
    path = path / "checkpoint.npz" if path.is_dir() else path
    out = Path(args.out) if args.out else path.resolve().parent
    try:
        model, _ = load_model(path)
        _, _, x_test, y_test = load_cifar10(data_root(args.data_dir))
        if out.exists() and not out.is_dir():
            raise ValueError(f"--out {out} is a file, not a folder; name a folder")
    except (OSError, ValueError) as error:
        return cli.fail(error)
    try:  # before the minute of evaluating, not after
        files.check_writable(out)
    except OSError as error:
        return cli.fail(f"cannot write into {out} ({error.strerror or error}); choose another --out")
    result = evaluate(model, x_test, y_test)
    matrix = confusion_matrix(y_test, result["predictions"], len(CLASSES))
    per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)

    print(f"test accuracy: {result['accuracy']:.4f} on {len(y_test):,} test images ({model.name})")
    for name, accuracy in zip(CLASSES, per_class):
        print(f"  {name:<11s} {accuracy:.3f}")
    report = {"test_accuracy": result["accuracy"], "test_loss": result["loss"], "test_size": len(y_test),
              "per_class_accuracy": dict(zip(CLASSES, per_class.tolist())),
              "confusion_matrix": matrix.tolist()}
    try:
        plot_confusion(matrix, CLASSES, out / "confusion.png",
                       title=f"{model.name}: test accuracy {result['accuracy']:.3f} "
                             f"on {len(y_test):,} images")
        files.write_json(out / "evaluation.json", report)
    except OSError as error:
        return cli.fail(f"cannot write into {out} ({error}); choose another --out")
    print(f"wrote {out / 'confusion.png'} and {out / 'evaluation.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
