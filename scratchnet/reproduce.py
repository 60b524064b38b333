"""``python -m scratchnet.reproduce``: re-run the paper's Table 1 with scratchnet, honestly.

Every row is trained with the same recipe and the same number of epochs (the learning
rate reaching zero at the last), on the full training set (``--val-size 0``, as the
paper did), and reported by its test accuracy after the last epoch: nothing is chosen by
test accuracy. Test accuracy is also recorded after each epoch, for the curves only.

Each run lives in its own folder (``RUNS/MODEL-seedS``, by default under ``results/runs``)
with its checkpoint and metrics. Running the command again skips finished runs and resumes
unfinished ones from their last checkpoint, so the table can be built across several
sittings. A finished run's ``summary.json`` and ``metrics.csv`` are a few kB and meant to be
committed (the checkpoints are ignored by git), so that sittings on other machines, or in a
fresh clone, skip the runs already done.

Writes ``OUT/table1.md``, ``table1.json``, ``table1.png`` and ``curves.png``.
"""

import argparse
import json
import os
import pickle
import platform
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np

from scratchnet.datasets import data_root, ensure_cifar10
from scratchnet.parallel import check_threads
from scratchnet.train import CHECKPOINT_NAME, SMALL, Config, Trainer, default_threads

# Table 1 of the paper (CIFAR-10 test accuracy)
PAPER = {"cnn": 0.72, "cnn_nolrn": 0.69, "gru": 0.46, "lstm": 0.47, "cnn_lstm": 0.78}
LABELS = {"cnn": "CNN with LRN", "cnn_nolrn": "CNN without LRN", "gru": "GRU", "lstm": "LSTM",
          "cnn_lstm": "CNN-LSTM"}
# The paper's claim is CNN-LSTM against CNN: those rows get three seeds by default.
DEFAULT_SEEDS = {"cnn_lstm": [0, 1, 2], "cnn": [0, 1, 2], "cnn_nolrn": [0], "gru": [0], "lstm": [0]}
DEFAULT_EPOCHS = 30
DEFAULT_RUNS = "results/runs"  # finished runs' summaries are committed from here (see .gitignore)


def run_config(model, seed, epochs, small):
    if small:
        return Config(model=model, seed=seed, epochs=epochs, small=True, val_size=0,
                      train_size=SMALL["train_size"], test_size=SMALL["test_size"],
                      batch_size=SMALL["batch_size"], warmup_steps=SMALL["warmup_steps"])
    return Config(model=model, seed=seed, epochs=epochs, val_size=0)


def run_folder(runs, model, seed):
    """Where one run keeps its checkpoint, metrics and, once finished, its summary.json."""
    return runs / f"{model}-seed{seed}"


def unfinished(plan, runs):
    """The (model, seed) pairs of ``plan`` without a finished run (a summary.json) in ``runs``."""
    return [(model, seed) for model, seed in plan if not (run_folder(runs, model, seed) / "summary.json").is_file()]


def run_one(config, folder, data_dir, label, runs_after, threads):
    """Train (or resume, or skip) one run; returns its summary."""
    summary_path = folder / "summary.json"
    if summary_path.is_file():
        print(f"{label}: finished earlier, skipped", flush=True)
        return json.loads(summary_path.read_text())
    trainer = Trainer(config, folder, data_dir=data_dir, download=False, progress=False, test_every_epoch=True,
                      threads=threads)
    if (folder / CHECKPOINT_NAME).is_file():
        trainer.resume(folder / CHECKPOINT_NAME)
        print(f"{label}: resuming at epoch {trainer.epoch + 1}", flush=True)

    def report(trainer, row):
        # only this run's time is estimated: the other rows train at other speeds
        left = trainer.wall_seconds / trainer.epoch * (config.epochs - trainer.epoch)
        after = f"{runs_after} more run{'s' * (runs_after != 1)} to train after it" if runs_after else "the last run"
        print(f"{label}: epoch {row['epoch']}/{config.epochs}, train accuracy {row['train_accuracy']:.3f}, "
              f"test accuracy {row['test_accuracy']:.3f}, about {left / 60:.0f} min left in this run, {after}",
              flush=True)

    return trainer.train(on_epoch_end=report)


def machine_facts():
    from threadpoolctl import threadpool_info

    # no thread count here: training holds BLAS at one thread per call, and each row says its threads
    blas = [f"{info.get('internal_api')} {info.get('version')} ({info.get('architecture')} kernel)"
            for info in threadpool_info() if info.get("user_api") == "blas"]
    return {"cores": os.cpu_count(), "cpu": platform.processor() or platform.machine(), "blas": blas}


def commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def data_is_jpeg_copy(root):
    """The official release names its images *.png; the offline stand-in names them *.jpg."""
    with open(Path(root) / "cifar-10-batches-py" / "test_batch", "rb") as file:
        names = pickle.load(file, encoding="bytes").get(b"filenames", [])
    return bool(names) and names[0].endswith(b".jpg")


def summarise(summaries):
    """Per model: mean, spread (min..max half-range and std), seeds, epochs, time, speed."""
    rows = {}
    for model, runs in summaries.items():
        accuracies = np.array([run["test_accuracy"] for run in runs])
        rows[model] = {
            "label": LABELS[model], "paper": PAPER[model], "mean": float(accuracies.mean()),
            "std": float(accuracies.std(ddof=1)) if len(runs) > 1 else 0.0,
            "min": float(accuracies.min()), "max": float(accuracies.max()), "seeds": len(runs),
            "accuracies": accuracies.tolist(), "epochs": runs[0]["epochs"],
            "wall_time_s": float(np.mean([run["wall_time_s"] for run in runs])),
            "images_per_s": float(np.mean([run["train_images_per_s"] for run in runs])),
            "threads": max(run.get("threads", 1) for run in runs),  # summaries before threads existed: 1
            "curves": [run["test_accuracy_per_epoch"] for run in runs],
        }
    return rows


def write_results(rows, out, context):
    import matplotlib
    from matplotlib.figure import Figure

    out.mkdir(parents=True, exist_ok=True)
    (out / "table1.json").write_text(json.dumps({"rows": rows, **context}, indent=2))
    lines = ["# Table 1, re-run with scratchnet", "",
             "| model | paper | ours (mean ± std, seeds) | epochs | wall time per run | images/s (threads) |",
             "|---|---|---|---|---|---|"]
    for row in rows.values():
        spread = f" ± {row['std']:.1%}" if row["seeds"] > 1 else ""
        seconds = row["wall_time_s"]
        wall = f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"
        lines.append(f"| {row['label']} | {row['paper']:.0%} | {row['mean']:.1%}{spread} ({row['seeds']} "
                     f"seed{'s' if row['seeds'] > 1 else ''}) | {row['epochs']} | {wall} | "
                     f"{row['images_per_s']:.0f} ({row['threads']}) |")
    lines += ["", f"Command: `{context['command']}`", f"Commit: {context['commit']}",
              f"Machine: {context['machine']['cores']} cores, {context['machine']['cpu']}; BLAS: "
              f"{'; '.join(context['machine']['blas'])}", f"Data: {context['data']}", ""]
    (out / "table1.md").write_text("\n".join(lines))

    fig = Figure(figsize=(8, 4))
    ax = fig.subplots()
    positions = np.arange(len(rows))
    ax.bar(positions - 0.2, [row["paper"] for row in rows.values()], 0.4, label="paper")
    ax.bar(positions + 0.2, [row["mean"] for row in rows.values()], 0.4, label="scratchnet (mean)",
           yerr=[[row["mean"] - row["min"] for row in rows.values()], [row["max"] - row["mean"] for row in rows.values()]],
           capsize=4)
    ax.set_xticks(positions, [row["label"] for row in rows.values()])
    ax.set(ylabel="CIFAR-10 test accuracy", ylim=(0, 1), title="Table 1: the paper's figures and ours (bars: min-max)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "table1.png", dpi=100)

    fig = Figure(figsize=(8, 5))
    ax = fig.subplots()
    for (model, row), color in zip(rows.items(), matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]):
        for k, curve in enumerate(row["curves"]):
            ax.plot(range(1, len(curve) + 1), curve, color=color, alpha=0.8, label=row["label"] if k == 0 else None)
    ax.set(xlabel="epoch", ylabel="test accuracy", title="test accuracy of every run", ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=100)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m scratchnet.reproduce",
        description="Train every row of the paper's Table 1 with the same recipe and epochs, over several seeds, "
                    "and write the table beside the paper's figures. Re-running resumes where it stopped.")
    parser.add_argument("--models", nargs="+", choices=list(PAPER), default=list(PAPER), help="rows to run")
    parser.add_argument("--seeds", nargs="+", type=int,
                        help="seeds for every row (default: 0 1 2 for cnn_lstm and cnn, 0 for the others)")
    parser.add_argument("--epochs", type=int, help=f"epochs for every row (default {DEFAULT_EPOCHS}, 1 with --small)")
    parser.add_argument("--small", action="store_true",
                        help=f"a quick version: {SMALL['train_size']} training and {SMALL['test_size']} test images")
    parser.add_argument("--out", default="results", help="folder for table1.md/.json/.png and curves.png")
    parser.add_argument("--runs", help=f"folder for each run's checkpoint and metrics (default: {DEFAULT_RUNS}, or "
                                       "runs/table1-small with --small)")
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: write the table from the runs finished so far")
    parser.add_argument("--threads", type=int,
                        help="threads to split each batch across (default: every core, one for lstm and gru; "
                             "see python -m scratchnet.train --help)")
    parser.add_argument("--data-dir", help="folder holding cifar-10-batches-py/ (default: $SCRATCHNET_DATA, else ./datasets)")
    args = parser.parse_args(argv)
    epochs = args.epochs if args.epochs is not None else (1 if args.small else DEFAULT_EPOCHS)
    if epochs < 1:
        parser.error(f"--epochs must be at least 1, got {epochs}")
    try:
        if args.threads is not None:
            check_threads(args.threads)
    except ValueError as error:
        parser.error(str(error))
    runs = Path(args.runs or ("runs/table1-small" if args.small else DEFAULT_RUNS))
    root = ensure_cifar10(data_root(args.data_dir))
    plan = [(model, seed) for model in args.models for seed in (args.seeds or DEFAULT_SEEDS[model])]

    summaries = {}
    for k, (model, seed) in enumerate(plan):
        config = run_config(model, seed, epochs, args.small)
        label = f"[run {k + 1}/{len(plan)}] {model} seed {seed}"
        if args.report_only:
            summary_path = run_folder(runs, model, seed) / "summary.json"
            if summary_path.is_file():
                summaries.setdefault(model, []).append(json.loads(summary_path.read_text()))
            else:
                print(f"{label}: not finished, left out of the table", flush=True)
            continue
        try:
            summary = run_one(config, run_folder(runs, model, seed), root, label,
                              runs_after=len(unfinished(plan[k + 1:], runs)),
                              threads=args.threads or default_threads(model))
        except ValueError as error:  # e.g. a folder holding a run with other options
            print(f"error: {label}: {error}", file=sys.stderr)
            return 2
        summaries.setdefault(model, []).append(summary)

    context = {
        "command": "python -m scratchnet.reproduce " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "commit": commit(), "machine": machine_facts(),
        "data": ("the JPEG-decoded stand-in for CIFAR-10 (pixels close to, not equal to, the official release)"
                 if data_is_jpeg_copy(root) else "the official CIFAR-10 python release"),
        "train_size": SMALL["train_size"] if args.small else 50000,
    }
    if not summaries:
        print(f"error: no finished run in {runs}", file=sys.stderr)
        return 2
    rows = summarise(summaries)
    write_results(rows, Path(args.out), context)
    print((Path(args.out) / "table1.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
