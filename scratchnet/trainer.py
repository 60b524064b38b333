"""The training loop: one run of SGD on arrays of images, resumable at any step.

One training step, exactly as ``Trainer.train_step`` takes it:

    x = standardise(random crop + horizontal flip of a batch of images)
    loss, logits = model.loss_and_backward(x, labels)   # fills model.grads (split across threads)
    norm = clip_grad_norm(model.grads, clip)             # keeps an exploding step from wrecking the net
    sgd.step(model.grads, lr=schedule(step))             # momentum and weight decay (the L2 term)

The recipe's numbers live in ``scratchnet.recipe``. Randomness is explicit and resumable:
every generator is derived from the seed and the position in training
(``default_rng([seed, purpose, epoch, step])``), so a run stopped anywhere and resumed from
its checkpoint draws exactly the numbers it would have drawn.

The trainer takes arrays (``split_data`` makes them from CIFAR-10's) and knows no folder:
``scratchnet.runs`` writes a run's files, the commands print.
"""

import math
import time
from typing import NamedTuple

import numpy as np

from scratchnet import checkpoint
from scratchnet.evaluation import evaluate
from scratchnet.layers.base import NonFiniteError
from scratchnet.models import build_model
from scratchnet.optim import SGD, WarmupCosine, clip_grad_norm
from scratchnet.parallel import DataParallel
from scratchnet.transforms import CROP, random_crop_flip, standardize, train_val_split

# Purposes of the derived random generators
SPLIT, INIT, SHUFFLE, AUGMENT = 0, 1, 2, 3
RANDOM_SCHEME = ("numpy default_rng([seed, purpose, epoch, step]): "
                 "purpose 0 split, 1 init, 2 shuffle, 3 augment")


class Data(NamedTuple):
    """A run's images (uint8 (N, 3, 32, 32)) and labels (int64), split three ways."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


class Diverged(RuntimeError):
    """The loss, the gradient or the weights became NaN or infinite."""


class Interrupted(Exception):
    """Training stopped early (Ctrl-C, SIGTERM or a test's stop point) after a whole step."""


def rng(config, purpose, *position):
    return np.random.default_rng([config.seed, purpose, *position])


def split_data(config, x_train, y_train, x_test, y_test):
    """CIFAR-10's arrays cut as ``config`` says: validation held out, then the subsets asked for."""
    x_train, y_train, x_val, y_val = train_val_split(x_train, y_train, config.val_size, rng(config, SPLIT))
    if config.train_size is not None:
        x_train, y_train = x_train[:config.train_size], y_train[:config.train_size]
    if config.test_size is not None:
        x_test, y_test = x_test[:config.test_size], y_test[:config.test_size]
    return Data(x_train, y_train, x_val, y_val, x_test, y_test)


class Trainer:
    """One run: the model, its optimiser, its data and where training stands."""

    def __init__(self, config, data, threads=1):
        self.config, self.data = config, data
        self.model = build_model(config.model, rng=rng(config, INIT), **config.model_options)
        self.parallel = DataParallel(self.model, threads)
        self.optimizer = SGD(self.model.params, momentum=config.momentum, weight_decay=config.weight_decay)
        self.steps_per_epoch = math.ceil(len(data.y_train) / config.batch_size)
        self.schedule = WarmupCosine(config.lr, config.warmup_steps, config.epochs * self.steps_per_epoch)
        # where training stands: the next step to take, and the running sums of its epoch
        self.epoch, self.step = 0, 0
        self.sums = {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
        self.wall_seconds = 0.0
        self.history = []     # one row of metrics per finished epoch
        self.step_log = []    # one row per step taken since the last save: step, lr, loss, grad_norm
        self.stop_requested = False

    @property
    def global_step(self):
        return self.epoch * self.steps_per_epoch + self.step

    @property
    def finished(self):
        return self.epoch >= self.config.epochs

    def train_step(self, x, y):
        """Forward, backward, clip and update on one batch: ``(loss, correct predictions)``."""
        global_step = self.global_step
        try:
            loss, logits = self.parallel.loss_and_backward(x, y)
            detail = ""
        except NonFiniteError as error:  # overflowed weights sent NaN into a layer before the loss
            loss, detail = float("nan"), f" ({error})"
        grads = self.model.grads
        norm = clip_grad_norm(grads, self.config.clip) if math.isfinite(loss) else float("nan")
        if not math.isfinite(norm):  # a finite loss can still have an infinite gradient: never apply it
            what = (f"the loss became {loss}" if not math.isfinite(loss)
                    else f"the gradient's norm became {norm}")
            raise Diverged(f"{what} at epoch {self.epoch + 1}, step {self.step + 1}{detail}")
        lr = self.schedule(global_step)
        self.optimizer.step(grads, lr=lr)
        if not all(np.isfinite(w).all() for w in self.model.params.values()):  # a finite step can overflow
            raise Diverged(f"the weights overflowed to infinity at epoch {self.epoch + 1}, "
                           f"step {self.step + 1}")
        self.step_log.append({"step": global_step, "lr": lr, "loss": loss, "grad_norm": norm})
        return loss, int(np.sum(np.argmax(logits, axis=1) == y))

    def run_epoch(self, on_step=None, stop_after_steps=None):
        """The rest of the current epoch; ``on_step(trainer)`` after each step.

        Raises Interrupted after the step in flight when ``stop_requested`` is set (or after
        ``stop_after_steps`` steps in all): the caller saves, and a resume goes on from there.
        """
        config, data = self.config, self.data
        order = rng(config, SHUFFLE, self.epoch).permutation(len(data.x_train))
        while self.step < self.steps_per_epoch:
            started = time.perf_counter()
            batch = order[self.step * config.batch_size:(self.step + 1) * config.batch_size]
            images = random_crop_flip(data.x_train[batch], CROP, rng(config, AUGMENT, self.epoch, self.step))
            x = standardize(images).astype(self.model.dtype, copy=False)
            loss, correct = self.train_step(x, data.y_train[batch])
            self.step += 1
            seconds = time.perf_counter() - started
            self.sums["loss"] += loss * len(batch)
            self.sums["correct"] += correct
            self.sums["seen"] += len(batch)
            self.sums["seconds"] += seconds
            self.wall_seconds += seconds
            if on_step is not None:
                on_step(self)
            if self.stop_requested or (stop_after_steps is not None and self.global_step >= stop_after_steps):
                raise Interrupted(f"stopped at epoch {self.epoch + 1}, step {self.step}")

    def finish_epoch(self, test=False):
        """Validate (and test, if asked), append the epoch's metrics row, move to the next epoch."""
        started = time.perf_counter()
        val = self.evaluate(self.data.x_val, self.data.y_val) if len(self.data.y_val) else None
        tested = self.evaluate(self.data.x_test, self.data.y_test) if test else None
        self.wall_seconds += time.perf_counter() - started
        row = {
            "epoch": self.epoch + 1,
            "train_loss": self.sums["loss"] / self.sums["seen"],
            "train_accuracy": self.sums["correct"] / self.sums["seen"],
            "val_loss": val["loss"] if val else None,
            "val_accuracy": val["accuracy"] if val else None,
            "lr": self.schedule((self.epoch + 1) * self.steps_per_epoch - 1),
            "seconds": self.sums["seconds"],
            "images_per_s": self.sums["seen"] / self.sums["seconds"],
        }
        if tested:
            row["test_accuracy"] = tested["accuracy"]
        self.history.append(row)
        self.epoch, self.step = self.epoch + 1, 0
        self.sums = {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
        return row

    def evaluate(self, images, labels):
        """Loss, accuracy and predictions on uint8 images, split across the trainer's threads."""
        return evaluate(self.model, images, labels, forward=self.parallel.forward)

    # --- the state a checkpoint keeps ------------------------------------------------------
    def state(self):
        """Where training stands, as JSON-able metadata (the arrays are the params and optimiser state)."""
        return {"epoch": self.epoch, "step": self.step, "sums": self.sums, "wall_seconds": self.wall_seconds,
                "threads": self.parallel.threads, "history": self.history,
                "random": {"scheme": RANDOM_SCHEME, "seed": self.config.seed}}

    def load_state(self, ckpt):
        """Continue from a ``scratchnet.checkpoint.Checkpoint`` (whose config must be this trainer's)."""
        checkpoint.restore(ckpt, self.model.params, model_name=self.config.model)
        self.optimizer.load_state_dict(ckpt.optimizer_state)
        metadata = ckpt.metadata
        self.epoch, self.step, self.sums = metadata["epoch"], metadata["step"], metadata["sums"]
        self.wall_seconds, self.history = metadata["wall_seconds"], metadata["history"]
