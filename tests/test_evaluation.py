"""scratchnet.evaluation: a checkpoint gives the same network, and the same answers, every time."""

import numpy as np

from scratchnet.cifar10 import load_cifar10
from scratchnet.evaluation import load_model, probabilities


def test_checkpoint_gives_identical_predictions(tiny_run, cifar_root):
    images = load_cifar10(cifar_root)[2][:20]
    model, _ = load_model(tiny_run / "checkpoint.npz")
    again, _ = load_model(tiny_run / "checkpoint.npz")
    assert np.array_equal(probabilities(model, images), probabilities(again, images))
    other, _ = load_model(tiny_run / "checkpoint.npz")
    other.params["fc.b"][0] += 1.0
    assert not np.array_equal(probabilities(model, images), probabilities(other, images))
