"""Using a trained network: rebuild it from a checkpoint, score it, classify images.

Test-time input is the centre 24 x 24 crop of each image, standardised on its own
(``scratchnet.transforms.preprocess_eval``); images go through the network in batches so
that 10,000 of them need no more memory than 500.
"""

import math

import numpy as np

from scratchnet import checkpoint
from scratchnet.layers import softmax, softmax_cross_entropy
from scratchnet.models import build_model
from scratchnet.recipe import LEGACY_OPTIONS
from scratchnet.transforms import preprocess_eval

BATCH = 500  # images per forward pass at test time: memory, not results, depends on it


def logits(forward, images, dtype, batch_size=BATCH):
    """Class scores (N, 10) of uint8 images (N, 3, 32, 32), ``forward`` mapping a batch to logits."""
    return np.concatenate([forward(preprocess_eval(images[start:start + batch_size], dtype))
                           for start in range(0, len(images), batch_size)] or [np.zeros((0, 10), dtype)])


def evaluate(model, images, labels, forward=None):
    """Mean loss, accuracy and predicted classes of ``model`` on uint8 ``images``.

    ``forward`` maps standardised crops to logits: ``model.forward`` unless given (the
    trainer passes its ``DataParallel.forward``, which splits each batch across cores).
    The loss is the mean of each batch's mean loss, weighted by the batch's size.
    """
    scores = logits(forward or model.forward, images, model.dtype)
    total = sum(softmax_cross_entropy(scores[start:start + BATCH], labels[start:start + BATCH])[0]
                * len(labels[start:start + BATCH]) for start in range(0, len(labels), BATCH))
    predictions = np.argmax(scores, axis=1)
    count = max(len(labels), 1)
    return {"loss": float(total / count),
            "accuracy": float(np.mean(predictions == labels)) if len(labels) else 0.0,
            "predictions": predictions}


def probabilities(model, images):
    """Softmax probabilities (N, 10) of uint8 images (N, 3, 32, 32)."""
    return softmax(logits(model.forward, images, model.dtype))


def model_options(metadata):
    """The options a checkpoint's network was built with (``build_model(name, **options)``)."""
    if "model_options" in metadata:
        options = metadata["model_options"]
        if not isinstance(options, dict):
            raise ValueError(f"its model options are {type(options).__name__}, not a dict")
        return options
    return dict(LEGACY_OPTIONS.get(metadata.get("model"), {}))  # written before options were recorded


def load_model(path):
    """Rebuild the model a checkpoint was saved from and load its weights: ``(model, ckpt)``.

    A ValueError, naming the file, when it names no model, cannot be rebuilt, or holds
    weights that are not finite (a diverged run's).
    """
    ckpt = checkpoint.load(path)
    metadata = ckpt.metadata
    name = metadata.get("model")
    if not isinstance(name, str):
        raise ValueError(f"{path}: the checkpoint names no model; it was not written by scratchnet.train")
    try:
        dtype = np.dtype(metadata.get("dtype", "float32"))
        model = build_model(name, rng=np.random.default_rng(0), dtype=dtype, **model_options(metadata))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: cannot rebuild its network ({error})") from None
    try:
        checkpoint.restore(ckpt, model.params, model_name=name)
    except ValueError as error:  # weights of other shapes than its options make
        raise ValueError(f"{path}: {error}") from None
    broken = [key for key, value in model.params.items() if not np.isfinite(value).all()]
    if broken:
        raise ValueError(f"{path}: its weights {', '.join(broken[:3])} hold NaN or infinity "
                         "(a diverged run); use an earlier checkpoint or train again with a smaller --lr")
    return model, ckpt


def top_classes(row, classes, k=3):
    """The k likeliest (class name, probability) pairs of one row of probabilities, likeliest first."""
    order = np.argsort(row)[::-1][:min(k, len(classes))]
    return [(classes[i], float(row[i])) for i in order if not math.isnan(row[i])]
