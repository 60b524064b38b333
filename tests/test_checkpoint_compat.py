"""Checkpoints written by scratchnet 0.1.0, before the library was split under thin commands and
before a network's options were recorded, still load, evaluate, predict and resume, bit for bit.

``data/legacy-checkpoint.npz`` is a CNN-LSTM stopped at epoch 2, step 2 of a tiny run
(256 training images, 100 held out, 100 test images, batches of 64, one thread); the numbers
below are what that version printed when it evaluated the checkpoint and resumed the run.
"""

import json
import shutil
from pathlib import Path

import numpy as np

from scratchnet import evaluate, predict, train
from scratchnet.evaluation import load_model

DATA = Path(__file__).parent / "data"
TEST_LOSS_AFTER_RESUMING = 2.3048410415649414  # scratchnet 0.1.0's summary.json after the resume
TEST_ACCURACY_OF_THE_CHECKPOINT = 0.1044        # its evaluate, on all 10,000 test images


def legacy_run(folder):
    folder.mkdir()
    shutil.copy(DATA / "legacy-checkpoint.npz", folder / "checkpoint.npz")
    shutil.copy(DATA / "legacy-metrics.csv", folder / "metrics.csv")
    return folder


def test_a_legacy_checkpoint_rebuilds_the_network_it_was_trained_with():
    model, ckpt = load_model(DATA / "legacy-checkpoint.npz")
    assert "model_options" not in ckpt.metadata
    assert [type(layer).__name__ for _, layer in model.layers][:5] == \
        ["Conv2D", "MaxPool2D", "ReLU", "LocalResponseNorm", "WinogradConv2D"]


def test_a_legacy_checkpoint_resumes_bit_identically(tmp_path, cifar_root, capsys):
    run = legacy_run(tmp_path / "run")
    argv = ["--resume", str(run), "--threads", "1", "--no-progress", "--data-dir", str(cifar_root),
            "--no-download"]
    assert train.main(argv) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test_loss"] == TEST_LOSS_AFTER_RESUMING and summary["epochs"] == 2


def test_a_legacy_checkpoint_evaluates_and_predicts(tmp_path, cifar_root, capsys):
    from PIL import Image

    run = legacy_run(tmp_path / "run")
    assert evaluate.main([str(run), "--data-dir", str(cifar_root)]) == 0
    report = json.loads((run / "evaluation.json").read_text())
    assert report["test_accuracy"] == TEST_ACCURACY_OF_THE_CHECKPOINT
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(tmp_path / "grey.png")
    assert predict.main([str(run), str(tmp_path / "grey.png")]) == 0
    assert capsys.readouterr().out.count("%") >= 3
