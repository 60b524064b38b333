"""``python -m scratchnet.train``: train a model of the paper's Table 1 on CIFAR-10.

A thin command over the library: ``scratchnet.recipe`` holds the options and their
defaults, ``scratchnet.trainer`` the training loop, ``scratchnet.runs`` the run's folder.
"""

import argparse
import shutil
import signal
import sys
from pathlib import Path

from tqdm import tqdm

from scratchnet import cli, files
from scratchnet.cifar10 import data_root, load_cifar10, provenance
from scratchnet.download import ensure_cifar10
from scratchnet.machine import commit, machine_facts
from scratchnet.parallel import check_threads, usable_cores
from scratchnet.recipe import SMALL
from scratchnet.runs import RunFolder, train
from scratchnet.trainer import Diverged, Interrupted, Trainer, split_data

OPTIONS = ("model", "epochs", "batch_size", "lr", "momentum", "weight_decay", "clip", "val_size",
           "train_size", "test_size", "seed")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m scratchnet.train",
        description="Train a model of the paper's Table 1 on CIFAR-10 with SGD (momentum, weight decay, "
                    "gradient clipping, warm-up then cosine decay). The defaults are the paper's set-up.")
    parser.add_argument("--small", action="store_true",
                        help=f"a quick run: {SMALL['train_size']:,} training and "
                             f"{SMALL['test_size']:,} test images, {SMALL['epochs']} epochs "
                             "(about a minute on two cores)")
    cli.add_config_options(parser, OPTIONS)
    cli.add_model_options(parser)
    parser.add_argument("--threads", type=cli.positive_int,
                        help="cores to split each batch across, one process each (default: every core). "
                             "Results depend on it only in the last bits")
    parser.add_argument("--data-dir", help="folder holding cifar-10-batches-py/ (default: $SCRATCHNET_DATA, "
                                           "else ./datasets, where CIFAR-10 is downloaded when missing)")
    parser.add_argument("--out", help="folder for the run's files (default: runs/MODEL[-small]-seedS)")
    parser.add_argument("--resume", metavar="RUN",
                        help="continue the run saved in this folder (or its checkpoint.npz)")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete the run already in --out and start afresh")
    parser.add_argument("--no-download", action="store_true", help="fail instead of downloading missing data")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bars (the per-epoch lines stay)")
    # test-only: behave as if Ctrl-C came right after this many steps
    parser.add_argument("--stop-after-steps", type=cli.positive_int, help=argparse.SUPPRESS)
    return parser


def resumed_config(args, folder):
    """The checkpoint's options; any training option typed on the command line must agree with it."""
    saved = folder.saved_config()
    asked = cli.given(args, OPTIONS)
    conflicts = [f"--{name.replace('_', '-')} {value} (the checkpoint has {getattr(saved, name)})"
                 for name, value in asked.items() if getattr(saved, name) != value]
    conflicts += [f"--{name} {value} (the checkpoint has {saved.model_options.get(name)})"
                  for name, value in cli.model_options(args).items()
                  if saved.model_options.get(name) != value]
    if args.small and not saved.small:
        conflicts.append("--small (the run was not a --small run)")
    if conflicts:
        raise ValueError(f"--resume continues a run with its own options; these differ: "
                         f"{', '.join(conflicts)}. Drop them, or start a new run in another --out folder")
    return saved


@cli.interruptible
def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.resume:
            if args.out or args.overwrite:
                raise ValueError("--resume goes on in the run's own folder: drop --out and --overwrite, or "
                                 "start a new run without --resume")
            resume = Path(args.resume)
            folder = RunFolder(resume.parent if resume.name.endswith(".npz") else resume)
            if not folder.checkpoint.is_file():
                return cli.fail(f"--resume {args.resume}: no {folder.checkpoint.name} there; "
                                "name a run's folder")
            config = resumed_config(args, folder)
            out = folder.path
        else:
            config = cli.config_from_args(args, OPTIONS, small=args.small)
            out = Path(args.out or f"runs/{config.model}{'-small' if config.small else ''}-seed{config.seed}")
            folder = RunFolder(out)
        threads = check_threads(args.threads or usable_cores())
    except (OSError, ValueError) as error:
        return cli.fail(error)
    if args.resume and folder.summary.is_file():
        print(f"{out} is a finished run (its results are in {folder.summary}); nothing to resume")
        return 0
    if not args.resume and folder.holds_run() and not args.overwrite:
        return cli.fail(f"{out} already holds a run. "
                        f"Continue it with: python -m scratchnet.train --resume {out}  "
                        f"or start afresh with --overwrite, or choose another --out")
    if out.exists() and not out.is_dir():
        return cli.fail(f"--out {out} is a file, not a folder; choose another --out")
    created = next((path for path in reversed([out, *out.parents]) if not path.exists()), None)
    try:
        try:
            files.check_writable(out)  # now, not after the first epoch
        except OSError as error:
            return cli.fail(f"cannot write into {out} ({error.strerror or error}); choose another --out")
        with folder.lock():
            return start(folder, config, args, threads)
    except KeyboardInterrupt:  # before the first step, or a second Ctrl-C
        saved = f"go on with: python -m scratchnet.train --resume {out}" if folder.checkpoint.is_file() else \
            "nothing was saved"
        print(f"interrupted; {saved}", file=sys.stderr)
        return 130
    except (OSError, ValueError) as error:
        return cli.fail(error)
    finally:
        # a run that never started leaves no empty folders behind
        if created is not None and created.is_dir() and not any(p.is_file() for p in created.rglob("*")):
            shutil.rmtree(created)


def start(folder, config, args, threads):
    """Everything before the first step: the folder, the data, the model (or the checkpoint's)."""
    if args.overwrite:
        folder.clear()
    root = ensure_cifar10(data_root(args.data_dir), download=not args.no_download)
    data = split_data(config, *load_cifar10(root))
    trainer = Trainer(config, data, threads=threads)
    if args.resume:
        saved_threads = folder.resume(trainer)
        if saved_threads != threads:
            print(f"note: the run was trained on {saved_threads} thread(s) and goes on with {threads}: the "
                  f"weights will differ in the last bits from a run that kept one count (resume with "
                  f"--threads {saved_threads} for a bit-identical run)", file=sys.stderr)
    return run(trainer, folder, args, facts={"data": provenance(root), "commit": commit(),
                                             "machine": machine_facts()})


def run(trainer, folder, args, facts):
    config = trainer.config
    print(f"training {config.model} on {len(trainer.data.y_train):,} images "
          f"({len(trainer.data.y_val):,} held out for validation), "
          f"{config.epochs} epochs of {trainer.steps_per_epoch} steps; output in {folder.path}")
    print("compiling kernels (first run only) ...", flush=True)
    bars = {}

    def on_step(trainer):
        bar = bars.get(trainer.epoch)
        if bar is None:
            bar = bars[trainer.epoch] = tqdm(total=trainer.steps_per_epoch, initial=trainer.step - 1,
                                             unit="batch", desc=f"epoch {trainer.epoch + 1}/{config.epochs}",
                                             dynamic_ncols=True, disable=args.no_progress)
        bar.update(1)
        sums = trainer.sums
        bar.set_postfix(loss=f"{sums['loss'] / sums['seen']:.3f}",
                        acc=f"{sums['correct'] / sums['seen']:.3f}",
                        img_s=f"{sums['seen'] / sums['seconds']:.0f}")

    def on_epoch_end(trainer, row):
        bar = bars.pop(row["epoch"] - 1, None)
        if bar is not None:
            bar.close()
        val = f", val accuracy {row['val_accuracy']:.4f}" if row["val_accuracy"] is not None else ""
        print(f"epoch {row['epoch']}: train loss {row['train_loss']:.4f}, train accuracy "
              f"{row['train_accuracy']:.4f}{val}", flush=True)

    def request_stop(signum, frame):
        # finish the step in flight, then save: a checkpoint never holds a half-done update
        trainer.stop_requested = True
        signal.signal(signum, signal.default_int_handler)  # a second one stops at once

    handlers = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        summary = train(trainer, folder, on_step=on_step, on_epoch_end=on_epoch_end,
                        stop_after_steps=args.stop_after_steps, facts=facts)
    except Interrupted as stop:
        print(f"{stop}; saved. Continue with: python -m scratchnet.train --resume {folder.path}",
              file=sys.stderr)
        return 130
    except Diverged as error:
        saved = f"the last good checkpoint is {folder.checkpoint}" if folder.checkpoint.is_file() else \
            "no checkpoint was written yet"
        print(f"error: {error}; {saved}. Try a smaller --lr or --clip.", file=sys.stderr)
        return 1
    except OSError as error:  # a full disk or a folder made read-only while training
        return cli.fail(f"cannot write the run's files in {folder.path} ({error}); "
                        f"free space or fix the folder, then: "
                        f"python -m scratchnet.train --resume {folder.path}")
    finally:
        for bar in bars.values():
            bar.close()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    print(f"test accuracy {summary['test_accuracy']:.4f} on {summary['test_size']:,} test images after "
          f"{summary['epochs']} epochs, {summary['wall_time_s']:.0f} s of training; results in {folder.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
