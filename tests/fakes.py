"""A tiny CIFAR-10 in the official layout, for tests of reading and downloading it."""

import pickle

import numpy as np

from scratchnet.cifar10 import FOLDER, TEST_FILE, TRAIN_FILES

# A few steps of the paper's model on real images: 8 steps an epoch, 2 epochs.
TINY = ["--model", "cnn_lstm", "--train-size", "256", "--test-size", "100", "--val-size", "64",
        "--epochs", "2", "--batch-size", "32", "--no-progress", "--threads", "1"]


def make_fake(root, n=3, seed=0, str_keys=False, protocol=2):
    """Write a tiny CIFAR-10 (n images a batch) in the official layout under root.

    Returns the arrays load_cifar10 should give back. The rows are built from (H, W, C)
    images straight from the format's definition: the red plane, the green plane, then
    the blue plane, each 32 x 32 row-major.
    """
    rng = np.random.default_rng(seed)
    folder = root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for name in TRAIN_FILES + (TEST_FILE,):
        hwc = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, n)
        data = np.concatenate([hwc[:, :, :, c].reshape(n, 1024) for c in range(3)], axis=1)
        batch = {b"batch_label": name.encode(), b"labels": labels.tolist(), b"data": data}
        if str_keys:
            batch = {key.decode(): value for key, value in batch.items()}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        arrays[name] = hwc.transpose(0, 3, 1, 2), labels
    x_train = np.concatenate([arrays[name][0] for name in TRAIN_FILES])
    y_train = np.concatenate([arrays[name][1] for name in TRAIN_FILES])
    return x_train, y_train, *arrays[TEST_FILE]


def assert_same(loaded, expected):
    for got, want in zip(loaded, expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert [a.dtype for a in loaded] == [np.uint8, np.int64, np.uint8, np.int64]


def train_tiny(config, folder, cifar_root, stop_after_steps=None):
    """Train ``config`` into ``folder`` through the library, as the train command does; the trainer."""
    from scratchnet.cifar10 import load_cifar10
    from scratchnet.runs import RunFolder, train
    from scratchnet.trainer import Trainer, split_data

    trainer = Trainer(config, split_data(config, *load_cifar10(cifar_root)))
    train(trainer, RunFolder(folder), stop_after_steps=stop_after_steps)
    return trainer

