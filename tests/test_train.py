"""The trainer end to end on the CIFAR-10 copy: learning, resuming, refusing bad options."""

import csv
import json
import os

import numpy as np
import pytest

from scratchnet import checkpoint, evaluate, predict, train
from scratchnet.cifar10 import load_cifar10
from scratchnet.evaluation import load_model, probabilities
from scratchnet.machine import usable_cores
from scratchnet.pictures import load_picture
from scratchnet.recipe import Config
from scratchnet.runs import RunFolder
from scratchnet.runs import train as train_run
from scratchnet.trainer import Diverged, Trainer, split_data

# A few steps of the paper's model: 8 steps an epoch, 2 epochs.
TINY = ["--model", "cnn_lstm", "--train-size", "256", "--test-size", "100", "--val-size", "64",
        "--epochs", "2", "--batch-size", "32", "--no-progress", "--threads", "1"]


def run(argv, cifar_root):
    return train.main([*argv, "--data-dir", str(cifar_root), "--no-download"])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, cifar_root):
    out = tmp_path_factory.mktemp("tiny")
    assert run([*TINY, "--out", str(out)], cifar_root) == 0
    return out


def test_small_run_learns(tmp_path, cifar_root, capsys):
    # The README's main job: --small must show the CNN-LSTM learning, well above chance (10%).
    assert run(["--small", "--out", str(tmp_path), "--no-progress"], cifar_root) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    print(f"--small: test accuracy {summary['test_accuracy']:.3f} in {summary['wall_time_s']:.0f} s")
    assert summary["test_accuracy"] >= 0.35
    assert summary["test_size"] == 1000 and summary["train_size"] == 5000
    assert summary["options"]["model"] == "cnn_lstm"
    assert summary["threads"] == usable_cores()  # the default for the convolutional rows: every core


def test_recurrent_rows_default_to_one_thread(tmp_path, cifar_root):
    # splitting their batches gains nothing (python -m scratchnet.bench --threads 2 measures it)
    assert run(["--model", "gru", *TINY[2:TINY.index("--threads")], "--out", str(tmp_path)], cifar_root) == 0
    assert json.loads((tmp_path / "summary.json").read_text())["threads"] == 1


def test_outputs_of_a_run(tiny_run):
    summary = json.loads((tiny_run / "summary.json").read_text())
    assert set(summary) >= {"test_accuracy", "epochs", "wall_time_s", "options"}
    assert 0.0 <= summary["test_accuracy"] <= 1.0 and summary["epochs"] == 2
    assert summary["options"]["batch_size"] == 32 and summary["options"]["lr"] == 0.02
    with open(tiny_run / "metrics.csv") as file:
        rows = list(csv.DictReader(file))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert all(0 <= float(row["val_accuracy"]) <= 1 for row in rows)
    assert float(rows[-1]["lr"]) < float(rows[0]["lr"])  # cosine decay towards zero
    assert (tiny_run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tiny_run / "checkpoint.npz").is_file()


def test_interrupted_run_resumes_bit_identically(tiny_run, tmp_path, cifar_root, capsys):
    # Stop mid-epoch (step 5 of 8 in epoch 1, as a Ctrl-C would), resume, compare every bit.
    assert run([*TINY, "--out", str(tmp_path), "--stop-after-steps", "5"], cifar_root) == 130
    assert "--resume" in capsys.readouterr().err
    stopped = checkpoint.load(tmp_path / "checkpoint.npz")
    assert (stopped.metadata["epoch"], stopped.metadata["step"]) == (0, 5)
    assert not (tmp_path / "summary.json").exists()

    assert run(["--resume", str(tmp_path / "checkpoint.npz"), "--no-progress", "--threads", "1"], cifar_root) == 0
    resumed = checkpoint.load(tmp_path / "checkpoint.npz")
    uninterrupted = checkpoint.load(tiny_run / "checkpoint.npz")
    assert resumed.params.keys() == uninterrupted.params.keys()
    for key in uninterrupted.params:
        assert np.array_equal(resumed.params[key], uninterrupted.params[key]), key
    for key in uninterrupted.optimizer_state:
        assert np.array_equal(resumed.optimizer_state[key], uninterrupted.optimizer_state[key]), key
    assert (tmp_path / "metrics.csv").read_text().splitlines()[1].split(",")[:5] == \
        (tiny_run / "metrics.csv").read_text().splitlines()[1].split(",")[:5]


def test_run_split_across_threads_resumes_bit_identically(tmp_path, cifar_root, capsys):
    # Same seed and thread count: the same shards, the same sums, the same weights.
    threads = ["--threads", str(min(2, os.cpu_count() or 1))]
    tiny = [*TINY[:TINY.index("--threads")], *threads]
    assert run([*tiny, "--out", str(tmp_path / "whole")], cifar_root) == 0
    assert run([*tiny, "--out", str(tmp_path / "resumed"), "--stop-after-steps", "11"], cifar_root) == 130
    assert run(["--resume", str(tmp_path / "resumed" / "checkpoint.npz"), "--no-progress", *threads], cifar_root) == 0
    whole, resumed = (checkpoint.load(tmp_path / name / "checkpoint.npz") for name in ("whole", "resumed"))
    for key in whole.params:
        assert np.array_equal(resumed.params[key], whole.params[key]), key
    assert json.loads((tmp_path / "whole" / "summary.json").read_text())["threads"] == int(threads[1])


def test_resuming_with_another_thread_count_says_so(tiny_run, tmp_path, cifar_root, capsys, monkeypatch):
    monkeypatch.setattr("scratchnet.parallel.usable_cores", lambda: 2)  # so that 2 is allowed on any machine
    (tmp_path / "checkpoint.npz").write_bytes((tiny_run / "checkpoint.npz").read_bytes())
    assert checkpoint.load(tmp_path / "checkpoint.npz").metadata["threads"] == 1
    assert run(["--resume", str(tmp_path / "checkpoint.npz"), "--no-progress", "--threads", "2"], cifar_root) == 0
    assert "was trained on 1 thread(s) and goes on with 2" in capsys.readouterr().err


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


def test_checkpoint_gives_identical_predictions(tiny_run, cifar_root):
    images = load_cifar10(cifar_root)[2][:20]
    model, _ = load_model(tiny_run / "checkpoint.npz")
    again, _ = load_model(tiny_run / "checkpoint.npz")
    assert np.array_equal(probabilities(model, images), probabilities(again, images))
    other, _ = load_model(tiny_run / "checkpoint.npz")
    other.params["fc.b"][0] += 1.0
    assert not np.array_equal(probabilities(model, images), probabilities(other, images))


def exit_code(main, argv):
    """A command's exit code, whether it returned it or argparse raised SystemExit."""
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "--epochs"),
    (["--lr", "-1"], "--lr must be a positive number"),
    (["--momentum", "1.5"], "--momentum must be in [0, 1)"),
    (["--model", "resnet"], "invalid choice"),
    (["--val-size", "60000"], "--val-size"),
    (["--weight-decay", "-0.1"], "--weight-decay"),
    (["--clip", "0"], "--clip"),
    (["--batch-size", "many"], "--batch-size"),
    (["--resume", "no/such/checkpoint.npz"], "--resume no/such/checkpoint.npz: no checkpoint.npz there"),
    (["--threads", "999"], "--threads 999: must be a whole number from 1 to"),
])
def test_cli_rejects_bad_options(argv, message, capsys):
    assert exit_code(train.main, argv) == 2
    assert message in capsys.readouterr().err


def test_resume_refuses_conflicting_options_and_foreign_checkpoints(tiny_run, tmp_path, capsys):
    assert exit_code(train.main, ["--resume", str(tiny_run / "checkpoint.npz"), "--lr", "0.1"]) == 2
    assert "--lr 0.1 (the checkpoint has 0.02)" in capsys.readouterr().err
    foreign = tmp_path / "foreign" / "checkpoint.npz"
    checkpoint.save(foreign, {"w": np.zeros(3)}, {}, {"note": "not from the trainer"})
    assert exit_code(train.main, ["--resume", str(foreign)]) == 2
    assert "not written by scratchnet.train" in capsys.readouterr().err


def test_non_finite_loss_stops_with_a_clear_message(tmp_path, cifar_root, capsys):
    argv = [*TINY, "--out", str(tmp_path), "--lr", "1e30", "--clip", "1e30"]
    assert run(argv, cifar_root) == 1
    err = capsys.readouterr().err
    assert "the loss became" in err and "step" in err and "checkpoint" in err


def test_missing_data_without_download_says_what_to_do(tmp_path, capsys):
    assert train.main([*TINY, "--data-dir", str(tmp_path / "empty"), "--no-download", "--out", str(tmp_path)]) == 2
    assert "cifar-10-batches-py" in capsys.readouterr().err


def test_evaluate_and_predict_commands(tiny_run, tmp_path, cifar_root, capsys):
    from PIL import Image

    assert evaluate.main([str(tiny_run / "checkpoint.npz"), "--data-dir", str(cifar_root),
                          "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and "airplane" in printed
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert np.sum(report["confusion_matrix"]) == 10000
    assert (tmp_path / "confusion.png").read_bytes()[:4] == b"\x89PNG"

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (50, 80, 3), dtype=np.uint8)).save(tmp_path / "wide.png")
    Image.fromarray(rng.integers(0, 255, (64, 40, 3), dtype=np.uint8)).save(tmp_path / "tall.jpg")
    (tmp_path / "not_an_image.png").write_text("hello")
    assert predict.main([str(tiny_run / "checkpoint.npz"), str(tmp_path / "wide.png"), str(tmp_path / "tall.jpg")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(line.count("%") == 3 for line in lines)
    assert predict.main([str(tiny_run / "checkpoint.npz"), str(tmp_path / "not_an_image.png")]) == 2
    assert "not a readable PNG or JPEG" in capsys.readouterr().err


def test_load_picture_crops_the_centre_square(tmp_path):
    from PIL import Image

    picture = np.zeros((40, 120, 3), np.uint8)
    picture[:, 40:80] = 255  # a white centre square between black sides
    Image.fromarray(picture).save(tmp_path / "wide.png")
    array = load_picture(tmp_path / "wide.png")
    assert array.shape == (3, 32, 32) and array.dtype == np.uint8
    assert array.min() == 255
