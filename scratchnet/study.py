"""Why the CNN-LSTM loses to the CNN: the study's plan, its runs and their paired tests.

Re-run with one recipe and budget, the CNN-LSTM lands well below the CNN with LRN (Table 1).
The paper leaves several choices open; each is a hypothesis for that gap, tested by one
change to the CNN-LSTM at the same recipe, data and budget as Table 1 (``PLAN``):

1. the head: the CNN's dense layers on the CNN-LSTM's own convolutions (``head_dense``);
2. the reading order: 36 steps of one position's 64 channels, or 6 steps of one row's 6 x 64;
3. what the classifier reads: the mean of h_1 .. h_T instead of the last h_T;
4. the learning rate (the recurrent rows' 0.05) and the LSTM's width (256 units);
5. the budget: the CNN-LSTM and the CNN for 60 epochs each.

Every run is reported, as Table 1 is, by its test accuracy after the last epoch, and keeps
its predicted classes of the test images (``predictions.npy``). Two networks scored on the
same images are compared by McNemar's exact test (``scratchnet.stats``), which compares
those two trained networks; the spread over training seeds compares the architectures.
Seed 0 of every entry runs first; then ``extra_runs`` picks, from the finished seed-0 runs,
the variants that come close to the CNN, and seeds 1 and 2 are trained for them and for
the CNN they are compared with. ``scratchnet.study_report`` says what they show: the conclusion,
the table, JSON and chart.
"""

import dataclasses
import json
from pathlib import Path

import numpy as np

from scratchnet import table1
from scratchnet.models import build_model, count_params
from scratchnet.stats import mcnemar

DEFAULT_OUT = "results/study"   # study.md/.json/.png; each run in DEFAULT_OUT/runs/NAME-seedS
CLOSE = 0.01        # within one point of the CNN: close enough to need more seeds, and to "match" it
SIGNIFICANCE = 0.05
MOST_EXTRA = 2      # variants that may get seeds 1 and 2
EXTRA_SEEDS = (1, 2)


@dataclasses.dataclass(frozen=True)
class Entry:
    """One network of the study: a model, the options it changes, its peak learning rate and epochs."""

    model: str
    label: str
    hypothesis: str | None = None     # the open choice it tests; None for the baselines
    options: dict = dataclasses.field(default_factory=dict)  # build_model's options it sets
    lr: float | None = None           # None: the recipe's PEAK_LR for the model
    epochs: int = table1.DEFAULT_EPOCHS


PLAN = {
    "cnn_lstm": Entry("cnn_lstm", "CNN-LSTM (Table 1's)"),
    "cnn": Entry("cnn", "CNN with LRN (Table 1's)"),
    "head_dense": Entry("cnn_lstm", "the CNN's dense head on the CNN-LSTM's convolutions", "the head",
                        {"head": "dense"}),
    "reading_positions": Entry("cnn_lstm", "reading: 36 steps, one per position, of 64 values",
                               "the reading order", {"reading": "positions"}),
    "reading_rows": Entry("cnn_lstm", "reading: 6 steps, one per row, of 6 x 64 values", "the reading order",
                          {"reading": "rows"}),
    "readout_mean": Entry("cnn_lstm", "softmax reads the mean of h_t, not the last", "what the softmax reads",
                          {"readout": "mean"}),
    "lr_0.05": Entry("cnn_lstm", "peak learning rate 0.05, not 0.02", "the learning rate and width", lr=0.05),
    "hidden_256": Entry("cnn_lstm", "LSTM of 256 units, not 128", "the learning rate and width",
                        {"hidden": 256}),
    "cnn_lstm_60": Entry("cnn_lstm", "CNN-LSTM, 60 epochs", "the budget", epochs=60),
    "cnn_60": Entry("cnn", "CNN with LRN, 60 epochs", "the budget", epochs=60),
}
BASELINE = "cnn_lstm"   # every variant is one change to it


def cnn_for(name):
    """The CNN that ``name`` is compared with: the CNN with LRN trained for as many epochs."""
    epochs = PLAN[name].epochs
    return next(other for other, entry in PLAN.items()
                if entry.model == "cnn" and not entry.options and entry.epochs == epochs)


def is_variant(name):
    """A change to the CNN-LSTM (not the baseline itself, nor a CNN it is compared with)."""
    return PLAN[name].model == "cnn_lstm" and name != BASELINE


def run_config(name, seed, epochs=table1.DEFAULT_EPOCHS, small=False):
    """Table 1's run (all training images, no validation split) with the entry's changes.

    ``epochs`` is the baselines' budget; an entry of twice the budget gets twice as many.
    """
    entry = PLAN[name]
    scaled = max(1, round(entry.epochs * epochs / table1.DEFAULT_EPOCHS))
    config = table1.run_config(entry.model, seed, scaled, small)
    changes = {"model_options": dict(entry.options)}
    if entry.lr is not None:
        changes["lr"] = entry.lr
    return dataclasses.replace(config, **changes)


def params(name):
    """The number of trained values of the entry's network."""
    entry = PLAN[name]
    return count_params(build_model(entry.model, rng=np.random.default_rng(0), **entry.options))


# --- which runs ----------------------------------------------------------------------------

def finished(runs, planned):
    """``{name: {seed: (summary, predictions)}}`` of the runs in ``planned`` that have a summary.json."""
    done = {}
    for name, seed in planned:
        folder = table1.run_folder(Path(runs), name, seed)
        if not (folder / "summary.json").is_file():
            continue
        summary = json.loads((folder / "summary.json").read_text())
        path = folder / "predictions.npy"
        if not path.is_file():
            raise ValueError(f"{folder} holds a finished run without predictions.npy, which the paired test "
                             "needs; delete the folder and run the study again to train it anew")
        predictions = np.load(path)
        if predictions.shape != (summary["test_size"],):
            raise ValueError(f"{path} holds {predictions.shape} predictions for {summary['test_size']} test "
                             "images; delete the folder and run the study again to train it anew")
        done.setdefault(name, {})[seed] = (summary, predictions)
    return done


def on_record(planned):
    """``planned`` and its names' extra seeds: a seed trained ahead of the rule is reported, not hidden."""
    return list(dict.fromkeys(planned + [(name, seed) for name, _ in planned for seed in EXTRA_SEEDS]))


def paired(done, first, second, labels):
    """Seed 0 of ``first`` against seed 0 of ``second``: the accuracy gap and McNemar's (b, c, p)."""
    (a, pa), (b, pb) = done[first][0], done[second][0]
    test = mcnemar(pa, pb, labels[:len(pa)])
    return {"against": second, "gap": a["test_accuracy"] - b["test_accuracy"], "b": test.b, "c": test.c,
            "p_value": test.p_value}


def _rule_needs(names):
    """The variants among ``names`` the rule judges (their CNN named too), and whose seed 0 it needs."""
    variants = [name for name in names if is_variant(name) and cnn_for(name) in names]
    return variants, {name for variant in variants for name in (variant, cnn_for(variant))}


def extra_runs(names, done, labels):
    """The runs the rule adds once seed 0 of every variant in ``names``, and of its CNN, is finished.

    A variant whose seed-0 gap to its CNN is under one point, or whose McNemar p-value
    against it is at least 0.05, is close to the CNN; the ``MOST_EXTRA`` closest (smallest
    gap) get seeds 1 and 2, and so does the CNN each is compared with, so that the two
    architectures are compared by their spread over seeds. Returns ``[(name, seed), ...]``,
    or None while a seed-0 run the rule needs is not finished.
    """
    variants, needed = _rule_needs(names)
    if any(0 not in done.get(name, {}) for name in needed):
        return None
    close = []
    for variant in variants:
        test = paired(done, variant, cnn_for(variant), labels)
        if abs(test["gap"]) < CLOSE or test["p_value"] >= SIGNIFICANCE:
            close.append((abs(test["gap"]), variant))
    chosen = [variant for _, variant in sorted(close)[:MOST_EXTRA]]
    return list(dict.fromkeys((name, seed) for variant in chosen for name in (variant, cnn_for(variant))
                              for seed in EXTRA_SEEDS))


def plan(names, runs, seeds=None, labels=None):
    """The study's runs: ``seeds`` of every name if given, else seed 0 of each and the rule's extras.

    ``labels()`` gives the test labels; it is called only once the rule can be decided.
    """
    if seeds:
        return [(name, seed) for name in names for seed in seeds]
    first = [(name, 0) for name in names]
    done = finished(runs, first)
    _, needed = _rule_needs(names)
    decided = needed and all(0 in done.get(name, {}) for name in needed)
    return first + (extra_runs(names, done, labels()) if decided else [])


# --- what the runs say -----------------------------------------------------------------------

def summarise(planned, done, labels, epochs=table1.DEFAULT_EPOCHS, small=False):
    """One row per entry of ``planned``: accuracy over its finished seeds, the gaps and paired tests.

    ``gap_cnn``/``gap_cnn_lstm``: the difference of the means (each over its own seeds) to the
    CNN at the same budget and to the CNN-LSTM baseline; ``vs_cnn``/``vs_cnn_lstm``: seed 0
    against seed 0, McNemar's b, c and p-value. None where a run is not finished.
    """
    rows = {}
    for name in dict.fromkeys(name for name, _ in planned):
        runs = done.get(name, {})
        config = run_config(name, 0, epochs, small)
        accuracies = [runs[seed][0]["test_accuracy"] for seed in sorted(runs)]
        each = [{"seed": seed, "test_accuracy": summary["test_accuracy"],
                 "wall_time_s": summary["wall_time_s"], "images_per_s": summary["train_images_per_s"],
                 "threads": summary.get("threads", 1), "commit": summary.get("commit"),
                 "machine": summary.get("machine"), "data": summary.get("data")}
                for seed, (summary, _) in sorted(runs.items())]
        rows[name] = {
            "label": PLAN[name].label, "hypothesis": PLAN[name].hypothesis, "model": config.model,
            "model_options": dict(PLAN[name].options), "lr": config.lr, "epochs": config.epochs,
            "params": params(name), "planned_seeds": [seed for other, seed in planned if other == name],
            "seeds": sorted(runs), "accuracies": accuracies, "runs": each,
            "mean": float(np.mean(accuracies)) if runs else None,
            "std": float(np.std(accuracies, ddof=1)) if len(runs) > 1 else None,
            "wall_time_s": float(np.mean([run["wall_time_s"] for run in each])) if runs else None,
            "images_per_s": float(np.mean([run["images_per_s"] for run in each])) if runs else None,
        }
    for name, row in rows.items():
        for key, other in (("cnn", cnn_for(name)), ("cnn_lstm", BASELINE)):
            both = other != name and row["mean"] is not None and rows.get(other, {}).get("mean") is not None
            row[f"gap_{key}"] = row["mean"] - rows[other]["mean"] if both else None
            pair = both and 0 in done[name] and 0 in done[other]
            row[f"vs_{key}"] = paired(done, name, other, labels) if pair else None
    return rows
