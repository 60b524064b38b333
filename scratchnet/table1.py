"""The paper's Table 1, re-run: which runs it needs, and the table, chart and curves they make.

Every row is trained with the same recipe and the same number of epochs (the learning
rate reaching zero at the last), on the full training set (no validation split, as the
paper did), and reported by its test accuracy after the last epoch: nothing is chosen by
test accuracy. Test accuracy is also recorded after each epoch, for the curves only.
Everything written here is made from the runs' summaries alone, so the same runs give the
same files, byte for byte.
"""

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from scratchnet import files
from scratchnet.recipe import Config, small_config

# Table 1 of the paper (CIFAR-10 test accuracy)
PAPER = {"cnn": 0.72, "cnn_nolrn": 0.69, "gru": 0.46, "lstm": 0.47, "cnn_lstm": 0.78}
LABELS = {"cnn": "CNN with LRN", "cnn_nolrn": "CNN without LRN", "gru": "GRU", "lstm": "LSTM",
          "cnn_lstm": "CNN-LSTM"}
# The paper's claim is CNN-LSTM against CNN: those rows get three seeds by default.
DEFAULT_SEEDS = {"cnn_lstm": [0, 1, 2], "cnn": [0, 1, 2], "cnn_nolrn": [0], "gru": [0], "lstm": [0]}
DEFAULT_EPOCHS = 30
DEFAULT_RUNS = "results/runs"  # finished runs' summaries are committed from here (see .gitignore)
NOT_RECORDED = "not recorded"


def run_config(model, seed, epochs, small):
    """One run of the table: every training image, no validation split."""
    if small:
        return small_config(model=model, seed=seed, epochs=epochs, val_size=0)
    return Config(model=model, seed=seed, epochs=epochs, val_size=0)


def run_folder(runs, model, seed):
    """Where one run keeps its checkpoint, metrics and, once finished, its summary.json."""
    return runs / f"{model}-seed{seed}"


def unfinished(plan, runs):
    """The (model, seed) pairs of ``plan`` without a finished run (a summary.json) in ``runs``."""
    return [(model, seed) for model, seed in plan
            if not (run_folder(runs, model, seed) / "summary.json").is_file()]


def summarise(summaries):
    """Per model: mean, spread (min..max and std), seeds, epochs, time, speed,
    and where the runs came from."""
    rows = {}
    for model, runs in summaries.items():
        accuracies = np.array([run["test_accuracy"] for run in runs])
        rows[model] = {
            "label": LABELS[model], "paper": PAPER[model], "mean": float(accuracies.mean()),
            "std": float(accuracies.std(ddof=1)) if len(runs) > 1 else None,
            "min": float(accuracies.min()), "max": float(accuracies.max()), "seeds": len(runs),
            "accuracies": accuracies.tolist(), "epochs": runs[0]["epochs"],
            "wall_time_s": float(np.mean([run["wall_time_s"] for run in runs])),
            "images_per_s": float(np.mean([run["train_images_per_s"] for run in runs])),
            "threads": max(run.get("threads", 1) for run in runs),  # summaries before threads existed: 1
            "curves": [run["test_accuracy_per_epoch"] for run in runs],
            "commits": sorted({run.get("commit") or NOT_RECORDED for run in runs}),
            "data": sorted({run.get("data") or NOT_RECORDED for run in runs}),
        }
    return rows


def _facts(rows, key):
    return sorted({value for row in rows.values() for value in row[key]})


def write_results(rows, out, command):
    """``table1.json``, ``table1.md``, ``table1.png`` and ``curves.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    context = {"command": command, "commits": _facts(rows, "commits"), "data": _facts(rows, "data")}
    files.write_json(out / "table1.json", {"rows": rows, **context})
    lines = ["# Table 1, re-run with scratchnet", "",
             "| model | paper | ours (mean ± std, seeds) | epochs | wall time per run | images/s (threads) |",
             "|---|---|---|---|---|---|"]
    for row in rows.values():
        spread = f" ± {row['std']:.1%}" if row["std"] is not None else ""
        seconds = row["wall_time_s"]
        wall = f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"
        lines.append(f"| {row['label']} | {row['paper']:.0%} | {row['mean']:.1%}{spread} ({row['seeds']} "
                     f"seed{'s' if row['seeds'] > 1 else ''}) | {row['epochs']} | {wall} | "
                     f"{row['images_per_s']:.0f} ({row['threads']}) |")
    lines += ["", f"Command: `{command}`", f"Commits of the runs: {', '.join(context['commits'])}",
              f"Data: {'; '.join(context['data'])}", ""]
    files.write_text(out / "table1.md", "\n".join(lines))
    _chart(rows, out / "table1.png")
    _curves(rows, out / "curves.png")


def _chart(rows, path):
    fig = Figure(figsize=(8, 4))
    ax = fig.subplots()
    positions = np.arange(len(rows))
    ax.bar(positions - 0.2, [row["paper"] for row in rows.values()], 0.4, label="paper")
    ax.bar(positions + 0.2, [row["mean"] for row in rows.values()], 0.4, label="scratchnet (mean)",
           yerr=[[row["mean"] - row["min"] for row in rows.values()],
                 [row["max"] - row["mean"] for row in rows.values()]], capsize=4)
    ax.set_xticks(positions, [row["label"] for row in rows.values()])
    ax.set(ylabel="CIFAR-10 test accuracy", ylim=(0, 1),
           title="Table 1: the paper's figures and ours (bars: min-max)")
    ax.legend()
    fig.tight_layout()
    files.save_figure(fig, path)


def _curves(rows, path):
    fig = Figure(figsize=(8, 5))
    ax = fig.subplots()
    for (model, row), color in zip(rows.items(), matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]):
        for k, curve in enumerate(row["curves"]):
            ax.plot(range(1, len(curve) + 1), curve, color=color, alpha=0.8,
                    label=row["label"] if k == 0 else None)
    ax.set(xlabel="epoch", ylabel="test accuracy", title="test accuracy of every run", ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    files.save_figure(fig, path)
