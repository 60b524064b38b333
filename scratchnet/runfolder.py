"""Reading a run folder written by the trainer, whatever it holds, and telling where the run stands.

A run folder may hold ``checkpoint.npz`` (after every epoch and on Ctrl-C), ``metrics.csv``
(a row per epoch), ``steps.csv`` (a row per step: step, lr, loss, grad_norm), ``summary.json``
(once training ended) and ``predictions.npy`` (the test predictions of the end). Older runs,
and the committed Table 1 runs, hold only some of them: ``read_run`` takes what is there and
leaves ``None`` for the rest, so a page can say what is missing.

The run's state comes from the files alone:

    finished      summary.json exists
    interrupted   the checkpoint was saved in the middle of an epoch (Ctrl-C): it can be resumed
    stale         no file changed for ``STALE_S`` seconds: the trainer stopped without saying so
    running       otherwise
"""

import csv
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from scratchnet import checkpoint

CHECKPOINT, METRICS, STEPS, SUMMARY, PREDICTIONS, REPORT = (
    "checkpoint.npz", "metrics.csv", "steps.csv", "summary.json", "predictions.npy", "report.html")
STALE_S = 600  # a run that wrote nothing for 10 minutes has stopped: epochs take a few minutes at most
TRAIN_IMAGES, TEST_IMAGES = 50000, 10000  # CIFAR-10's sets, before a run takes a part of them


@dataclasses.dataclass
class Run:
    """What one run folder holds; ``None`` (or an empty list) for what it does not."""

    folder: Path
    rows: list  # one dict per finished epoch: the metrics.csv columns, None where not measured
    steps: list | None  # one dict per step, or None without steps.csv
    summary: dict | None
    metadata: dict | None  # the checkpoint's metadata, or None without a checkpoint
    updated: float  # when a file of the run last changed (seconds since the epoch)

    @property
    def config(self):
        """Every option of the run, from summary.json or else the checkpoint ({} if neither)."""
        if self.summary and "options" in self.summary:
            return self.summary["options"]
        return (self.metadata or {}).get("config", {})

    @property
    def model(self):
        return ((self.summary or {}).get("model") or (self.metadata or {}).get("model")
                or self.config.get("model"))

    def state(self, now=None):
        if self.summary is not None:
            return "finished"
        if self.metadata is not None and self.metadata.get("step", 0) > 0:
            return "interrupted"
        now = time.time() if now is None else now
        return "stale" if now - self.updated > STALE_S else "running"

    def sizes(self):
        """Images the run trained, validated and tested on."""
        summary, config = self.summary or {}, self.config
        val = summary.get("val_size", config.get("val_size") or 0)
        train = summary.get("train_size") or config.get("train_size") or TRAIN_IMAGES - val
        test = summary.get("test_size") or config.get("test_size") or TEST_IMAGES
        return {"train": train, "validation": val, "test": test}


def _number(text):
    if text in ("", None):
        return None
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def read_csv(path):
    """Rows of a CSV file as dicts of numbers (None for empty cells)."""
    with open(path, newline="") as file:
        return [{key: _number(value) for key, value in row.items()} for row in csv.DictReader(file)]


def read_run(folder):
    """Read a run folder; a ValueError names what is wrong with one that is not a run, or not yet one."""
    folder = Path(folder)
    how = "pass a folder written by python -m scratchnet.train (its --out)"
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder; {how}")
    present = [name for name in (CHECKPOINT, METRICS, SUMMARY) if (folder / name).is_file()]
    if not present:
        raise ValueError(f"{folder} is not a run folder: it holds none of {CHECKPOINT}, {METRICS}, "
                         f"{SUMMARY}; {how}")
    metadata = checkpoint.load(folder / CHECKPOINT).metadata if CHECKPOINT in present else None
    summary = json.loads((folder / SUMMARY).read_text()) if SUMMARY in present else None
    try:
        rows = read_csv(folder / METRICS) if METRICS in present else list((metadata or {}).get("history", []))
        steps = read_csv(folder / STEPS) if (folder / STEPS).is_file() else None
    except (ValueError, csv.Error) as error:
        raise ValueError(f"{folder}: a CSV file is damaged ({error}); train the run again") from None
    if not rows:
        raise ValueError(f"{folder} holds a run with no finished epoch yet; "
                         "its report is written after the first")
    updated = max((folder / name).stat().st_mtime for name in (*present, STEPS) if (folder / name).is_file())
    return Run(folder, rows, steps or None, summary, metadata, updated)


def read_predictions(folder, count):
    """The run's saved test predictions (``count`` of them), or None if it saved none."""
    path = Path(folder) / PREDICTIONS
    if not path.is_file():
        return None
    predictions = np.load(path, allow_pickle=False)
    if predictions.shape != (count,):
        raise ValueError(f"{path} holds {predictions.shape} predictions, but the run tested {count} images; "
                         "train the run again")
    return predictions.astype(np.int64)
