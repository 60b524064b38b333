"""``python -m scratchnet.train``: train a model of the paper's Table 1 on CIFAR-10.

One training step, as the paper's set-up and the reference recipe do it:

    x = standardise(random 24 x 24 crop + horizontal flip of a batch of 128 images)
    loss, dlogits = softmax_cross_entropy(model.forward(x), labels)
    model.backward(dlogits)                        # fills model.grads
    clip_grad_norm(model.grads, 5)                 # keeps an exploding step from wrecking the net
    sgd.step(model.grads, lr=schedule(step))       # momentum 0.9, weight decay 5e-4 (the L2 term)

Randomness is explicit and resumable: every generator is derived from ``--seed`` and the
position in training (``default_rng([seed, purpose, epoch, step])``), so a run stopped
anywhere and resumed from its checkpoint draws exactly the numbers it would have drawn.
"""

import argparse
import csv
import dataclasses
import json
import math
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from scratchnet import checkpoint
from scratchnet.datasets import data_root, ensure_cifar10, load_cifar10, random_crop_flip, standardize, train_val_split
from scratchnet.evaluate import CROP, evaluate_model
from scratchnet.layers.base import NonFiniteError
from scratchnet.models import MODEL_NAMES, build_model
from scratchnet.optim import SGD, WarmupCosine, clip_grad_norm
from scratchnet.parallel import DataParallel, check_threads, usable_cores
from scratchnet.plots import plot_history

PEAK_LR = {"cnn_lstm": 0.02, "cnn": 0.02, "cnn_nolrn": 0.02, "lstm": 0.05, "gru": 0.05}
# --small: a subset that trains in about a minute on two cores
# (smaller batches: more steps in the same time, which a short run needs more than a smooth gradient)
SMALL = {"train_size": 5000, "test_size": 1000, "val_size": 500, "epochs": 6, "batch_size": 64, "warmup_steps": 20}
# Purposes of the derived random generators
SPLIT, INIT, SHUFFLE, AUGMENT = 0, 1, 2, 3
CHECKPOINT_NAME = "checkpoint.npz"
# The recurrent rows do little work per image, and their Python loop over time holds the GIL:
# split across 2 threads their steps ran at 1.00x (LSTM) and 0.80x (GRU) of one thread's speed
# (python -m scratchnet.bench --threads 2), where the convolutional rows ran at 1.8x.
ONE_THREAD_MODELS = ("lstm", "gru")


def default_threads(model):
    """Threads to split each batch across when ``--threads`` is not given: every core, or one."""
    return 1 if model in ONE_THREAD_MODELS else usable_cores()

METRIC_FIELDS = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_accuracy",
                 "lr", "seconds", "images_per_s"]


@dataclasses.dataclass
class Config:
    """Everything that defines a run. Saved in every checkpoint and in summary.json."""

    model: str = "cnn_lstm"
    epochs: int = 30
    batch_size: int = 128
    lr: float | None = None  # None: the model's peak learning rate from PEAK_LR
    momentum: float = 0.9
    weight_decay: float = 5e-4
    clip: float = 5.0
    warmup_steps: int = 200
    val_size: int = 5000
    seed: int = 0
    train_size: int | None = None  # None: every training image left after the validation split
    test_size: int | None = None  # None: all 10,000 test images
    small: bool = False

    def __post_init__(self):
        if self.lr is None:
            self.lr = PEAK_LR.get(self.model, 0.02)
        problems = []
        if self.model not in MODEL_NAMES:
            problems.append(f"--model {self.model!r} is not one of {', '.join(MODEL_NAMES)}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                problems.append(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        for name in ("train_size", "test_size"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self, name)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            problems.append(f"--lr must be a positive number, got {self.lr}")
        if not 0 <= self.momentum < 1:
            problems.append(f"--momentum must be in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            problems.append(f"--weight-decay must be >= 0, got {self.weight_decay}")
        if self.clip <= 0:
            problems.append(f"--clip must be positive, got {self.clip}")
        if self.warmup_steps < 0:
            problems.append(f"warm-up steps must be >= 0, got {self.warmup_steps}")
        if not 0 <= self.val_size < 50000:
            problems.append(f"--val-size must be in [0, 50000), got {self.val_size}")
        if problems:
            raise ValueError("; ".join(problems))


class Diverged(RuntimeError):
    """The loss became NaN or infinite."""


class Interrupted(Exception):
    """Training stopped early (Ctrl-C or a test's stop point); the checkpoint is saved."""


def _rng(config, purpose, *position):
    return np.random.default_rng([config.seed, purpose, *position])


def _load_data(config, data_dir, download):
    root = ensure_cifar10(data_root(data_dir), download=download)
    x_train, y_train, x_test, y_test = load_cifar10(root)
    x_train, y_train, x_val, y_val = train_val_split(x_train, y_train, config.val_size, _rng(config, SPLIT))
    if config.train_size is not None:
        x_train, y_train = x_train[:config.train_size], y_train[:config.train_size]
    if config.test_size is not None:
        x_test, y_test = x_test[:config.test_size], y_test[:config.test_size]
    return x_train, y_train, x_val, y_val, x_test, y_test


class Trainer:
    """One run: the model, its optimiser, its data and where training stands."""

    def __init__(self, config, out, data_dir=None, download=True, progress=True, test_every_epoch=False,
                 threads=1):
        # test_every_epoch: record test accuracy per epoch, for curves only; nothing is chosen by it
        # threads: each batch is split across this many threads (scratchnet.parallel)
        self.config, self.out, self.progress = config, Path(out), progress
        self.test_every_epoch = test_every_epoch
        (self.x_train, self.y_train, self.x_val, self.y_val,
         self.x_test, self.y_test) = _load_data(config, data_dir, download)
        self.model = build_model(config.model, rng=_rng(config, INIT))
        self.parallel = DataParallel(self.model, threads)
        self.optimizer = SGD(self.model.params, lr=config.lr, momentum=config.momentum,
                             weight_decay=config.weight_decay)
        self.steps_per_epoch = math.ceil(len(self.x_train) / config.batch_size)
        self.schedule = WarmupCosine(config.lr, config.warmup_steps, config.epochs * self.steps_per_epoch)
        # where training stands: the next step to take, and the running sums of its epoch
        self.epoch, self.step = 0, 0
        self.sums = {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
        self.wall_seconds = 0.0
        self.history = []
        self.stop_requested = False

    # --- checkpoints -------------------------------------------------------------------
    @property
    def checkpoint_path(self):
        return self.out / CHECKPOINT_NAME

    def save(self):
        metadata = {
            "model": self.config.model, "dtype": str(self.model.dtype), "config": dataclasses.asdict(self.config),
            "epoch": self.epoch, "step": self.step, "sums": self.sums, "wall_seconds": self.wall_seconds,
            "threads": self.parallel.threads,
            "history": self.history,
            "random": {"scheme": "numpy default_rng([seed, purpose, epoch, step]): "
                                 "purpose 0 split, 1 init, 2 shuffle, 3 augment", "seed": self.config.seed},
            "normalisation": {"crop": CROP, "train": "random crop + horizontal flip",
                              "test": "centre crop", "standardise": "per image: (x - mean) / max(std, 1/sqrt(n))"},
        }
        checkpoint.save(self.checkpoint_path, self.model.params, self.optimizer.state_dict(), metadata)

    def resume(self, path):
        ckpt = checkpoint.load(path)
        saved = Config(**ckpt.metadata["config"])
        if saved != self.config:
            differences = [f"{field.name}: checkpoint {getattr(saved, field.name)!r}, asked "
                           f"{getattr(self.config, field.name)!r}" for field in dataclasses.fields(Config)
                           if getattr(saved, field.name) != getattr(self.config, field.name)]
            raise ValueError(f"{path} was trained with other options ({'; '.join(differences)}); "
                             "resume with the same options, or start a new run in another --out folder")
        checkpoint.restore(ckpt, self.model.params, model_name=self.config.model)
        self.optimizer.load_state_dict(ckpt.optimizer_state)
        meta = ckpt.metadata
        self.epoch, self.step, self.sums = meta["epoch"], meta["step"], meta["sums"]
        self.wall_seconds, self.history = meta["wall_seconds"], meta["history"]
        saved_threads = meta.get("threads", 1)  # checkpoints from before --threads split batches: 1
        if saved_threads != self.parallel.threads:
            print(f"note: {path} was trained on {saved_threads} thread(s) and goes on with {self.parallel.threads}: "
                  "the weights will differ in the last bits from a run that kept one count "
                  f"(resume with --threads {saved_threads} for a bit-identical run)", file=sys.stderr)

    # --- training ----------------------------------------------------------------------
    def train_step(self, x, y, global_step):
        try:
            loss, logits = self.parallel.loss_and_backward(x, y)
            detail = ""
        except NonFiniteError as error:  # overflowed weights sent NaN into a layer before the loss
            loss, detail = float("nan"), f" ({error})"
        grads = self.model.grads
        norm = clip_grad_norm(grads, self.config.clip) if np.isfinite(loss) else float("nan")
        if not math.isfinite(norm):  # a finite loss can still have an infinite gradient: never apply it
            what = f"the loss became {loss}" if not np.isfinite(loss) else f"the gradient's norm became {norm}"
            last_good = (f"the last good checkpoint is {self.checkpoint_path}" if self.checkpoint_path.is_file()
                         else "no checkpoint was written yet")
            raise Diverged(f"{what} at epoch {self.epoch + 1}, step {self.step + 1} "
                           f"(global step {global_step}){detail}; {last_good}. Try a smaller --lr or --clip.")
        self.optimizer.step(grads, lr=self.schedule(global_step))
        return loss, int(np.sum(np.argmax(logits, axis=1) == y))

    def run_epoch(self, stop_after_steps=None):
        config = self.config
        order = _rng(config, SHUFFLE, self.epoch).permutation(len(self.x_train))
        bar = tqdm(total=self.steps_per_epoch, initial=self.step, disable=not self.progress, leave=True,
                   desc=f"epoch {self.epoch + 1}/{config.epochs}", unit="batch", dynamic_ncols=True)
        while self.step < self.steps_per_epoch:
            started = time.perf_counter()
            batch = order[self.step * config.batch_size:(self.step + 1) * config.batch_size]
            images = random_crop_flip(self.x_train[batch], CROP, _rng(config, AUGMENT, self.epoch, self.step))
            x = standardize(images).astype(self.model.dtype, copy=False)
            global_step = self.epoch * self.steps_per_epoch + self.step
            loss, correct = self.train_step(x, self.y_train[batch], global_step)
            self.step += 1
            seconds = time.perf_counter() - started
            self.sums["loss"] += loss * len(batch)
            self.sums["correct"] += correct
            self.sums["seen"] += len(batch)
            self.sums["seconds"] += seconds
            self.wall_seconds += seconds
            bar.update(1)
            bar.set_postfix(loss=f"{self.sums['loss'] / self.sums['seen']:.3f}",
                            acc=f"{self.sums['correct'] / self.sums['seen']:.3f}",
                            img_s=f"{self.sums['seen'] / self.sums['seconds']:.0f}")
            if self.stop_requested or (stop_after_steps is not None and global_step + 1 >= stop_after_steps):
                bar.close()
                self.save()
                raise Interrupted(f"stopped at epoch {self.epoch + 1}, step {self.step}; "
                                  f"checkpoint saved to {self.checkpoint_path}")
        bar.close()

    def finish_epoch(self):
        started = time.perf_counter()
        val = self.evaluate(self.x_val, self.y_val) if len(self.y_val) else None
        test = self.evaluate(self.x_test, self.y_test) if self.test_every_epoch else None
        self.wall_seconds += time.perf_counter() - started
        row = {
            "epoch": self.epoch + 1,
            "train_loss": self.sums["loss"] / self.sums["seen"],
            "train_accuracy": self.sums["correct"] / self.sums["seen"],
            "val_loss": val["loss"] if val else None,
            "val_accuracy": val["accuracy"] if val else None,
            "test_accuracy": test["accuracy"] if test else None,
            "lr": self.schedule((self.epoch + 1) * self.steps_per_epoch - 1),
            "seconds": self.sums["seconds"],
            "images_per_s": self.sums["seen"] / self.sums["seconds"],
        }
        self.history.append(row)
        self.epoch, self.step = self.epoch + 1, 0
        self.sums = {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
        self.save()
        self.write_metrics()
        if self.progress:
            val_text = f", val accuracy {row['val_accuracy']:.4f}" if val else ""
            tqdm.write(f"epoch {row['epoch']}: train loss {row['train_loss']:.4f}, "
                       f"train accuracy {row['train_accuracy']:.4f}{val_text}")

    def evaluate(self, images, labels):
        return evaluate_model(self.model, images, labels, forward=self.parallel.forward)

    def write_metrics(self):
        with open(self.out / "metrics.csv", "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=METRIC_FIELDS)
            writer.writeheader()
            writer.writerows(self.history)

    def train(self, stop_after_steps=None, on_epoch_end=None):
        """Train to the last epoch, then test. Returns the summary dict.

        ``on_epoch_end(trainer, row)`` is called after each epoch with its metrics row.
        """
        self.out.mkdir(parents=True, exist_ok=True)
        while self.epoch < self.config.epochs:
            self.run_epoch(stop_after_steps)
            self.finish_epoch()
            if on_epoch_end is not None:
                on_epoch_end(self, self.history[-1])
        return self.finish()

    def finish(self):
        test = self.evaluate(self.x_test, self.y_test)
        seen = sum(row["images_per_s"] * row["seconds"] for row in self.history)
        summary = {
            "model": self.config.model,
            "test_accuracy": test["accuracy"],
            "test_loss": test["loss"],
            "val_accuracy": self.history[-1]["val_accuracy"],
            "epochs": self.config.epochs,
            "wall_time_s": self.wall_seconds,
            "train_images_per_s": seen / sum(row["seconds"] for row in self.history),
            "train_size": len(self.y_train), "val_size": len(self.y_val), "test_size": len(self.y_test),
            "threads": self.parallel.threads,  # of the last sitting; images/s depend on it
            "options": dataclasses.asdict(self.config),
        }
        if self.test_every_epoch:
            summary["test_accuracy_per_epoch"] = [row["test_accuracy"] for row in self.history]
        write_json(self.out / "summary.json", summary)
        plot_history(self.history, self.out / "curves.png",
                     title=f"{self.config.model}: test accuracy {test['accuracy']:.3f}")
        return summary


def write_json(path, data):
    """Write JSON through a temporary file and a rename: a reader never sees half a file."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data, indent=2))
    os.replace(temporary, path)


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text}")
    return value


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show a default only where there is one to show."""

    def _get_help_string(self, action):
        return action.help if action.default is None or action.default is False else super()._get_help_string(action)


def build_parser():
    lr_defaults = ", ".join(f"{name} {lr}" for name, lr in PEAK_LR.items())
    parser = argparse.ArgumentParser(
        prog="python -m scratchnet.train",
        description="Train a model of the paper's Table 1 on CIFAR-10 with SGD. The defaults reproduce the "
                    "paper's set-up (the CNN-LSTM, batch 128, 24 x 24 crops) with the reference recipe "
                    "(momentum 0.9, weight decay 5e-4, clipping at norm 5, 200 warm-up steps, cosine decay).",
        formatter_class=_HelpFormatter)
    parser.add_argument("--model", choices=MODEL_NAMES, default="cnn_lstm", help="which row of Table 1 to train")
    parser.add_argument("--small", action="store_true",
                        help=f"a quick run: {SMALL['train_size']} training and {SMALL['test_size']} test images, "
                             f"{SMALL['val_size']} held out, {SMALL['epochs']} epochs of batches of "
                             f"{SMALL['batch_size']}, {SMALL['warmup_steps']} warm-up steps (about a minute on two cores)")
    parser.add_argument("--epochs", type=_positive_int, help="epochs; the learning rate reaches zero at the last "
                                                             f"(default 30, or {SMALL['epochs']} with --small)")
    parser.add_argument("--batch-size", type=_positive_int, help="images per SGD step (default 128, or 64 with --small)")
    parser.add_argument("--lr", type=float, help=f"peak learning rate (default per model: {lr_defaults})")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum, in [0, 1)")
    parser.add_argument("--weight-decay", type=float, default=5e-4,
                        help="L2 strength: adds weight_decay * w to every parameter's gradient")
    parser.add_argument("--clip", type=float, default=5.0, help="clip the gradient's global L2 norm to this")
    parser.add_argument("--val-size", type=int, help="training images held out for validation; 0 trains on "
                                                     "all 50,000 as the paper did (default 5000, or 500 with --small)")
    parser.add_argument("--train-size", type=_positive_int,
                        help="train on only the first N training images after the split (default: all; 5000 with --small)")
    parser.add_argument("--test-size", type=_positive_int,
                        help="test on only the first N test images (default: all 10,000; 1000 with --small)")
    parser.add_argument("--seed", type=int, default=0, help="seeds every random choice: same seed, same run")
    parser.add_argument("--threads", type=_positive_int,
                        help="threads to split each batch across (default: every core; one for lstm and gru, which "
                             "gain nothing from more). Results depend on it only in the last bits; "
                             "`python -m scratchnet.bench --threads N` measures the speed-up")
    parser.add_argument("--data-dir", help="folder holding cifar-10-batches-py/ (default: $SCRATCHNET_DATA, "
                                           "else ./datasets); CIFAR-10 is downloaded there when missing")
    parser.add_argument("--out", help="output folder for checkpoint.npz, metrics.csv, summary.json, curves.png "
                                      "(default: runs/MODEL[-small]-seedS)")
    parser.add_argument("--resume", help="continue the run saved in this checkpoint.npz, with the same options")
    parser.add_argument("--no-download", action="store_true", help="fail instead of downloading missing data")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    # test-only: behave as if Ctrl-C came right after this many steps
    parser.add_argument("--stop-after-steps", type=_positive_int, help=argparse.SUPPRESS)
    return parser


def config_from_args(args):
    small = SMALL if args.small else {}
    return Config(
        model=args.model,
        epochs=args.epochs if args.epochs is not None else small.get("epochs", Config.epochs),
        batch_size=args.batch_size if args.batch_size is not None else small.get("batch_size", Config.batch_size),
        lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay,
        clip=args.clip, seed=args.seed, small=args.small,
        warmup_steps=small.get("warmup_steps", Config.warmup_steps),
        val_size=args.val_size if args.val_size is not None else small.get("val_size", Config.val_size),
        train_size=args.train_size if args.train_size is not None else small.get("train_size"),
        test_size=args.test_size if args.test_size is not None else small.get("test_size"),
    )


def _resumed_config(parser, args):
    """The checkpoint's options; any training option given on the command line must agree."""
    metadata = checkpoint.load(args.resume).metadata
    try:
        saved = Config(**metadata["config"])
    except (KeyError, TypeError) as error:
        raise ValueError(f"{args.resume} holds no training options ({error}); it was not written by "
                         "scratchnet.train, so it cannot be resumed") from None
    asked = config_from_args(args)
    given = {dest for dest, value in vars(args).items() if value != parser.get_default(dest)}
    conflicts = [f"--{name.replace('_', '-')} {getattr(asked, name)} (the checkpoint has {getattr(saved, name)})"
                 for name in (field.name for field in dataclasses.fields(Config))
                 if name in given and getattr(asked, name) != getattr(saved, name)]
    if conflicts:
        raise ValueError(f"--resume continues a run with its own options; these differ: {', '.join(conflicts)}. "
                         "Drop them, or start a new run in another --out folder")
    return saved


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = _resumed_config(parser, args) if args.resume else config_from_args(args)
        threads = check_threads(args.threads or default_threads(config.model))
    except (OSError, ValueError) as error:
        parser.error(str(error))
    if args.out:
        out = Path(args.out)
    elif args.resume:
        out = Path(args.resume).parent
    else:
        out = Path("runs") / f"{config.model}{'-small' if config.small else ''}-seed{config.seed}"
    progress = not args.no_progress
    try:
        trainer = Trainer(config, out, data_dir=args.data_dir, download=not args.no_download, progress=progress,
                          threads=threads)
        if args.resume:
            trainer.resume(args.resume)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    def request_stop(signum, frame):
        # finish the step in flight, then save: a checkpoint never holds a half-done update
        trainer.stop_requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C stops at once

    signal.signal(signal.SIGINT, request_stop)
    print(f"training {config.model} on {len(trainer.y_train)} images ({len(trainer.y_val)} held out for "
          f"validation), {config.epochs} epochs of {trainer.steps_per_epoch} steps; output in {out}")
    try:
        summary = trainer.train(stop_after_steps=args.stop_after_steps)
    except Interrupted as stop:
        print(f"{stop}. Continue with: python -m scratchnet.train --resume {trainer.checkpoint_path}", file=sys.stderr)
        return 130
    except Diverged as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    print(f"test accuracy {summary['test_accuracy']:.4f} after {summary['epochs']} epochs, "
          f"{summary['wall_time_s']:.0f} s of training; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
