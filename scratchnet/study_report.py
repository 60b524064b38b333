"""What the study says: its conclusion, and its files ``study.md``, ``study.json``, ``study.png``.

Everything here is made from the rows of ``scratchnet.study.summarise``, so the same runs
give the same sentences and files, byte for byte.
"""

import json

from matplotlib.figure import Figure

from scratchnet import files
from scratchnet.study import BASELINE, CLOSE, EXTRA_SEEDS, MOST_EXTRA, SIGNIFICANCE, cnn_for, is_variant
from scratchnet.table1 import NOT_RECORDED, PAPER

RULE = (f"seed 0 of every run first. A variant whose seed-0 gap to the CNN at its budget is under "
        f"{100 * CLOSE:g} point, or whose McNemar p-value against it is {SIGNIFICANCE} or more, is close; "
        f"the {MOST_EXTRA} closest get seeds {' and '.join(map(str, EXTRA_SEEDS))}, and so does the CNN they "
        "are compared with. A seed trained before the rule asks for it is reported too.")
PAIRED = ("b / c, p: McNemar's exact test of seed 0 against seed 0 on the same test images (b: images only "
          "this run gets right, c: only the other does). It compares two trained networks; the spread over "
          "seeds (± std) compares the architectures. gap: the difference of the mean accuracies, in points.")


def _timing(row):
    """What a run's speed depends on besides the network: the code, the machine, the threads."""
    return {(run["commit"], json.dumps(run.get("machine"), sort_keys=True), run["threads"])
            for run in row["runs"]}


def _points(x):
    return f"{100 * x:.1f} point{'s' * (round(100 * x, 1) != 1)}"


def _seeds(row):
    return f"{len(row['seeds'])} seed{'s' * (len(row['seeds']) != 1)}"


def conclusion(rows, paper=PAPER["cnn_lstm"]):
    """The study's answer in plain sentences, computed from ``rows`` (``summarise``)."""
    said = []
    baseline, cnn = rows.get(BASELINE, {}), rows.get(cnn_for(BASELINE), {})
    variants = {name: row for name, row in rows.items() if is_variant(name) and row["mean"] is not None}
    network = (baseline.get("model"), baseline.get("model_options"))  # the CNN-LSTM's own network
    if baseline.get("mean") is None or cnn.get("mean") is None:
        said.append("The gap between the CNN-LSTM and the CNN cannot be measured yet: a baseline is not "
                    "finished.")
        gap = None
    else:
        gap = cnn["mean"] - baseline["mean"]
        said.append(f"At {baseline['epochs']} epochs the CNN-LSTM gets {baseline['mean']:.1%} "
                    f"({_seeds(baseline)}) and the CNN {cnn['mean']:.1%} ({_seeds(cnn)}): a gap of "
                    f"{_points(gap)}.")
        for name, row in variants.items():   # the CNN-LSTM itself at another budget
            if ((row["model"], row["model_options"]) == network and row["epochs"] != baseline["epochs"]
                    and row["gap_cnn"] is not None):
                other = rows[cnn_for(name)]
                said.append(f"At {row['epochs']} epochs the CNN-LSTM gets {row['mean']:.1%} ({_seeds(row)}) "
                            f"and the CNN {other['mean']:.1%} ({_seeds(other)}): a gap of "
                            f"{_points(-row['gap_cnn'])}.")
    good = []
    for name, row in variants.items():
        if row["gap_cnn"] is not None and row["gap_cnn"] > -CLOSE:
            other = rows[cnn_for(name)]
            good.append(f"{name} ({row['label']}) matches the CNN at the same budget, within "
                        f"{_points(CLOSE)}: {row['mean']:.1%} ({_seeds(row)}) against {other['mean']:.1%} "
                        f"({_seeds(other)}).")
        if row["mean"] >= paper:
            good.append(f"{name} ({row['label']}) reaches the paper's {paper:.0%}: {row['mean']:.1%}.")
    missing = [f"{name} seed {seed}" for name, row in rows.items() for seed in row["planned_seeds"]
               if seed not in row["seeds"]]
    so_far = " of those finished so far" if missing else ""
    closed = {}  # hypothesis -> (points of the gap it closes, the variant that closes most)
    for name, row in variants.items():
        if gap is not None and row["gap_cnn"] is not None:
            closes = gap + row["gap_cnn"]   # the gap, less what is left of it at the variant's budget
            closed[row["hypothesis"]] = max(closed.get(row["hypothesis"], (closes, name)), (closes, name))
    said += good
    if gap is not None and gap <= 0:
        said.append("The CNN-LSTM is not below the CNN here: there is no gap to explain.")
    elif closed:
        hypothesis, (closes, name) = max(closed.items(), key=lambda item: item[1])
        if not good:
            said.append(f"No variant{so_far} matches the CNN at the same budget (within {_points(CLOSE)}) or "
                        f"reaches the paper's {paper:.0%}.")
        if closes > 0:
            said.append(f"Of the hypotheses{so_far}, {hypothesis} explains most of the gap: {name} "
                        f"({rows[name]['label']}) closes {_points(closes)} of the {_points(gap)} "
                        f"({closes / gap:.0%}).")
        else:
            said.append(f"No hypothesis{so_far} narrows the gap: the best, {name} ({rows[name]['label']}), "
                        f"widens it by {_points(-closes)}.")
        if len(closed) > 1:
            ranked = sorted(closed.items(), key=lambda item: item[1], reverse=True)
            said.append("Points of the gap each hypothesis closes, by its best variant: " + "; ".join(
                f"{hypothesis} {100 * closes:+.1f} ({name})" for hypothesis, (closes, name) in ranked) + ".")
    # time compares runs of the same code, on the same machine and threads: against a run of the
    # CNN-LSTM's own network (the baseline, or one that changes only the budget or the learning rate)
    references = [name for name, row in rows.items()
                  if (row["model"], row["model_options"]) == network and row["images_per_s"]]
    costs, uncompared = [], []
    for name, row in rows.items():
        if not row["images_per_s"] or name in references:
            continue
        same = [ref for ref in references if _timing(rows[ref]) == _timing(row)]
        if same:
            costs.append(f"{name} {rows[same[0]]['images_per_s'] / row['images_per_s']:.2f}x ({same[0]})")
        else:
            uncompared.append(name)
    if costs:
        said.append("Training time per image against the CNN-LSTM trained with the same code on the same "
                    "machine: " + ", ".join(costs) + ".")
    if uncompared:
        said.append("Not compared in time: " + ", ".join(uncompared) + " (no CNN-LSTM run of the same "
                    "commit, machine and threads).")
    if missing:
        said.append(f"Not finished: {', '.join(missing)}.")
    return said


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
