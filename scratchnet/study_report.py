"""The study's files: ``study.md`` (table and conclusion), ``study.json`` and ``study.png``.

Everything here is made from the rows of ``scratchnet.study.summarise`` and its conclusion,
so the same runs give the same files, byte for byte.
"""

from matplotlib.figure import Figure

from scratchnet import files
from scratchnet.study import BASELINE, CLOSE, EXTRA_SEEDS, MOST_EXTRA, SIGNIFICANCE, cnn_for
from scratchnet.table1 import NOT_RECORDED, PAPER

RULE = (f"seed 0 of every run first. A variant whose seed-0 gap to the CNN at its budget is under "
        f"{100 * CLOSE:g} point, or whose McNemar p-value against it is {SIGNIFICANCE} or more, is close; "
        f"the {MOST_EXTRA} closest get seeds {' and '.join(map(str, EXTRA_SEEDS))}, and so does the CNN they "
        "are compared with. A seed trained before the rule asks for it is reported too.")
PAIRED = ("b / c, p: McNemar's exact test of seed 0 against seed 0 on the same test images (b: images only "
          "this run gets right, c: only the other does). It compares two trained networks; the spread over "
          "seeds (± std) compares the architectures. gap: the difference of the mean accuracies, in points.")


def _test(row, key):
    gap, test = row[f"gap_{key}"], row[f"vs_{key}"]
    if gap is None:
        return "—"
    paired = f"; {test['b']} / {test['c']}, p = {test['p_value']:.2g}" if test else ""
    return f"{100 * gap:+.1f}{paired}"


def _accuracy(row):
    if row["mean"] is None:
        return "not finished"
    spread = f" ± {row['std']:.1%}" if row["std"] is not None else ""
    seeds = len(row["seeds"])
    return f"{row['mean']:.1%}{spread} ({seeds} seed{'s' * (seeds != 1)})"


def _time(row):
    if row["wall_time_s"] is None:
        return "—", "—"
    seconds = row["wall_time_s"]
    threads = max(run["threads"] for run in row["runs"])
    wall = f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"
    return wall, f"{row['images_per_s']:.0f} ({threads})"


def markdown(rows, said, command):
    """The study as a markdown page: the table, what it says, how to read it."""
    lines = ["# Why the CNN-LSTM loses to the CNN: an equal-budget study", "",
             "| run | hypothesis | change | epochs | peak lr | params | test accuracy (mean ± std) "
             "| vs the CNN: gap; b / c, p | vs the CNN-LSTM: gap; b / c, p "
             "| wall time per run | images/s (threads) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, row in rows.items():
        wall, speed = _time(row)
        lines.append(f"| {name} | {row['hypothesis'] or 'baseline'} | {row['label']} | {row['epochs']} | "
                     f"{row['lr']:g} | {row['params']:,} | {_accuracy(row)} | {_test(row, 'cnn')} | "
                     f"{_test(row, 'cnn_lstm')} | {wall} | {speed} |")
    lines += ["", "## What it says", "", *[f"- {sentence}" for sentence in said], "",
              "## How to read it", "",
              "- Every run: the recipe and data of Table 1, reported by the test accuracy after the last "
              f"epoch. \"The CNN\" of a run is the CNN with LRN at the same number of epochs "
              f"({cnn_for(BASELINE)} or {cnn_for('cnn_lstm_60')}); the CNN-LSTM is {BASELINE}.",
              f"- {PAIRED}", f"- More seeds: {RULE}", "",
              f"Command: `{command}`", f"Commits of the runs: {', '.join(_facts(rows, 'commit'))}",
              f"Data: {'; '.join(_facts(rows, 'data'))}", ""]
    return "\n".join(lines)


def _facts(rows, key):
    found = {run.get(key) or NOT_RECORDED for row in rows.values() for run in row["runs"]}
    return sorted(found) or [NOT_RECORDED]


def write_results(rows, said, out, command):
    """``study.md``, ``study.json`` and ``study.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    files.write_json(out / "study.json", {"rows": rows, "conclusion": said, "command": command, "rule": RULE,
                                          "paired_test": PAIRED})
    files.write_text(out / "study.md", markdown(rows, said, command))
    chart(rows, out / "study.png")


def chart(rows, path):
    """Each run's mean test accuracy (seed spread as error bars), the two baselines and the paper as lines."""
    names = list(rows)[::-1]   # the first row at the top
    fig = Figure(figsize=(9, 0.45 * len(names) + 1.8))
    ax = fig.subplots()
    for y, name in enumerate(names):
        row = rows[name]
        if row["mean"] is not None:
            ax.errorbar(100 * row["mean"], y, xerr=100 * (row["std"] or 0), fmt="o", color="black", capsize=4)
            ax.annotate(f"{row['mean']:.1%}", (100 * row["mean"], y), xytext=(0, 7),
                        textcoords="offset points", ha="center", fontsize="small")
    for name, style, color in ((BASELINE, "--", "tab:orange"), (cnn_for(BASELINE), "-", "tab:blue")):
        if rows.get(name, {}).get("mean") is not None:
            ax.axvline(100 * rows[name]["mean"], linestyle=style, color=color,
                       label=f"{name} (baseline, {rows[name]['epochs']} epochs)")
    ax.axvline(100 * PAPER["cnn_lstm"], linestyle=":", color="gray", label="the paper's CNN-LSTM")
    ax.set_yticks(range(len(names)), [name + ("" if rows[name]["mean"] is not None else " (not finished)")
                                      for name in names])
    ax.set(xlabel="CIFAR-10 test accuracy (%), mean over seeds; bars: ± std",
           title="What closes the gap between the CNN-LSTM and the CNN?")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, fontsize="small")  # hides no run
    fig.tight_layout()
    files.save_figure(fig, path)
