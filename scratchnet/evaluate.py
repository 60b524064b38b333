"""``python -m scratchnet.evaluate CHECKPOINT``: test accuracy, per class, and a confusion matrix.

Also the evaluation helpers the trainer uses: the test-time preprocessing (centre 24 x 24
crop, per-image standardisation) and a batched accuracy/loss over a whole set.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from scratchnet import checkpoint
from scratchnet.datasets import CLASSES, center_crop, data_root, ensure_cifar10, load_cifar10, standardize
from scratchnet.layers.losses import softmax_cross_entropy
from scratchnet.models import build_model
from scratchnet.plots import confusion_matrix, plot_confusion

CROP = 24


def preprocess_eval(images, dtype=np.float32):
    """uint8 (N, 3, 32, 32) -> standardised centre crops (N, 3, 24, 24) in ``dtype``."""
    return standardize(center_crop(images, CROP)).astype(dtype, copy=False)


def evaluate_model(model, images, labels, batch_size=500, forward=None):
    """Mean loss, accuracy and predicted classes of ``model`` on uint8 ``images``.

    ``forward`` maps images to logits: ``model.forward`` unless given (the trainer passes
    its ``DataParallel.forward``, which splits each batch across threads).
    """
    forward = forward or model.forward
    total_loss, predictions = 0.0, []
    for start in range(0, len(images), batch_size):
        x = preprocess_eval(images[start:start + batch_size], model.dtype)
        y = labels[start:start + batch_size]
        logits = forward(x)
        loss, _ = softmax_cross_entropy(logits, y)
        total_loss += loss * len(y)
        predictions.append(np.argmax(logits, axis=1))
    predictions = np.concatenate(predictions) if predictions else np.zeros(0, np.int64)
    count = max(len(labels), 1)
    return {"loss": total_loss / count, "accuracy": float(np.mean(predictions == labels)) if len(labels) else 0.0,
            "predictions": predictions}


def load_model(path):
    """Rebuild the model a checkpoint was saved from and load its weights: ``(model, ckpt)``."""
    ckpt = checkpoint.load(path)
    name = ckpt.metadata.get("model")
    dtype = ckpt.metadata.get("dtype", "float32")
    if name is None:
        raise ValueError(f"{path}: the checkpoint's metadata names no model; it was not written by scratchnet.train")
    model = build_model(name, rng=np.random.default_rng(0), dtype=np.dtype(dtype))
    checkpoint.restore(ckpt, model.params, model_name=name)
    return model, ckpt


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m scratchnet.evaluate",
        description="Test accuracy, per-class accuracy and a confusion-matrix plot of a trained checkpoint.")
    parser.add_argument("checkpoint", help="a checkpoint.npz written by scratchnet.train")
    parser.add_argument("--data-dir", help="folder holding cifar-10-batches-py/ (default: $SCRATCHNET_DATA, else ./datasets)")
    parser.add_argument("--out", help="folder for confusion.png and evaluation.json (default: the checkpoint's folder)")
    args = parser.parse_args(argv)
    try:
        model, _ = load_model(args.checkpoint)
    except (OSError, ValueError) as error:
        parser.exit(2, f"error: {error}\n")
    root = ensure_cifar10(data_root(args.data_dir))
    _, _, x_test, y_test = load_cifar10(root)
    result = evaluate_model(model, x_test, y_test)
    matrix = confusion_matrix(y_test, result["predictions"], len(CLASSES))
    per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)

    print(f"test accuracy: {result['accuracy']:.4f} on {len(y_test)} images ({model.name})")
    for name, accuracy in zip(CLASSES, per_class):
        print(f"  {name:<11s} {accuracy:.3f}")
    out = Path(args.out) if args.out else Path(args.checkpoint).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    plot_confusion(matrix, CLASSES, out / "confusion.png", title=f"{model.name}: test accuracy {result['accuracy']:.3f}")
    report = {"test_accuracy": result["accuracy"], "test_loss": result["loss"],
              "per_class_accuracy": dict(zip(CLASSES, per_class.tolist())), "confusion_matrix": matrix.tolist()}
    (out / "evaluation.json").write_text(json.dumps(report, indent=2))
    print(f"wrote {out / 'confusion.png'} and {out / 'evaluation.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
