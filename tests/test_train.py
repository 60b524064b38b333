"""The trainer end to end on the CIFAR-10 copy: learning, resuming, refusing bad options."""

import csv
import json
import os
import re

import numpy as np
import pytest
from fakes import TINY

from scratchnet import checkpoint, train
from scratchnet.machine import usable_cores
from scratchnet.trainer import Trainer


def run(argv, cifar_root):
    return train.main([*argv, "--data-dir", str(cifar_root), "--no-download"])


@pytest.mark.slow
def test_small_run_learns(tmp_path, cifar_root, capsys):
    # The README's main job: --small must show the CNN-LSTM learning, well above chance (10%).
    assert run(["--small", "--out", str(tmp_path), "--no-progress"], cifar_root) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["test_accuracy"] >= 0.35
    assert summary["test_size"] == 1000 and summary["train_size"] == 5000
    assert summary["options"]["model"] == "cnn_lstm"
    assert summary["threads"] == usable_cores()  # the default: every core


def test_recurrent_rows_default_to_every_core_too(tmp_path, cifar_root):
    # in worker processes their loops over time do not wait for each other's GIL (scratchnet.parallel)
    assert run(["--model", "gru", *TINY[2:TINY.index("--threads")], "--out", str(tmp_path)], cifar_root) == 0
    assert json.loads((tmp_path / "summary.json").read_text())["threads"] == usable_cores()


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
    assert "test_accuracy" not in rows[0]  # not measured per epoch by train: no empty column
    assert "JPEG" in summary["data"] and summary["model_options"]["conv2"] == "winograd"
    with open(tiny_run / "steps.csv") as file:
        steps = list(csv.DictReader(file))
    assert [int(row["step"]) for row in steps] == list(range(16))  # 8 steps an epoch, 2 epochs
    assert all(float(row["grad_norm"]) > 0 for row in steps)
    predictions = np.load(tiny_run / "predictions.npy")
    assert predictions.dtype == np.uint8 and predictions.shape == (100,)


def test_a_folder_holding_a_run_is_never_overwritten(tiny_run, tmp_path, cifar_root, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint.npz").write_bytes((tiny_run / "checkpoint.npz").read_bytes())
    assert run([*TINY, "--out", str(tmp_path / "run")], cifar_root) == 2
    err = capsys.readouterr().err
    assert f"--resume {tmp_path / 'run'}" in err and "--overwrite" in err and "another --out" in err
    assert (tmp_path / "run" / "checkpoint.npz").read_bytes() == (tiny_run / "checkpoint.npz").read_bytes()


def test_resuming_a_finished_run_says_it_is_finished(tiny_run, cifar_root, capsys):
    assert run(["--resume", str(tiny_run), "--no-progress"], cifar_root) == 0
    assert "is a finished run" in capsys.readouterr().out


def test_interrupted_run_resumes_bit_identically(tiny_run, tmp_path, cifar_root, capsys):
    # Stop mid-epoch (step 5 of 8 in epoch 1, as a Ctrl-C would), resume, compare every bit.
    assert run([*TINY, "--out", str(tmp_path), "--stop-after-steps", "5"], cifar_root) == 130
    assert "--resume" in capsys.readouterr().err
    stopped = checkpoint.load(tmp_path / "checkpoint.npz")
    assert (stopped.metadata["epoch"], stopped.metadata["step"]) == (0, 5)
    assert not (tmp_path / "summary.json").exists()

    assert run(["--resume", str(tmp_path / "checkpoint.npz"), "--no-progress", "--threads", "1"],
               cifar_root) == 0
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
    assert run(["--resume", str(tmp_path / "resumed" / "checkpoint.npz"), "--no-progress", *threads],
               cifar_root) == 0
    whole, resumed = (checkpoint.load(tmp_path / name / "checkpoint.npz") for name in ("whole", "resumed"))
    for key in whole.params:
        assert np.array_equal(resumed.params[key], whole.params[key]), key
    assert json.loads((tmp_path / "whole" / "summary.json").read_text())["threads"] == int(threads[1])


def test_a_stopped_worker_stops_the_run_saved_and_it_resumes(tmp_path, cifar_root, capsys, monkeypatch):
    # a worker killed from outside (say, for memory): no traceback, the step it was in is not
    # applied, the run is saved before it and says how to go on
    monkeypatch.setattr("scratchnet.parallel.usable_cores", lambda: 2)
    take_step = Trainer.train_step

    def step_that_kills_the_worker(trainer, x, y):
        if trainer.global_step == 3:
            trainer.parallel.workers[0].process.kill()
            trainer.parallel.workers[0].process.wait()
        return take_step(trainer, x, y)

    monkeypatch.setattr(Trainer, "train_step", step_that_kills_the_worker)
    tiny = [*TINY[:TINY.index("--threads")], "--threads", "2", "--out", str(tmp_path)]
    assert run(tiny, cifar_root) == 130
    assert re.search(r"a worker process stopped \(exit status -9; .*\) at epoch 1, step 3; saved\. "
                     r"Continue with: python -m scratchnet\.train --resume ", capsys.readouterr().err)
    monkeypatch.setattr(Trainer, "train_step", take_step)
    assert run(["--resume", str(tmp_path), "--no-progress", "--threads", "2"], cifar_root) == 0


def test_resuming_with_another_thread_count_says_so(tiny_run, tmp_path, cifar_root, capsys, monkeypatch):
    monkeypatch.setattr("scratchnet.parallel.usable_cores", lambda: 2)  # so that 2 is allowed on any machine
    (tmp_path / "checkpoint.npz").write_bytes((tiny_run / "checkpoint.npz").read_bytes())
    assert checkpoint.load(tmp_path / "checkpoint.npz").metadata["threads"] == 1
    assert run(["--resume", str(tmp_path / "checkpoint.npz"), "--no-progress", "--threads", "2"],
               cifar_root) == 0
    assert "was trained on 1 thread(s) and goes on with 2" in capsys.readouterr().err


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
    with pytest.warns(RuntimeWarning, match="overflow|invalid value"):  # the weights overflow: the point
        assert run(argv, cifar_root) == 1
    err = capsys.readouterr().err
    # Which overflows first (loss, gradient or weights) depends on the CPU's BLAS kernels.
    assert re.search(r"the (loss became|gradient's norm became|weights overflowed)", err), err
    assert "step" in err and "checkpoint" in err and "--lr" in err


def test_missing_data_without_download_says_what_to_do(tmp_path, capsys):
    assert train.main([*TINY, "--data-dir", str(tmp_path / "empty"), "--no-download",
                       "--out", str(tmp_path)]) == 2
    assert "cifar-10-batches-py" in capsys.readouterr().err
