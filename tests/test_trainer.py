"""scratchnet.trainer: the training loop on arrays; a step that would wreck the weights is never taken."""

import numpy as np
import pytest

from scratchnet.cifar10 import load_cifar10
from scratchnet.recipe import Config
from scratchnet.runs import RunFolder
from scratchnet.runs import train as train_run
from scratchnet.trainer import Diverged, Trainer, split_data


def test_an_infinite_gradient_is_never_applied(tmp_path, cifar_root):
    config = Config(model="lstm", train_size=64, test_size=10, val_size=0, epochs=1, batch_size=32)
    trainer = Trainer(config, split_data(config, *load_cifar10(cifar_root)), threads=1)
    before = {key: param.copy() for key, param in trainer.model.params.items()}
    backward = trainer.parallel.loss_and_backward

    def finite_loss_infinite_gradient(x, y):
        loss, logits = backward(x, y)
        trainer.model.layers[-1][1].grads["W"][0, 0] = np.inf
        return loss, logits

    trainer.parallel.loss_and_backward = finite_loss_infinite_gradient
    with pytest.raises(Diverged, match="the gradient's norm became inf at epoch 1, step 1"):
        train_run(trainer, RunFolder(tmp_path))
    for key, param in trainer.model.params.items():
        np.testing.assert_array_equal(param, before[key])


def test_the_split_holds_out_validation_and_takes_the_subsets(cifar_root):
    config = Config(model="lstm", train_size=100, test_size=30, val_size=50, seed=4)
    data = split_data(config, *load_cifar10(cifar_root))
    assert [len(part) for part in data] == [100, 100, 50, 50, 30, 30]
    again = split_data(config, *load_cifar10(cifar_root))
    assert np.array_equal(data.y_val, again.y_val)  # the same seed holds out the same images
