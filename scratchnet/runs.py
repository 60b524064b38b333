"""A run's folder: the files a training run leaves, written so that nothing is lost.

    checkpoint.npz    weights, optimiser state and where training stands (every epoch, and
                      when a run is stopped); ``--resume`` goes on from it, bit for bit
    metrics.csv       one row per finished epoch
    steps.csv         one row per step: its learning rate, loss, and gradient norm before clipping
    summary.json      written once the last epoch is done: the final accuracies and the facts
    predictions.npy   the test images' predicted classes (uint8), for paired comparisons
    curves.png        loss and accuracy per epoch
    report.html       a page of the run to open in a browser (``scratchnet.reporting``): its facts
                      and curves after every epoch, what the network learned at the end

Every file goes through ``scratchnet.files``: written whole or not at all.
"""

import contextlib
import csv
import dataclasses
import io
import math
import os
from pathlib import Path

import numpy as np

from scratchnet import checkpoint, files
from scratchnet.cifar10 import provenance
from scratchnet.machine import commit, machine_facts
from scratchnet.parallel import WorkerStopped
from scratchnet.plots import plot_history
from scratchnet.recipe import Config
from scratchnet.reporting import write_report
from scratchnet.trainer import Interrupted, Trainer, split_data
from scratchnet.transforms import CROP

CHECKPOINT = "checkpoint.npz"
METRIC_FIELDS = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_accuracy",
                 "lr", "seconds", "images_per_s"]
STEP_FIELDS = ["step", "lr", "loss", "grad_norm"]
# in every metrics row
ROW_NUMBERS = ("epoch", "train_loss", "train_accuracy", "lr", "seconds", "images_per_s")
OUTPUTS = (CHECKPOINT, "metrics.csv", "steps.csv", "summary.json", "predictions.npy", "curves.png",
           "report.html", "evaluation.json", "confusion.png")


class RunFolder:
    """The folder of one run and the files in it."""

    def __init__(self, path):
        self.path = Path(path)
        self.checkpoint = self.path / CHECKPOINT
        self.summary = self.path / "summary.json"

    def holds_run(self):
        """Whether a run has written anything here (a checkpoint, metrics or a summary)."""
        return any((self.path / name).exists() for name in (CHECKPOINT, "metrics.csv", "summary.json"))

    def clear(self):
        """Delete every output of an earlier run (``--overwrite``); other files stay."""
        for name in OUTPUTS:
            (self.path / name).unlink(missing_ok=True)

    @contextlib.contextmanager
    def lock(self):
        """Be the only writer of this folder while the block runs: two trainers would mix their files.

        The lock is a file naming the writer's process; one whose process is gone (a run killed
        with kill -9) is taken over, and the temporary files that process left are removed.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        path = self.path / ".lock"
        for _ in range(2):
            try:
                descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                break
            except FileExistsError:
                owner = _pid_in(path)
                if owner is not None and files.process_alive(owner):
                    raise ValueError(f"{self.path} is being written by another process (PID {owner}); "
                                     "wait for it to finish or stop it, or choose another --out") from None
                path.unlink(missing_ok=True)  # its process is gone
        else:
            raise ValueError(f"cannot take the lock {path}; remove it if no run is writing into {self.path}")
        with os.fdopen(descriptor, "w") as file:
            file.write(str(os.getpid()))
        files.remove_stale_temporaries(self.path)
        try:
            yield self
        finally:
            path.unlink(missing_ok=True)

    # --- during training --------------------------------------------------------------------
    def save(self, trainer):
        """Checkpoint, metrics and the steps taken since the last save: where training stands."""
        self.path.mkdir(parents=True, exist_ok=True)
        metadata = {"model": trainer.config.model, "dtype": str(trainer.model.dtype),
                    "config": dataclasses.asdict(trainer.config), "model_options": trainer.model.options,
                    "normalisation": {"crop": CROP, "train": "random crop + horizontal flip",
                                      "test": "centre crop",
                                      "standardise": "per image: (x - mean) / max(std, 1/sqrt(n))"},
                    **trainer.state()}
        for stale in ("evaluation.json", "confusion.png"):  # they describe an older checkpoint: gone first
            (self.path / stale).unlink(missing_ok=True)
        self._append_steps(trainer.step_log)
        checkpoint.save(self.checkpoint, trainer.model.params, trainer.optimizer.state_dict(), metadata)
        trainer.step_log = []
        self.write_metrics(trainer.history)

    def write_metrics(self, history):
        # test accuracy is measured per epoch only when asked (reproduce): no empty column otherwise
        fields = [name for name in METRIC_FIELDS
                  if name != "test_accuracy" or any(row.get(name) is not None for row in history)]
        files.write_text(self.path / "metrics.csv", _csv(fields, history))

    def _append_steps(self, rows):
        kept = self.read_steps()
        if rows:  # a step logged twice (a kill between two saves) keeps its latest row
            kept = [row for row in kept if int(row["step"]) < rows[0]["step"]]
        files.write_text(self.path / "steps.csv", _csv(STEP_FIELDS, kept + rows))

    def read_steps(self):
        path = self.path / "steps.csv"
        return list(csv.DictReader(io.StringIO(path.read_text()))) if path.is_file() else []

    # --- resuming ---------------------------------------------------------------------------
    def saved_config(self):
        """The Config of the checkpoint here (ValueError when it holds none)."""
        return Config.from_dict(checkpoint.load(self.checkpoint).metadata.get("config"), self.checkpoint)

    def resume(self, trainer):
        """Put ``trainer`` where the checkpoint here left off; its options must be the checkpoint's."""
        ckpt = checkpoint.load(self.checkpoint)
        saved = Config.from_dict(ckpt.metadata.get("config"), self.checkpoint)
        if saved != trainer.config:
            raise ValueError(f"{self.checkpoint} was trained with other options "
                             f"({'; '.join(saved.differences(trainer.config))}); "
                             "resume with the same options, or start a new run in another --out folder")
        _check_state(ckpt.metadata, self.checkpoint, trainer)
        arrays = {**ckpt.params, **ckpt.optimizer_state}
        broken = [name for name, value in arrays.items() if not np.isfinite(value).all()]
        if broken:  # a diverged run's: going on from it would only diverge again
            raise ValueError(f"{self.checkpoint} holds NaN or infinity (in {', '.join(broken[:3])}); resume "
                             "from an earlier copy, or start a new run with a smaller --lr")
        trainer.load_state(ckpt)
        return ckpt.metadata.get("threads", 1)  # checkpoints from before --threads split batches: 1

    # --- at the end -------------------------------------------------------------------------
    def finish(self, trainer, test, facts):
        """summary.json, predictions.npy and curves.png once the last epoch is done; returns the summary."""
        history = trainer.history
        seen = sum(row["images_per_s"] * row["seconds"] for row in history)
        data = trainer.data
        summary = {
            "model": trainer.config.model,
            "test_accuracy": test["accuracy"], "test_loss": test["loss"],
            "val_accuracy": history[-1]["val_accuracy"],
            "epochs": trainer.config.epochs,
            "wall_time_s": trainer.wall_seconds,
            "train_images_per_s": seen / sum(row["seconds"] for row in history),
            "train_size": len(data.y_train), "val_size": len(data.y_val), "test_size": len(data.y_test),
            "threads": trainer.parallel.threads,  # of the last sitting; images/s depend on it
            "options": dataclasses.asdict(trainer.config),
            "model_options": trainer.model.options,
            **facts,
        }
        if "test_accuracy" in history[-1]:
            summary["test_accuracy_per_epoch"] = [row.get("test_accuracy") for row in history]
        with files.atomic_write(self.path / "predictions.npy") as file:
            np.save(file, test["predictions"].astype(np.uint8))
        files.write_json(self.summary, summary)
        plot_history(history, self.path / "curves.png",
                     title=f"{trainer.config.model}: test accuracy {test['accuracy']:.3f} "
                           f"on {len(data.y_test):,} images")
        return summary


@contextlib.contextmanager
def saved_when_stopped(trainer, folder):
    """Save the run and raise Interrupted when it stops: asked to, or because a worker process
    stopped (the step or evaluation it was in changed nothing, so the run resumes from there)."""
    try:
        yield
    except (Interrupted, WorkerStopped) as stop:
        folder.save(trainer)
        if trainer.history:  # the page shows how far the run got, and the resume command
            write_report(folder.path, full=False)
        if isinstance(stop, WorkerStopped):
            raise Interrupted(f"{stop} at epoch {trainer.epoch + 1}, step {trainer.step}") from None
        raise


def train(trainer, folder, on_step=None, on_epoch_end=None, stop_after_steps=None, test_every_epoch=False,
          facts=None):
    """Train ``trainer`` to its last epoch, saving in ``folder`` after every epoch; then test.

    Returns the summary. ``on_step(trainer)`` follows every step, ``on_epoch_end(trainer, row)``
    every epoch; ``test_every_epoch`` records test accuracy per epoch, for curves only: nothing
    is chosen by it. Interrupted (after saving) when ``trainer.stop_requested`` is set, or when a
    worker process of a run split across cores stops.
    """
    while not trainer.finished:
        with saved_when_stopped(trainer, folder):
            trainer.run_epoch(on_step=on_step, stop_after_steps=stop_after_steps)
            row = trainer.finish_epoch(test=test_every_epoch)
        folder.save(trainer)
        write_report(folder.path, full=False)  # facts and curves: a page open in a browser moves
        if on_epoch_end is not None:
            on_epoch_end(trainer, row)
    data = trainer.data
    with saved_when_stopped(trainer, folder):
        test = trainer.evaluate(data.x_test, data.y_test)
    summary = folder.finish(trainer, test, facts or {})
    write_report(folder.path, model=trainer.model, test_images=data.x_test, test_labels=data.y_test,
                 predictions=test["predictions"])
    return summary


def train_run(config, folder, cifar, threads, facts, on_resume=None, on_epoch_end=None, stop=None):
    """Train the run ``config`` in ``folder`` to its end, resuming from its checkpoint; returns the summary.

    The one path of a Table 1 or study run, on this machine (``scratchnet.reproduce``) or as a
    job on a cluster's worker (``scratchnet.cluster``): the same seed and threads give the same
    run, bit for bit, wherever it trains. The caller holds the folder's lock. ``cifar`` is
    ``load_cifar10``'s four arrays; ``on_resume(trainer)`` follows a resume, ``on_epoch_end(trainer,
    row)`` every epoch; ``stop()``, asked after every step, stops the run (saved: Interrupted).
    """
    trainer = Trainer(config, split_data(config, *cifar), threads=threads)
    if folder.checkpoint.is_file():
        folder.resume(trainer)
        if on_resume is not None:
            on_resume(trainer)

    def on_step(trainer):
        trainer.stop_requested = trainer.stop_requested or bool(stop and stop())

    return train(trainer, folder, on_step=on_step, on_epoch_end=on_epoch_end, test_every_epoch=True,
                 facts=facts)


def run_facts(root):
    """What a run's summary records besides its results: the data in ``root``, the code, the machine."""
    return {"data": provenance(root), "commit": commit(), "machine": machine_facts()}


def epoch_line(trainer, row):
    """How a run stands after an epoch, in words: its accuracies and its time left."""
    # only this run's time is estimated: the other rows train at other speeds
    left = trainer.wall_seconds / trainer.epoch * (trainer.config.epochs - trainer.epoch)
    return (f"epoch {row['epoch']}/{trainer.config.epochs}, train accuracy {row['train_accuracy']:.3f}, "
            f"test accuracy {row['test_accuracy']:.3f}, about {left / 60:.0f} min left in this run")


def _pid_in(path):
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _check_state(metadata, path, trainer):
    """Refuse, with one sentence, a checkpoint whose record of where training stands is damaged."""
    def whole(value, low, high):
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high

    def number(value):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

    def row_ok(row):
        return isinstance(row, dict) and all(number(row.get(key)) for key in ROW_NUMBERS) \
            and row["seconds"] > 0 \
            and all(row.get(key) is None or number(row[key]) for key in ("val_loss", "val_accuracy"))

    sums = metadata.get("sums")
    problems = [name for name, ok in [
        ("epoch", whole(metadata.get("epoch"), 0, trainer.config.epochs)),
        ("step", whole(metadata.get("step"), 0, trainer.steps_per_epoch)),
        ("sums", isinstance(sums, dict) and set(sums) == {"loss", "correct", "seen", "seconds"}
         and all(number(value) and value >= 0 for value in sums.values())
         and (metadata.get("step") == 0 or sums["seen"] > 0 and sums["seconds"] > 0)),
        ("wall_seconds", number(metadata.get("wall_seconds"))),
        ("history", isinstance(metadata.get("history"), list)
         and len(metadata["history"]) == metadata.get("epoch")
         and all(row_ok(row) for row in metadata["history"])),
    ] if not ok]
    if problems:
        raise ValueError(f"{path} is damaged: its {', '.join(problems)} cannot be where a run of these "
                         "options stands; resume from another copy or start a new run")


def _csv(fields, rows):
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()
