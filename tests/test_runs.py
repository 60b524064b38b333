"""A run's folder (scratchnet.runs) through the train command: what it says, what it keeps, and
that nothing in it is lost, overwritten or written by two processes at once."""

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fakes import make_fake

from scratchnet import checkpoint, runs, train
from scratchnet.cifar10 import FOLDER, load_cifar10
from scratchnet.recipe import Config
from scratchnet.runs import RunFolder
from scratchnet.trainer import Diverged, Trainer, split_data

# 15 fake training images, batches of 8: 2 steps an epoch
TINY = ["--model", "lstm", "--val-size", "0", "--epochs", "2", "--batch-size", "8", "--threads", "1",
        "--no-download"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("fake")
    make_fake(root)
    return root


@pytest.fixture(scope="module")
def finished(data, tmp_path_factory):
    """A finished tiny run (read --data-dir pointing inside cifar-10-batches-py/) and what it printed."""
    out = tmp_path_factory.mktemp("finished") / "run"
    stdout = io.StringIO()
    saved, sys.stdout = sys.stdout, stdout
    try:
        assert train.main([*TINY, "--no-progress", "--data-dir", str(data / FOLDER), "--out", str(out)]) == 0
    finally:
        sys.stdout = saved
    return out, stdout.getvalue()


def tiny(data, out, *more):
    return train.main([*TINY, "--no-progress", "--data-dir", str(data), "--out", str(out), *more])


def test_what_a_run_prints(finished):
    _, printed = finished
    lines = printed.splitlines()
    compiling = next(k for k, line in enumerate(lines) if "compiling kernels (first run only)" in line)
    epochs = [k for k, line in enumerate(lines) if line.startswith("epoch ")]
    # said before the first (slow) step; --no-progress keeps the epoch lines
    assert len(epochs) == 2 and compiling < epochs[0]
    assert "on 3 test images after 2 epochs" in lines[-1]


def test_the_curves_title_says_how_many_test_images(data, tmp_path, monkeypatch):
    titles = []
    monkeypatch.setattr(runs, "plot_history", lambda rows, path, title="": titles.append(title))
    assert tiny(data, tmp_path / "run") == 0
    assert len(titles) == 1 and "on 3 images" in titles[0]


def metrics(folder):
    with open(folder / "metrics.csv") as file:
        return list(csv.DictReader(file))


def test_metrics_hold_test_accuracy_only_when_measured(finished, data, tmp_path):
    out, _ = finished
    assert "test_accuracy" not in metrics(out)[0]  # train does not test per epoch: no empty column
    config = Config(model="lstm", val_size=0, epochs=2, batch_size=8)
    trainer = Trainer(config, split_data(config, *load_cifar10(data)))
    runs.train(trainer, RunFolder(tmp_path), test_every_epoch=True)
    rows = metrics(tmp_path)
    assert len(rows) == 2 and all(0 <= float(row["test_accuracy"]) <= 1 for row in rows)


def test_resume_takes_the_folder_and_a_finished_run_says_so(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert tiny(data, out, "--stop-after-steps", "1") == 130
    assert f"--resume {out}" in capsys.readouterr().err
    assert train.main(["--resume", str(out), "--data-dir", str(data), "--no-progress"]) == 0
    assert (out / "summary.json").is_file()
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    capsys.readouterr()
    assert train.main(["--resume", str(out), "--data-dir", str(data)]) == 0
    assert "is a finished run" in capsys.readouterr().out
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_a_run_is_never_overwritten_unless_asked(finished, data, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(finished[0], out)
    (out / "evaluation.json").write_text("{}")
    (out / "notes.txt").write_text("mine")
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    assert tiny(data, out) == 2
    err = capsys.readouterr().err
    assert f"--resume {out}" in err and "--overwrite" in err and "--out" in err
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    assert tiny(data, out, "--overwrite", "--epochs", "1") == 0
    assert not (out / "evaluation.json").exists()  # it described the old checkpoint
    assert (out / "notes.txt").read_text() == "mine"  # not an output of a run: kept
    assert json.loads((out / "summary.json").read_text())["epochs"] == 1


def test_a_checkpoint_saved_removes_the_evaluation_of_the_older_one(data, tmp_path):
    out = tmp_path / "run"
    assert tiny(data, out, "--stop-after-steps", "1") == 130
    for stale in ("evaluation.json", "confusion.png"):
        (out / stale).write_text("about the older checkpoint")
    assert train.main(["--resume", str(out), "--data-dir", str(data), "--no-progress"]) == 0
    assert not (out / "evaluation.json").exists() and not (out / "confusion.png").exists()


def dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_one_writer_per_folder(tmp_path):
    folder = RunFolder(tmp_path / "run")
    with folder.lock():
        assert (tmp_path / "run" / ".lock").read_text() == str(os.getpid())
        with pytest.raises(ValueError, match=f"being written by another process \\(PID {os.getpid()}\\)"):
            with folder.lock():
                pass
    assert not (tmp_path / "run" / ".lock").exists()


def test_a_dead_writers_lock_and_temporaries_are_taken_over(tmp_path):
    pid = dead_pid()
    (tmp_path / ".lock").write_text(str(pid))
    (tmp_path / f".checkpoint.npz.{pid}.tmp").write_bytes(b"half a checkpoint")
    (tmp_path / f".metrics.csv.{os.getpid()}.tmp").write_text("a live writer's")  # not removed: alive
    with RunFolder(tmp_path).lock():
        assert (tmp_path / ".lock").read_text() == str(os.getpid())
    assert sorted(path.name for path in tmp_path.iterdir()) == [f".metrics.csv.{os.getpid()}.tmp"]


def test_weights_made_non_finite_by_an_epochs_last_step_are_never_saved(data, tmp_path):
    config = Config(model="lstm", val_size=0, epochs=2, batch_size=8)
    trainer = Trainer(config, split_data(config, *load_cifar10(data)))
    step = trainer.optimizer.step

    def overflowing(grads, lr):
        step(grads, lr=lr)
        if trainer.global_step == 2 * trainer.steps_per_epoch - 1:  # the last step of the last epoch
            next(iter(trainer.model.params.values())).flat[0] = np.inf

    trainer.optimizer.step = overflowing
    with pytest.raises(Diverged, match="epoch 2, step 2"):
        runs.train(trainer, RunFolder(tmp_path))
    saved = checkpoint.load(tmp_path / "checkpoint.npz")
    assert saved.metadata["epoch"] == 1  # the last good one: the first epoch's
    assert all(np.isfinite(value).all() for value in saved.params.values())
    assert not (tmp_path / "summary.json").exists()


# ----------------------------------------------------------------------------- signals

def start_training(data, out, epochs):
    """A training subprocess on the fake data, and a wait for its first epoch line."""
    argv = [sys.executable, "-m", "scratchnet.train", *TINY[:TINY.index("--epochs")], "--epochs", str(epochs),
            *TINY[TINY.index("--batch-size"):], "--no-progress", "--data-dir", str(data), "--out", str(out)]
    argv[argv.index("--batch-size") + 1] = "1"  # 15 steps an epoch: the signal lands mid-run
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    for line in process.stdout:
        if line.startswith("epoch 1:"):
            return process
    raise AssertionError(f"no epoch finished: {process.stderr.read()}")


@pytest.mark.slow
def test_sigterm_saves_like_ctrl_c_and_the_run_resumes(data, tmp_path):
    out = tmp_path / "run"
    process = start_training(data, out, epochs=200)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert f"--resume {out}" in err and "Traceback" not in err
    stopped = checkpoint.load(out / "checkpoint.npz").metadata
    assert 1 <= stopped["epoch"] < 200 and not (out / ".lock").exists()
    # resuming goes on from where it stopped; stop it again at once to keep the test short
    assert train.main(["--resume", str(out), "--data-dir", str(data), "--no-progress",
                       "--stop-after-steps", str(stopped["epoch"] * 15 + stopped["step"] + 1)]) == 130
    resumed = checkpoint.load(out / "checkpoint.npz").metadata
    assert resumed["epoch"] * 15 + resumed["step"] == stopped["epoch"] * 15 + stopped["step"] + 1


@pytest.mark.slow
def test_after_kill_9_the_next_run_takes_the_folder_over(data, tmp_path):
    out = tmp_path / "run"
    process = start_training(data, out, epochs=200)
    process.kill()
    process.wait()
    assert (out / ".lock").read_text() == str(process.pid)  # left behind, naming a dead process
    (out / f".checkpoint.npz.{process.pid}.tmp").write_bytes(b"as kill -9 leaves it mid-write")
    epoch = checkpoint.load(out / "checkpoint.npz").metadata["epoch"]
    assert train.main(["--resume", str(out), "--data-dir", str(data), "--no-progress",
                       "--stop-after-steps", str(epoch * 15 + 1)]) == 130
    assert sorted(path.name for path in out.iterdir() if path.name.startswith(".")) == []
